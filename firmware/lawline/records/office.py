"""The office behind the line: cases, who is told what by SMS, and the office's own clock
(overdue cases, cover gaps, the calendar running out, the daily summary, the reports).

The call flow opens cases here and the box's SMS handler passes duty staff's replies here;
`lawline case` acts on the same database from the shell. Everything that alerts a person
goes through the SMS queue and is logged in one plain line.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Protocol

from ..duty.desk import DeskConfig, DutyDesk, RotaFailure
from ..duty.roster import Person, normal_mobile
from ..errors import LawlineError
from ..phone import is_mobile, national
from ..clock import Clock
from ..prompts import Prompts
from ..settings import (AvailabilitySection, CallbacksSection, CasesSection, DutySection,
                        HandoffSection, LimitsSection, OfficeSection, OnsiteSection,
                        ProviderTable, ReferralTable, ReportSection, ResultsSection,
                        SurveySection, TopicsSection)
from ..sync.outbox import Outbox
from . import messages as text
from . import outcomes
from .calls import CALL_BOOK_DAYS, CallBook
from .cases import MOVES, Case, Cases, CaseChanged, CaseError, new_pin
from .duties import Duties
from .ledger import Ledger
from .limits import Limits
from .smsqueue import SmsQueue

log = logging.getLogger("lawline.office")


class OfficeConfig(DeskConfig, Protocol):
    """The whole configuration (config.Config) as the office is built from it: its own
    sections and the desk's. [[referral]] is read when there is one."""
    @property
    def cases(self) -> CasesSection: ...
    @property
    def limits(self) -> LimitsSection: ...
    @property
    def survey(self) -> SurveySection: ...
    @property
    def report(self) -> ReportSection: ...
    @property
    def onsite(self) -> OnsiteSection: ...
    @property
    def handoff(self) -> HandoffSection: ...
    @property
    def results(self) -> ResultsSection: ...
    @property
    def availability(self) -> AvailabilitySection: ...
    @property
    def provider(self) -> Iterable[ProviderTable]: ...
    @property
    def topics(self) -> TopicsSection: ...
    @property
    def callbacks(self) -> CallbacksSection: ...


@dataclass(frozen=True)
class OfficeSettings:
    """The config sections the office reads, and no others."""
    office: OfficeSection     # [office]: name, number, id, head_mobile
    cases: CasesSection       # [cases]: due times, next steps, the summary
    limits: LimitsSection     # [limits]: abuse limits (records/limits.py)
    duty: DutySection         # [duty]: numbers and mediators (staff without a rota)
    survey: SurveySection     # [survey]: the alert level of the reports
    report: ReportSection     # [report]: when the periodic report goes
    referral: tuple[ReferralTable, ...] = ()    # [[referral]] tables: the referral prompts
    # issue 17, the office's duties (records/duties.py): [onsite], [handoff], [results],
    # [availability], [[provider]]
    onsite: OnsiteSection = dataclasses.field(default_factory=OnsiteSection)
    handoff: HandoffSection = dataclasses.field(default_factory=HandoffSection)
    results: ResultsSection = dataclasses.field(default_factory=ResultsSection)
    availability: AvailabilitySection = dataclasses.field(default_factory=AvailabilitySection)
    provider: tuple[ProviderTable, ...] = ()
    # issue 17, the numbers: [topics], [callbacks] (records/calls.py)
    topics: TopicsSection = dataclasses.field(default_factory=TopicsSection)
    callbacks: CallbacksSection = dataclasses.field(default_factory=CallbacksSection)

    @classmethod
    def of(cls, cfg: OfficeConfig) -> OfficeSettings:
        return cls(cfg.office, cfg.cases, cfg.limits, cfg.duty, cfg.survey, cfg.report,
                   tuple(getattr(cfg, "referral", ())), topics=cfg.topics,
                   callbacks=cfg.callbacks, onsite=cfg.onsite,
                   handoff=cfg.handoff, results=cfg.results, availability=cfg.availability,
                   provider=tuple(cfg.provider))


