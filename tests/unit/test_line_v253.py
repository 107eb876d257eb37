"""The V.253 voice modem's pure parts: DLE shielding, sample formats, the half-duplex
turn-round, the handset's DLE events. (Whole calls between the box's V253Modem and a caller's
SIM7600 driver on the loopback line, v253 with AT+VTR and v253-halfduplex without it: the
modem contract, tests/line/test_contract.py.)"""

import asyncio
import logging
import os

import numpy as np
import pytest

from lawline.line import create_modem, voice
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


def test_local_handset_events_are_not_the_caller_hanging_up_but_busy_tone_is():
    async def main():
        modem = create_modem("v253", "/nonexistent", None, name="box")
        modem.in_call = True
        for code in "hHsqou":
            modem._dle_event(code)
        # s and q are the modem's silence reports, for the recorder (issue 17.7): never a
        # hang-up
        kinds = []
        while not modem.events.empty():
            kinds.append(modem.events.get_nowait().kind)
        assert modem.in_call and kinds == ["silence", "silence"]
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
