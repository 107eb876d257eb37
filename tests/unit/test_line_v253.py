"""The V.253 voice modem: DLE shielding, sample formats, caller ID, and whole calls between the
box's V253Modem and a caller's SIM7600 driver over the loopback line (v253 with AT+VTR, and
v253-halfduplex without it)."""

import asyncio
import logging
import os
import select
import threading
import time

import numpy as np
import pytest
import serial

import lawline_rig.sim
from lawline.line import create_modem, voice
from lawline.line.modem import Modem
from lawline.line.v253audio import V253Audio
from lawline_rig.sim.v253 import DLE_STORM

# -- pure parts ----------------------------------------------------------------------------------


def test_a_dle_heavy_stream_decodes_exactly_whatever_the_read_boundaries():
    samples = bytes(range(256)) + DLE_STORM * 20 + b"\x10\x03s!b^" * 10
    wire = voice.shield(samples) + b"\x105\x10b" + voice.shield(b"\x10\x10") + b"\x10\x03\r\nOK\r\n"
    for size in (1, 2, 3, 7, 160, len(wire)):
        decoder, data, events, end = voice.DleDecoder(), b"", [], None
        for start in range(0, len(wire), size):
            chunk = wire[start:start + size]
            got, evs, stop = decoder.feed(chunk)
            data += got
            events += evs
            if stop is not None:
                end = chunk[stop:]
                rest = wire[start + size:]
                break
        assert data == samples + b"\x10\x10", size
        assert events == ["5", "b"], size
        assert end + rest == b"\r\nOK\r\n", size


def test_is101_sub_stands_for_two_dle_data_bytes():
    assert voice.DleDecoder().feed(b"a\x10\x1ab") == (b"a\x10\x10b", [], None)


VENDOR_LISTS = [
    # (AT+VSM=? lines, the codec the box must pick)
    (['0,"SIGNED PCM",8,0,(8000),(0),(0)', '1,"UNSIGNED PCM",8,0,(8000),(0),(0)',
      '4,"G.711U",8,0,(8000),(0),(0)', '5,"G.711A",8,0,(8000),(0),(0)',
      '129,"IMA ADPCM",4,0,(8000),(0),(0)'], "ulaw"),
    (['1,"UNSIGNED PCM",8,0,(8000),(0),(0)', '129,"IMA ADPCM",4,0,(8000),(0),(0)',
      '130,"UNSIGNED PCM",8,0,(8000),(0),(0)', '140,"2 Bit ADPCM",2,0,(8000),(0),(0)'], "u8"),
    (['+VSM: 128,"8-BIT LINEAR",8,0,(7200,8000,11025),(0),(0)',
      '+VSM: 129,"16-BIT LINEAR",16,0,(7200,8000,11025),(0),(0)',
      '+VSM: 130,"8-BIT ALAW",8,0,(8000),(0),(0)'], "alaw"),
    (['128,"16-BIT LINEAR",16,0,(8000),(0),(0)', '1,"UNSIGNED PCM",8,0,(7200),(0),(0)'], "s16"),
    (['129,"IMA ADPCM",4,0,(8000),(0),(0)'], None),
]


@pytest.mark.parametrize("lines,codec", VENDOR_LISTS)
def test_the_format_is_chosen_from_what_the_modem_lists(lines, codec):
    chosen = voice.choose_format(voice.parse_vsm(lines))
    assert (chosen.codec if chosen else None) == codec


@pytest.mark.parametrize("codec", ["ulaw", "alaw", "u8", "s8", "s16"])
def test_formats_convert_to_and_from_s16le(codec):
    fmt = voice.Format(0, codec, 8, codec)
    tone = (np.sin(np.arange(800) * 2 * np.pi * 700 / 8000) * 12000).astype("<i2")
    back = np.frombuffer(fmt.to_s16(fmt.from_s16(tone.tobytes())), dtype="<i2")
    assert len(fmt.from_s16(tone.tobytes())) == 800 * fmt.bytes_per_sample
    assert np.max(np.abs(back.astype(int) - tone)) <= (0 if codec == "s16" else 400)


def test_g711_reference_points():
    # G.711: µ-law 0xFF and A-law 0xD5 are the smallest positive levels; 0x80/0xAA the largest
    assert voice.ULAW_DECODE[0xFF] == 0 and voice.ULAW_DECODE[0x80] == 32124
    assert voice.ALAW_DECODE[0xD5] == 8 and voice.ALAW_DECODE[0xAA] == 32256
    fmt = voice.Format(4, "G.711U", 8, "ulaw")
    assert fmt.from_s16(np.array([0, 32124, -32124], "<i2").tobytes()) == b"\xff\x80\x00"