class Office:
    """The office from its own sections (`OfficeSettings`) and the duty desk; `self.cfg`
    is those sections only."""

    def __init__(self, settings: OfficeSettings, spool_dir: Path, *, desk: DutyDesk,
                 outbox: Outbox | None = None, damaged_dir: Path | None = None) -> None:
        """`outbox`: what the box owes upstream (sync/outbox.Outbox); without one, an outbox
        with no targets on the spool (a box with no upload target keeps everything)."""
        self.cfg = settings
        self.name = settings.office.name
        self.head = settings.office.head_mobile
        self.desk = desk
        self.clock = desk.clock         # the office's (clock.py): its days, hours and rota
        # damaged_dir (the box only): a damaged case book is set aside there, a fresh one
        # started (records/cases.py, sync/sqlitefile.py)
        self.cases = Cases(spool_dir / "cases.db", damaged_dir=damaged_dir, clock=self.clock)
        self.sms = SmsQueue(self.cases._db, self.cases._lock)
        # abuse limits ([limits]); staff and the head are never capped (records/limits.py)
        self.limits = Limits(settings.limits, self.cases._db, self.cases._lock, self.clock)
        self.sms.limits = self.limits
        # staff are never capped: the rota's people, or without a rota the [duty] lists
        self.sms.exempt = lambda number: self.desk.person(number) is not None or \
            (bool(self.head) and _same(number, self.head)) or \
            (bool(national(number)) and national(number) in self.staff())
        self.desk.on_rota_failure = self._rota_refused
        if self.desk.rota_failure:      # the rota files were bad already at start
            self._rota_refused(self.desk.rota_failure)
        self.outbox = outbox if outbox is not None else Outbox(
            spool_dir / "outbox.db", spool_dir, [], clock=self.clock)
        # the call book and the callback list (records/calls.py), in the case book's file
        self.calls = CallBook(self.cases._db, self.cases._lock)
        # every outcome (a case, its items upstream, its SMS) in one durable step
        self.ledger = Ledger(spool_dir, self.outbox, self.cases, self.sms, self.calls)
        self.reports_dir = spool_dir / "reports"
        self.prompts_dir = spool_dir / "prompts"
        # called after a commit (the box kicks its uploader)
        self.on_upload: Callable[[], None] | None = None
        # on-site service, referral hand-off, results told, availability (issue 17)
        self.duties = Duties(self)

    @classmethod
    def from_config(cls, cfg: OfficeConfig, spool_dir: Path, outbox: Outbox | None = None,
                    damaged_dir: Path | None = None, clock: Clock | None = None) -> Office:
        """The office as the shells and the web page open it: its sections of `cfg` and a
        duty desk of its own (on `clock`, else the office's clock from [office] timezone)."""
        return cls(OfficeSettings.of(cfg), spool_dir, desk=DutyDesk.from_config(cfg, clock),
                   outbox=outbox, damaged_dir=damaged_dir)

    # -- referral prompts ------------------------------------------------------------------

    def render_referral_prompts(self) -> list[str]:
        """Write one prompt text per [[referral]] ("按1，县劳动保障监察大队") into
        spool/prompts and render what changed with espeak-ng. The list lives in the box's
        own config, not in the repository, so `make prompts` cannot know it; rendering at
        start keeps the menu in step with the config. A recorded referral_N.wav placed there
        wins, as for every prompt."""
        referrals = self.cfg.referral
        self.prompts_dir.mkdir(parents=True, exist_ok=True)
        for i, ref in enumerate(referrals, start=1):
            path = self.prompts_dir / f"referral_{i}.txt"
            words = f"{ref.name}，请按{i}。"
            if not path.exists() or path.read_text(encoding="utf-8").strip() != words:
                path.write_text(words + "\n", encoding="utf-8")
        self.duties.write_address_prompts(self.prompts_dir)     # spoken after the choice
        prompts = Prompts(self.prompts_dir)
        try:
            done = prompts.render_missing()
        except (LawlineError, OSError) as exc:
            log.warning("referral prompts not rendered (%s); callers pressing 4 hear only the "
                        "menu introduction", exc)
            return []
        if done:
            log.info("referral prompts rendered: %s", ", ".join(done))
        return done

    def referral_prompt(self, index: int) -> Path:
        return Prompts(self.prompts_dir).path(f"referral_{index + 1}")

    def barred(self, case: Case, number: str | None) -> bool:
        """True when `number` must never hear about `case`: the person a complaint names."""
        if case.kind != "complaint" or not case.detail or not number:
            return False
        try:
            named = json.loads(case.detail).get("named") or {}
        except ValueError:
            return False
        return bool(named.get("mobile")) and _same(named["mobile"], number)

    def attach_modem(self, modem: object) -> None:
        send = getattr(modem, "send_sms", None)
        if send is None:
            log.warning("sms: the line driver cannot send SMS; texts wait in the queue")
        self.sms.sender = send

    # -- opening cases ---------------------------------------------------------------------

    def new_number(self) -> str:
        return self.cases.next()

    # -- outcomes: planned by the office's rules, committed in one durable step ------------

    def rules(self) -> outcomes.Rules:
        """The office's rules and who is on duty now, as the planner takes them
        (records/outcomes.Rules)."""
        cfg = self.cfg
        return outcomes.Rules(
            office_id=cfg.office.id, office_name=self.name, office_number=cfg.office.number,
            head=self.head or "", due_hours=cfg.cases.due_hours,
            urgent_due_hours=cfg.cases.urgent_due_hours, next_steps=cfg.cases.next_steps,
            hours=self.desk.hours.describe(), lawyer=self._first("lawyer"),
            mediator=self._first("mediator"), low_rating=cfg.survey.alert_at_or_below,
            zone=cfg.office.timezone, callbacks=cfg.callbacks.enabled,
            callback_min_wait=cfg.callbacks.min_wait, **self.duties.rules())

    def on_duty(self, role: str = "lawyer") -> list[str]:
        """Mobiles of `role` on duty now, in ringing order: the rota's, or without a rota the
        [duty] numbers (lawyers) and mediators."""
        if role == "mediator" and not self.desk.roster.configured:
            return self.desk.available(self.cfg.duty.mediators)
        return self.desk.numbers(role)

    def _first(self, role: str) -> outcomes.Duty | None:
        numbers = self.on_duty(role)
        if not numbers:
            return None
        return self.duty_person(numbers[0])

    def duty_person(self, mobile: str) -> outcomes.Duty:
        """A mobile with the rota's name for it (records/outcomes.Duty)."""
        person = self.desk.person(mobile) if mobile else None
        return outcomes.Duty(mobile, person.name if person else "",
                             person.staff_no if person and person.staff_no else "")

    def plan(self, items: Iterable[outcomes.Outcome], key: str | None = None,
             now: float | None = None) -> outcomes.Entry:
        """The ledger entry `items` (records/outcomes) make under the office's rules now."""
        return outcomes.plan(self.complete(items), self.rules(), now or time.time(), key)

    def complete(self, items: Iterable[outcomes.Outcome]) -> list[outcomes.Outcome]:
        """What the call could not know, filled in: a PIN for each case it opens, the rota's
        names for the mobiles it names, a recording's path relative to the spool."""
        out = []
        for item in items:
            changes: dict[str, Any] = {}
            if getattr(item, "pin", None) == "" and not getattr(item, "case_open", False):
                changes["pin"] = new_pin()
            for name in ("owner", "named", "taker"):
                person = getattr(item, name, None)
                if isinstance(person, outcomes.Duty) and person.mobile and not person.name:
                    changes[name] = self.duty_person(person.mobile)
            if isinstance(item, (outcomes.Voicemail, outcomes.CallRecording)) and \
                    os.path.isabs(item.recording):
                changes["recording"] = self.outbox.relative(item.recording)
            if isinstance(item, outcomes.LadderStep) and item.seen is None and not item.opens:
                changes["seen"] = self.snapshot(item.case)   # its history, for the journal
            out.append(dataclasses.replace(item, **changes) if changes else item)
        return [self.duties.complete(item) for item in out]

    def commit(self, items: Iterable[outcomes.Outcome], key: str | None = None,
               now: float | None = None, kick: bool = True,
               step: Callable[[str], None] | None = None) -> outcomes.Entry:
        """Plan `items` and commit them in one durable step (blocking: fsync, SQLite; the
        call runs it off the loop with `kick` False and kicks afterwards, on the loop).
        Returns the entry. Raises OSError when nothing could be stored,
        CaseChanged/CaseError when a move was refused. `step`: the kill tests' hook."""
        entry = self.plan(items, key, now)
        if step is None:
            self.ledger.commit(entry)
        else:
            self.ledger.commit(entry, step)
        if step is None and any(s["op"] == "callback" for s in entry.steps):
            self._callbacks_soon()       # the duty person hears of it now, in office hours
        if kick:
            self.kick()
        return entry

    def kick(self) -> None:
        """Wake the SMS sender and the uploader (on the box's loop; a no-op elsewhere)."""
        self.sms.kick()
        if self.on_upload:
            self.on_upload()

    def open_case(self, kind: str, caller: str | None, number: str | None = None,
                  owner: str | None = "", owner_name: str | None = "",
                  detail: str | None = "", call_id: str | None = None, state: str = "new",
                  notify_caller: bool = True, notify_duty: Iterable[str] = (),
                  note: str = "", next_steps: str | None = None) -> Case | None:
        """Open a case by hand (the shell, the page, a rule), with the caller's SMS and the
        duty SMS, through the ledger. Returns the Case."""
        number = number or self.cases.next()
        self.commit([outcomes.Opened(kind, number, new_pin(), caller or "", owner or "",
                                     owner_name or "", detail or "", call_id, state, note,
                                     notify_caller, tuple(notify_duty), next_steps)])
        return self.cases.get(number)

    def duty_for(self, role: str = "lawyer") -> tuple[str, str, list[str]]:
        """(first mobile, name, all mobiles) of `role` on duty now, for a case's owner."""
        numbers = self.on_duty(role)
        if not numbers:
            return "", "", []
        return numbers[0], self.duty_person(numbers[0]).name, numbers

    def snapshot(self, number: str) -> outcomes.CaseNow | None:
        """A case as the planner takes it (records/outcomes.CaseNow), or None."""
        case = self.cases.get(number)
        if case is None:
            return None
        return outcomes.CaseNow(case.number, case.kind, case.state, case.caller, case.owner,
                                case.owner_name, case.detail, case.call_id, case.opened,
                                case.updated, case.due, tuple(self.cases.history(number)),
                                self.cases.duties(number), topic=case.topic)

    # -- acting on cases --------------------------------------------------------------------

    def act(self, number: str, state: str, by: str, note: str = "", owner: str | None = None,
            owner_name: str | None = None, expect_updated: float | None = None,
            notify: Iterable[str] = ()) -> Case | None:
        """Move a case (from an SMS, the shell or the office page), with its journal item
        upstream and, when it is resolved, the caller's SMS: one durable step.
        `expect_updated`: the case's `updated` time as the actor saw it (the page's form):
        a case that changed since is not moved (CaseChanged). `notify`: mobiles that get the
        case by SMS (the person it is handed to)."""
        now = self.snapshot(number)
        if now is None:
            raise CaseError(f"case {number} does not exist")
        if expect_updated is not None and now.updated != expect_updated:
            raise CaseChanged(f"case {number} changed since it was shown (now {now.state})")
        if state not in MOVES[now.state]:
            raise CaseError(f"case {number} is {now.state}; it cannot become {state}")
        self.commit([outcomes.Moved(now, state, by, note, owner, owner_name, tuple(notify))])
        log.info("case %s: %s by %r%s", number, state, by, f", note {note!r}" if note else "")
        return self.cases.get(number)

    # -- case status PINs (key 9 from another phone) ---------------------------------------

    def try_pin(self, number: str, pin: str | None, caller: str | None,
                call_id: str | None = None, now: float | None = None) -> bool:
        """Does `pin` open case `number` for `caller` (in call `call_id`)? Wrong PINs are
        bounded per calling number a day ([limits] wrong_pins_per_number_per_day; a withheld
        caller per call), and after wrong_pins_per_case_per_day wrong ones from anywhere the
        case gets a new PIN, sent to its caller, and the office head is told it is being
        guessed at: a guesser starts again, and no stranger can lock the rightful caller out
        (the case's own phone needs no PIN at all). After PIN_RENEWALS_PER_DAY changes a day
        a withheld caller gets no more tries at that case: a caller who shows a number still
        does, within its own allowance."""
        limits, cfg = self.limits, self.limits.cfg
        if limits.used("wrong_pins", caller, now, call_id) >= cfg.wrong_pins_per_number_per_day:
            limits.hit("pins_per_number_day", caller, f"{cfg.wrong_pins_per_number_per_day} "
                       "wrong PINs today; no more PIN tries", now, call_id)
            return False
        key = f"case {number}"
        if not normal_mobile(caller) and \
                limits.count("pin_renewal", key, now) >= PIN_RENEWALS_PER_DAY:
            limits.hit("case_pins_day", caller, f"case {number}: its PIN changed "
                       f"{PIN_RENEWALS_PER_DAY} times today; no PIN tries from withheld "
                       "numbers", now, call_id)
            return False
        case = self.cases.get(number)
        if case is not None and case.pin and isinstance(pin, str) and \
                secrets.compare_digest(pin.encode(), case.pin.encode()):
            return True
        limits.take("wrong_pins", caller, now, call_id)
        if case is None or not case.pin:
            return False
        wrong = limits.add("case_pin", key, 1, now)
        if wrong >= cfg.wrong_pins_per_case_per_day:
            self._renew_pin(case, wrong, caller, now, call_id)
        return False

    def _renew_pin(self, case: Case, wrong: int, caller: str | None, now: float | None,
                   call_id: str | None) -> None:
        limits, key = self.limits, f"case {case.number}"
        limits.add("case_pin", key, -wrong, now)       # the new PIN starts at no wrong tries
        if limits.count("pin_renewal", key, now) >= PIN_RENEWALS_PER_DAY:
            log.warning("case %s: %d more wrong PINs; its PIN was changed %d times today "
                        "already, so it stays", case.number, wrong, PIN_RENEWALS_PER_DAY)
            return
        limits.add("pin_renewal", key, 1, now)
        pin = new_pin()
        self.cases.set_pin(case.number, pin)
        limits.hit("case_pins_day", caller, f"case {case.number}: {wrong} wrong PINs; a new "
                   "PIN went to its caller", now, call_id)
        if is_mobile(case.caller):
            self.sms.queue(case.caller, text.caller_new_pin(self.name, case.number, pin),
                           "caller new pin", case.number)
        if self.head and self.cases.notice_once(
                f"pins:{case.number}:{self.clock.day(now)}"):
            self.sms.queue(self.head, text.pins_guessed(case.number, wrong, self.name),
                           "pins guessed", case.number)

    def staff(self) -> dict[str, Person | None]:
        """{national number: Person or None} of everyone who may send commands besides the
        head: the rota's people, or without a rota the [duty] numbers and mediators."""
        self.desk.reload()
        roster = self.desk.roster
        listed: Iterable[tuple[str, Person | None]]
        if roster.configured:
            listed = roster.people().items()
        else:
            listed = [(n, None) for n in (*self.cfg.duty.numbers, *self.cfg.duty.mediators)]
        return {national(n): person for n, person in listed if national(n)}

    def on_sms(self, number: str, body: str | None, sender_type: str | None) -> bool | None:
        """An SMS arrived (`sender_type`: the originator's type of number, line/pdu.py). Act
        on it when it is a command from a numeric address the rota or the office lists and
        that person may make it (may_act); otherwise log it and, for a listed person, send
        the command help at most HELP_PER_SENDER times an hour. Returns True (done), False
        (refused, the sender told why) or None (not a command, or not from staff)."""
        body = body or ""
        why = sender_refusal(number, sender_type)
        if why:
            log.warning("sms from %r ignored: %s: %r", number, why, body[:160])
            return None
        sender = national(number)
        staff = self.staff()
        is_head = bool(self.head) and national(self.head) == sender
        if sender not in staff and not is_head:
            # a department's reply, a provider's 到场/结案, a survey answer (issue 17)
            done = self.duties.outside_sms(number, body)
            if done is not None:
                return done
            log.warning("sms from unknown number %r ignored: %r", number, body[:160])
            return None
        person = staff.get(sender)
        who = (person.name if person else "office head" if is_head else "duty") + f" ({number})"
        command = text.parse_command(body)
        if command is not None and command.state in NUMBERS_COMMANDS:
            return self.numbers_command(command, number, who, is_head, staff)
        if command is None:
            # 上门, 到场, 休息, 上班, 夜间, 日间, 恢复 (issue 17: records/duties.py)
            done = self.duties.staff_sms(number, body, person, is_head, who)
            if done is not None:
                return done
            if self._under_limit(HELP, number, HELP_PER_SENDER, HELP_PER_HOUR):
                log.info("sms from %s is not a command: %r; help sent", who, body[:160])
                self.sms.queue(number, text.command_help(), HELP)
            else:
                log.info("sms from %s is not a command: %r; no reply (at most %d help a sender "
                         "and %d in all an hour)", who, body[:160], HELP_PER_SENDER,
                         HELP_PER_HOUR)
            return None
        case = self.cases.get(command.case)
        if command.state == "on_scene" and case is not None and \
                "dispatch" in self.cases.duties(case.number):
            # 到场 on a case dispatched on site is the on-site visit's arrival (issue 17.1,
            # records/duties.py); on any other (an urgent dispute) who reached the scene
            return self.duties.staff_sms(number, body, person, is_head, who)
        target = national(command.to) if command.to else ""
        refused = may_act(command, case, sender, is_head, self.barred(case, number)
                          if case else False, target in staff or (
                              bool(target) and target == national(self.head)))
        if refused is None:
            assert case is not None             # may_act refuses a case that is not there
            try:
                self._carry_out(command, case, who, number, staff, target)
            except CaseError as exc:
                refused = (str(exc), "当前状态不能这样处理")
        if refused:
            log.info("sms from %s: %s %r not done: %s", who, command.state, command.case,
                     refused[0])
        if self._under_limit(REPLY, number, REPLIES_PER_SENDER, None):
            self.sms.queue(number, text.command_reply(command, command.case, refused is None,
                                                      refused[1] if refused else ""),
                           REPLY, command.case if case else None)
        else:
            log.warning("sms from %s: no reply to this command (more than %d replies to this "
                        "number this hour)", who, REPLIES_PER_SENDER)
        return refused is None

    # -- topics and the callback list (issue 17.5, 17.6) ----------------------------------

    @property
    def topics(self) -> list[str]:
        """[topics] names, in the report's order."""
        return list(self.cfg.topics.names)

    def topic_named(self, given: str | None) -> str | None:
        """A topic of the list by its name or its number in the list (1-based), or None."""
        given = (given or "").strip()
        topics = self.topics
        if given.isdigit() and 1 <= int(given) <= len(topics):
            return topics[int(given) - 1]
        return given if given in topics else None

    def set_topic(self, number: str, topic: str, by: str,
                  expect_updated: float | None = None) -> Case | None:
        """Set case `number`'s topic (one of [topics]): a history row and its journal item
        upstream, one durable step. `expect_updated`: as in act(). Returns the Case."""
        if topic not in self.topics:
            raise CaseError(f"{topic!r} is not one of the topics ({', '.join(self.topics)})")
        now = self.snapshot(number)
        if now is None:
            raise CaseError(f"case {number} does not exist")
        if expect_updated is not None and now.updated != expect_updated:
            raise CaseChanged(f"case {number} changed since it was shown (now {now.state})")
        if now.topic == topic:
            return self.cases.get(number)
        self.commit([outcomes.Topic(now, topic, by)])
        log.info("case %s: topic %r by %r", number, topic, by)
        return self.cases.get(number)

    def called_back(self, number: str, by: str, how: str, note: str = "") -> int:
        """A duty person called `number` back (SMS 回拨, the page): every open entry of that
        number on the callback list is done, and goes upstream. Returns how many calls they
        answered (0: the number is on no open entry)."""
        wanted = national(number)
        entries = self.calls.entries(open_only=True, number=wanted) if wanted else []
        if not entries:
            return 0
        self.commit([outcomes.CalledBack(tuple(entries), by, how, note[:200])])
        return sum(e["calls"] for e in entries)

    def numbers_command(self, command: text.Command, number: str, who: str, is_head: bool,
                        staff: Mapping[str, Person | None]) -> bool:
        """`主题 <case> <topic>` and `回拨 <number>` from a listed sender (on_sms checked
        that). A topic: anyone listed, but a complaint only the head (and never one that
        names the sender). Returns True (done) or False (refused, the sender told why)."""
        by = f"{who} by SMS"
        if command.state == "called_back":
            n = self.called_back(command.case, by, "sms", command.note)
            if n:
                log.info("sms from %s: %s called back", who, command.case)
                reply = text.callback_reply(command.case, n)
            else:
                log.info("sms from %s: %r is on no open entry of the callback list", who,
                         command.case)
                reply = text.callback_reply(command.case, 0, "回拨名单中没有这个号码的未接来电")
            self._reply(number, reply, None, who)
            return bool(n)
        case = self.cases.get(command.case)
        topic = self.topic_named(command.note)
        refused = None
        if case is None:
            refused = "没有这个案件编号"
        elif self.barred(case, number):
            refused = "此投诉涉及您本人，由上级处理"
        elif case.kind == "complaint" and not is_head:
            refused = "投诉案件只能由负责人处理"
        elif topic is None:
            refused = "主题请用：" + text.topics_help(self.topics)
        if refused is None:
            assert case is not None and topic is not None     # else refused above
            try:
                self.set_topic(case.number, topic, by)
            except CaseError as exc:
                refused = "案件刚被修改，请重试" if isinstance(exc, CaseChanged) else str(exc)
        if refused:
            log.info("sms from %s: topic of %r not set: %s", who, command.case, refused)
        self._reply(number, text.topic_reply(command.case, topic, refused is None,
                                             refused or ""), case.number if case else None,
                    who)
        return refused is None

    def _reply(self, number: str, body: str, case: str | None, who: str) -> None:
        if self._under_limit(REPLY, number, REPLIES_PER_SENDER, None):
            self.sms.queue(number, body, REPLY, case)
        else:
            log.warning("sms from %s: no reply to this command (more than %d replies to this "
                        "number this hour)", who, REPLIES_PER_SENDER)

    def callbacks_due(self, now: float | None = None) -> list[str]:
        """The callback list's texts: each open entry not texted yet goes to the first duty
        lawyer on duty now (else the office head) once, in office hours; after hours it
        waits for the morning. An entry whose caller got through on a later call that day
        (a person, a message, a case) is done without a text. Returns the numbers texted."""
        if not self.cfg.callbacks.enabled:
            return []
        texted = []
        for entry in self.calls.entries(open_only=True):
            if entry["texted_at"] is not None:
                continue
            if self._got_through(entry):
                self.commit([outcomes.CalledBack((entry,), "box", "caller",
                                                 "来电人此后再次来电已接通")], kick=False)
                continue
            if not self.desk.is_open():
                continue
            duty = self._first("lawyer")
            to = duty.mobile if duty is not None else self.head
            if not to:
                continue
            last = self.clock.local(entry["last_at"])
            body = text.missed_call(entry["number"], entry["calls"], last,
                                    self._where(entry), self.name)
            self.sms.queue_once(to, body, "missed call", None,
                                ref=f"callback-{entry['day']}-{entry['number']}")
            if self.calls.mark_texted(entry["number"], entry["day"], to, now):
                log.info("callback list: %r (%d missed call(s) on %s) texted to %s",
                         entry["number"], entry["calls"], entry["day"], to)
                texted.append(entry["number"])
        # no kick here: this may run off the loop (a call's commit); whoever committed
        # kicks the sender on the loop, and the office's round kicks after its jobs
        return texted

    def _callbacks_soon(self) -> None:
        try:
            self.callbacks_due()
        except Exception as exc:  # noqa: BLE001 - the periodic job tries again
            log.error("callback list: not texted now (%r); the office's next round does it",
                      exc, exc_info=True)

    def _where(self, entry: Mapping[str, Any]) -> str:
        """Where the caller of an entry's last call gave up, in words."""
        calls = self.calls.calls_from(entry["number"], entry["first_at"] - 1)
        mine = [c for c in calls if c.get("call_id") in entry["call_ids"]]
        where: str | None = mine[-1].get("abandoned_in") if mine else None
        return text.WHERE_WORDS.get(where or "", "未接通")

    def _got_through(self, entry: Mapping[str, Any]) -> bool:
        """The caller of a callback entry reached a person, left a message or got a case on
        a later call that day."""
        for call in self.calls.calls_from(entry["number"], entry["first_at"]):
            if call.get("call_id") in entry["call_ids"]:
                continue
            if call.get("outcome") in GOT_THROUGH or call.get("case_number"):
                return True
        return False

    def forget_old_calls(self, now: float | None = None) -> int:
        """The call book keeps CALL_BOOK_DAYS of calls (records/calls.py)."""
        gone = self.calls.forget_before((now or time.time()) - CALL_BOOK_DAYS * 86400)
        if gone:
            log.info("call book: %d call record(s) older than %d days forgotten", gone,
                     CALL_BOOK_DAYS)
        return gone

    def _carry_out(self, command: text.Command, case: Case, who: str, number: str,
                   staff: Mapping[str, Person | None], target: str) -> None:
        by = f"{who} by SMS"
        if command.state == "assigned":
            person = staff.get(national(number))
            self.act(case.number, "assigned", by, command.note, owner=number,
                     owner_name=person.name if person else "")
        elif command.state == "reassigned":
            person = staff.get(target)
            self.act(case.number, "assigned", by, command.note or f"reassigned to {target}",
                     owner=command.to, owner_name=person.name if person else "",
                     notify=(command.to,))
        elif command.state == "on_scene":
            person = staff.get(national(number))
            self.on_scene(case.number, number, person.name if person else "", by,
                          command.note)
        else:
            self.act(case.number, command.state, by, command.note)

    def reply(self, number: str, body: str, case: str | None = None,
              help: bool = False) -> None:
        """Answer an SMS, within the reply limits (`help`: a help text's tighter ones)."""
        if help:
            if self._under_limit(HELP, number, HELP_PER_SENDER, HELP_PER_HOUR):
                self.sms.queue(number, body, HELP)
            return
        if self._under_limit(REPLY, number, REPLIES_PER_SENDER, None):
            self.sms.queue(number, body, REPLY, case)
        else:
            log.warning("sms to %s: no reply (more than %d replies to this number this hour)",
                        number, REPLIES_PER_SENDER)
    def on_scene(self, number: str, mobile: str, name: str, by: str, note: str = "",
                 expect_updated: float | None = None) -> Case | None:
        """`mobile` is at the scene of case `number` (SMS 到场, or the page): who went and
        when, on the case and its journal upstream, in one durable step; the case is theirs
        from now on (records/outcomes.OnScene)."""
        now = self.snapshot(number)
        if now is None:
            raise CaseError(f"case {number} does not exist")
        if expect_updated is not None and now.updated != expect_updated:
            raise CaseChanged(f"case {number} changed since it was shown (now {now.state})")
        if "assigned" not in MOVES[now.state]:
            raise CaseError(f"case {number} is {now.state}; nobody can be on its scene now")
        self.commit([outcomes.OnScene(now, by, mobile, name, note)])
        log.info("case %s: %s is on the scene (%r)%s", number, name or mobile, by,
                 f", note {note!r}" if note else "")
        return self.cases.get(number)

    def _under_limit(self, purpose: str, number: str, per_sender: int, in_all: int | None,
                     now: float | None = None) -> bool:
        """True while fewer than `per_sender` `purpose` texts went to `number` and fewer than
        `in_all` (None: no cap) to anyone in the last hour. Help texts: two auto-responders
        (the box and a phone's "I am driving") answer each other once an hour at most.
        Counted from the SMS queue, so a restart does not reset it."""
        since = (now or time.time()) - 3600
        recent = [r["number"] for r in self.sms.rows(purpose=purpose, since=since)]
        mine = sum(1 for n in recent if national(n) == national(number))
        return mine < per_sender and (in_all is None or len(recent) < in_all)

    def _rota_refused(self, failure: RotaFailure) -> None:
        """A rota file failed to load: the desk logged each problem and kept what was in
        force; the office head is told by SMS (as for cover gaps) so it gets fixed."""
        problems, files, kept = failure
        if not self.head:
            log.warning("duty rota refused; no [office] head_mobile to alert, the log has it")
            return
        log.warning("duty rota refused: %d problem(s) in %s; office head alerted",
                    len(problems), ", ".join(files))
        self.sms.queue(self.head, text.rota_alert(files, problems, kept), "rota refused")

    # -- the office's clock -----------------------------------------------------------------

    def check_overdue(self, now: float | None = None) -> None:
        now = now or time.time()
        head_after = self.cfg.cases.head_after_hours * 3600
        for case in self.cases.overdue(now):
            hours = (now - case.opened) / 3600
            if self.barred(case, case.owner) or (not case.owner and self.barred(case, self.head)):
                if not case.head_alerted:
                    log.warning("case %s overdue: it is a complaint about its only recipient; "
                                "upstream has it, no SMS", case.number)
                    self.cases.mark_alerted(case.number, "head", now)
                continue
            if case.owner and not case.owner_alerted:
                log.warning("case %s overdue (%.0f h): alerting its owner %s", case.number,
                            hours, case.owner_name or case.owner)
                self.sms.queue(case.owner, text.overdue_owner(case.number, case.kind,
                                                              case.caller, round(hours)),
                               "overdue owner", case.number)
                self.cases.mark_alerted(case.number, "owner", now)
            elif not case.head_alerted and (not case.owner or
                                            now - (case.owner_alerted or now) >= head_after):
                log.warning("case %s still overdue (%.0f h): alerting the office head",
                            case.number, hours)
                self.sms.queue(self.head, text.overdue_head(case.number, case.kind,
                                                            case.owner_name, case.owner,
                                                            round(hours)),
                               "overdue head", case.number)
                self.cases.mark_alerted(case.number, "head", now)

    def check_cover(self, when: dt.datetime | None = None) -> None:
        when = when or self.clock.now()
        new = [g for g in self.desk.gaps(when)
               if self.cases.notice_once(f"gap:{g[0]}:{g[1].name}:{g[2]}")]
        for day, shift, role in new:
            log.warning("duty cover: nobody (%s) on %s %s; office head alerted", role, day,
                        shift.label())
        if new:
            self.sms.queue(self.head, text.gap_alert(new), "cover gap")
        warning = self.desk.calendar_warning(when)
        if warning:
            if self.cases.notice_once(f"calendar-log:{when.date()}"):
                log.warning("calendar: %s", warning)
            missing = when.year if not self.desk.calendar.known(when.year) else when.year + 1
            if self.cases.notice_once(f"calendar-sms:{missing}"):
                self.sms.queue(self.head, text.calendar_alert(missing), "calendar")

    def daily_summary(self, when: dt.datetime | None = None) -> bool:
        when = when or self.clock.now()
        if not self.cfg.cases.summary_at:
            return False
        at = dt.datetime.strptime(self.cfg.cases.summary_at, "%H:%M").time()
        if when.time() < at or not self.cases.notice_once(f"summary:{when.date()}"):
            return False
        from . import report     # statistics, html: once a day, not on the call path
        counts = report.day_counts(self, when.date())
        log.info("daily summary for %s: %s", when.date(), counts)
        self.sms.queue(self.head, text.daily_summary(when.date(), **counts), "daily summary")
        return True

    def periodic_reports(self, when: dt.datetime | None = None) -> list[str]:
        when = when or self.clock.now()
        at = dt.datetime.strptime(self.cfg.report.at, "%H:%M").time()
        if when.time() < at:
            return []
        made = []
        from . import report     # statistics, html: once a week, not on the call path
        weekday = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                   "sunday").index(self.cfg.report.weekday)
        if when.weekday() == weekday:
            start, end = report.last_week(when.date())
            if self.cases.notice_once(f"report:week:{start}"):
                made.append(report.publish(self, start, end, "week"))
        if when.day == 1:
            start, end = report.last_month(when.date())
            if self.cases.notice_once(f"report:month:{start}"):
                made.append(report.publish(self, start, end, "month"))
        return made

    async def run(self, stop: asyncio.Event) -> None:
        """The office's periodic task, next to the SMS sender."""
        sender = asyncio.ensure_future(self.sms.run(stop))
        period = self.cfg.cases.check_minutes * 60
        try:
            while not stop.is_set():
                for job in (self.check_overdue, self.check_cover, self.daily_summary,
                            self.periodic_reports, self.duties.check,
                            self.callbacks_due, self.forget_old_calls):
                    try:
                        job()
                    except Exception as exc:  # noqa: BLE001 - one bad job must not stop the rest
                        log.error("office: %s failed: %s", job.__name__, exc, exc_info=True)
                self.sms.kick()
                try:
                    await asyncio.wait_for(stop.wait(), period)
                except asyncio.TimeoutError:
                    pass
        finally:
            try:
                await asyncio.wait_for(sender, 5)
            except (asyncio.TimeoutError, Exception):  # noqa: BLE001
                sender.cancel()


