"""One event type for every telephone part (lawline/events.py): a modem line (GSM and
V.253) on the loopback line puts out `PartEvent`s, and nothing else. (A SIP leg and the
trunk: tests/sip/test_part_events_sip.py; a kind its source lacks: tests/unit.)"""

import asyncio

import pytest

from lawline.events import KINDS, PartEvent
from lawline.line import create_modem


@pytest.mark.parametrize("profile", ["simcom-sim7600", "quectel-ec25", "v253"])
def test_a_modem_line_puts_out_part_events(rigs, profile):
    line = rigs.line(profile)

    def modem(side):
        info = line[side]
        return create_modem(info["driver_profile"], info["at"], info["audio"], name=side,
                            audio_retry_delay=0.1)

    async def main():
        box, caller = modem("box"), modem("caller")
        await box.start()
        await caller.start()
        seen = []
        try:
            await caller.dial(line["box"]["number"])
            while not any(e.kind == "caller_id" for e in seen):
                seen.append(await asyncio.wait_for(box.events.get(), 10))
            await caller.hangup()
            while not any(e.kind in ("missed", "ended") for e in seen):
                seen.append(await asyncio.wait_for(box.events.get(), 10))
        finally:
            box.close()
            caller.close()
        return seen

    seen = asyncio.run(main())
    assert {type(e) for e in seen} == {PartEvent}
    assert {e.source for e in seen} == {"line box"}
    assert {e.kind for e in seen} <= KINDS["line"]
    assert {"ring", "caller_id", "missed"} <= {e.kind for e in seen}
