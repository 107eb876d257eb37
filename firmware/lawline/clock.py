"""The office's clock: "now" in the office's time zone, for office hours, the rota, case
numbers, daily limits, reports and the times in records.

The box runs on a Pi whose system zone may be UTC (or a technician's laptop's), while the
office lives in [office] timezone (Asia/Shanghai by default). So nothing asks the system for
local time: the composition root builds one `Clock(zone)` from the config and gives it to
every part that needs a day or a time of day (app.py). Records keep the real time (seconds
since the epoch); a Clock turns them into the office's days and times.

Tests move a clock with `moved_to` (records, case numbers and timestamps keep the real
clock, so nothing stored is ever back-dated): the scenario tests place a real call on a
make-up working Saturday or a public holiday without waiting for one. Why an argument and not
an environment variable (the box once read LAWLINE_FAKE_NOW): the shipped box has no way to
move its clock from outside. An environment variable can be set in a unit file, a shell
profile or a container by anyone who can edit them, and would silently send every caller to
the after-hours branch or ring the wrong rota, with nothing in the code changed. Moving the
clock takes code running inside the box's process: only the test rig does that
(`lawline_rig.probe.boxclock`; the rig is never installed on the box), and the box then logs
a warning at start so nobody is fooled by it.
"""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigError


def validate_zone(name: str) -> None:
    """[office] timezone must be a zone name this system knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"option 'timezone' in section [office]: {name!r} is not a time zone "
                          "name like Asia/Shanghai") from None


class Clock:
    """The office's wall clock in `zone` (an IANA name; None: the system's, for tools that
    have no config). `moved_to`: tests only, a naive office-local datetime (or its ISO text)
    that now() starts from and runs on from."""

    def __init__(self, zone: str | None = "Asia/Shanghai",
                 moved_to: dt.datetime | str | None = None):
        self.zone_name = zone
        self.zone = ZoneInfo(zone) if zone else None
        self._moved: tuple[dt.datetime, float] | None = None
        if moved_to is not None:
            self.move_to(moved_to)

    def move_to(self, when: dt.datetime | str) -> None:
        """From now on, now() starts at `when` and runs on from there. For tests only."""
        if isinstance(when, str):
            try:
                when = dt.datetime.fromisoformat(when.strip())
            except ValueError:
                raise ValueError(f"{when!r} is not a local ISO time like 2026-02-14T10:00:00") \
                    from None
        self._moved = (when.replace(tzinfo=None), time.monotonic())

    @property
    def faked(self) -> bool:
        return self._moved is not None

    # -- the office's wall clock (hours, rota): moved in tests ------------------------------

    def now(self) -> dt.datetime:
        """The office's wall-clock time as a naive datetime."""
        if self._moved is not None:
            start, at = self._moved
            return start + dt.timedelta(seconds=time.monotonic() - at)
        return self.local(time.time())

    def today(self) -> dt.date:
        return self.now().date()

    # -- real instants as the office's days and times -----------------------------------------

    def local(self, t: float | None = None) -> dt.datetime:
        """The real instant `t` (seconds since the epoch; now when None) as the office's
        naive local time."""
        t = time.time() if t is None else t
        if self.zone is None:
            return dt.datetime.fromtimestamp(t)
        return dt.datetime.fromtimestamp(t, self.zone).replace(tzinfo=None)

    def day(self, t: float | None = None) -> str:
        """The office's date of instant `t`, YYYY-MM-DD."""
        return self.local(t).strftime("%Y-%m-%d")

    def midnight(self, t: float | None = None) -> float:
        """The instant the office's day of `t` began."""
        day = self.local(t).date()
        return self.instant(dt.datetime.combine(day, dt.time()))

    def instant(self, local: dt.datetime) -> float:
        """An office-local naive datetime as seconds since the epoch."""
        if self.zone is None:
            return local.timestamp()
        return local.replace(tzinfo=self.zone).timestamp()

    def iso(self, t: float | None) -> str | None:
        """Instant `t` as the office's local time with its offset (2026-12-07T10:00:00+0800);
        None for None."""
        if t is None:
            return None
        if self.zone is None:
            return dt.datetime.fromtimestamp(t).astimezone().strftime("%Y-%m-%dT%H:%M:%S%z")
        return dt.datetime.fromtimestamp(t, self.zone).strftime("%Y-%m-%dT%H:%M:%S%z")
