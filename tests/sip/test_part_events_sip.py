"""One event type for every telephone part (lawline/events.py): a SIP leg and the SIP trunk
on a real pjsua2 endpoint (in a process of its own, tests/sip/part_events_box.py) put out
`PartEvent`s, and nothing else. (A modem line: tests/line/test_part_events.py.)"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lawline.events import KINDS

ROOT = Path(__file__).resolve().parents[2]


def test_a_sip_leg_and_the_trunk_put_out_part_events(tmp_path):
    pytest.importorskip("pjsua2")
    password = tmp_path / "trunk.password"
    password.write_text("s3cret\n")
    os.chmod(password, 0o600)
    out = tmp_path / "events.jsonl"
    run = subprocess.run([sys.executable, "-m", "tests.sip.part_events_box", str(out),
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
