"""A port that hangs up is lost, not spun on (issue 15, point 8).

When the far end of a modem's port hangs up (a pty closed here; on a Pi a USB modem or sound
card that goes away, which the supervisor's own reset and power cycle cause), `select` says
readable and `os.read` returns b'' for ever. Every reader and writer of the line takes that,
and lasting errors, as the port lost: one log line, the supervisor told, no busy loop; the
supervisor ends the call, reopens the ports by name once they are back, and the line answers
again. Each test closes the far end of one port and measures the CPU time of every thread of
the process over a second while it is gone (/proc/self/task: a spinning reader uses the whole
second), then waits for the line to come back.
"""

import asyncio
import dataclasses
import logging
import os
import pty
import threading
import time
import tty
import types

import pytest

import lawline_rig.sim
from lawline.line import create_modem, profiles
from lawline.line.audio import SerialPcm
from lawline.line.supervisor import READY, LineSupervisor

from .cpu import thread_seconds, threads_seconds

LINE = types.SimpleNamespace(health_interval=0.3, health_timeout=1.5, recovery_max_backoff=1.0,
                             reset_after_hangup=False)
IDLE = 0.15      # CPU seconds any one thread may use in the measured second (a spin uses ~1)
GONE_MS = 4000   # how long the port stays away: the measured second fits inside


async def busiest_over(seconds):
    """(the most CPU seconds one thread used, the process's) over the next `seconds`, while
    the loop goes on serving (the supervisor's retries run meanwhile)."""
    before, process = threads_seconds(), time.process_time()
    await asyncio.sleep(seconds)
    after = threads_seconds()
    busiest = max((after[t] - before.get(t, 0.0) for t in after), default=0.0)
    return busiest, time.process_time() - process


async def _next(modem, kinds, timeout=10):
    kinds = (kinds,) if isinstance(kinds, str) else kinds
    while True:
        event = await asyncio.wait_for(modem.events.get(), timeout)
        if event.kind in kinds:
            return event


