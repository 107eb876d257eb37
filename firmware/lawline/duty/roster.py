"""The duty rota: who is on duty when, as lawyer (key 1) or mediator (key 3).

The rota is the first-class object, not a ring group (reference/field.md (b) 8): the call
flow asks it, at call time, for the mobiles of the lawyers or mediators on duty now.

Shifts come from `[duty] shifts`, one string each: `NAME HH:MM-HH:MM [all|workdays|restdays]`
(`night 17:30-08:30` ends the next morning; `workdays` follows the holiday calendar, so a
make-up Saturday has a day shift and a holiday Monday has none). People come from rota files
(`[duty] rota_files`), CSV or XLSX with a header row:

    date,shift,name,role,mobile[,staff_no]         a dated rota, one row per person per shift
    weekday,shift,name,role,mobile[,staff_no,week] a weekly pattern; `week` 1..N makes it an
                                                   N-week rotation counted from
                                                   [duty] pattern_anchor

Chinese headers work too (日期 班次 姓名 角色 手机 工号 星期 周次). On a date the dated rota
names anyone for a shift, it replaces the pattern for that shift. Rows are the ring order.
`staff_no` is the short number a complainant may key (key 5); it never rings anyone.
"""

from __future__ import annotations

import bisect
import datetime as dt
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import ConfigError
from . import sheets
from ..sip.dialplan import barred

ROLES = {"lawyer": "lawyer", "律师": "lawyer", "mediator": "mediator", "调解员": "mediator",
         "人民调解员": "mediator"}
ROLE_WORDS = {"lawyer": "律师", "mediator": "调解员"}
_WEEKDAYS: dict[str, int] = {}
for _i, _names in enumerate((("mon", "monday", "周一", "星期一", "1"),
                             ("tue", "tuesday", "周二", "星期二", "2"),
                             ("wed", "wednesday", "周三", "星期三", "3"),
                             ("thu", "thursday", "周四", "星期四", "4"),
                             ("fri", "friday", "周五", "星期五", "5"),
                             ("sat", "saturday", "周六", "星期六", "6"),
                             ("sun", "sunday", "周日", "星期日", "周天", "星期天", "7"))):
    for _n in _names:
        _WEEKDAYS[_n] = _i
COLUMNS = {
    "date": ("date", "日期"), "weekday": ("weekday", "星期", "周"), "week": ("week", "周次"),
    "shift": ("shift", "班次"), "name": ("name", "姓名"), "role": ("role", "角色", "职责"),
    "mobile": ("mobile", "phone", "手机", "手机号", "电话"),
    "staff_no": ("staff_no", "staff", "staff no", "工号"),
}
_SHIFT = re.compile(r"^\s*(\S+)\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})(?:\s+(\w+))?\s*$")
_MOBILE = re.compile(r"\+?[0-9]{5,20}")
# Dates a dated rota may name, and the longest stretch one sheet may cover (its gaps are
# listed day by day): a typo like 2062 or 0026 is a cell error, not decades of gaps.
FIRST_YEAR, LAST_YEAR = 2000, 2099
MAX_SPAN_DAYS = 731
_WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A rota file's rows as sheets.read_rows gives them: (row number, cells)
Rows = Sequence[tuple[int, Sequence[object]]]


class WorkingDays(Protocol):
    """The holiday calendar, as the rota asks it (duty/calendar.py)."""
    def is_working_day(self, day: dt.date) -> bool: ...


def _ascii_digits(text: str) -> str:
    """Full-width digits (１３９, what a Chinese input method types) as ASCII; other
    characters stay, so '²' or '٣' still fail an ASCII check."""
    return "".join(unicodedata.normalize("NFKC", c) if "０" <= c <= "９" else c for c in text)