def _same(a: str | None, b: str | None) -> bool:
    return normal_mobile(a) == normal_mobile(b)


# -- who may act by SMS (pure) ------------------------------------------------------------

# Numeric types of number (line/pdu.py ADDRESS_TYPES). "unknown" is what Chinese networks
# use for national numbers (type-of-address 0x81). Alphanumeric originators are free text an
# SMS gateway's customer chooses, so "13900000001" spelt as a name proves nothing; network-
# specific, subscriber and abbreviated numbers are operator short codes, never a person.
NUMERIC_SENDERS = ("international", "national", "unknown")
# How often one case's PIN is changed in a day at most: each change is an SMS to its caller
# (their daily SMS allowance is ten), and three changes are fifteen more guesses for nothing.
PIN_RENEWALS_PER_DAY = 3
HELP = "command help"
HELP_PER_SENDER = 1          # help texts to one sender an hour
HELP_PER_HOUR = 10           # help texts to everyone an hour
REPLY = "command reply"
REPLIES_PER_SENDER = 30      # command replies to one sender an hour (a flood costs money)
# commands that name a number of their own (a topic's case, a caller's number): decided by
# Office.numbers_command, not may_act (issue 17.5, 17.6)
NUMBERS_COMMANDS = ("topic", "called_back")
# a later call of a listed caller with one of these outcomes got through (records/calls.py)
GOT_THROUGH = ("bridged", "voicemail", "complaint", "referred", "callback", "status_told")


