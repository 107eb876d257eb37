"""The office's duties to a result (issue 17): every request tracked until it has one
(件件有着落，件件有结果).

- On-site service (上门服务): a service request is dispatched, by SMS (`上门 <case> <provider>
  <date> <time> <place>`) or on the office page, to a [[provider]] with an appointment; the
  provider and the caller are texted; the provider (or the owner, or the head) reports
  `到场 <case>` and `结案 <case> <结果>`; an appointment nobody reported arriving at alerts the
  head and the owner ([onsite] missed_after_minutes).
- Referral hand-off: a [[referral]] department with an SMS number or a mailbox gets the case
  with a reply code; its reply (the code, then the result) resolves the case; no reply
  within [handoff] reply_working_days working days (the holiday calendar's, 调休 included)
  alerts the head. The caller hears the department's phone and address on the line and may
  key a mobile to have them texted there (call/script.py).
- The result told: whoever resolves a case writes its result; the caller (complainants too)
  gets it by SMS in plain words ([results]), with the satisfaction survey ([survey] sms),
  or hears it on the phone that opened the case (key 9); the case keeps when and how. A
  survey answer (1-5 by SMS) is kept; a low one alerts the head.
- Staff availability: a duty person signs off (`休息 [until]`) and back on (`上班`); the head
  switches the line to night or day mode (`夜间`/`日间 [until]`, `恢复`); each is confirmed by
  SMS and audited; the duty desk rings only who is available (duty/desk.py); a sign-off that
  leaves nobody on duty tells the head, and so does the office's clock when everyone of a
  shift signed off.

Every change is an outcome planned by records/outcomes.py and committed through the ledger in
one durable step (records/ledger.py). What a case keeps of it is in its duty columns
(records/cases.py DUTY_COLUMNS), which every later journal item carries upstream.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from ..clock import Clock
from ..duty.calendar import working_day_after
from ..errors import ConfigError, LawlineError
from ..phone import is_mobile, national, same
from ..prompts import Prompts
from . import messages as text
from . import outcomes
from .cases import CaseChanged, CaseError

log = logging.getLogger("lawline.office")

CODE_DIGITS = 6          # a department's reply code: never a case number's length
DISPATCH_KINDS = ("service_request",)
ROLE_WORDS = {"lawyer": "律师", "mediator": "调解员"}


def validate_config(cfg: Any) -> None:
    """[[provider]], the [[referral]] SMS numbers and mailboxes, [results] replace: errors
    name the table and option."""
    names, mobiles = set(), set()
    for n, p in enumerate(getattr(cfg, "provider", ()), start=1):
        where = f"[[provider]] number {n}"
        if not p.name.strip():
            raise ConfigError(f"{where}: option 'name' must not be empty")
        if p.name in names:
            raise ConfigError(f"{where}: name {p.name!r} is given twice")
        if not is_mobile(national(p.mobile)):
            raise ConfigError(f"{where}: option 'mobile': {p.mobile!r} is not a mobile "
                              "number (the appointment goes there by SMS)")
        if national(p.mobile) in mobiles:
            raise ConfigError(f"{where}: mobile {p.mobile!r} is given twice")
        if p.email and "@" not in p.email:
            raise ConfigError(f"{where}: option 'email': {p.email!r} is not an e-mail address")
        names.add(p.name)
        mobiles.add(national(p.mobile))
    for n, r in enumerate(cfg.referral, start=1):
        where = f"[[referral]] number {n}"
        if r.sms and not is_mobile(national(r.sms)):
            raise ConfigError(f"{where}: option 'sms': {r.sms!r} is not a mobile number")
        if r.email and "@" not in r.email:
            raise ConfigError(f"{where}: option 'email': {r.email!r} is not an e-mail address")
        if r.email and not cfg.email.to:
            raise ConfigError(f"{where}: option 'email' needs the [email] section (host, "
                              "sender, to) to send the hand-off through")
    try:
        text.wording_rules(cfg.results.replace)
    except ValueError as exc:
        raise ConfigError(f"option 'replace' in section [results]: {exc}") from None


# -- who signed off, the line's mode ----------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS availability(
    key TEXT PRIMARY KEY,
    at REAL NOT NULL,
    who TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    what TEXT NOT NULL,
    until REAL,
    by TEXT NOT NULL DEFAULT '',
    via TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS availability_at ON availability(at);
"""
PERSON = ("off", "on")
LINE = ("night", "day", "auto")


