"""The duty desk: office hours, the holiday calendar and the rota, as the box asks for them.

The call flow asks at call time "is the office open" and "which mobiles for key 1 / key 3";
`lawline duty` asks "who is on now and next"; `lawline check` and the box's periodic task ask
"what is wrong ahead" (a year without holiday data, a shift nobody covers). Rota files are
re-read when they change on disk, so an office can drop in next month's sheet without a
restart; a sheet with errors is refused whole and the last good one stays in force.
"""

from __future__ import annotations

import datetime as dt
import re
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..errors import ConfigError
from ..clock import Clock
from .calendar import HolidayCalendar, OfficeHours, Overrides, WEEKDAYS, parse_hours
from .roster import ROLE_WORDS, DutyRoster, Entry, Person, Shift, load_file, normal_mobile, \
    parse_shifts
from ..sip.dialplan import DialPlan, PlanConfig

if TYPE_CHECKING:
    from ..settings import (CalendarSection, CasesSection, DutySection, HoursSection,
                            ReportSection)

log = logging.getLogger("lawline.duty")

LOG_GAPS = 10    # gap lines logged when a rota loads; the rest are counted
# A rota that fails to load: (problems, file names, whether an earlier rota stays in force)
RotaFailure = tuple[tuple[str, ...], tuple[str, ...], bool]
# (state, part, message) rows for `lawline check`
Problem = tuple[str, str, str]


# The head's night or day mode: (night|day, until: seconds since the epoch, set by)
LineMode = tuple[str, float, str]


class SignOffs(Protocol):
    """Who signed off and the line's mode (records/duties.Availability)."""
    def off(self, now: float) -> Mapping[str, object]: ...   # national numbers signed off
    def mode(self, now: float) -> LineMode | None: ...


class DeskConfig(PlanConfig, Protocol):
    """What the desk is built from: [duty], [hours], [calendar], and the dial plan's."""
    @property
    def duty(self) -> DutySection: ...
    @property
    def hours(self) -> HoursSection: ...
    @property
    def calendar(self) -> CalendarSection: ...


class DeskChecks(DeskConfig, Protocol):
    """What validate_config reads: the desk's sections, and [cases] and [report] times."""
    @property
    def cases(self) -> CasesSection: ...
    @property
    def report(self) -> ReportSection: ...


class NumberPlan(Protocol):
    """The dial plan, as the desk asks it of a rota's mobiles (sip/dialplan.DialPlan)."""
    def refusal(self, number: str) -> str | None: ...


def _hhmm(text: str, where: str) -> dt.time:
    try:
        return dt.datetime.strptime(text, "%H:%M").time()
    except ValueError:
        raise ConfigError(f"{where}: {text!r} is not a time like 18:00") from None


def validate_config(cfg: DeskChecks) -> None:
    """Checks of [hours], [duty], [calendar], [cases], [report] that need parsing."""
    for option in ("numbers", "mediators", "referrals"):
        for number in getattr(cfg.duty, option):
            if not re.fullmatch(r"\+?[0-9]{3,20}", number, re.ASCII):
                raise ConfigError(f"option '{option}' in section [duty]: {number!r} is not a "
                                  "phone number")
    for name in WEEKDAYS + ("makeup_day",):
        parse_hours(getattr(cfg.hours, name), f"option '{name}' in section [hours]")
    parse_shifts(cfg.duty.shifts)
    try:
        dt.date.fromisoformat(cfg.duty.pattern_anchor)
    except ValueError:
        raise ConfigError(f"option 'pattern_anchor' in section [duty]: "
                          f"{cfg.duty.pattern_anchor!r} is not a date") from None
    for role in cfg.duty.required_roles:
        if role not in ROLE_WORDS:
            raise ConfigError(f"option 'required_roles' in section [duty]: {role!r} is not "
                              "a role (lawyer, mediator)")
    month, _, day = cfg.calendar.warn_from.partition("-")
    try:
        dt.date(2000, int(month), int(day))
    except ValueError:
        raise ConfigError(f"option 'warn_from' in section [calendar]: "
                          f"{cfg.calendar.warn_from!r} is not a day like 12-01") from None
    if cfg.cases.summary_at:
        _hhmm(cfg.cases.summary_at, "option 'summary_at' in section [cases]")
    _hhmm(cfg.report.at, "option 'at' in section [report]")


