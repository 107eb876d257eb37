"""The box's idea of "now" for office hours and the duty rota.

Everything that asks "is the office open, who is on duty now" reads the time here and
nowhere else, so one test-only knob can move those decisions to another day (records, case
numbers and timestamps keep the real clock, so nothing stored is ever back-dated):

    LAWLINE_FAKE_NOW=2026-02-14T10:00:00   (local time; the clock then runs on from there)

It exists so the scenario tests can place a real call on a make-up working Saturday or a
public holiday without waiting for one. A box in the field never sets it; when it is set the
box logs a warning at start so nobody is fooled by it.
"""

import datetime as dt
import os
import time

ENV = "LAWLINE_FAKE_NOW"

_started = time.monotonic()


def _fake_start():
    text = os.environ.get(ENV, "").strip()
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        raise ValueError(f"{ENV}={text!r} is not a local ISO time like 2026-02-14T10:00:00") \
            from None


_FAKE = _fake_start()


def faked():
    return _FAKE is not None


def now():
    """Local wall-clock time as a naive datetime."""
    if _FAKE is not None:
        return _FAKE + dt.timedelta(seconds=time.monotonic() - _started)
    return dt.datetime.now()


def today():
    return now().date()
