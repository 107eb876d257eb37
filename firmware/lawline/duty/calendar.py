"""Office hours and the Chinese public-holiday calendar, with make-up working days (调休).

Which days are working days comes from three layers, the last one winning:

1. Monday to Friday work, Saturday and Sunday rest;
2. the State Council's yearly notice, as kept by the PyPI package `chinesecalendar`
   (imported as `chinese_calendar`; reference/field.md [C1]): public holidays that fall on
   weekdays are off, and make-up Saturdays or Sundays are working days;
3. the office's own file (`[calendar] holidays_file`, TOML, see holidays.example.toml):
   dates that are `off` or `on`, and `years` the file covers in full, so an office can copy
   next year's notice in before a package update reaches the box.

A year that neither the package nor the file covers falls back to layer 1, and the box says
so well ahead: from `[calendar] warn_from` (1 December) it warns that next year is missing,
because a wrong calendar silently sends holiday callers to an empty office (field.md (c) 4).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Protocol

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

try:
    import chinese_calendar
except ImportError:  # the box still runs, on weekdays only, and says so
    chinese_calendar = None

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..settings import HoursSection

log = logging.getLogger("lawline.duty")

MAX_FILE_BYTES = 256 * 1024
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
# Office hours of one day: [(start, end)], start inclusive, end exclusive
Ranges = list[tuple[dt.time, dt.time]]


class HoursConfig(Protocol):
    """What OfficeHours.from_config reads of a configuration: its [hours] section."""
    @property
    def hours(self) -> HoursSection: ...


def parse_time(hour: str | int, minute: str | int, where: str) -> dt.time:
    h, m = int(hour), int(minute)
    if h == 24 and m == 0:
        return dt.time(23, 59, 59, 999999)
    if not (0 <= h < 24 and 0 <= m < 60):
        raise ConfigError(f"{where}: {h:02d}:{m:02d} is not a time of day")
    return dt.time(h, m)


def parse_hours(text: str, where: str) -> Ranges:
    """'08:30-12:00,13:30-17:30' -> [(08:30, 12:00), (13:30, 17:30)]; '' -> closed."""
    ranges: Ranges = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = _RANGE.match(part)
        if not match:
            raise ConfigError(f"{where}: {part!r} is not a range like 08:30-17:30")
        start = parse_time(match.group(1), match.group(2), where)
        end = parse_time(match.group(3), match.group(4), where)
        if end <= start:
            raise ConfigError(f"{where}: {part!r} ends before it starts (office hours do not "
                              "run past midnight; night cover belongs in [duty] shifts)")
        ranges.append((start, end))
    return ranges


def _as_date(value: object, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConfigError(f"{where}: {repr(value)[:60]} is not a date like 2027-01-01")


class Overrides:
    """The office's holidays.toml: `off`, `on` (lists of dates) and `years` (ints)."""

    def __init__(self, off: Iterable[dt.date] = (), on: Iterable[dt.date] = (),
                 years: Iterable[int] = (), path: str | os.PathLike[str] | None = None) -> None:
        self.off = set(off)
        self.on = set(on)
        self.years = set(years)
        self.path = path
        both = self.off & self.on
        if both:
            day = min(both)
            raise ConfigError(f"{path}: {day} is listed both as off and as on")

    @classmethod
    def load(cls, name: str | os.PathLike[str] | None) -> Overrides:
        if not name:
            return cls()
        path = Path(name)
        try:
            with open(path, "rb") as f:
                raw = f.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise ConfigError(f"holidays file {path}: cannot read it ({exc.strerror})") \
                from None
        if len(raw) > MAX_FILE_BYTES:
            raise ConfigError(f"holidays file {path}: larger than {MAX_FILE_BYTES // 1024} KiB; "
                              "a year's notice is a few lines")
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except RecursionError:  # tomllib recurses into nested arrays
            raise ConfigError(f"holidays file {path}: not valid TOML (nested too deeply)") \
                from None
        except ValueError as exc:  # TOMLDecodeError, UnicodeDecodeError, 5000-digit numbers
            raise ConfigError(f"holidays file {path}: not valid TOML ({exc})") from None
        unknown = set(data) - {"off", "on", "years"}
        if unknown:
            raise ConfigError(f"holidays file {path}: unknown key '{sorted(unknown)[0]}'; "
                              "known keys: off, on, years")
        lists: dict[str, list[object]] = {}
        for key in ("off", "on", "years"):
            value = data.get(key, [])
            if not isinstance(value, list):
                raise ConfigError(f"holidays file {path}: '{key}' must be a list")
            lists[key] = value
        off = [_as_date(v, f"holidays file {path}, off[{i}]") for i, v in enumerate(lists["off"])]
        on = [_as_date(v, f"holidays file {path}, on[{i}]") for i, v in enumerate(lists["on"])]
        years: list[int] = []
        for i, v in enumerate(lists["years"]):
            if not isinstance(v, int) or not 2000 <= v <= 2100:
                raise ConfigError(f"holidays file {path}, years[{i}]: {v!r} is not a year")
            years.append(v)
        return cls(off, on, years, path)