class Availability:
    """Who signed off and the line's night or day mode: every change a row in the case book
    (spool/cases.db), written by the ledger's `availability` step (idempotent by its key),
    read by the duty desk at each call and by the office page. The latest change of a person
    (or of the line) is in force until its `until`."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock | None = None) -> None:
        self._db = db
        self._lock = lock or threading.Lock()
        with self._lock:
            self._db.executescript(_SCHEMA)

    def record(self, key: str, at: float, who: str, name: str, what: str,
               until: float | None, by: str, via: str) -> bool:
        """Keep one change; False when it is kept already (the ledger applied it again)."""
        with self._lock:
            cur = self._db.execute("INSERT OR IGNORE INTO availability (key, at, who, name, "
                                   "what, until, by, via) VALUES (?,?,?,?,?,?,?,?)",
                                   (key, at, who, name, what, until, by, via))
        return cur.rowcount == 1

    def _latest(self) -> list[tuple[Any, ...]]:
        """The latest change of each person and of the line (SQLite takes the other
        columns of an aggregate max() from the row that has it)."""
        with self._lock:
            return [row[:6] for row in self._db.execute(
                "SELECT who, name, what, until, by, max(at) FROM availability "
                "GROUP BY who, what IN ('off', 'on')")]

    def off(self, now: float) -> dict[str, tuple[str, float | None, str]]:
        """{national number: (name, until, by)} of those signed off at instant `now`."""
        return {who: (name, until, by) for who, name, what, until, by, _ in self._latest()
                if what == "off" and who and (until is None or until > now)}

    def mode(self, now: float) -> tuple[str, float, str] | None:
        """(night|day, until, by) while the head's mode is in force at `now`, else None."""
        for who, _, what, until, by, _ in self._latest():
            if not who and what in ("night", "day") and until is not None and until > now:
                return what, until, by
        return None

    def changes(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest changes, newest first (the office page)."""
        with self._lock:
            rows = self._db.execute("SELECT at, who, name, what, until, by, via FROM "
                                    "availability ORDER BY at DESC, rowid DESC LIMIT ?",
                                    (limit,)).fetchall()
        keys = ("at", "who", "name", "what", "until", "by", "via")
        return [dict(zip(keys, r)) for r in rows]


# -- the duties ---------------------------------------------------------------------------------

class Refused(LawlineError):
    """A duty action that is not done: `reason` is what staff are told (Chinese)."""

    def __init__(self, why: str, reason: str) -> None:
        super().__init__(why)
        self.reason = reason


class Duties:
    """The office's duties to a result, on the office (records/office.Office): its case
    book, ledger, SMS queue, desk and clock. Built by the office itself."""

    def __init__(self, office: Any) -> None:
        self.office = office
        cfg = office.cfg
        self.onsite, self.handoff = cfg.onsite, cfg.handoff
        self.results, self.survey = cfg.results, cfg.survey
        self.limits_cfg = cfg.availability
        self.providers = [outcomes.Provider(p.name, p.mobile, p.kind, p.email, p.area)
                          for p in cfg.provider]
        self.departments = list(cfg.referral)
        self.replace = text.wording_rules(self.results.replace)
        self.availability = Availability(office.cases._db, office.cases._lock)
        office.ledger.availability = self.availability
        office.desk.availability = self.availability
        exempt = office.sms.exempt      # providers and departments are not callers: no cap
        office.sms.exempt = lambda number: exempt(number) or self.listed(number)

    # -- what the planner and the office ask ------------------------------------------------

    def rules(self) -> dict[str, Any]:
        """Rules fields of the duties (records/outcomes.Rules)."""
        return {"result_max": self.results.sms_max_chars, "result_replace": self.replace,
                "mask_mobiles": self.results.mask_mobiles, "survey_sms": self.survey.sms}

    def listed(self, number: str) -> bool:
        n = national(number)
        return bool(n) and (any(national(p.mobile) == n for p in self.providers) or
                            any(national(d.sms) == n for d in self.departments if d.sms))

    def now(self) -> float:
        """The office clock's instant (moved on the test rig: appointments and deadlines
        follow the office's day, clock.py)."""
        clock: Clock = self.office.clock
        return clock.instant(clock.now())

    def complete(self, item: Any) -> Any:
        """What the planner needs that only the office knows: a referral's reply code and
        its deadline; the case a caller was told about on the phone."""
        if isinstance(item, outcomes.Referred) and not item.code and \
                (item.department.sms or item.department.email):
            due = working_day_after(self.office.desk.calendar, self.office.clock.now().date(),
                                    self.handoff.reply_working_days)
            end = dt.datetime.combine(due + dt.timedelta(days=1), dt.time())
            return outcomes.Referred(item.call, item.case, item.pin, item.department,
                                     self._new_code(), self.office.clock.instant(end),
                                     f"{due:%m月%d日}")
        if isinstance(item, outcomes.Told) and item.case is None:
            case = self.office.snapshot(item.number)
            if case is None:
                raise CaseError(f"case {item.number} does not exist")
            return outcomes.Told(item.call, item.number, case, item.how)
        return item

    def _new_code(self) -> str:
        for _ in range(50):
            code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
            if self.office.cases.by_reply_code(code) is None:
                return code
        raise LawlineError("no free reply code after 50 draws")

    # -- on-site service --------------------------------------------------------------------

    def provider(self, ref: str) -> outcomes.Provider | None:
        """A [[provider]] by its number in the list (1, 2, ...), its mobile or its name."""
        ref = (ref or "").strip()
        if ref.isdigit() and len(ref) <= 3:
            index = int(ref) - 1
            return self.providers[index] if 0 <= index < len(self.providers) else None
        for p in self.providers:
            if (national(ref) and national(p.mobile) == national(ref)) or p.name == ref:
                return p
        return None

    def appointment(self, day: str, hhmm: str, now: dt.datetime | None = None) -> dt.datetime:
        """An appointment's office-local datetime from what staff typed ('12-05' or
        '2026-12-05' or '' for today, '09:30'); Refused when it is no time or is past."""
        now = now or self.office.clock.now()
        when = _local(day, hhmm, now)
        if when < now - dt.timedelta(minutes=5):
            raise Refused(f"the appointment {when:%Y-%m-%d %H:%M} is past",
                          f"约定时间{when:%m-%d %H:%M}已过")
        if when > now + dt.timedelta(days=366):
            raise Refused(f"the appointment {when:%Y-%m-%d} is more than a year ahead",
                          "约定时间太远")
        return when

    def dispatch(self, number: str, provider: outcomes.Provider, when: dt.datetime, place: str,
                 by: str, note: str = "", expect_updated: float | None = None) -> str:
        """Dispatch case `number` to `provider` (outcomes.Provider) at `when` (office-local
        datetime) at `place`: one durable step (the provider and the caller texted)."""
        case = self._case(number, expect_updated)
        if case.kind not in DISPATCH_KINDS:
            raise Refused(f"case {number} is a {case.kind}, not a service request",
                          "只有法律服务申请可以派员上门")
        if case.state not in ("new", "assigned"):
            raise Refused(f"case {number} is {case.state}", "案件已转办或已办结，不能派单")
        if not place.strip():
            raise Refused("no place given", "请写明上门地点")
        words = f"{when:%m月%d日 %H:%M}"
        self.office.commit([outcomes.Dispatched(case, by, provider, words,
                                                self.office.clock.instant(when),
                                                place.strip()[:100], note[:200])])
        log.info("case %s: dispatched on site to %r (%s), %s at %r, by %r", number,
                 provider.name, provider.mobile, words, place, by)
        return words

    def arrived(self, number: str, by: str, note: str = "",
                expect_updated: float | None = None) -> None:
        case = self._case(number, expect_updated)
        facts = case.facts
        if "dispatch" not in facts:
            raise Refused(f"case {number} was never dispatched on site", "该案件没有派单上门")
        if "arrived" in facts:
            raise Refused(f"case {number}: arrival reported already", "已登记到场")
        if case.state not in ("new", "assigned"):
            raise Refused(f"case {number} is {case.state}", "案件已办结")
        self.office.commit([outcomes.Arrived(case, by, note[:200])])
        log.info("case %s: arrival on site reported by %r", number, by)

    def _case(self, number: str, expect_updated: float | None = None) -> outcomes.CaseNow:
        case: outcomes.CaseNow | None = self.office.snapshot(number)
        if case is None:
            raise Refused(f"case {number} does not exist", "没有这个案件编号")
        if expect_updated is not None and case.updated != expect_updated:
            raise CaseChanged(f"case {number} changed since it was shown (now {case.state})")
        return case

    def dispatched_to(self, case_facts: dict[str, Any], number: str) -> bool:
        """True when the case was dispatched to the provider with mobile `number`."""
        raw = case_facts.get("dispatch")
        if not raw:
            return False
        return same(json.loads(raw).get("mobile", ""), number)

    # -- staff SMS: on-site, availability ----------------------------------------------------

    def staff_sms(self, number: str, body: str, person: Any, is_head: bool,
                  who: str) -> bool | None:
        """A listed person's SMS that is no case command: one of the duties' (DutyCommand),
        done and answered. Returns True (done), False (refused, told why) or None (not one
        of them)."""
        command = text.parse_duty_command(body)
        if command is None:
            return None
        by = f"{who} by SMS"
        try:
            done = self._staff_command(command, number, person, is_head, by)
        except Refused as exc:
            log.info("sms from %s: %s not done: %s", who, command.what, exc)
            self._reply(number, text.duty_reply(command, False, exc.reason, command.case),
                        command.case)
            return False
        except CaseError as exc:
            log.info("sms from %s: %s %r not done: %s", who, command.what, command.case, exc)
            self._reply(number, text.duty_reply(command, False, "当前状态不能这样处理",
                                                command.case), command.case)
            return False
        if done:
            self._reply(number, text.duty_reply(command, True, done=done), command.case)
        return True

    def _staff_command(self, command: text.DutyCommand, number: str, person: Any,
                       is_head: bool, by: str) -> str | None:
        office = self.office
        if command.what in ("dispatch", "arrived"):
            case = office.cases.get(command.case)
            if case is None:
                raise Refused("no case has this number", "没有这个案件编号")
            facts = office.cases.duties(case.number)
            mine = command.what == "arrived" and self.dispatched_to(facts, number)
            refused = None if mine else _may_handle(case, number, is_head,
                                                    office.barred(case, number))
            if refused:
                raise Refused(*refused)
            if command.what == "arrived":
                self.arrived(case.number, by, command.note)
                return f"案件{case.number}已登记到场。办结后回复：结案 {case.number} 办理结果"
            provider = self.provider(command.provider)
            if provider is None:
                raise Refused(f"no provider {command.provider!r}",
                              f"服务机构名录中没有“{command.provider}”（写序号、手机号或名称）")
            when = self.appointment(command.day, command.time)
            words = self.dispatch(case.number, provider, when, command.place, by)
            return f"案件{case.number}已派{provider.name}，{words}上门，已短信通知双方。"
        if command.what in LINE:
            if not is_head:
                raise Refused("only the head switches the line's mode",
                              "只有负责人可以切换夜间、日间模式")
            self.set_mode(command.what, self._until(command, self.limits_cfg
                                                    .mode_default_hours), by, "sms",
                          confirm=number)
            return None                         # the step's own SMS confirms it
        if person is None and not self._is_listed_staff(number):
            raise Refused("the sender is not on the rota", "您不在值班名单中")
        name = person.name if person else ""
        until = self._until(command, None) if command.what == "off" else None
        self.sign(number, name, command.what, until, by, "sms", confirm=number)
        return None                             # the step's own SMS confirms it

    def _is_listed_staff(self, number: str) -> bool:
        return national(number) in self.office.staff()

    def _until(self, command: text.DutyCommand,
               default_hours: float | None) -> dt.datetime | None:
        """When a sign-off or mode ends, from the command ('18:00', '12-06 08:30', '3小时'),
        as an office-local datetime; None without one and without a default."""
        now: dt.datetime = self.office.clock.now()
        if command.hours:
            if command.hours > 720:
                raise Refused(f"{command.hours} hours is too long", "时间太长")
            return now + dt.timedelta(hours=command.hours)
        if command.time:
            until = _local(command.day, command.time, now)
            if not command.day and until <= now:    # '08:30' said at 09:00: tomorrow's
                until += dt.timedelta(days=1)
            if until <= now:
                raise Refused(f"{command.day} {command.time} is past",
                              f"结束时间{until:%m-%d %H:%M}已过")
            return until
        if default_hours:
            return now + dt.timedelta(hours=default_hours)
        return None

    # -- availability -------------------------------------------------------------------------

    def sign(self, mobile: str, name: str, what: str, until: dt.datetime | None, by: str,
             via: str, confirm: str = "", audit: bool = True) -> str:
        """A duty person signs off (`what` off, until the office-local `until`, or for
        [availability] sign_off_max_hours at most) or back on: one durable step, confirmed
        to `confirm`, audited; the head is told when it leaves nobody on duty now. Returns
        the confirmation's words."""
        clock: Clock = self.office.clock
        if what == "off":
            longest = clock.now() + dt.timedelta(hours=self.limits_cfg.sign_off_max_hours)
            until = min(until or longest, longest)
        uncovered = self._uncovered(mobile) if what == "off" else ()
        words = f"{until:%m月%d日 %H:%M}" if until else ""
        self.office.commit([outcomes.AvailabilityChanged(
            mobile, name, what, clock.instant(until) if until else None, words, by, via,
            confirm, uncovered, audit)])
        log.info("duty: %s (%s) %s%s by %r%s", name or mobile, mobile,
                 "signed off" if what == "off" else "back on duty",
                 f" until {until:%Y-%m-%d %H:%M}" if until else "", by,
                 f"; nobody left on duty now for {', '.join(uncovered)}: office head told"
                 if uncovered else "")
        return text.availability_confirm(what, name, words)

    def set_mode(self, what: str, until: dt.datetime | None, by: str, via: str,
                 confirm: str = "", audit: bool = True) -> str:
        """The head's night or day mode until the office-local `until`, or `auto` (the office
        hours again): one durable step, confirmed and audited."""
        clock: Clock = self.office.clock
        if what == "auto":
            until = None
        words = f"{until:%m月%d日 %H:%M}" if until else ""
        self.office.commit([outcomes.AvailabilityChanged(
            "", "", what, clock.instant(until) if until else None, words, by, via, confirm,
            (), audit)])
        log.info("line: %s by %r%s", {"night": "night mode", "day": "day mode",
                                       "auto": "office hours again"}[what], by,
                 f" until {until:%Y-%m-%d %H:%M}" if until else "")
        return text.availability_confirm(what, "", words)

    def _roles_of(self, mobile: str) -> tuple[str, ...]:
        """The roles `mobile` is rung for: the rota's, or the [duty] lists'."""
        desk, duty = self.office.desk, self.office.cfg.duty
        if desk.roster.configured:
            person = desk.person(mobile)
            return (person.role,) if person else ()
        roles = []
        if any(same(n, mobile) for n in duty.numbers):
            roles.append("lawyer")
        if any(same(n, mobile) for n in duty.mediators):
            roles.append("mediator")
        return tuple(roles)

    def _uncovered(self, mobile: str) -> tuple[str, ...]:
        """The roles of `mobile` that nobody else available is on duty for now."""
        out = []
        for role in self._roles_of(mobile):
            on = self.office.on_duty(role)
            if any(same(n, mobile) for n in on) and \
                    not [n for n in on if not same(n, mobile)]:
                out.append(role)
        return tuple(out)

    def state(self) -> dict[str, Any]:
        """For the office page: who signed off now and the line's mode."""
        now = self.now()
        return {"off": self.availability.off(now), "mode": self.availability.mode(now),
                "changes": self.availability.changes(20)}

    # -- SMS from outside the rota: departments, providers, survey answers -------------------

    def outside_sms(self, number: str, body: str) -> bool | None:
        """An SMS from a number the rota does not list: a department's reply, a provider's
        到场/结案, a caller's survey answer. Returns True/False when it was one of them (done,
        or refused and told why), None otherwise (the office logs and ignores it)."""
        n = national(number)
        if any(d.sms and national(d.sms) == n for d in self.departments):
            return self._department_reply(number, body)
        if any(national(p.mobile) == n for p in self.providers):
            return self._provider_sms(number, body)
        score = text.parse_survey(body)
        if score is not None:
            return self._survey_answer(number, score)
        return None

    def _department_reply(self, number: str, body: str) -> bool:
        department = next(d for d in self.departments if d.sms and same(d.sms, number))
        reply = text.parse_reply(body, CODE_DIGITS)
        if reply is None:
            log.info("sms from department %r (%s) is no reply: %r", department.name, number,
                     body[:160])
            self._reply(number, text.referral_replied("", False, f"请回复：回复码 办理结果（回复码"
                                                               f"为{CODE_DIGITS}位数字）"),
                        help=True)
            return False
        code, result = reply
        found = self.office.cases.by_reply_code(code)
        case = self.office.snapshot(found) if found else None
        facts = case.facts if case else {}
        handoff = json.loads(facts.get("handoff") or "{}")
        if case is None or not same(handoff.get("sms", ""), number):
            log.info("sms from department %r (%s): reply code %r is none of its cases",
                     department.name, number, code)
            self._reply(number, text.referral_replied("", False, "回复码不对"))
            return False
        if case.state != "referred":
            log.info("department %r replied again to case %s (%s)", department.name,
                     case.number, case.state)
            self._reply(number, text.referral_replied(case.number, False, "该案件已办结"),
                        case.number)
            return False
        if not result:
            self._reply(number, text.referral_replied(case.number, False,
                                                      "请在回复码后写明办理结果"), case.number)
            return False
        try:
            self.office.commit([outcomes.Replied(case, f"{department.name} ({number}) by SMS",
                                                 result)])
        except CaseError as exc:
            log.info("department reply to case %s not recorded: %s", case.number, exc)
            self._reply(number, text.referral_replied(case.number, False, "请稍后重发"),
                        case.number)
            return False
        log.info("case %s: %r replied %r; resolved", case.number, department.name, result)
        self._reply(number, text.referral_replied(case.number, True), case.number)
        return True

    def _provider_sms(self, number: str, body: str) -> bool:
        """到场 or 结案 from a provider, on a case dispatched to it only."""
        provider = next(p for p in self.providers if same(p.mobile, number))
        who = f"{provider.name} ({number})"
        duty = text.parse_duty_command(body)
        case_command = text.parse_command(body)
        wanted = duty.case if duty and duty.what == "arrived" else \
            case_command.case if case_command and case_command.state == "resolved" else None
        if wanted is None:
            log.info("sms from provider %s is not 到场/结案: %r", who, body[:160])
            self._reply(number, "【0148】到达后回复：到场 案件编号；办结后回复：结案 案件编号 办理结果",
                        help=True)
            return False
        case = self.office.cases.get(wanted)
        if case is None or not self.dispatched_to(self.office.cases.duties(case.number),
                                                  number):
            log.info("sms from provider %s: case %r was not dispatched to it", who, wanted)
            self._reply(number, text.duty_reply(None, False, "该案件未派给您", wanted), wanted)
            return False
        try:
            if duty is not None and duty.what == "arrived":
                self.arrived(case.number, f"{who} by SMS", duty.note)
                done = f"案件{case.number}已登记到场。办结后回复：结案 {case.number} 办理结果"
            else:
                result = case_command.note if case_command is not None else ""
                if not result:
                    raise Refused("no result", f"请写明办理结果：结案 {case.number} 办理结果")
                self.office.act(case.number, "resolved", f"{who} by SMS", result)
                done = f"案件{case.number}已结案，已告知申请人。"
        except Refused as exc:
            self._reply(number, text.duty_reply(None, False, exc.reason, case.number),
                        case.number)
            return False
        except CaseError as exc:
            log.info("sms from provider %s on case %s not done: %s", who, case.number, exc)
            self._reply(number, text.duty_reply(None, False, "当前状态不能这样处理",
                                                case.number), case.number)
            return False
        self._reply(number, text.duty_reply(None, True, done=done), case.number)
        return True

    def _survey_answer(self, number: str, score: int) -> bool | None:
        since = time.time() - self.survey.sms_reply_days * 86400   # survey_sent: real time
        waiting = [c for c, caller in self.office.cases.surveyed(since) if same(caller, number)]
        if not waiting:
            return None
        case = self.office.snapshot(waiting[0])
        owner = self.office.duty_person(case.owner) if case.owner else None
        try:
            self.office.commit([outcomes.Surveyed(case, score, owner)])
        except CaseError as exc:
            log.info("survey answer %d for case %s not recorded: %s", score, case.number, exc)
            return False
        log.info("case %s: the caller %s answered the survey: %d of 5", case.number, number,
                 score)
        return True

    def _reply(self, number: str, body: str, case: str | None = None,
               help: bool = False) -> None:
        """A reply to an SMS, within the office's reply limits (a help text: the tighter
        ones; records/office.Office.reply)."""
        self.office.reply(number, body, case, help)

    # -- the office's clock: missed appointments, late replies, nobody available -------------

    def check(self, now: float | None = None) -> None:
        """The office's periodic job: an appointment nobody reported arriving at, a
        department that did not reply in time, a shift whose people all signed off."""
        now = now or self.now()
        head = self.office.head
        late = now - self.onsite.missed_after_minutes * 60
        for number, _ in self.office.cases.with_duty(
                "appointment IS NOT NULL AND arrived IS NULL AND missed_alerted IS NULL AND "
                "appointment < ?", (late,)):
            self._alert(number, outcomes.AppointmentMissed, "missed appointment")
        for number, _ in self.office.cases.with_duty(
                "reply_due IS NOT NULL AND reply_at IS NULL AND reply_alerted IS NULL AND "
                "reply_due < ?", (now,), states=("referred",)):
            self._alert(number, outcomes.ReplyOverdue, "late department reply")
        self._check_available(head)

    def _alert(self, number: str, kind: Any, what: str) -> None:
        case = self.office.snapshot(number)
        tell = tuple(n for n in (self.office.head, case.owner) if n)
        if self.office.barred(self.office.cases.get(number), case.owner):
            tell = tuple(n for n in tell if not same(n, case.owner))
        try:
            self.office.commit([kind(case, tell)])
        except CaseError as exc:      # it moved meanwhile: the next round sees it again
            log.info("case %s: %s not alerted yet: %s", number, what, exc)
            return
        log.warning("case %s: %s; told %s", number, what, ", ".join(tell) or "nobody (no "
                    "[office] head_mobile, no owner): the journal has it")

    def _check_available(self, head: str) -> None:
        desk = self.office.desk
        if not desk.roster.configured or desk.availability is None:
            return
        when = desk.now()
        for role in desk.duty_cfg.required_roles:
            rota = desk.roster.numbers(role, when)
            if not rota or desk.available(rota, when):
                continue
            for day, shift in desk.roster.shifts_at(when):
                if self.office.cases.notice_once(f"unavailable:{day}:{shift.name}:{role}"):
                    log.warning("duty: every %s of the %s shift of %s signed off; office head "
                                "told", role, shift.name, day)
                    if head:
                        self.office.sms.queue(head, text.nobody_available((role,), day,
                                                                          shift.name),
                                              "nobody available")

    # -- prompts: the departments' addresses, a case's result --------------------------------

    def write_address_prompts(self, folder: Path) -> None:
        """One prompt text per [[referral]] address (referral_address_N), rendered with the
        referral prompts (records/office.render_referral_prompts)."""
        for i, ref in enumerate(self.departments, start=1):
            path = folder / f"referral_address_{i}.txt"
            words = ref.address.strip()
            if not words:
                path.unlink(missing_ok=True)
                continue
            if not path.exists() or path.read_text(encoding="utf-8").strip() != words:
                path.write_text(words + "\n", encoding="utf-8")

    def result_words(self, number: str) -> str:
        """A case's result as the caller hears it (the office's wording rules), or ''."""
        result = self.office.cases.duties(number).get("result") or ""
        return text.plain_result(result, self.results.sms_max_chars, self.replace,
                                 self.results.mask_mobiles)

    def result_prompt(self, number: str) -> str | None:
        """Render the result of case `number` to a prompt (spool/prompts/result_<case>); its
        play name `result:<case>`, or None when there is none or it could not be rendered.
        Blocking (espeak-ng): the driver runs it off the loop."""
        words = self.result_words(number)
        if not words:
            return None
        folder = self.office.prompts_dir
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"result_{number}.txt"
        if not path.exists() or path.read_text(encoding="utf-8").strip() != words:
            path.write_text(words + "\n", encoding="utf-8")
        try:
            Prompts(folder).render_missing()
        except (LawlineError, OSError) as exc:
            log.warning("case %s: its result could not be rendered for the phone (%s)",
                        number, exc)
            return None
        return f"result:{number}"

    def prompt_path(self, name: str) -> Path:
        """The audio of `result:<case>` or `referral_address:<index>` (PromptMissing)."""
        kind, _, which = name.partition(":")
        prompts = Prompts(self.office.prompts_dir)
        if kind == "result":
            return prompts.path(f"result_{which}")
        return prompts.path(f"referral_address_{int(which) + 1}")

    def has_address(self, index: int) -> bool:
        return 0 <= index < len(self.departments) and bool(self.departments[index].address
                                                           .strip())


def _local(day: str, hhmm: str, now: dt.datetime) -> dt.datetime:
    """What staff typed ('12-05', '2026-12-05' or '' for today; '09:30') as an office-local
    datetime; Refused when it is no date or time. A month and day more than a month past
    are next year's (December typing January)."""
    try:
        hour, minute = (int(x) for x in hhmm.split(":"))
        at = dt.time(hour, minute)
        if not day:
            date = now.date()
        elif day.count("-") == 2:
            date = dt.date.fromisoformat(day)
        else:
            month, mday = (int(x) for x in day.split("-"))
            date = dt.date(now.year, month, mday)
            if date < now.date() - dt.timedelta(days=31):
                date = dt.date(now.year + 1, month, mday)
    except ValueError:
        raise Refused(f"{day} {hhmm} is no date and time",
                      "日期或时间不对，格式如：12-05 09:30") from None
    return dt.datetime.combine(date, at)


def _may_handle(case: Any, sender: str, is_head: bool,
                barred: bool) -> tuple[str, str] | None:
    """None when `sender` may dispatch or report on `case` (its owner or the head), else
    (why, reason)."""
    if barred:
        return ("the complaint names the sender", "此投诉涉及您本人，由上级处理")
    if is_head:
        return None
    if same(case.owner, sender):
        return None
    if not case.owner:
        return ("nobody owns the case yet", f"请先回复：接 {case.number}")
    return (f"the case is {case.owner_name or case.owner}'s",
            "该案件由他人负责，只有负责人或主任可以处理")