def sender_refusal(number: str, sender_type: str | None) -> str | None:
    """Why an SMS from this originator can never be a command, or None."""
    if sender_type not in NUMERIC_SENDERS:
        return f"its originator is {sender_type or 'of no known type'}, not a phone number"
    if not national(number):
        return "its originator is not all digits"
    return None


def may_act(command: text.Command, case: Case | None, sender: str, is_head: bool,
            barred: bool = False, target_listed: bool = False) -> tuple[str, str] | None:
    """None when `sender` (national form) may make `command` on `case`, else (why, for the
    log; reason, for the reply). The office head may do anything but act on a complaint
    that names them; a complaint is the head's alone; a case's owner may resolve, refer or
    hand it on; anyone listed may take a case nobody owns, and must take it before resolving."""
    if case is None:
        return ("no case has this number", "没有这个案件编号")
    if barred:
        return ("the complaint names the sender", "此投诉涉及您本人，由上级处理")
    if command.state == "reassigned" and not target_listed:
        return (f"{command.to!r} is not in the rota or the office", "改派对象不在值班名单中")
    if is_head:
        return None
    if case.kind == "complaint":
        return ("complaints are the office head's", "投诉案件只能由负责人处理")
    if not sender:       # a page account without a mobile: "" must never equal "no owner"
        return ("the sender has no phone number", "您的账号没有登记手机号，不能处理案件")
    owner = national(case.owner)
    if owner == sender:
        return None
    if command.state in ("assigned", "on_scene") and not owner:
        return None
    if not owner:
        return ("nobody owns the case yet", f"请先回复：接 {case.number}")
    return (f"the case is {case.owner_name or case.owner}'s",
            "该案件由他人负责，只有负责人或主任可以处理")