def _frames(*levels):
    """20 ms frames, each one level; a frame's level tells it from every other frame."""
    return [np.full(160, level, "<i2").tobytes() for level in levels]


@pytest.mark.parametrize("held", [1, 2, 3, 5])
def test_half_duplex_speech_held_in_the_turn_round_reaches_the_modem_whole(held):
    """Half duplex: what the box starts saying while the modem records waits for the turn-round
    to play (AT+VRX -> AT+VTX) and follows `held` frames late. Every frame of it reaches the
    modem in order, a 40 ms dip inside a word included (cutting the delay there took 20-40 ms
    out of the middle of record_complaint's first words: the caller's hearing check scored it
    0.53); the delay goes only in a real pause, so the modem can turn round to listen."""
    speech = _frames(*range(1000, 1030), 3, 4, *range(2000, 2030))   # a dip of 2 quiet frames
    pause = _frames(*[0] * 25)                                    # 0.5 s of quiet
    after = _frames(*range(3000, 3010))
    audio = V253Audio("box", logging.getLogger("lawline.test"))
    audio.format = voice.Format(1, "16-BIT LINEAR", 16, "s16")
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    audio.writer.attach(write_end)
    wire = bytearray()
    backlog_in_the_pause = []
    try:
        for n, frame in enumerate(speech + pause + after):
            if n == held:
                audio.sending = True        # the modem plays (AT+VTX answered CONNECT)
            audio.write(frame)
            if n == len(speech) + len(pause) - 1:
                backlog_in_the_pause.append(len(audio.backlog))
            try:
                wire += os.read(read_end, 65536)
            except BlockingIOError:
                pass
    finally:
        audio.writer.detach()
        os.close(read_end)
        os.close(write_end)
    data, events, end = voice.DleDecoder().feed(bytes(wire))
    assert events == [] and end is None
    got = [data[i:i + 320] for i in range(0, len(data), 320)]
    assert got[:len(speech)] == speech, "a frame of the box's speech was lost or moved"
    assert got[-len(after):] == after
    assert backlog_in_the_pause == [0], "the delay outlived a 0.5 s pause"
    assert len(got) == len(speech) + len(pause) + len(after) - held, \
        "the pause should be shorter by the delay, and by nothing else"


# -- whole calls over the loopback line ----------------------------------------------------------

def _box(line):
    return create_modem("v253", line["box"]["at"], line["box"]["audio"], name="box")


def _caller(line):
    info = line["caller"]
    return Modem(info["driver_profile"], info["at"], info["audio"], name="caller",
                 audio_retry_delay=0.1)


async def _next(modem, kinds, timeout=5):
    kinds = (kinds,) if isinstance(kinds, str) else kinds
    while True:
        event = await asyncio.wait_for(modem.events.get(), timeout)
        if event.kind in kinds:
            return event


class Clock:
    """Plays pjmedia's part for the box: every 20 ms one frame to audio.write, one read."""

    def __init__(self, audio):
        self.audio = audio
        self.say = bytes(320)
        self.heard = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.audio.write(self.say)
            frame = self.audio.read_frame()
            if frame:
                self.heard += frame
            next_at += 0.02
            self._stop.wait(max(0, next_at - time.monotonic()))

    def stop(self):
        self._stop.set()
        self._thread.join(2)


def _tone(hz, amplitude=8000):
    t = np.arange(160)
    return (np.sin(2 * np.pi * hz * t / 8000) * amplitude).astype("<i2").tobytes()


class CallerAudio:
    """The caller's PCM port: writes a tone every 20 ms, keeps what it reads."""

    def __init__(self, path):
        self.port = serial.Serial(path, timeout=0)
        self.heard = bytearray()
        self.say = bytes(320)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        fd = self.port.fileno()
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                os.write(fd, self.say)
            except OSError:
                pass
            while select.select([fd], [], [], 0)[0]:
                self.heard += os.read(fd, 4096)
            next_at += 0.02
            self._stop.wait(max(0, next_at - time.monotonic()))

    def stop(self):
        self._stop.set()
        self._thread.join(2)
        self.port.close()


def _level(pcm, hz):
    from lawline_rig.probe import hearing
    return hearing.tone_level(bytes(pcm), hz)


