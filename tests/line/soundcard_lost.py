"""Run by test_lost_soundcard.py in its own process (PortAudio reads the ALSA configuration
once, at start): the box's EC25 with call audio on the simulated USB sound card, under its
line supervisor; the card goes away for a while (sim fault audio_gone). Prints a JSON report:
the card's pace before, the busiest thread's CPU while it is gone, whether the line came back
and the card's pace after, and what the log said."""

import asyncio
import dataclasses
import json
import logging
import sys
import time
import types

import lawline_rig.sim
from lawline.line import profiles
from lawline.line.modem import Modem
from lawline.line.supervisor import READY, LineSupervisor
from lawline_rig.wait import async_wait_until

from cpu import threads_seconds

LINE = types.SimpleNamespace(health_interval=0.3, health_timeout=1.5, recovery_max_backoff=1.0,
                             reset_after_hangup=False)


class Said(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append((record.filename, record.getMessage()))


async def pace(audio, seconds=1.0):
    """Frames of 20 ms the card delivered per second, over `seconds`."""
    start = audio.frames_in
    await asyncio.sleep(seconds)
    return (audio.frames_in - start) / seconds


async def until(predicate, timeout):
    """Whether `predicate` came to hold within `timeout` (for the report: the test asserts)."""
    try:
        await async_wait_until(predicate, timeout, "a report's condition")
        return True
    except TimeoutError:
        return False


async def main(info, state_dir, gone_ms):
    said = Said()
    logging.getLogger("lawline.line").addHandler(said)
    logging.getLogger("lawline.line").setLevel(logging.INFO)
    ec25 = dataclasses.replace(profiles.get("quectel-ec25"), boot_seconds=1.0)
    box = Modem(ec25, info["box"]["at_link"], info["box"]["audio_link"], name="box",
                command_timeout=3.0, audio_backend="soundcard",
                sound_device=info["box"]["sound_device"])
    audio = box.make_audio()
    supervisor = LineSupervisor(box, audio, LINE)
    stop = asyncio.Event()
    report = {}
    assert await supervisor.start(stop)
    watch = asyncio.ensure_future(supervisor.run(stop))
    try:
        report["pace_before"] = await pace(audio)
        lawline_rig.sim.inject(state_dir, "audio_gone", side="box", ms=gone_ms)
        report["noticed"] = await until(lambda: audio.lost is not None, 3)
        before, process = threads_seconds(), time.process_time()
        await asyncio.sleep(1.0)
        after = threads_seconds()
        report["busiest"] = max(after[t] - before.get(t, 0.0) for t in after)
        report["process"] = time.process_time() - process
        report["back"] = await until(
            lambda: supervisor.state.state == READY and supervisor.recoveries >= 1, 20)
        report["pace_after"] = await pace(audio)
        report["lost_after"] = audio.check()
    finally:
        stop.set()
        await watch
        audio.close()
        box.close()
    report["card_said"] = [m for f, m in said.lines if "sound card" in m and " lost: " in m
                           and f != "supervisor.py" and "ends:" not in m]
    report["supervisor_said"] = [m for f, m in said.lines if f == "supervisor.py"]
    return report


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])))))
