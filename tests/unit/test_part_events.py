"""One event type for every telephone part (lawline/events.py): a modem line (GSM and
V.253) on the loopback line, a SIP leg and the SIP trunk on a real pjsua2 endpoint all put
out `PartEvent`s, and nothing else. Real-time (simulated modems, a SIP UA): run under the
shared lock."""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lawline.events import KINDS, PartEvent
from lawline.line import create_modem

ROOT = Path(__file__).resolve().parents[2]


def test_a_kind_its_source_does_not_have_is_refused():
    assert PartEvent("leg sip:1@h", "dtmf", digit="1").part == "leg"
    with pytest.raises(ValueError, match="no 'registration' event from a 'line'"):
        PartEvent("line 1", "registration")
    with pytest.raises(ValueError, match="no 'ring' event from a 'nowhere'"):
        PartEvent("nowhere", "ring")
    event = PartEvent("trunk", "ping", code=200)
    with pytest.raises(AttributeError):
        event.code = 503          # plain frozen data: nobody edits what a part reported


@pytest.mark.parametrize("profile", ["simcom-sim7600", "quectel-ec25", "v253"])
def test_a_modem_line_puts_out_part_events(loopback, profile):
    line = loopback(profile)

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


def test_a_sip_leg_and_the_trunk_put_out_part_events(tmp_path):
    pytest.importorskip("pjsua2")
    password = tmp_path / "trunk.password"
    password.write_text("s3cret\n")
    os.chmod(password, 0o600)
    out = tmp_path / "events.jsonl"
    run = subprocess.run([sys.executable, "-m", "tests.unit.part_events_box", str(out),
                          str(password)], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr[-3000:]
    seen = [json.loads(line) for line in out.read_text().splitlines()]
    assert {e["type"] for e in seen} == {"lawline.events.PartEvent"}
    legs = [e for e in seen if e["source"].startswith("leg ")]
    trunk = [e for e in seen if e["source"] == "trunk"]
    # the leg called the box's own address, whose door refuses every INVITE with 403
    assert legs[-1]["kind"] == "ended" and legs[-1]["code"] == 403
    assert legs[-1]["number"] == "13900000001"
    assert {e["kind"] for e in legs} <= KINDS["leg"]
    assert [(e["kind"], e["code"]) for e in trunk][:1] == [("registration", 403)]