class DutyDesk:
    """The duty desk from its own sections: [duty], [hours], [calendar], and the dial plan
    (sip/dialplan.py) its rota rows must pass."""

    def __init__(self, *, duty: DutySection, hours: HoursSection, calendar: CalendarSection,
                 plan: NumberPlan, clock: Clock) -> None:
        self.clock = clock                          # the office's (clock.py)
        self.duty_cfg = duty
        self.hours_cfg = hours
        self.calendar = HolidayCalendar(Overrides.load(calendar.holidays_file))
        self.hours = OfficeHours.from_section(hours, self.calendar)
        self.shifts = parse_shifts(duty.shifts)
        self.anchor = dt.date.fromisoformat(duty.pattern_anchor)
        self.files = [Path(p) for p in duty.rota_files]
        self.dialplan = plan                        # a barred mobile is a row error
        month, _, day = calendar.warn_from.partition("-")
        self.warn_from = (int(month), int(day))
        self.roster = DutyRoster(self.shifts, [], self.calendar, duty.numbers, self.anchor)
        self.rota_errors: list[str] = []      # of the last load attempt
        self.rota_warnings: list[str] = []
        # A rota that fails to load: (problems, files, what stays in force) for the office
        # head, once per failing version of the files (records/office.py sends it by SMS).
        self.rota_failure: RotaFailure | None = None
        self.on_rota_failure: Callable[[RotaFailure], None] | None = None
        self._stamps: list[tuple[str, int | None, int | None]] | None = None
        # Who signed off and the line's night or day mode (issue 17): an object with
        # off(when) -> national numbers signed off, and mode(when) -> (night|day, until,
        # by) or None; the office gives it (records/duties.Availability), None: everyone
        # on the rota rings and the office hours rule.
        self.availability: SignOffs | None = None
        self.reload()

    @classmethod
    def from_config(cls, cfg: DeskConfig, clock: Clock | None = None) -> DutyDesk:
        """The desk's sections of the whole config (the box, the shells, `lawline check`)."""
        return cls(duty=cfg.duty, hours=cfg.hours, calendar=cfg.calendar,
                   plan=DialPlan.from_config(cfg), clock=clock or Clock(cfg.office.timezone))

    # -- the rota files ----------------------------------------------------------------

    def _file_stamps(self) -> list[tuple[str, int | None, int | None]]:
        out: list[tuple[str, int | None, int | None]] = []
        for path in self.files:
            try:
                st = path.stat()
                out.append((str(path), st.st_mtime_ns, st.st_size))
            except OSError:
                out.append((str(path), None, None))
        return out

    def reload(self) -> bool:
        """Re-read the rota files if any changed. Returns True when a new rota is in force."""
        stamps = self._file_stamps()
        if stamps == self._stamps:
            return False
        self._stamps = stamps
        if not self.files:
            return False
        entries: list[Entry] = []
        errors: list[str] = []
        warnings: list[str] = []
        for n, path in enumerate(self.files):
            try:
                loaded = load_file(path, self.shifts, self.calendar,
                                   tuple(self.duty_cfg.required_roles), order_base=n * 100000,
                                   check_number=self.dialplan.refusal)
            except ConfigError as exc:
                errors.append(str(exc))
                continue
            entries += loaded.entries
            errors += loaded.errors
            warnings += loaded.warnings
        self.rota_errors, self.rota_warnings = errors, warnings
        if errors:
            for line in errors[:LOG_GAPS]:
                log.error("duty rota: %s", line)
            if len(errors) > LOG_GAPS:
                log.error("duty rota: %d more problem(s); 'lawline duty --check FILE' lists "
                          "them all", len(errors) - LOG_GAPS)
            keep = "the previous rota stays in force" if self.roster.configured else \
                "ringing [duty] numbers until it is fixed"
            log.error("duty rota: %d problem(s) in %s; %s", len(errors),
                      ", ".join(str(p) for p in self.files), keep)
            failure = (tuple(errors), tuple(p.name for p in self.files), self.roster.configured)
            if failure != self.rota_failure:
                self.rota_failure = failure
                if self.on_rota_failure is not None:
                    self.on_rota_failure(failure)
            return False
        self.rota_failure = None
        self.roster = DutyRoster(self.shifts, entries, self.calendar, self.duty_cfg.numbers,
                                 self.anchor)
        people = len(self.roster.people())
        log.info("duty rota: %d row(s), %d people from %s", len(entries), people,
                 ", ".join(p.name for p in self.files))
        for line in warnings[:LOG_GAPS]:
            log.warning("duty rota: %s", line)
        if len(warnings) > LOG_GAPS:
            log.warning("duty rota: %d more gap(s) in the files; 'lawline duty --check FILE' "
                        "lists them all", len(warnings) - LOG_GAPS)
        return True

    def check_files(self) -> tuple[list[str], list[str]]:
        """Errors and warnings of the rota files as they are on disk now."""
        self._stamps = None
        self.reload()
        return self.rota_errors, self.rota_warnings

    # -- what the call flow asks -------------------------------------------------------

    def now(self) -> dt.datetime:
        return self.clock.now()

    def is_open(self, when: dt.datetime | None = None) -> bool:
        mode = self.line_mode(when)
        if mode is not None:            # the head's night or day mode wins (issue 17)
            return mode[0] == "day"
        return self.hours_cfg.always_open or self.hours.is_open(when or self.now())

    def why(self, when: dt.datetime | None = None) -> str:
        mode = self.line_mode(when)
        if mode is not None:
            what, until, by = mode
            return (f"{what} mode set by {by} until {self.clock.local(until):%Y-%m-%d %H:%M}"
                    f": {'open' if what == 'day' else 'closed'}")
        if self.hours_cfg.always_open:
            return "open around the clock ([hours] always_open)"
        return self.hours.why(when or self.now())

    def numbers(self, role: str, when: dt.datetime | None = None) -> list[str]:
        """Mobiles to ring for `role` ('lawyer' for key 1, 'mediator' for key 3), in order:
        those who signed off (休息) are left out."""
        self.reload()
        when = when or self.now()
        numbers = self.available(self.roster.numbers(role, when), when)
        if self.roster.configured:
            names = [e.person.name for e in self.roster.on_duty(when, role)
                     if e.person.mobile in numbers]
            log.info("duty: %s(s) on duty now: %s", role,
                     ", ".join(names) or "nobody")
        return numbers

    # -- who signed off, the line's mode (issue 17) --------------------------------------

    def available(self, numbers: Sequence[str], when: dt.datetime | None = None) -> list[str]:
        """`numbers` without those who signed off at `when` (logged once per call)."""
        if self.availability is None:
            return list(numbers)
        off = self.availability.off(self._instant(when))
        left = [n for n in numbers if normal_mobile(n) not in off]
        if len(left) < len(numbers):
            log.info("duty: signed off, not rung: %s",
                     ", ".join(n for n in numbers if n not in left))
        return left

    def is_available(self, number: str, when: dt.datetime | None = None) -> bool:
        return bool(self.available([number], when))

    def line_mode(self, when: dt.datetime | None = None) -> LineMode | None:
        """(night|day, until, by) while the head's mode is in force, else None."""
        if self.availability is None:
            return None
        return self.availability.mode(self._instant(when))

    def _instant(self, when: dt.datetime | None) -> float:
        """An office-local time as seconds since the epoch (now for None)."""
        return self.clock.instant(when) if when is not None else self.clock.instant(
            self.now())

    def after_hours_numbers(self, when: dt.datetime | None = None) -> list[str]:
        """Whoever the rota has on duty now (lawyers first, then mediators); [] without a
        rota, so the caller leaves a voicemail instead of ringing the day list at night."""
        self.reload()
        if not self.roster.configured:
            return []
        when = when or self.now()
        out: list[str] = []
        for role in ("lawyer", "mediator"):
            for number in self.roster.numbers(role, when):
                if number not in out:
                    out.append(number)
        return self.available(out, when)

    def person(self, mobile: str) -> Person | None:
        self.reload()
        return self.roster.person(mobile)

    def staff(self, staff_no: str) -> Person | None:
        self.reload()
        return self.roster.by_staff_no(staff_no)

    # -- what is wrong ahead -----------------------------------------------------------

    def gaps(self, when: dt.datetime | None = None) -> list[tuple[dt.date, Shift, str]]:
        self.reload()
        when = when or self.now()
        return self.roster.gaps(when.date(), self.duty_cfg.gap_days,
                                tuple(self.duty_cfg.required_roles), after=when)

    def calendar_warning(self, when: dt.datetime | None = None) -> str | None:
        return self.calendar.coverage_warning((when or self.now()).date(), self.warn_from)

    def problems(self, when: dt.datetime | None = None) -> list[Problem]:
        """[(state, part, message)] for `lawline check` and the periodic task."""
        when = when or self.now()
        out: list[Problem] = []
        warning = self.calendar_warning(when)
        out.append(("warn", "calendar", warning) if warning else
                   ("ok", "calendar", f"holiday data for {when.year}"
                    f"{' and ' + str(when.year + 1) if self.calendar.known(when.year + 1) else ''}"
                    f"; today: {self.why(when)}"))
        errors: list[str] = self.check_files()[0] if self.files else []
        if not self.files:
            out.append(("ok", "duty rota", "no rota files: key 1 and 3 ring [duty] numbers "
                        f"({', '.join(self.duty_cfg.numbers) or 'none'})"))
        elif errors:
            out.append(("fail", "duty rota", f"{len(errors)} problem(s): " + "; ".join(errors[:5])))
        else:
            out.append(("ok", "duty rota", f"{len(self.roster.entries)} row(s), "
                        f"{len(self.roster.people())} people"))
        gaps = self.gaps(when)
        if gaps:
            text = "; ".join(f"{d} {s.label()} no {r}" for d, s, r in gaps[:6])
            more = f" (+{len(gaps) - 6} more)" if len(gaps) > 6 else ""
            out.append(("warn", "duty cover", f"{len(gaps)} gap(s) in the next "
                        f"{self.duty_cfg.gap_days} days: {text}{more}"))
        elif self.roster.configured and not self.duty_cfg.gap_days:
            out.append(("ok", "duty cover", "not checked ahead ([duty] gap_days = 0)"))
        elif self.roster.configured:
            out.append(("ok", "duty cover", f"every shift covered for the next "
                        f"{self.duty_cfg.gap_days} days"))
        return out

    # -- `lawline duty` ----------------------------------------------------------------

    def status_lines(self, when: dt.datetime | None = None) -> list[str]:
        when = when or self.now()
        self.reload()
        lines = [f"now: {when:%Y-%m-%d %H:%M} ({self.why(when)})"]
        if not self.roster.configured:
            lines.append(f"no rota configured: key 1 and key 3 ring {', '.join(self.duty_cfg.numbers)}")
            return lines
        shifts = self.roster.shifts_at(when)
        if not shifts:
            lines.append("on duty now: no shift")
        for day, shift in shifts:
            people = self.roster.for_shift(day, shift.name)
            lines.append(f"on duty now: {shift.label()} (from {day}): " + _people(people))
        nxt = self.roster.next_shift(when)
        if nxt:
            begin, shift, people = nxt
            lines.append(f"next: {shift.label()} from {begin:%Y-%m-%d %H:%M}: " + _people(people))
        for day, shift, role in self.gaps(when):
            lines.append(f"GAP: {day} {shift.label()}: no {role}")
        return lines


def _people(entries: Sequence[Entry]) -> str:
    if not entries:
        return "nobody"
    return ", ".join(f"{e.person.name} ({e.person.role}, {e.person.mobile}"
                     f"{', staff ' + e.person.staff_no if e.person.staff_no else ''})"
                     for e in entries)