async def _until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("profile", ["v253", "v253-halfduplex"])
def test_a_call_with_caller_id_audio_both_ways_dtmf_and_the_caller_hanging_up(loopback, profile):
    line = loopback(profile)

    async def main():
        box, caller = _box(line), _caller(line)
        await box.start()
        await caller.start()
        clock = None
        far = None
        try:
            assert box.can_bridge == (profile == "v253")
            assert box.audio.format.codec == ("ulaw" if profile == "v253" else "u8")
            await caller.dial(line["box"]["number"])
            assert (await _next(box, "ring")).kind == "ring"
            event = await _next(box, "caller_id")
            assert event.number == line["caller"]["number"]
            await box.answer()
            await _next(caller, "begin")
            await caller.open_audio()
            await box.open_audio()
            clock = Clock(box.make_audio())
            far = CallerAudio(line["caller"]["audio"])
            # the box speaks: the caller hears it (play or duplex)
            clock.say = _tone(1000)
            await _until(lambda: _level(far.heard[-3200:], 1000) > 0.5, 5, "the caller to hear")
            # the caller speaks: the box hears it (duplex at once; half duplex once the box
            # falls silent and the modem switches to record)
            far.say = _tone(700)
            if profile == "v253":
                await _until(lambda: _level(clock.heard[-3200:], 700) > 0.5, 5, "the box to hear")
            clock.say = bytes(320)
            await _until(lambda: _level(clock.heard[-3200:], 700) > 0.5, 5, "the box to hear")
            if profile == "v253-halfduplex":
                assert box.mode == "record"
            for key in "19#":
                await caller.send_dtmf(key)
                assert (await _next(box, "dtmf")).digit == key
            # the box speaks again in half duplex: back to play
            clock.say = _tone(1000)
            if profile == "v253-halfduplex":
                await _until(lambda: box.mode == "play", 5, "the switch back to play")
            await caller.send_dtmf("5")   # DTMF is reported in play (VTX) too
            assert (await _next(box, "dtmf")).digit == "5"
            await caller.hangup()
            event = await _next(box, "ended")
            assert "busy tone" in event.detail
            await _until(lambda: "ATH" in line.wire(), 5, "the box to go on-hook")
            assert not box.in_call
        finally:
            if clock:
                clock.stop()
            if far:
                far.stop()
            box.close()
            caller.close()
    asyncio.run(main())


@pytest.mark.parametrize("presentation,expected", [
    ({"cid_spacing": "spaced"}, "13800138000"),
    ({"cid_spacing": "tight", "cid_name": "ZHANG SAN"}, "13800138000"),
    ({"withheld": True, "cid_withheld": "P"}, ""),
    ({"withheld": True, "cid_withheld": "O", "cid_spacing": "spaced"}, ""),
    ({"number": "+8613800138000"}, "008613800138000"),
])
def test_caller_id_block_variants(loopback, presentation, expected):
    line = loopback("v253-halfduplex")
    lawline_rig.sim.present(line.dir, **presentation)

    async def main():
        box, caller = _box(line), _caller(line)
        await box.start()
        await caller.start()
        try:
            await caller.dial(line["box"]["number"])
            event = await _next(box, "caller_id")
            assert event.number == expected
            await caller.hangup()
            await _next(caller, "ended")
        finally:
            box.close()
            caller.close()
    asyncio.run(main())
    wire = line.wire()
    tight = presentation.get("cid_spacing") == "tight"
    assert ("NMBR=" in wire) == tight and ("NMBR = " in wire) == (not tight)


def test_the_box_hangs_up_and_a_dle_storm_does_not_end_anything(loopback):
    line = loopback("v253")

    async def main():
        box, caller = _box(line), _caller(line)
        await box.start()
        await caller.start()
        heard = bytearray()
        try:
            await caller.dial(line["box"]["number"])
            await _next(box, "caller_id")
            await box.answer()
            await _next(box, "begin")
            await _next(caller, "begin")
            await box.open_audio()
            box.audio.on_frame = heard.extend
            lawline_rig.sim.inject(line.dir, "dle_storm", side="box", seconds=1.0)
            storm = box.audio.format.to_s16(DLE_STORM)
            await _until(lambda: storm in bytes(heard), 5, "the DLE storm to arrive as samples")
            await _until(lambda: heard.count(storm) > 40, 5, "a whole second of it")
            assert box.in_call and box.at.in_data_state and box.events.empty()
            await box.hangup()
            assert (await _next(box, "ended")).detail == "hung up by the box"
            await _next(caller, "ended")
        finally:
            box.close()
            caller.close()
    asyncio.run(main())


def test_local_handset_events_are_not_the_caller_hanging_up_but_busy_tone_is():
    async def main():
        modem = create_modem("v253", "/nonexistent", None, name="box")
        modem.in_call = True
        for code in "hHsqou":
            modem._dle_event(code)
        assert modem.in_call and modem.events.empty()
        modem._dle_event("7")
        assert (await modem.events.get()).digit == "7"
        modem.at.command = _refuse          # the port is not open: on-hook is attempted
        modem._dle_event("b")
        event = await modem.events.get()
        assert event.kind == "ended" and "busy tone" in event.detail and not modem.in_call
        modem.close()
    asyncio.run(main())


async def _refuse(*args, **kwargs):
    from lawline.errors import ModemError
    raise ModemError("not open")
