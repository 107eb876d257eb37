"""Whole calls between two instances of the box's own driver over the loopback line, per GSM
profile: ring and caller ID (with the network's presentation variants), answer, call audio,
DTMF, hang-up, a missed call; and python-gsmmodem as an independent client of each model."""

import asyncio
import os
import queue
import select
import time

import pytest
import serial

import lawline_rig.sim
from lawline.line.modem import Modem

PROFILES = ["simcom-sim7600", "quectel-ec25"]


def _modem(line, side):
    info = line[side]
    return Modem(info["driver_profile"], info["at"], info["audio"], name=side,
                 audio_retry_delay=0.1)


async def _next(modem, kinds, timeout=5):
    kinds = (kinds,) if isinstance(kinds, str) else kinds
    while True:
        event = await asyncio.wait_for(modem.events.get(), timeout)
        if event.kind in kinds:
            return event


def _read_audio(path, want, timeout=3):
    """Bytes from an audio port until `want` non-silent bytes came (bounded)."""
    port = serial.Serial(path, timeout=0)
    try:
        got, loud = b"", 0
        deadline = time.monotonic() + timeout
        while loud < want and time.monotonic() < deadline:
            ready, _, _ = select.select([port.fileno()], [], [], 0.1)
            if ready:
                chunk = os.read(port.fileno(), 4096)
                got += chunk
                loud += sum(1 for b in chunk if b)
        return got, loud
    finally:
        port.close()


@pytest.mark.parametrize("profile", PROFILES)
def test_call_answer_audio_dtmf_hangup(loopback, profile):
    line = loopback(profile)

    async def main():
        box, caller = _modem(line, "box"), _modem(line, "caller")
        await box.start()
        await caller.start()
        try:
            await caller.dial(line["box"]["number"])
            event = await _next(box, "caller_id")
            assert event.number == line["caller"]["number"] and box.ringing
            await box.answer()
            assert (await _next(box, "begin")).number == line["caller"]["number"]
            await _next(caller, "begin")
            await box.open_audio()
            await caller.open_audio()
            assert lawline_rig.sim.status(line.dir)["box"]["pcm"]
            # the caller's audio reaches the box's audio port
            with serial.Serial(line["caller"]["audio"], timeout=0) as out:
                for _ in range(10):
                    out.write(b"\x11\x22" * 160)
                got, loud = await asyncio.to_thread(_read_audio, line["box"]["audio"], 1000)
            assert loud >= 1000 and b"\x11\x22" * 8 in got
            for key in "5*#":
                await caller.send_dtmf(key)
                assert (await _next(box, "dtmf")).digit == key
            await caller.hangup()
            assert (await _next(box, ("ended", "missed"))).kind == "ended"
            await _next(caller, "ended")
            assert not box.in_call and not caller.in_call
        finally:
            box.close()
            caller.close()
    asyncio.run(main())
    wire = line.wire()
    if profile == "quectel-ec25":
        assert "VOICE CALL" not in wire and "+QTONEDET: 53" in wire and "AT+QPCMV=1,0" in wire
        assert '+QIND: "ccinfo",1,1,-1' in wire
    else:
        assert "VOICE CALL: BEGIN" in wire and "+RXDTMF: 5" in wire


@pytest.mark.parametrize("profile", PROFILES)
def test_a_caller_who_gives_up_is_a_missed_call(loopback, profile):
    line = loopback(profile)

    async def main():
        box, caller = _modem(line, "box"), _modem(line, "caller")
        await box.start()
        await caller.start()
        try:
            await caller.dial(line["box"]["number"])
            await _next(box, "caller_id")
            await caller.hangup()
            event = await _next(box, ("missed", "ended"))
            assert (event.kind, event.number) == ("missed", line["caller"]["number"])
            assert not box.ringing
        finally:
            box.close()
            caller.close()
    asyncio.run(main())


VARIANTS = [
    # (presentation given to the simulated network, caller_id the driver must report)
    ({"withheld": True}, ""),
    ({"number": "+8613800138000", "clip_tail": "long"}, "+8613800138000"),
    ({"number": "+8613800138000", "clip_tail": "none"}, "+8613800138000"),
    ({"number": "013800138000", "clip_tail": "short"}, "013800138000"),
    ({"number": "13800138000", "clip_tail": "quoted"}, "13800138000"),
]


@pytest.mark.parametrize("profile", PROFILES)
def test_caller_id_variants(loopback, profile):
    line = loopback(profile)

    async def main():
        box, caller = _modem(line, "box"), _modem(line, "caller")
        await box.start()
        await caller.start()
        try:
            for presentation, expected in VARIANTS:
                lawline_rig.sim.present(line.dir, **{"withheld": False, "number": None,
                                                 "clip_tail": None, **presentation})
                await caller.dial(line["box"]["number"])
                event = await _next(box, "caller_id")
                assert event.number == expected, (presentation, event.detail)
                await caller.hangup()
                assert (await _next(box, ("missed", "ended"))).number == expected
                await _next(caller, "ended")   # its NO CARRIER must not end the next dial
            # AT+CLIR=1 on the caller's modem withholds its number too (27.007 7.7)
            lawline_rig.sim.present(line.dir, withheld=False, number=None, clip_tail=None)
            await caller.at.command("AT+CLIR=1")
            await caller.dial(line["box"]["number"])
            assert (await _next(box, "caller_id")).number == ""
            await caller.hangup()
            await _next(box, ("missed", "ended"))
        finally:
            box.close()
            caller.close()
    asyncio.run(main())


@pytest.mark.parametrize("profile", PROFILES)
def test_python_gsmmodem_sees_the_incoming_call_with_the_callers_number(loopback, profile):
    GsmModem = pytest.importorskip("gsmmodem.modem").GsmModem
    line = loopback(profile)
    calls = queue.Queue()
    client = GsmModem(line["box"]["at"], incomingCallCallbackFunc=calls.put)
    client.connect()

    async def main():
        caller = _modem(line, "caller")
        await caller.start()
        try:
            await caller.dial(line["box"]["number"])
            call = await asyncio.to_thread(calls.get, True, 5)
            # python-gsmmodem prefixes "+" to every CLIP number
            assert call.number == "+" + line["caller"]["number"]
            await asyncio.to_thread(call.answer)
            await _next(caller, "begin")
            await caller.hangup()
            await _next(caller, "ended")
        finally:
            caller.close()
    try:
        asyncio.run(main())
    finally:
        client.close()