class HolidayCalendar:
    """Working day or not, for any date; knows which years it really has data for."""

    def __init__(self, overrides: Overrides | None = None, national: bool = True) -> None:
        self.overrides = overrides or Overrides()
        self.national: ModuleType | None = chinese_calendar if national else None
        self._years: set[int] = set()
        if self.national is not None:
            from chinese_calendar import constants
            self._years = {d.year for d in constants.holidays}

    def national_years(self) -> set[int]:
        return self._years

    def known(self, year: int) -> bool:
        return year in self.overrides.years or year in self.national_years()

    def kind(self, day: dt.date) -> str:
        """workday | makeup (a weekend day worked) | holiday (a day off by notice or by the
        office) | weekend (an ordinary Saturday or Sunday)."""
        if day in self.overrides.on:
            return "workday" if day.weekday() < 5 else "makeup"
        if day in self.overrides.off:
            return "holiday"
        weekend = day.weekday() >= 5
        if self.national is not None and day.year in self.national_years():
            working: bool = self.national.is_workday(day)
            if weekend and not working:
                # a Saturday inside the National Day break is a holiday, not a weekend
                return "holiday" if self.holiday_name(day) else "weekend"
            if weekend:
                return "makeup"
            return "workday" if working else "holiday"
        return "weekend" if weekend else "workday"

    def is_working_day(self, day: dt.date) -> bool:
        return self.kind(day) in ("workday", "makeup")

    def holiday_name(self, day: dt.date) -> str | None:
        if self.national is None or day.year not in self.national_years():
            return None
        on_holiday: bool
        name: str | None
        on_holiday, name = self.national.get_holiday_detail(day)
        return name if on_holiday and name else None

    def coverage_warning(self, today: dt.date,
                         warn_from: tuple[int, int] = (12, 1)) -> str | None:
        """A sentence for the installer when the data runs out, else None."""
        if not self.known(today.year):
            return (f"no public-holiday data for {today.year}: holidays and make-up working "
                    "days are not known, so Monday-Friday counts as open; update the "
                    "'chinesecalendar' package or list the State Council notice's dates in "
                    "the holidays file ([calendar] holidays_file, with years = "
                    f"[{today.year}])")
        month, mday = warn_from
        if (today.month, today.day) >= (month, mday) and not self.known(today.year + 1):
            return (f"no public-holiday data for {today.year + 1} yet: from 1 January the box "
                    "would treat every weekday as open; once the State Council notice is out, "
                    "update the 'chinesecalendar' package or list its dates in the holidays "
                    f"file ([calendar] holidays_file, with years = [{today.year + 1}])")
        return None


class OfficeHours:
    """When the office answers in person: per weekday, plus make-up working days."""

    def __init__(self, calendar: HolidayCalendar, week: dict[int, Ranges],
                 makeup: Ranges) -> None:
        self.calendar = calendar
        self.week = week          # weekday index -> [(start, end), ...]
        self.makeup = makeup      # hours on a make-up working Saturday/Sunday

    @classmethod
    def from_config(cls, cfg: HoursConfig, calendar: HolidayCalendar) -> OfficeHours:
        return cls.from_section(cfg.hours, calendar)

    @classmethod
    def from_section(cls, hours: HoursSection, calendar: HolidayCalendar) -> OfficeHours:
        """From the [hours] section alone."""
        week = {i: parse_hours(getattr(hours, name), f"option '{name}' in section [hours]")
                for i, name in enumerate(WEEKDAYS)}
        makeup = parse_hours(hours.makeup_day, "option 'makeup_day' in section [hours]")
        return cls(calendar, week, makeup)

    def ranges(self, day: dt.date) -> Ranges:
        kind = self.calendar.kind(day)
        if kind == "makeup":
            return self.makeup
        if kind in ("workday", "weekend"):
            return self.week[day.weekday()]
        return []

    def is_open(self, when: dt.datetime) -> bool:
        t = when.time()
        return any(start <= t < end for start, end in self.ranges(when.date()))

    def why(self, when: dt.datetime) -> str:
        """Plain words for the log: why the office is open or closed at `when`."""
        day = when.date()
        kind = self.calendar.kind(day)
        name = self.calendar.holiday_name(day)
        if kind == "holiday":
            return f"{day} is a public holiday{f' ({name})' if name else ''}"
        if kind == "weekend":
            return f"{day} is a rest day"
        ranges = self.ranges(day)
        text = ", ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in ranges) or "no hours"
        label = "make-up working day" if kind == "makeup" else "working day"
        state = "open" if self.is_open(when) else "closed"
        return f"{day} is a {label}, hours {text}: {state} at {when:%H:%M}"

    def describe(self) -> str:
        """Short Chinese text of the hours, for SMS ('周一至周五 08:30-17:30')."""
        names = "一二三四五六日"
        groups: list[tuple[int, int, str]] = []   # (first day, last day, hours)
        for i in range(7):
            text = ",".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in self.week[i])
            if not text:
                continue
            if groups and groups[-1][2] == text and groups[-1][1] == i - 1:
                groups[-1] = (groups[-1][0], i, text)
            else:
                groups.append((i, i, text))
        parts: list[str] = []
        for a, b, text in groups:
            days = f"周{names[a]}" if a == b else f"周{names[a]}至周{names[b]}"
            parts.append(f"{days} {text}")
        return "；".join(parts) + "（法定节假日除外）" if parts else ""


def working_day_after(calendar: "HolidayCalendar", day: dt.date, n: int) -> dt.date:
    """The `n`th working day after `day` (issue 17: a referral's reply is due by its end).
    Make-up working Saturdays and Sundays (调休) count; holidays and rest days do not. A
    year without holiday data counts Monday to Friday (HolidayCalendar.kind)."""
    if n < 1:
        raise ValueError("n must be at least 1")
    count = 0
    for _ in range(n * 7 + 60):         # no run of days off is longer than a few weeks
        day += dt.timedelta(days=1)
        if calendar.is_working_day(day):
            count += 1
            if count == n:
                return day
    raise ValueError(f"no {n} working days found after {day}")
