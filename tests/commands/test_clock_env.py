"""The office clock cannot be moved from outside the box's process: a child Python with
LAWLINE_FAKE_NOW set gets the real time (tests/unit/test_private_at_rest.py has the rest of
the private-at-rest checks)."""

import os
import subprocess
import sys

from lawline import config as configuration


def test_the_office_clock_cannot_be_moved_from_the_environment():
    """LAWLINE_FAKE_NOW once moved office hours; the shipped box reads no such thing."""
    code = ("import lawline.clock as c, lawline.app, datetime as dt; k = c.Clock(None); "
            "print(k.faked, abs((k.now() - dt.datetime.now()).total_seconds()) < 60)")
    env = dict(os.environ, LAWLINE_FAKE_NOW="2026-02-14T10:00:00")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["False", "True"]
    firmware = configuration.REPO_PROMPTS.parent.parent / "firmware" / "lawline"
    assert not [p for p in firmware.rglob("*.py") if "LAWLINE_FAKE_NOW" in p.read_text()
                and p.name != "clock.py"]
