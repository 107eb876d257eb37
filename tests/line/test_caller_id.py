"""Caller ID through the real drivers on the loopback line (issue 15, point 1): the network
presents free text as the caller (a spoofing gateway's `CALLBACK 16800001234 NOW`); every
driver reports a withheld caller, keeps the text as it came for the call record, and says so
once in the log, quoted, however often the ring repeats it."""

import asyncio
import logging

import pytest

import lawline_rig.sim
from lawline.line import create_modem

SPOOF = "CALLBACK 16800001234 NOW"


async def _next(modem, kinds, timeout=10):
    kinds = (kinds,) if isinstance(kinds, str) else kinds
    while True:
        event = await asyncio.wait_for(modem.events.get(), timeout)
        if event.kind in kinds:
            return event


@pytest.mark.parametrize("profile", ["simcom-sim7600", "quectel-ec25", "v253"])
def test_free_text_caller_id_is_withheld_and_kept_as_it_came(loopback, profile, caplog):
    line = loopback(profile)

    def modem(side):
        info = line[side]
        return create_modem(info["driver_profile"], info["at"], info["audio"], name=side,
                            audio_retry_delay=0.1)

    async def main():
        box, caller = modem("box"), modem("caller")
        await box.start()
        await caller.start()
        try:
            lawline_rig.sim.present(line.dir, number=SPOOF)
            await caller.dial(line["box"]["number"])
            seen = []
            while sum(e.kind == "ring" for e in seen) < 3:   # GSM: caller ID at every ring
                seen.append(await _next(box, ("ring", "caller_id")))
            held = (box.caller, box.caller_raw)
            await caller.hangup()
            over = await _next(box, ("missed", "ended"), 15)
            return seen, held, over, (box.caller, box.caller_raw)
        finally:
            lawline_rig.sim.present(line.dir, number=None)
            box.close()
            caller.close()

    with caplog.at_level(logging.INFO, logger="lawline.line"):
        seen, held, over, after = asyncio.run(main())
    ids = [(e.number, e.raw) for e in seen if e.kind == "caller_id"]
    # V.253: one caller-ID block, after the first ring (modems.md 4.1); GSM: one per ring
    assert ids == [("", SPOOF)] * (1 if profile == "v253" else len(ids)), seen
    assert len(ids) >= (1 if profile == "v253" else 2), seen
    assert all(e.number in (None, "") for e in seen if e.kind == "ring"), seen
    assert over.number == "" and held == ("", SPOOF)
    assert after == (None, "")                     # the next call starts clean
    # one line, the text quoted, however often the ring repeated it; never named the caller
    said = [r.getMessage() for r in caplog.records if "incoming call from" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith(
        f"modem box: incoming call from a withheld number: caller ID {SPOOF!r} (in "), said
    assert said[0].endswith(") is not a phone number"), said
