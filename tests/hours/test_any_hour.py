"""The suite passes at any hour (issue 15, point 6): no test may depend on the host's time zone
or time of day. The office's clock is Asia/Shanghai and the host's is UTC, so from 16:00 to
24:00 UTC the office is already on tomorrow's date: a test that writes a rota for the host's
`date.today()` and asks the office about it fails every evening (it did: test_gap_alert).

This runs the pure unit tier (tests/unit: fast, no processes, so cheap to run twice)
under `faketime` (Debian's libfaketime, installed by tools/bootstrap.sh), which moves the
wall clock of every process it starts:
  - at 23:30 UTC, with TZ=UTC (the office's date is a day ahead of the host's: the evening
    hours in which tests that read the host's day broke);
  - at 00:30 UTC the next day, with TZ=Asia/Shanghai (a host set to the office's zone, 08:30
    local, just past midnight UTC: both on the same date again).
(A third run, 00:30 UTC with TZ=UTC, found nothing the two did not and cost a minute of
`make test`.)
A failure names the unit tests that broke and the clock they broke at. (Monotonic clocks move
with it: Python sleeps to an absolute monotonic deadline, which libfaketime refuses with
EINVAL when only the wall clock is faked.)"""

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

ROOT = Path(__file__).resolve().parents[2]
UTC = dt.timezone.utc
TODAY = dt.datetime.now(UTC).date()
CLOCKS = {
    "23:30 UTC, TZ=UTC": (dt.datetime.combine(TODAY, dt.time(23, 30), UTC), "UTC"),
    "00:30 UTC, TZ=Asia/Shanghai": (dt.datetime.combine(TODAY + dt.timedelta(days=1),
                                                        dt.time(0, 30), UTC), "Asia/Shanghai"),
}


def under_faketime(at, tz, *argv, timeout):
    """Run argv with the wall clock starting at `at` (an aware datetime) and TZ=`tz`."""
    faketime = shutil.which("faketime")
    assert faketime, "faketime is missing: tools/bootstrap.sh installs Debian's faketime"
    local = at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")   # faketime reads TZ
    env = dict(os.environ, TZ=tz)
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run([faketime, "-f", f"@{local}", *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_faketime_moves_the_clock_of_a_python_it_starts():
    """Without this the guard below could pass on a clock that never moved."""
    at, tz = CLOCKS["00:30 UTC, TZ=Asia/Shanghai"]
    code = ("import datetime as dt, time; print(dt.datetime.now(dt.timezone.utc).isoformat(), "
            "time.strftime('%H:%M %Z'))")
    done = under_faketime(at, tz, sys.executable, "-c", code, timeout=30)
    assert done.returncode == 0, done.stderr
    now, local, zone = done.stdout.split()
    assert abs((dt.datetime.fromisoformat(now) - at).total_seconds()) < 30, done.stdout
    assert (local, zone) == ("08:30", "CST"), done.stdout


@pytest.mark.parametrize("clock", CLOCKS)
def test_the_unit_tier_passes_at_this_hour(clock):
    at, tz = CLOCKS[clock]
    done = under_faketime(at, tz, sys.executable, "-m", "pytest", "-q", "-p",
                          "no:cacheprovider", "-p", "no:xdist", "-o", "addopts=",
                          "tests/unit", timeout=900)
    broke = re.findall(r"^(?:FAILED|ERROR) (tests/unit/\S+)", done.stdout, re.M)
    assert done.returncode == 0 and "passed" in done.stdout.splitlines()[-1], (
        f"the unit tier fails at {clock}: {', '.join(broke) or 'see below'}\n" +
        done.stdout[-6000:] + done.stderr[-2000:])