class RotaError(ConfigError):
    """A rota file has errors; `problems` holds one message per bad cell."""

    def __init__(self, path: object, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        head = f"rota file {path}: {len(self.problems)} problem(s)"
        super().__init__(head + "\n  " + "\n  ".join(self.problems))


@dataclass(frozen=True)
class Shift:
    name: str
    start: dt.time
    end: dt.time
    days: str = "all"        # all | workdays | restdays

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    def window(self, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        begin = dt.datetime.combine(day, self.start)
        end = dt.datetime.combine(day + dt.timedelta(days=1) if self.overnight else day,
                                  self.end)
        return begin, end

    def applies(self, day: dt.date, calendar: WorkingDays | None) -> bool:
        if self.days == "all" or calendar is None:
            return True
        working = calendar.is_working_day(day)
        return working if self.days == "workdays" else not working

    def label(self) -> str:
        return f"{self.name} {self.start:%H:%M}-{self.end:%H:%M}"


def parse_shifts(texts: Iterable[str],
                 where: str = "option 'shifts' in section [duty]") -> dict[str, Shift]:
    shifts: dict[str, Shift] = {}
    for text in texts:
        match = _SHIFT.match(text)
        if not match:
            raise ConfigError(f"{where}: {text!r} is not like 'day 08:30-17:30 workdays'")
        name, h1, m1, h2, m2, days = match.groups()
        if not (int(h1) < 24 and int(h2) < 24 and int(m1) < 60 and int(m2) < 60):
            raise ConfigError(f"{where}: {text!r} has a time that is not a time of day")
        days = days or "all"
        if days not in ("all", "workdays", "restdays"):
            raise ConfigError(f"{where}: {text!r}: days must be all, workdays or restdays")
        if name in shifts:
            raise ConfigError(f"{where}: shift {name!r} is defined twice")
        shifts[name] = Shift(name, dt.time(int(h1), int(m1)), dt.time(int(h2), int(m2)), days)
    return shifts


@dataclass(frozen=True)
class Person:
    name: str
    role: str
    mobile: str
    staff_no: str = ""


@dataclass(frozen=True)
class Entry:
    person: Person
    shift: str
    date: dt.date | None = None  # dated rota
    weekday: int | None = None   # weekly pattern
    week: int | None = None      # pattern rotation week (1..N), None: every week
    where: str = ""            # "rota.csv row 5", for messages
    order: int = 0


@dataclass
class Loaded:
    entries: list[Entry] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)   # gaps: the rota is usable, but tell


def _header(cells: Sequence[object]) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, cell in enumerate(cells):
        word = sheets.cell_text(cell).strip().lower()
        for key, names in COLUMNS.items():
            if word in names:
                index.setdefault(key, i)
    return index


def load_file(path: str | os.PathLike[str], shifts: Mapping[str, Shift],
              calendar: WorkingDays | None = None, required_roles: Sequence[str] = ("lawyer",),
              order_base: int = 0,
              check_number: Callable[[str], str | None] | None = None) -> Loaded:
    """Read one rota file. Returns Loaded: entries, errors (each naming row and column),
    and warnings (gaps in cover between its first and last date). `check_number(mobile)`
    returns why a mobile may not be dialled, or None (the dial plan, sip/dialplan.py);
    without one, the prefixes no plan allows are still refused (dialplan.barred)."""
    if check_number is None:
        check_number = barred
    out = Loaded()
    rows: Rows = sheets.read_rows(path)
    name: str = getattr(path, "name", str(path))
    if not rows:
        out.errors.append(f"{name}: the file is empty")
        return out
    head_row, head_cells = rows[0]
    cols = _header(head_cells)
    kind = "date" if "date" in cols else "weekday" if "weekday" in cols else None
    missing = [c for c in ("shift", "name", "role", "mobile") if c not in cols]
    if kind is None:
        missing.insert(0, "date (or weekday)")
    if missing:
        out.errors.append(f"{name} row {head_row}: header lacks column(s) {', '.join(missing)}"
                          "; expected date,shift,name,role,mobile[,staff_no]")
        return out
    if len(rows) == 1:
        # Not "nobody is on duty": a sheet saved before it was filled in, or cut short.
        out.errors.append(f"{name} row {head_row}: only the header row; the rota has no "
                          "duty rows")
        return out

    def where(row: int, key: str) -> str:
        return f"{name} row {row}, column {sheets.column_letter(cols[key])} ({key})"

    def cell(cells: Sequence[object], key: str) -> object:
        i = cols.get(key)
        return cells[i] if i is not None and i < len(cells) else ""

    seen: dict[tuple[dt.date | int | None, int | None, str, str], int] = {}
    by_mobile: dict[str, tuple[str, int]] = {}
    by_staff: dict[str, tuple[str, str]] = {}
    for row, cells in rows[1:]:
        bad = len(out.errors)
        when: dt.date | int | None = None
        week: int | None = None
        if kind == "date":
            day: dt.date | None = sheets.cell_date(cell(cells, "date"))
            if day is None:
                out.errors.append(f"{where(row, 'date')}: {sheets.cell_text(cell(cells, 'date'))!r}"
                                  " is not a date like 2026-12-01")
            elif not FIRST_YEAR <= day.year <= LAST_YEAR:
                out.errors.append(f"{where(row, 'date')}: {day} is not a date a rota can "
                                  f"cover ({FIRST_YEAR}-{LAST_YEAR})")
                day = None
            when = day
        else:
            text = sheets.cell_text(cell(cells, "weekday")).lower()
            when = _WEEKDAYS.get(text)
            if when is None:
                out.errors.append(f"{where(row, 'weekday')}: {text!r} is not a weekday "
                                  "(mon..sun or 周一..周日)")
            if "week" in cols and sheets.cell_text(cell(cells, "week")):
                text = _ascii_digits(sheets.cell_text(cell(cells, "week")))
                if text.isascii() and text.isdigit() and 1 <= int(text) <= 52:
                    week = int(text)
                else:
                    out.errors.append(f"{where(row, 'week')}: {text!r} is not a week number 1..52")
        shift: str = sheets.cell_text(cell(cells, "shift"))
        if shift not in shifts:
            out.errors.append(f"{where(row, 'shift')}: {shift!r} is not a shift; configured "
                              f"shifts: {', '.join(shifts)} ([duty] shifts)")
        person: str = sheets.cell_text(cell(cells, "name"))
        if not person:
            out.errors.append(f"{where(row, 'name')}: missing name")
        role_text: str = sheets.cell_text(cell(cells, "role"))
        role = ROLES.get(role_text.lower())
        if role is None:
            out.errors.append(f"{where(row, 'role')}: {role_text!r} is not a role "
                              "(lawyer/律师 or mediator/调解员)")
        mobile = _ascii_digits(sheets.cell_text(cell(cells, "mobile"))).replace(" ", "") \
            .replace("-", "")
        if not mobile:
            out.errors.append(f"{where(row, 'mobile')}: missing mobile number"
                              f"{' for ' + person if person else ''}")
        elif not _MOBILE.fullmatch(mobile):
            out.errors.append(f"{where(row, 'mobile')}: {mobile!r} is not a phone number")
        elif check_number(mobile):
            out.errors.append(f"{where(row, 'mobile')}: {mobile!r} is refused by the dial "
                              f"plan: {check_number(mobile)}")
        staff = _ascii_digits(sheets.cell_text(cell(cells, "staff_no"))) \
            if "staff_no" in cols else ""
        if staff and not (staff.isascii() and staff.isdigit() and len(staff) <= 4):
            out.errors.append(f"{where(row, 'staff_no')}: {staff!r} is not a staff number "
                              "(1 to 4 digits)")
        if len(out.errors) > bad:
            continue
        # a row without its date or weekday, role or mobile has an error and was skipped
        assert when is not None and role is not None
        slot = (when, week, shift, mobile)
        if slot in seen:
            label = when.isoformat() if isinstance(when, dt.date) else _WEEKDAY_NAMES[when]
            out.errors.append(f"{where(row, 'shift')}: {person} is already on the {label} "
                              f"{shift} shift in row {seen[slot]} (duplicated shift)")
            continue
        seen[slot] = row
        earlier = by_mobile.get(mobile)
        if earlier and earlier[0] != person:
            out.errors.append(f"{where(row, 'mobile')}: {mobile} belongs to {earlier[0]} in row "
                              f"{earlier[1]}, not {person}")
            continue
        by_mobile.setdefault(mobile, (person, row))
        if staff:
            other = by_staff.get(staff)
            if other and other[0] != mobile:
                out.errors.append(f"{where(row, 'staff_no')}: staff number {staff} is already "
                                  f"{other[1]}'s")
                continue
            by_staff.setdefault(staff, (mobile, person))
        out.entries.append(Entry(Person(person, role, mobile, staff), shift,
                                 date=when if isinstance(when, dt.date) else None,
                                 weekday=when if isinstance(when, int) else None, week=week,
                                 where=f"{name} row {row}", order=order_base + row))
    if not out.errors and kind == "date" and out.entries:
        dated = [(e.date, e.where) for e in out.entries if e.date is not None]
        first, first_where = min(dated, key=lambda d: d[0])
        last, last_where = max(dated, key=lambda d: d[0])
        if (last - first).days > MAX_SPAN_DAYS:
            out.errors.append(f"{name}: dates from {first} ({first_where}) to {last} "
                              f"({last_where}); one rota file covers at most two years")
            return out
        out.warnings.extend(_sheet_gaps(name, rows, cols, out.entries, shifts, calendar,
                                        required_roles))
    return out


def _sheet_gaps(name: str, rows: Rows, cols: Mapping[str, int], entries: Sequence[Entry],
                shifts: Mapping[str, Shift], calendar: WorkingDays | None,
                roles: Sequence[str]) -> list[str]:
    """Shifts without a person of a required role between the sheet's first and last date,
    each placed at the row where it belongs (the first row of a later date)."""
    days = [e.date for e in entries if e.date is not None]   # a dated rota's: all of them
    first, last = min(days), max(days)
    have = {(e.date, e.shift, e.person.role) for e in entries}
    rows_of: dict[dt.date, list[int]] = {}
    for e in entries:
        if e.date is not None:
            rows_of.setdefault(e.date, []).append(int(e.where.rsplit(" ", 1)[1]))
    dates = sorted(rows_of)
    out: list[str] = []
    day = first
    while day <= last:
        for shift in shifts.values():
            if not shift.applies(day, calendar):
                continue
            for role in roles:
                if (day, shift.name, role) in have:
                    continue
                same = rows_of.get(day)
                if same:
                    row, column = max(same), cols["shift"]
                else:   # the first row of the next date named (the sheet may be unsorted)
                    later = bisect.bisect_right(dates, day)
                    row = min(rows_of[dates[later]]) if later < len(dates) else \
                        rows[-1][0] + 1
                    column = cols["date"]
                key = "shift" if same else "date"
                out.append(f"{name} row {row}, column {sheets.column_letter(column)} ({key}): "
                           f"gap: no {role} on {day} {shift.label()}")
        day += dt.timedelta(days=1)
    return out


class DutyRoster:
    """Dated entries and weekly pattern entries, merged, asked by time."""

    def __init__(self, shifts: Mapping[str, Shift], entries: Iterable[Entry] = (),
                 calendar: WorkingDays | None = None, fallback: Iterable[str] = (),
                 anchor: dt.date | None = None) -> None:
        self.shifts = dict(shifts)
        self.calendar = calendar
        self.fallback = list(fallback)
        self.anchor = anchor or dt.date(2024, 1, 1)
        self.entries = list(entries)
        self.dated: dict[tuple[dt.date, str], list[Entry]] = {}
        self.pattern: list[Entry] = []
        for e in sorted(self.entries, key=lambda e: e.order):
            if e.date is not None:
                self.dated.setdefault((e.date, e.shift), []).append(e)
            else:
                self.pattern.append(e)
        self.cycle = max([e.week for e in self.pattern if e.week] or [1])

    @property
    def configured(self) -> bool:
        return bool(self.entries)

    def week_of(self, day: dt.date) -> int:
        return ((day - self.anchor).days // 7) % self.cycle + 1

    def for_shift(self, day: dt.date, shift: str) -> list[Entry]:
        """Who works `shift` starting on `day` (ring order)."""
        if not self.shifts[shift].applies(day, self.calendar):
            return []
        dated = self.dated.get((day, shift))
        if dated:
            return list(dated)
        week = self.week_of(day)
        return [e for e in self.pattern if e.shift == shift and e.weekday == day.weekday()
                and (e.week is None or e.week == week)]

    def shifts_at(self, when: dt.datetime) -> list[tuple[dt.date, Shift]]:
        """[(start_day, Shift)] whose window holds `when` (start inclusive, end exclusive)."""
        out: list[tuple[dt.date, Shift]] = []
        for day in (when.date() - dt.timedelta(days=1), when.date()):
            for shift in self.shifts.values():
                begin, end = shift.window(day)
                if begin <= when < end and shift.applies(day, self.calendar):
                    out.append((day, shift))
        return out

    def on_duty(self, when: dt.datetime, role: str | None = None) -> list[Entry]:
        out: list[Entry] = []
        for day, shift in self.shifts_at(when):
            for e in self.for_shift(day, shift.name):
                if role is None or e.person.role == role:
                    out.append(e)
        return out

    def numbers(self, role: str, when: dt.datetime) -> list[str]:
        """Mobiles to ring for `role` now; [duty] numbers when no rota is configured."""
        if not self.configured:
            return list(self.fallback)
        seen: list[str] = []
        for e in self.on_duty(when, role):
            if e.person.mobile not in seen:
                seen.append(e.person.mobile)
        return seen

    def next_shift(self, when: dt.datetime,
                   horizon_days: int = 8) -> tuple[dt.datetime, Shift, list[Entry]] | None:
        """(start datetime, Shift, [entries]) of the next shift that begins after `when`."""
        starts: list[tuple[dt.datetime, Shift, dt.date]] = []
        for offset in range(-1, horizon_days):
            day = when.date() + dt.timedelta(days=offset)
            for shift in self.shifts.values():
                begin, _ = shift.window(day)
                if begin > when and shift.applies(day, self.calendar):
                    starts.append((begin, shift, day))
        for begin, shift, day in sorted(starts, key=lambda s: s[0]):
            return begin, shift, self.for_shift(day, shift.name)
        return None

    def gaps(self, start_day: dt.date, days: int, roles: Sequence[str] = ("lawyer",),
             after: dt.datetime | None = None) -> list[tuple[dt.date, Shift, str]]:
        """[(day, Shift, role)] with nobody of `role` in the next `days` days; shifts that
        ended before `after` (a datetime) are past help and left out."""
        if not self.configured:
            return []
        out: list[tuple[dt.date, Shift, str]] = []
        for offset in range(days):
            day = start_day + dt.timedelta(days=offset)
            for shift in self.shifts.values():
                if not shift.applies(day, self.calendar):
                    continue
                if after is not None and shift.window(day)[1] <= after:
                    continue
                people = self.for_shift(day, shift.name)
                for role in roles:
                    if not any(e.person.role == role for e in people):
                        out.append((day, shift, role))
        return out

    def people(self) -> dict[str, Person]:
        out: dict[str, Person] = {}
        for e in sorted(self.entries, key=lambda e: e.order):
            out.setdefault(e.person.mobile, e.person)
        return out

    def by_staff_no(self, staff_no: str) -> Person | None:
        for person in self.people().values():
            if person.staff_no and person.staff_no == staff_no:
                return person
        return None

    def person(self, mobile: str) -> Person | None:
        """The rota person with this mobile (+86 or not), or None."""
        want = normal_mobile(mobile)
        for number, person in self.people().items():
            if normal_mobile(number) == want:
                return person
        return None


def normal_mobile(number: str | None) -> str:
    """+8613900000001 and 13900000001 are the same mobile."""
    number = (number or "").strip()
    if number.startswith("+86"):
        return number[3:]
    if number.startswith("0086"):
        return number[4:]
    return number