async def _until(predicate, timeout, what):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def test_a_pcm_port_whose_far_end_hangs_up_ends_its_reader_and_says_so_once(caplog):
    """The reader thread alone, on a bare pty: end of file ends it, once, with one line."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    pcm = SerialPcm(os.ttyname(slave), name="box")
    told = []
    pcm.on_lost = told.append
    pcm.open()
    try:
        reader = pcm.reader
        os.close(master)
        os.close(slave)              # the far end hangs up: b'' for ever from here
        with caplog.at_level(logging.INFO, logger="lawline.line"):
            deadline = time.monotonic() + 2
            while not told and time.monotonic() < deadline:
                time.sleep(0.01)
            spent = thread_seconds(reader.native_id)
            time.sleep(1.0)
            spent = thread_seconds(reader.native_id) - spent
            for _ in range(50):      # the bridge keeps writing frames: EIO each time
                pcm.write(bytes(320))
        assert told == [f"audio port {pcm.path} lost: end of file (its far end hung up)"]
        assert spent < IDLE and not reader.is_alive(), f"the reader used {spent:.2f} s"
        assert pcm.check() == "end of file (its far end hung up)"
        lost = [r.getMessage() for r in caplog.records if "lost" in r.getMessage()]
        assert lost == [f"modem box: audio port {pcm.path} lost: end of file (its far end "
                        "hung up)"], lost
    finally:
        pcm.close()


def _box(line, profile=None):
    info = line["box"]
    chosen = dataclasses.replace(profiles.get(profile or info["driver_profile"]),
                                 boot_seconds=1.0)
    return create_modem(chosen, info["at_link"], info["audio_link"], name="box",
                        command_timeout=3.0, audio_retry_delay=0.1)


def _caller(line):
    info = line["caller"]
    return create_modem(info["driver_profile"], info["at"], info["audio"], name="caller",
                        audio_retry_delay=0.1)


class BridgeClock(threading.Thread):
    """pjmedia's clock thread, as far as the line's audio sees it: a frame every 20 ms."""

    def __init__(self, audio):
        super().__init__(daemon=True, name="bridge-clock")
        self.audio, self.stop = audio, threading.Event()
        self.start()

    def run(self):
        frame = (b"\x00\x10" * 160)       # loud enough to count as speech, DLE bytes in it
        while not self.stop.wait(0.02):
            self.audio.write(frame)
            self.audio.read_frame()


async def _lose_in_a_call(line, fault, caplog, **params):
    """Answer a call with its audio open, inject `fault` on the box's side, and see the call
    fail, the process stay idle while the port is gone, and the line come back ready."""
    box, caller = _box(line), _caller(line)
    audio = box.make_audio()
    supervisor = LineSupervisor(box, audio, LINE)
    stop = asyncio.Event()
    assert await supervisor.start(stop)
    watch = asyncio.ensure_future(supervisor.run(stop))
    await caller.start()
    clock = BridgeClock(audio)
    try:
        await caller.dial(line["box"]["number"])
        await _next(box, "caller_id")
        await box.answer()
        await _next(box, "begin")
        await box.open_audio()
        old = os.path.realpath(line["box"]["audio_link"])
        lawline_rig.sim.inject(line.dir, fault, side="box", **params)
        failed = await _next(box, "failed")
        busiest, process = await busiest_over(1.0)
        await _until(lambda: supervisor.state.state == READY and supervisor.recoveries, 20,
                     "the line to come back")
        back = os.path.realpath(line["box"]["audio_link"])
        # and it takes calls again
        await caller.hangup()
        await _next(caller, ("ended", "missed"))
        await caller.dial(line["box"]["number"])
        again = await _next(box, "caller_id")
        await caller.hangup()
        reading = getattr(audio, "reader", None)
        reading = reading is None or (reading.is_alive() and audio.check() is None)
        return failed, busiest, process, old, back, again, reading
    finally:
        clock.stop.set()
        clock.join(2)
        stop.set()
        await watch
        supervisor.audio.close()
        box.close()
        caller.close()


@pytest.mark.parametrize("profile", ["simcom-sim7600", "quectel-ec25"])
def test_the_pcm_ports_far_end_hanging_up_mid_call_is_the_line_lost_not_a_spin(
        loopback, profile, caplog):
    line = loopback(profile)
    with caplog.at_level(logging.INFO, logger="lawline.line"):
        failed, busiest, process, old, back, again, reading = asyncio.run(
            _lose_in_a_call(line, "audio_gone", caplog, ms=GONE_MS))
    assert failed.detail.startswith("call audio lost (audio port "), failed.detail
    assert busiest < IDLE, f"a thread used {busiest:.2f} s of the second the port was gone"
    assert back != old, "the audio port came back under a new name"
    assert again.number == line["caller"]["number"]
    assert reading, "the audio is read again, on the new port"
    # the reader said it once; the supervisor's state lines follow it (one per change)
    lost = [r.getMessage() for r in caplog.records if r.filename == "audio.py"]
    assert lost == [f"modem box: audio port {line['box']['audio_link']} lost: end of file "
                    "(its far end hung up)"], lost


def test_the_at_ports_far_end_hanging_up_mid_call_is_the_line_lost_not_a_spin(
        loopback, caplog):
    line = loopback("simcom-sim7600")
    with caplog.at_level(logging.INFO, logger="lawline.line"):
        failed, busiest, process, old, back, again, reading = asyncio.run(
            _lose_in_a_call(line, "port_gone", caplog, ms=GONE_MS, reset=False))
    # both ports go: whichever reader sees it first ends the call
    assert failed.detail in ("modem port went away", "call audio lost (audio port "
                             f"{line['box']['audio_link']} lost: end of file (its far end hung "
                             "up))"), failed.detail
    assert busiest < IDLE, f"a thread used {busiest:.2f} s of the second the port was gone"
    assert back != old and again.number == line["caller"]["number"] and reading


def test_the_v253_ports_far_end_hanging_up_in_a_voice_data_state_is_the_line_lost(
        loopback, caplog):
    """One port for commands and samples: the AT reader sees end of file in the middle of
    AT+VTR's data state, the writer (samples from the bridge's clock) gets EIO on every frame
    and says so once; nothing spins, and the modem is found again."""
    line = loopback("v253")
    with caplog.at_level(logging.INFO, logger="lawline.line"):
        failed, busiest, process, old, back, again, reading = asyncio.run(
            _lose_in_a_call(line, "audio_gone", caplog, ms=GONE_MS))
    assert failed.detail == "modem port went away"
    assert busiest < IDLE, f"a thread used {busiest:.2f} s of the second the port was gone"
    assert back != old and again.number == line["caller"]["number"]
    unwritable = [r for r in caplog.records if "cannot be written" in r.getMessage()]
    assert len(unwritable) <= 1, [r.getMessage() for r in unwritable]
