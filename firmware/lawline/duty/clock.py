"""The box's idea of "now" for office hours and the duty rota.

Everything that asks "is the office open, who is on duty now" reads the time here and
nowhere else. Tests move it with `move_to(when)` (records, case numbers and timestamps keep
the real clock, so nothing stored is ever back-dated): the scenario tests place a real call
on a make-up working Saturday or a public holiday without waiting for one.

Why a function and not an environment variable (the box once read LAWLINE_FAKE_NOW): the
shipped box has no way to move its clock from outside. An environment variable can be set in
a unit file, a shell profile or a container by anyone who can edit them, and would silently
send every caller to the after-hours branch or ring the wrong rota, with nothing in the code
changed. `move_to` takes code running inside the box's process: only the test rig does that
(`lawline_rig.probe.boxclock` starts the box with a moved clock; the rig is never installed on
the box), and the box then logs a warning at start so nobody is fooled by it.
"""

import datetime as dt
import time

_moved = None     # (the moved "now", time.monotonic() when it was moved)
# The office's time zone ([office] timezone, set when the config is read): office hours and
# the rota follow it even on an image whose system time zone is UTC.
_zone = None


def use_zone(name):
    """Make now() the wall-clock time of the IANA zone `name` (None: the system's)."""
    global _zone
    from zoneinfo import ZoneInfo
    _zone = ZoneInfo(name) if name else None


def move_to(when):
    """From now on, now() starts at `when` (a naive local datetime, or its ISO text like
    2026-02-14T10:00:00) and runs on from there. For tests only."""
    global _moved
    if isinstance(when, str):
        try:
            when = dt.datetime.fromisoformat(when.strip())
        except ValueError:
            raise ValueError(f"{when!r} is not a local ISO time like 2026-02-14T10:00:00") \
                from None
    _moved = (when.replace(tzinfo=None), time.monotonic())


def reset():
    """Back to the real clock."""
    global _moved
    _moved = None


def faked():
    return _moved is not None


def now():
    """The office's wall-clock time ([office] timezone) as a naive datetime."""
    if _moved is not None:
        start, at = _moved
        return start + dt.timedelta(seconds=time.monotonic() - at)
    if _zone is not None:
        return dt.datetime.now(_zone).replace(tzinfo=None)
    return dt.datetime.now()


def today():
    return now().date()
