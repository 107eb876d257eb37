"""What a call, or a staff action, leaves in the office: planned by one pure function.

An outcome says what happened, in facts (this caller left a message in the complaint box, the
duty lawyer took this call, the head resolved this case); `plan(outcomes, rules, at)` turns
them into one ledger entry (records/ledger.py): every case row and move, every item owed
upstream, every SMS, decided now, so that applying the entry a second time after a power cut
writes exactly the same. The office's rules (who owns a new case, when it is due, who is
told what, who never hears of a complaint) live here and nowhere else.

Pure: no I/O, no clock and no randomness. Case numbers and PINs are drawn before planning and
come in the outcomes; who is on duty comes in `Rules`, a snapshot the office takes
(records/office.Office.rules).

Step kinds of an entry (records/ledger.py applies them, each idempotent by its own key):

    item   an outbox item: key, kind, record, files (spool-relative paths)
    open   a new case row (number, kind, caller, owner, state, due, PIN, ...)
    move   a case's move to a state (by, note, owner); `step` names it in the case's history
    set    fields of a case (rating; a topic, with its history row: `history`)
    sms    a text to a number (purpose, and the reference it is owed for)
    note   a row in a case's history that leaves its state as it is (an urgent ladder's step
           nobody answered); `step` names it, as for a move
    call     a call record in the office's call book (records/calls.py), by its call id
    callback a number on the callback list (number, office day, call id)
    callback_done  a callback-list entry done (number, day, by, how)
"""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence, Union

from ..phone import is_mobile, national, same
from . import messages as text

KINDS = ("consultation", "service_request", "urgent", "complaint", "referral")
# What a bridged caller's SMS says comes next.
AFTER_TALK = "如需继续办理，请来电并提供案件编号。"

# A step of an entry, and an item's record: JSON objects, their keys by kind (the module's
# docstring; records/ledger.py reads them back)
Step = dict[str, Any]
Record = dict[str, Any]
HistoryRow = tuple[float, str, str, str]        # (at, state, by, note)


# -- what the planner knows ----------------------------------------------------------------

@dataclass(frozen=True)
class Duty:
    """One person: a duty lawyer or mediator on duty now, staff a complaint names."""
    mobile: str
    name: str = ""
    staff_no: str = ""


@dataclass(frozen=True)
class Department:
    """A [[referral]] department."""
    name: str
    phone: str = ""
    address: str = ""
    hours: str = ""
    sms: str = ""                       # gets the case by SMS with its reply code (issue 17)
    email: str = ""                     # ... and by e-mail


@dataclass(frozen=True)
class Rules:
    """The office's rules and who is on duty, as plain data (records/office.Office.rules)."""
    office_id: str
    office_name: str
    office_number: str
    head: str = ""                      # [office] head_mobile
    due_hours: float = 72.0             # [cases]
    urgent_due_hours: float = 4.0
    next_steps: str = ""
    hours: str = ""                     # office hours in words, for the caller's SMS
    lawyer: Duty | None = None          # first duty lawyer on duty now
    mediator: Duty | None = None        # first mediator on duty now
    low_rating: int = 2                 # [survey] alert_at_or_below
    zone: str = "Asia/Shanghai"         # [office] timezone: the times of a call record
    # issue 17: the result as the caller gets it ([results]) and the survey SMS ([survey])
    result_max: int = 120
    result_replace: tuple[tuple[str, str], ...] = ()    # ((word, plain words), ...)
    mask_mobiles: bool = True
    survey_sms: bool = False
    callbacks: bool = True              # [callbacks] enabled: missed callers are listed
    callback_min_wait: float = 0.0      # [callbacks] min_wait: shorter abandons only counted


@dataclass(frozen=True)
class Call:
    """Who called, in which call, on which line."""
    call_id: str
    caller: str = ""                    # "" when withheld (line/callerid.py)
    line: str = ""                      # the line's own number
    topic: str = ""                     # chosen by the caller in a sub-menu ([topics])


# -- outcomes --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Voicemail:
    """A message recorded in a box (consultation, service_request, complaint, urgent)."""
    call: Call
    box: str
    case: str
    pin: str
    recording: str                      # the WAV, relative to the spool
    seconds: float
    ended_by: str
    started: float | str | None = None  # when recording began: seconds since the epoch
    #                                     (or the ISO text a recovered record already had)
    menu_path: tuple[str, ...] = ()
    short: bool = False
    after_hours: bool = False           # nobody owns it until the morning
    named: Duty | None = None           # complaint: the staff member it names
    case_open: bool = False             # the case exists already (urgent, opened when
    #                                     nobody accepted): the message adds its item only
    interrupted: bool = False           # recovered at start-up after a cut
    detail: str = ""
    note: str = ""
    as_recorded: Record | None = None   # the item's record as it was committed once (its
    #                                     outbox row was lost): sent again unchanged
    voice_s: float | None = None        # seconds up to the caller's last voiced frame


@dataclass(frozen=True)
class Bridged:
    """A call the duty person took: a case they own, told by SMS; the caller gets the number."""
    call: Call
    kind: str
    case: str
    pin: str
    owner: Duty


@dataclass(frozen=True)
class Referred:
    """Key 4: the caller chose a department; the case is referred, the caller texted. A
    department with an SMS number or a mailbox gets the case with its reply code, due back
    by `reply_due` (both drawn by the office: records/duties.py)."""
    call: Call
    case: str
    pin: str
    department: Department
    code: str = ""
    reply_due: float | None = None
    due_words: str = ""                 # the deadline as the department reads it


@dataclass(frozen=True)
class Callback:
    """Every duty phone was busy; the caller asked to be called back."""
    call: Call
    case: str
    pin: str
    owner: Duty | None
    place: int | None = None


@dataclass(frozen=True)
class Escalated:
    """Key 3 and no mediator accepted: an urgent case, every mediator and the head texted."""
    call: Call
    case: str
    pin: str
    told: tuple[str, ...]               # the mediators' mobiles (the head is added)
    waited_s: float | None = None


@dataclass(frozen=True)
class Rated:
    """The caller rated the call 1-5 after the duty person hung up."""
    call: Call
    case: str
    rating: int
    owner: Duty | None = None           # who took the call


@dataclass(frozen=True)
class CallRecord:
    """The call record itself (call/script.py's record, times in ISO form)."""
    call_id: str
    record: Record


@dataclass(frozen=True)
class Opened:
    """A case opened by hand (the shell, the office page) or by a rule not tied to a call."""
    kind: str
    case: str
    pin: str
    caller: str = ""
    owner: str = ""
    owner_name: str = ""
    detail: str = ""
    call_id: str | None = None
    state: str = "new"
    note: str = ""
    notify_caller: bool = True
    notify_duty: tuple[str, ...] = ()
    next_steps: str | None = None


@dataclass(frozen=True)
class CaseNow:
    """A case as the actor saw it: the row (records/cases.Case) and its history rows."""
    number: str
    kind: str
    state: str
    caller: str
    owner: str
    owner_name: str
    detail: str
    call_id: str | None
    opened: float
    updated: float
    due: float | None
    history: tuple[HistoryRow, ...]     # ((at, state, by, note), ...)
    facts: dict[str, Any] = field(default_factory=dict)   # the duty columns set (records/cases.py
    #                                     DUTY_COLUMNS): every journal item carries them
    topic: str = ""                     # [topics]: set by the caller, an SMS or the page


@dataclass(frozen=True)
class Moved:
    """A staff action on a case: taken, handed on, referred, resolved. The caller of a
    resolved case (not a complaint) is told by SMS, and the case moves on to caller_informed.
    `reassigned_to`: the new owner also gets the case by SMS."""
    case: CaseNow
    state: str
    by: str
    note: str = ""
    owner: str | None = None
    owner_name: str | None = None
    notify: tuple[str, ...] = ()        # mobiles that get the case by SMS (a new owner)


# -- the telephone's duties (issue 17: the urgent ladder, call recording) -------------------

@dataclass(frozen=True)
class LadderStep:
    """One step of an urgent dispute's ladder (key 3), on its case as it happens: the
    mediators rung at once, then (call/script.py, [ladder] steps) the office head, the
    prefecture's number, the switchboard. Accepted: the case is the taker's (it opens now
    when a mediator took the call before anything else), the taker is told how to report
    arriving and the outcome by SMS, and everyone else the ladder rang is told who took it.
    Handed over: the switchboard has the caller, the case is referred up. Otherwise a row
    in the case's history and its journal upstream (who was called, what happened)."""
    call: Call
    case: str
    pin: str
    step: str                           # mediators, head, prefecture, switchboard
    number: str                         # the phone called (accepted: the taker's)
    outcome: str                        # accepted, handed_over, no_answer, busy, declined,
    #                                     no_key, failed
    after_s: float | None = None        # seconds into the call
    taker: Duty | None = None           # accepted: who took it
    others: tuple[str, ...] = ()        # accepted: the other phones rung, told who took it
    opens: bool = False                 # the case opens with this step (a mediator took it)
    seen: CaseNow | None = None         # the case as it is (Office.complete fills it in)


@dataclass(frozen=True)
class OnScene:
    """A staff member is at the scene of a case (SMS `到场 <case>`): who went, and when, is
    on the case; the case is theirs from now on."""
    case: CaseNow
    by: str                             # who said so, for the history ("李调解 (139...) by SMS")
    mobile: str
    name: str = ""
    note: str = ""


@dataclass(frozen=True)
class CallRecording:
    """A bridged call recorded both ways with the caller's consent ([recording]): an item
    with its WAV, like a voicemail, kept [recording] keep_days once delivered."""
    call: Call
    recording: str                      # the WAV (Office.complete makes it spool-relative)
    seconds: float
    started: float | str | None = None  # when the bridge began (seconds since the epoch)
    case: str | None = None             # the call's case, when it has one
    other: str = ""                     # who the caller talked to (a duty phone, the
    #                                     switchboard)
    keep_days: float | None = None      # [recording] keep_days (None: recovered)
    interrupted: bool = False           # recovered at start-up after a cut


@dataclass(frozen=True)
class Topic:
    """A case's topic set or changed by staff (SMS `主题 <case> <topic>`, the office page):
    one history row, its journal item upstream. Checked against the case as it was seen."""
    case: CaseNow
    topic: str
    by: str


@dataclass(frozen=True)
class CalledBack:
    """Callback-list entries done (records/calls.py): the duty person called the number
    back (`how`: sms, page), or the caller got through on a later call (caller). `entries`:
    the entries as the office read them (number, day, call_ids, first_at, last_at, calls,
    texted_at)."""
    entries: tuple[dict[str, Any], ...]     # records/calls.CallBook entries
    by: str
    how: str
    note: str = ""


CallOutcome = Union[Voicemail, Bridged, Referred, Callback, Escalated, Rated, CallRecord,
                    Opened, Moved, LadderStep, OnScene, CallRecording, Topic, CalledBack]


# -- the entry -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """One durable step: its key (the journal file's name), when it was planned, and what
    it writes, in order."""
    key: str
    at: float
    steps: tuple[Step, ...] = field(default_factory=tuple)

    def to_json(self) -> str:
        return json.dumps({"key": self.key, "at": self.at, "steps": list(self.steps)},
                          ensure_ascii=False)

    @classmethod
    def from_json(cls, data: Any) -> "Entry":
        if not isinstance(data, dict) or not isinstance(data.get("key"), str) or \
                not isinstance(data.get("steps"), list) or \
                not all(isinstance(s, dict) and isinstance(s.get("op"), str)
                        for s in data["steps"]):
            raise ValueError("not a ledger entry (key, at, steps)")
        return cls(data["key"], float(data.get("at") or 0), tuple(data["steps"]))

    def files(self) -> list[str]:
        """The spool-relative files its items carry."""
        return [rel for s in self.steps if s["op"] == "item"
                for rel in (s.get("files") or {}).values()]

    def cases(self) -> list[str]:
        """The case numbers it opens or moves."""
        return [s["case"]["number"] if s["op"] == "open" else s["number"]
                for s in self.steps if s["op"] in ("open", "move", "set", "note")]


def plan(outcomes: Sequence[Outcome], rules: Rules, at: float, key: str | None = None) -> Entry:
    """The one entry for `outcomes`, under the office's `rules`, planned at `at` (seconds
    since the epoch). Its key is `key`, else the first outcome's own."""
    steps: list[Step] = []
    for outcome in outcomes:
        steps += _PLANNERS[type(outcome)](outcome, rules, at)
    return Entry(key or key_of(outcomes[0], at), at, tuple(steps))


def _move_id(number: str, n: int, at: float) -> str:
    """A move's id in its case's history: the case, the history row it becomes, and when it
    was planned (two actors who saw the same case plan the same row: their ids differ, so
    the second is checked, and refused, instead of taken for the first applied again)."""
    return f"move-{number}-{n}-{int(at * 1_000_000)}"


def key_of(outcome: Outcome, at: float = 0.0) -> str:
    """An entry's key by its first outcome: unique, and a safe file name."""
    if isinstance(outcome, DUTY_OUTCOMES):      # issue 17 (the office's duties, below)
        return _duty_key(outcome, at)
    if isinstance(outcome, Voicemail):
        return outcome.case                     # a voicemail's item key is its case number
    if isinstance(outcome, CallRecord):
        return f"call-{outcome.call_id}"
    if isinstance(outcome, Moved):
        return _move_id(outcome.case.number, len(outcome.case.history) + 1, at)
    if isinstance(outcome, (Opened,)):
        return f"open-{outcome.case}"
    if isinstance(outcome, LadderStep):
        return f"ladder-{outcome.case}-{outcome.step}"      # each step once per case
    if isinstance(outcome, OnScene):
        return "scene-" + _move_id(outcome.case.number, len(outcome.case.history) + 1, at)[5:]
    if isinstance(outcome, CallRecording):
        return f"recording-{outcome.call.call_id}"
    if isinstance(outcome, Topic):
        return "topic-" + _move_id(outcome.case.number, len(outcome.case.history) + 1, at)
    if isinstance(outcome, CalledBack):
        first = outcome.entries[0] if outcome.entries else {"number": "none"}
        return f"calledback-{first['number']}-{int(at * 1_000_000)}"
    return f"{type(outcome).__name__.lower()}-{outcome.case}"


# -- the rules, one outcome at a time --------------------------------------------------------

def _voicemail(v: Voicemail, r: Rules, at: float) -> list[Step]:
    kind = v.box if v.box in KINDS else "consultation"
    record = {"case_number": v.case, "box": v.box, "caller": v.call.caller, "line": v.call.line,
              "office": r.office_id, "menu_path": list(v.menu_path), "call_id": v.call.call_id,
              "started": _iso(v.started, r.zone), "duration_s": round(v.seconds, 2),
              "ended_by": v.ended_by,
              "short": v.short}
    if v.interrupted:
        record["interrupted"] = True
    if v.voice_s is not None:
        record["voice_s"] = round(v.voice_s, 2)     # [voicemail] silence: the voice in it
    if v.as_recorded is not None:
        record = v.as_recorded
    steps = [_item(v.case, "voicemail", record, {"voicemail.wav": v.recording})]
    if v.case_open:
        return steps
    owner, sms, detail = Duty(""), [], v.detail
    if kind == "complaint":
        head_named = v.named is not None and bool(r.head) and same(v.named.mobile, r.head)
        if v.named is not None:
            detail = json.dumps({"named": {"staff_no": v.named.staff_no, "name": v.named.name,
                                           "mobile": v.named.mobile}}, ensure_ascii=False)
        if not head_named and r.head:
            # a complaint is the head's, and never reaches the person it names
            owner = Duty(r.head, "office head")
            sms.append(_sms(r.head, text.complaint_to_head(v.case, v.call.caller, v.named,
                                                           r.office_name), "complaint", v.case))
    elif not v.after_hours:
        duty = r.mediator if kind == "urgent" else r.lawyer
        if duty is not None:
            owner = duty
            sms.append(_sms(duty.mobile, text.duty_case(v.case, kind, v.call.caller,
                                                        r.office_name), "duty case", v.case))
    state = "assigned" if owner.mobile else "new"
    if is_mobile(v.call.caller):
        sms.insert(0, _caller_case(r, v.call.caller, v.case, kind, v.pin))
    steps += _open(r, at, v.case, kind, v.call, owner, state, detail,
                   v.note or f"opened: {kind}", v.pin)
    return steps + sms


def _bridged(b: Bridged, r: Rules, at: float) -> list[Step]:
    steps = _open(r, at, b.case, b.kind, b.call, b.owner, "assigned", "", f"opened: {b.kind}",
                  b.pin)
    if is_mobile(b.call.caller):
        steps.append(_caller_case(r, b.call.caller, b.case, b.kind, b.pin, AFTER_TALK))
    steps.append(_sms(b.owner.mobile, text.duty_case(b.case, b.kind, b.call.caller,
                                                     r.office_name), "duty case", b.case))
    return steps


def _referred(f: Referred, r: Rules, at: float) -> list[Step]:
    detail = json.dumps({"referral": f.department.name}, ensure_ascii=False)
    facts, handoff = _handoff_facts(f)          # issue 17: the department gets the case
    steps = _open(r, at, f.case, "referral", f.call, Duty(""), "referred", detail,
                  f"referred to {f.department.name}", f.pin, facts)
    if is_mobile(f.call.caller):
        steps.append(_sms(f.call.caller, text.caller_referral(r.office_name, f.case,
                                                              f.department, f.pin),
                          "caller referral", f.case))
    return steps + handoff


def _callback(c: Callback, r: Rules, at: float) -> list[Step]:
    owner = c.owner or Duty("")
    detail = json.dumps({"callback": True, "queue_place": c.place})
    steps = _open(r, at, c.case, "consultation", c.call, owner,
                  "assigned" if owner.mobile else "new", detail,
                  "callback requested: every duty phone was busy", c.pin)
    if is_mobile(c.call.caller):
        steps.append(_caller_case(r, c.call.caller, c.case, "consultation", c.pin))
    if owner.mobile:
        steps.append(_sms(owner.mobile, text.duty_case(c.case, "consultation", c.call.caller,
                                                       r.office_name), "duty case", c.case))
    return steps


def _escalated(e: Escalated, r: Rules, at: float) -> list[Step]:
    steps = _open(r, at, e.case, "urgent", e.call, Duty(""), "new", "",
                  "no mediator accepted", e.pin)
    if is_mobile(e.call.caller):
        steps.append(_caller_case(r, e.call.caller, e.case, "urgent", e.pin))
    minutes = round(e.waited_s / 60) if e.waited_s else None
    message = text.urgent_escalation(e.case, e.call.caller, minutes, r.office_name)
    for mobile in _unique([*e.told, r.head]):
        steps.append(_sms(mobile, message, "urgent escalation", e.case))
    return steps


def _rated(g: Rated, r: Rules, at: float) -> list[Step]:
    steps: list[Step] = [{"op": "set", "number": g.case, "fields": {"rating": g.rating}}]
    if g.rating <= r.low_rating and r.head:
        owner = g.owner.name or g.owner.mobile if g.owner else ""
        steps.append(_sms(r.head, text.low_rating(g.case, g.rating, g.call.caller, owner,
                                                  r.office_name), "low rating", g.case))
    return steps


def _call_record(c: CallRecord, r: Rules, at: float) -> list[Step]:
    started = c.record.get("started")
    record = dict(c.record)
    listed = _listed(record, r)
    if listed:
        record["callback"] = "listed"
    for key in ("started", "answered", "ended"):
        record[key] = _iso(record.get(key), r.zone)
    if record.get("ring_started") is not None:    # the first duty phone rang (the wait)
        record["ring_started"] = _iso(record["ring_started"], r.zone)
    steps = [_item(f"call-{c.call_id}", "call", record, {})]
    return steps + _call_book(c.call_id, started, record, listed, r)


# -- the call book and the callback list (records/calls.py) --------------------------------------

def _listed(record: Record, r: Rules) -> bool:
    """A call that goes on the callback list: the caller hung up with no result (while it
    rang, or before anything was done for them) and showed a number."""
    if not r.callbacks or record.get("outcome") not in ("abandoned", "missed"):
        return False
    waited = record.get("abandoned_after_s")
    if isinstance(waited, (int, float)) and waited < r.callback_min_wait:
        return False
    return bool(national(record.get("caller") or ""))


def _call_book(call_id: str, started: Any, record: Record, listed: bool,
               r: Rules) -> list[Step]:
    """The call in the office's call book (the reports read it after the outbox forgot
    it), and its caller on the callback list when it is owed a call back."""
    t = started if isinstance(started, (int, float)) and not isinstance(started, bool) \
        else 0.0
    steps = [{"op": "call", "call_id": call_id, "started": t,
              "caller": record.get("caller") or "", "record": record}]
    if listed:
        steps.append({"op": "callback", "number": national(record["caller"]),
                      "day": _day(t, r.zone), "call_id": call_id, "at": t})
    return steps


def _day(t: float, zone: str) -> str:
    return datetime.fromtimestamp(t, ZoneInfo(zone)).strftime("%Y-%m-%d")


def _called_back(c: CalledBack, r: Rules, at: float) -> list[Step]:
    """Each entry marked done, and its record upstream (item `callback-<day>-<number>-<n>`):
    what the centre reads to know a missed caller was called back."""
    steps: list[Step] = []
    for e in c.entries:
        steps.append({"op": "callback_done", "number": e["number"], "day": e["day"],
                      "at": at, "by": c.by, "how": c.how, "note": c.note})
        record = {"office": r.office_id, "caller": e["number"], "day": e["day"],
                  "call_ids": list(e.get("call_ids") or ()), "calls": e.get("calls"),
                  "first_missed": _iso(e.get("first_at"), r.zone),
                  "last_missed": _iso(e.get("last_at"), r.zone),
                  "texted": _iso(e.get("texted_at"), r.zone),
                  "done": _iso(at, r.zone), "done_by": c.by, "how": c.how,
                  "note": c.note}
        # one item per answer: a number that misses again that day after it was called
        # back is listed again, and its second answer is an item of its own
        key = f"callback-{e['day']}-{e['number']}-{e.get('calls') or 1}"
        steps.append(_item(key, "callback", record, {}))
    return steps


# -- topics -----------------------------------------------------------------------------------

def _topic(t: Topic, r: Rules, at: float) -> list[Step]:
    """The topic set on the case with a history row (so its journal item is a new one),
    checked against the case as the actor saw it, like a move."""
    case, history = t.case, list(t.case.history)
    step_id = _move_id(case.number, len(history) + 1, at)
    note = f"topic: {t.topic}"
    steps: list[Step] = [{"op": "set", "number": case.number, "fields": {"topic": t.topic},
                    "history": {"state": case.state, "by": t.by, "note": note,
                                "step": step_id, "at": at, "expect": case.updated}}]
    history.append((at, case.state, t.by, note))
    steps.append(_journal(r, replace(case, topic=t.topic, updated=at,
                                     history=tuple(history)), "topic"))
    return steps


def _iso(t: Any, zone: str) -> Any:
    """Seconds since the epoch as the office's local time with its offset
    (2026-12-07T10:00:00+0800); anything else as it is."""
    if not isinstance(t, (int, float)) or isinstance(t, bool) or not t:
        return t if t else None
    return datetime.fromtimestamp(t, ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M:%S%z")


def _opened(o: Opened, r: Rules, at: float) -> list[Step]:
    steps = _open(r, at, o.case, o.kind, Call(o.call_id or "", o.caller),
                  Duty(o.owner, o.owner_name), o.state, o.detail, o.note or f"opened: {o.kind}",
                  o.pin)
    if o.notify_caller and is_mobile(o.caller):
        steps.append(_caller_case(r, o.caller, o.case, o.kind, o.pin, o.next_steps))
    for mobile in o.notify_duty:
        steps.append(_sms(mobile, text.duty_case(o.case, o.kind, o.caller, r.office_name),
                          "duty case", o.case))
    return steps


def _moved(m: Moved, r: Rules, at: float) -> list[Step]:
    case, history = m.case, list(m.case.history)
    step_id = _move_id(case.number, len(history) + 1, at)
    steps: list[Step] = [{"op": "move", "number": case.number, "state": m.state, "by": m.by,
                    "note": m.note, "owner": m.owner, "owner_name": m.owner_name,
                    "expect": case.updated, "step": step_id, "at": at}]
    history.append((at, m.state, m.by, m.note))
    owner = case.owner if m.owner is None else m.owner
    owner_name = case.owner_name if m.owner_name is None else m.owner_name
    now = CaseNow(case.number, case.kind, m.state, case.caller, owner, owner_name, case.detail,
                  case.call_id, case.opened, at, case.due, tuple(history), dict(case.facts),
                  topic=case.topic)
    if m.state == "resolved" and m.note:         # the result the office wrote (issue 17)
        now = _with_facts(now, {"result": m.note}, steps)
    steps.append(_journal(r, now, m.state))
    for mobile in m.notify:
        steps.append(_sms(mobile, text.duty_case(case.number, case.kind, case.caller,
                                                 r.office_name), "duty case", case.number,
                          step_id))
    if m.state == "resolved":
        steps += _tell_result(r, now, at)
    return steps


# -- the telephone's duties (issue 17) -------------------------------------------------------

def _ladder_step(s: LadderStep, r: Rules, at: float) -> list[Step]:
    facts = {"step": s.step, "number": s.number, "outcome": s.outcome, "after_s": s.after_s,
             "call_id": s.call.call_id}
    who = (s.taker.name or s.taker.mobile) if s.taker else s.number
    if s.outcome == "accepted" and s.opens:
        taker = s.taker or Duty(s.number)
        steps = _open(r, at, s.case, "urgent", s.call, taker, "assigned", "",
                      f"urgent: taken by {who} ({s.step})", s.pin)
        _journal_facts(steps, "ladder", facts)
        if is_mobile(s.call.caller):
            steps.append(_caller_case(r, s.call.caller, s.case, "urgent", s.pin, AFTER_TALK))
        return steps + _taken_sms(s, r, taker)
    case = s.seen
    history = list(case.history) if case is not None else []
    step_id = _move_id(s.case, len(history) + 1, at)
    if s.outcome in ("accepted", "handed_over"):
        taker = s.taker or Duty(s.number)
        state = "assigned" if s.outcome == "accepted" else "referred"
        note = (f"urgent ladder: taken by {who} ({s.step})" if s.outcome == "accepted" else
                f"urgent ladder: handed to the prefecture switchboard {s.number}")
        owner = (taker.mobile, taker.name) if s.outcome == "accepted" else (None, None)
        steps = [{"op": "move", "number": s.case, "state": state, "by": "box", "note": note,
                  "owner": owner[0], "owner_name": owner[1], "expect": None, "step": step_id,
                  "at": at}]
    else:
        state = case.state if case is not None else "new"
        note = f"urgent ladder: {s.step} {s.number} {s.outcome.replace('_', ' ')}"
        steps = [{"op": "note", "number": s.case, "by": "box", "note": note, "step": step_id,
                  "at": at}]
        owner = (None, None)
    history.append((at, state, "box", note))
    if case is not None:
        now = replace(case, state=state, updated=at, history=tuple(history),
                      owner=owner[0] if owner[0] is not None else case.owner,
                      owner_name=owner[1] if owner[1] is not None else case.owner_name)
    else:
        now = CaseNow(s.case, "urgent", state, s.call.caller, owner[0] or "", owner[1] or "",
                      "", s.call.call_id, at, at, None, tuple(history))
    steps.append(_journal_facts([_journal(r, now, "ladder")], "ladder", facts)[0])
    if s.outcome == "accepted":
        steps += _taken_sms(s, r, s.taker or Duty(s.number))
    return steps


def _escalated_ladder(e: Escalated, r: Rules, at: float) -> list[Step]:
    """The escalation is the ladder's first step (the mediators, rung together, nobody
    took it): its opening journal item says so, as every later step's does."""
    return _journal_facts(_escalated(e, r, at), "ladder", {
        "step": "mediators", "numbers": list(e.told), "outcome": "no_answer",
        "after_s": round(e.waited_s, 1) if e.waited_s else None,
        "call_id": e.call.call_id})


def _taken_sms(s: LadderStep, r: Rules, taker: Duty) -> list[Step]:
    """The taker learns the commands that report arrival and outcome; everyone else the
    ladder rang learns who took it."""
    steps = [_sms(taker.mobile, text.urgent_taker(s.case, s.call.caller, r.office_name),
                  "urgent taken", s.case)] if is_mobile(taker.mobile) else []
    told = {national(taker.mobile)}
    for mobile in _unique(s.others):
        if national(mobile) not in told and is_mobile(mobile):
            told.add(national(mobile))
            steps.append(_sms(mobile, text.urgent_taken(s.case, taker, s.call.caller,
                                                        r.office_name), "urgent taken by",
                              s.case))
    return steps


def _journal_facts(steps: list[Step], name: str, facts: dict[str, Any]) -> list[Step]:
    """The case journal items among `steps` carry `facts` under `name` (the prefecture's
    centre reads them: the ladder's steps, who went to the scene)."""
    for step in steps:
        if step["op"] == "item" and step["kind"] == "case":
            step["record"][name] = facts
    return steps


def _on_scene(o: OnScene, r: Rules, at: float) -> list[Step]:
    case = o.case
    mine = bool(case.owner) and same(case.owner, o.mobile)
    note = "on the scene" + (f": {o.note}" if o.note else "")
    steps = _moved(Moved(case, "assigned", o.by, note, None if mine else o.mobile,
                         None if mine else o.name), r, at)
    for step in steps:
        if step["op"] == "item" and step["kind"] == "case":
            step["record"]["event"] = "on_scene"
            step["record"]["on_scene"] = {"mobile": o.mobile, "name": o.name,
                                          "at": _iso(at, r.zone), "note": o.note}
    return steps


def _call_recording(c: CallRecording, r: Rules, at: float) -> list[Step]:
    record = {"call_id": c.call.call_id, "caller": c.call.caller, "line": c.call.line,
              "office": r.office_id, "case_number": c.case, "with": c.other,
              "started": _iso(c.started, r.zone), "duration_s": round(c.seconds, 2),
              "keep_days": c.keep_days}
    if c.interrupted:
        record["interrupted"] = True
    return [_item(f"recording-{c.call.call_id}", "recording", record,
                  {"recording.wav": c.recording})]


# outcome class -> its planner, which takes that class (hence the `...`)
_PLANNERS: dict[type, Callable[..., list[Step]]] = {
    Voicemail: _voicemail, Bridged: _bridged, Referred: _referred, Callback: _callback,
    Escalated: _escalated_ladder, Rated: _rated, CallRecord: _call_record, Opened: _opened,
    Moved: _moved, LadderStep: _ladder_step, OnScene: _on_scene,
    CallRecording: _call_recording, Topic: _topic, CalledBack: _called_back}


# -- pieces ----------------------------------------------------------------------------------

def _open(r: Rules, at: float, number: str, kind: str, call: Call, owner: Duty, state: str,
          detail: str, note: str, pin: str, facts: dict[str, Any] | None = None) -> list[Step]:
    """A new case row, and its first journal item upstream. `facts`: duty columns it opens
    with (a referral's hand-off), set before the journal item that carries them."""
    hours = r.urgent_due_hours if kind == "urgent" else r.due_hours
    row = {"number": number, "kind": kind, "caller": call.caller, "owner": owner.mobile,
           "owner_name": owner.name, "detail": detail, "call_id": call.call_id or None,
           "state": state, "due_hours": hours, "note": note, "now": at, "pin": pin}
    if call.topic:
        row["topic"] = call.topic
    due = at + hours * 3600 if hours else None
    now = CaseNow(number, kind, state, call.caller, owner.mobile, owner.name, detail,
                  call.call_id or None, at, at, due, ((at, state, "box", note),),
                  topic=call.topic)
    steps: list[Step] = [{"op": "open", "case": row}]
    if facts:
        now = _with_facts(now, facts, steps)
    return steps + [_journal(r, now, "opened")]


def _journal(r: Rules, case: CaseNow, event: str) -> Step:
    """Every case change goes upstream too (the prefecture keeps the register): item
    `case-<number>-<n>`, n the length of its history with this change."""
    record = {"case_number": case.number, "event": event, "kind": case.kind,
              "state": case.state, "caller": case.caller, "owner": case.owner,
              "owner_name": case.owner_name, "detail": case.detail, "call_id": case.call_id,
              "office": r.office_id, "opened": case.opened, "due": case.due,
              "history": [{"at": at, "state": st, "by": by, "note": note}
                          for at, st, by, note in case.history]}
    for name, value in case.facts.items():      # issue 17's duty columns, as they are now
        record.setdefault(name, json.loads(value) if name in JSON_FACTS else value)
    if case.topic:
        record["topic"] = case.topic            # [topics]: the centre groups by it
    return _item(f"case-{case.number}-{len(case.history)}", "case", record, {})


def _item(key: str, kind: str, record: Record, files: dict[str, str]) -> Step:
    return {"op": "item", "key": key, "kind": kind, "record": record, "files": files}


def _sms(number: str, body: str, purpose: str, case: str, ref: str | None = None) -> Step:
    """A text owed for `case`; `ref` names the step it belongs to when the same case may owe
    `number` the same kind of text again later (a case handed back to someone)."""
    step = {"op": "sms", "number": number, "text": body, "purpose": purpose, "case": case}
    if ref is not None:
        step["ref"] = ref
    return step


def _caller_case(r: Rules, caller: str, case: str, kind: str, pin: str,
                 next_steps: str | None = None) -> Step:
    return _sms(caller, text.caller_case(r.office_name, case, kind, next_steps or r.next_steps,
                                         r.hours, r.office_number, pin), "caller case", case)


def _unique(numbers: Sequence[str]) -> list[str]:
    seen, out = set(), []
    for n in numbers:
        if n and national(n) not in seen:
            seen.add(national(n))
            out.append(n)
    return out


# -- issue 17: the office's duties to a result ------------------------------------------------
# On-site service with an appointment, a referral handed to its department and checked back,
# the result told to the caller (complainants too) with a survey, staff availability. Each is
# a staff action or a rule of the office's clock, planned here like the rest; what a case
# keeps of it goes into its duty columns (records/cases.py DUTY_COLUMNS) by `set` steps and
# from there into every later journal item upstream.

JSON_FACTS = ("dispatch", "handoff")    # duty columns kept as JSON text


@dataclass(frozen=True)
class Provider:
    """A [[provider]]: a law firm, notary office, grassroots legal-service office or
    judicial office a service request is dispatched to."""
    name: str
    mobile: str
    kind: str = ""
    email: str = ""
    area: str = ""


@dataclass(frozen=True)
class Dispatched:
    """上门服务: a service request dispatched to a provider with an appointment (`when` in
    the office's words, `appointment` the instant the office's clock made of it); the
    provider and the caller are texted."""
    case: CaseNow
    by: str
    provider: Provider
    when: str
    appointment: float
    place: str
    note: str = ""


@dataclass(frozen=True)
class Arrived:
    """到场: the provider (or the case's owner, or the head) reports being there."""
    case: CaseNow
    by: str
    note: str = ""


@dataclass(frozen=True)
class AppointmentMissed:
    """Nobody reported arriving at an appointment in time: `tell` (the head, the owner)."""
    case: CaseNow
    tell: tuple[str, ...]


@dataclass(frozen=True)
class ReplyOverdue:
    """A department did not reply within its working days: `tell` (the head, the owner)."""
    case: CaseNow
    tell: tuple[str, ...]


@dataclass(frozen=True)
class Replied:
    """A department's reply with the case's code: its result resolves the case (and the
    caller is told it like any result)."""
    case: CaseNow
    by: str
    result: str


@dataclass(frozen=True)
class Told:
    """The caller heard the result on the phone (key 9 on the phone that opened the case);
    `case` is filled in by the office (records/office.complete)."""
    call: Call
    number: str
    case: CaseNow | None = None
    how: str = "phone"


@dataclass(frozen=True)
class Surveyed:
    """The caller answered the satisfaction survey SMS (1-5)."""
    case: CaseNow
    score: int
    owner: Duty | None = None


@dataclass(frozen=True)
class ReferralTexted:
    """Key 4: the caller keyed a mobile to have the department's phone and address sent
    there (it is never dialled)."""
    call: Call
    case: str
    number: str
    department: Department


@dataclass(frozen=True)
class AvailabilityChanged:
    """A duty person signed off (off) or back on (on), or the head set the line's mode
    (night, day, auto: the office hours again), until `until` (None: until changed back).
    `confirm` gets the SMS saying so; `uncovered`: the roles nobody on duty now would be
    left for (the head is told); `audit`: an audit item goes upstream (the page keeps its
    own audit log instead)."""
    who: str                            # the person's mobile ("" for the line's mode)
    name: str
    what: str                           # off on night day auto
    until: float | None
    until_words: str
    by: str
    via: str                            # sms, page
    confirm: str = ""
    uncovered: tuple[str, ...] = ()
    audit: bool = True


DUTY_OUTCOMES = (Dispatched, Arrived, AppointmentMissed, ReplyOverdue, Replied, Told,
                 Surveyed, ReferralTexted, AvailabilityChanged)
DutyOutcome = Union[Dispatched, Arrived, AppointmentMissed, ReplyOverdue, Replied, Told,
                    Surveyed, ReferralTexted, AvailabilityChanged]
Outcome = Union[CallOutcome, DutyOutcome]


def _duty_key(outcome: DutyOutcome, at: float) -> str:
    if isinstance(outcome, ReferralTexted):
        return f"texted-{outcome.case}-{national(outcome.number) or 'x'}"
    if isinstance(outcome, AvailabilityChanged):
        return f"duty-{outcome.what}-{national(outcome.who) or 'line'}-{int(at * 1_000_000)}"
    case = outcome.case
    assert case is not None                 # a Told's case: the office fills it in (duties.py)
    return _move_id(case.number, len(case.history) + 1, at)


def _with_facts(case: CaseNow, facts: dict[str, Any], steps: list[Step]) -> CaseNow:
    """`facts` set on the case (a `set` step into `steps`); the case as it is then."""
    stored = {k: json.dumps(v, ensure_ascii=False) if k in JSON_FACTS else v
              for k, v in facts.items()}
    steps.append({"op": "set", "number": case.number, "fields": stored})
    return replace(case, facts={**case.facts, **stored})


def _step(r: Rules, case: CaseNow, state: str, by: str, note: str, at: float,
          steps: list[Step], facts: dict[str, Any] | None = None, checked: bool = True,
          event: str = "") -> CaseNow:
    """A case's next history row (`state`, or the same state kept), its duty facts and its
    journal item, into `steps`; the case as it is then. `checked`: against the case as the
    actor saw it (the first move of an entry)."""
    history = list(case.history) + [(at, state, by, note)]
    move = {"op": "move", "number": case.number, "state": state, "by": by, "note": note,
            "owner": None, "owner_name": None, "expect": case.updated if checked else None,
            "step": _move_id(case.number, len(history), at), "at": at}
    if state == case.state:
        move["same"] = True                     # a row that keeps the state (cases.move)
    steps.append(move)
    now = replace(case, state=state, updated=at, history=tuple(history))
    if facts:
        now = _with_facts(now, facts, steps)
    steps.append(_journal(r, now, event or state))
    return now


def _tell_result(r: Rules, case: CaseNow, at: float) -> list[Step]:
    """A resolved case's result to its caller, complainants too: by SMS in plain words
    (the office's wording rules, a length cap) to a mobile, with the satisfaction survey;
    the case records when and how they were told and moves on to caller_informed. A caller
    without a mobile is told on the phone (key 9: `Told`)."""
    if not is_mobile(case.caller):
        return []
    result = text.plain_result(case.facts.get("result") or "", r.result_max,
                               r.result_replace, r.mask_mobiles)
    steps = [_sms(case.caller, text.caller_resolved(r.office_name, case.number, result,
                                                    case.kind, r.office_number),
                  "caller resolved", case.number)]
    facts = {"told_at": at, "told_how": "sms"}
    if r.survey_sms:
        steps.append(_sms(case.caller, text.survey(r.office_name, case.number), "survey",
                          case.number))
        facts["survey_sent"] = at
    _step(r, case, "caller_informed", "box", "resolution SMS queued", at, steps, facts,
          checked=False)
    return steps


def _dispatched(d: Dispatched, r: Rules, at: float) -> list[Step]:
    p, case = d.provider, d.case
    dispatch = {"provider": p.name, "kind": p.kind, "mobile": p.mobile, "email": p.email,
                "area": p.area, "when": d.when, "place": d.place, "by": d.by, "note": d.note}
    steps: list[Step] = []
    now = _step(r, case, case.state, d.by, f"dispatched on site to {p.name}, {d.when}, "
                f"{d.place}" + (f": {d.note}" if d.note else ""), at, steps,
                {"dispatch": dispatch, "appointment": d.appointment},
                event="dispatched")
    ref = steps[0]["step"]                      # a case may be dispatched again
    steps.append(_sms(p.mobile, text.dispatch_to_provider(r.office_name, now.number, d.when,
                                                          d.place, now.caller, d.note),
                      "dispatch", now.number, ref))
    if is_mobile(now.caller):
        steps.append(_sms(now.caller, text.dispatch_to_caller(r.office_name, now.number,
                                                              p.name, p.mobile, d.when,
                                                              d.place),
                          "caller dispatch", now.number, ref))
    return steps


def _arrived(a: Arrived, r: Rules, at: float) -> list[Step]:
    steps: list[Step] = []
    _step(r, a.case, a.case.state, a.by, "arrived on site" + (f": {a.note}" if a.note else ""),
          at, steps, {"arrived": at}, event="arrived")
    return steps


def _appointment_missed(m: AppointmentMissed, r: Rules, at: float) -> list[Step]:
    steps: list[Step] = []
    now = _step(r, m.case, m.case.state, "box", "appointment missed: nobody reported "
                "arriving", at, steps, {"missed_alerted": at}, event="appointment_missed")
    dispatch = json.loads(now.facts.get("dispatch") or "{}")
    message = text.appointment_missed(r.office_name, now.number, dispatch.get("provider", ""),
                                      dispatch.get("when", ""), dispatch.get("place", ""))
    for mobile in _unique(m.tell):
        steps.append(_sms(mobile, message, "appointment missed", now.number))
    return steps


def _reply_overdue(o: ReplyOverdue, r: Rules, at: float) -> list[Step]:
    steps: list[Step] = []
    now = _step(r, o.case, o.case.state, "box", "the department has not replied in time",
                at, steps, {"reply_alerted": at}, event="reply_overdue")
    handoff = json.loads(now.facts.get("handoff") or "{}")
    message = text.reply_overdue(r.office_name, now.number, handoff.get("department", ""),
                                 handoff.get("due_words", ""), now.facts.get("reply_code", ""))
    for mobile in _unique(o.tell):
        steps.append(_sms(mobile, message, "reply overdue", now.number))
    return steps


def _replied(p: Replied, r: Rules, at: float) -> list[Step]:
    steps: list[Step] = []
    now = _step(r, p.case, "resolved", p.by, p.result, at, steps,
                {"reply_at": at, "reply_result": p.result, "result": p.result},
                event="replied")
    return steps + _tell_result(r, now, at)


def _told(t: Told, r: Rules, at: float) -> list[Step]:
    steps: list[Step] = []
    assert t.case is not None               # the office fills it in (records/duties.py)
    _step(r, t.case, "caller_informed", "box", f"result told on the phone (call {t.call.call_id})",
          at, steps, {"told_at": at, "told_how": t.how}, event="caller_informed")
    return steps


def _surveyed(v: Surveyed, r: Rules, at: float) -> list[Step]:
    steps: list[Step] = []
    now = _step(r, v.case, v.case.state, "caller by SMS", f"survey answered: {v.score} of 5",
                at, steps, {"survey_score": v.score, "survey_at": at}, event="surveyed")
    steps.append(_sms(now.caller, text.survey_thanks(r.office_name, now.number),
                      "survey thanks", now.number))
    if v.score <= r.low_rating and r.head:
        who = (v.owner.name or v.owner.mobile) if v.owner else ""
        steps.append(_sms(r.head, text.low_rating(now.number, v.score, now.caller, who,
                                                  r.office_name), "low survey", now.number))
    return steps


def _referral_texted(t: ReferralTexted, r: Rules, at: float) -> list[Step]:
    return [_sms(t.number, text.caller_referral(r.office_name, t.case, t.department),
                 "referral details", t.case)]


def _availability(a: AvailabilityChanged, r: Rules, at: float) -> list[Step]:
    key = _duty_key(a, at)
    steps: list[Step] = [{"op": "availability", "key": key, "at": at, "who": national(a.who),
                    "name": a.name, "what": a.what, "until": a.until, "by": a.by,
                    "via": a.via}]
    if a.audit:
        record = {"office": r.office_id, "at": at, "user": a.by, "role": "head" if a.what in
                  ("night", "day", "auto") else "duty", "address": a.via,
                  "action": f"availability_{a.what}", "target": a.name or a.who or "line",
                  "detail": a.until_words}
        steps.append(_item(f"audit-{key}", "audit", record, {}))
    if a.confirm:
        steps.append(_sms(a.confirm, text.availability_confirm(a.what, a.name,
                                                               a.until_words),
                          "availability", "", key))
    if a.uncovered and r.head and not same(r.head, a.who):
        steps.append(_sms(r.head, text.uncovered(a.name, a.who, a.until_words, a.uncovered),
                          "uncovered", "", key))
    return steps


def _handoff_facts(f: Referred) -> tuple[dict[str, Any], list[Step]]:
    """A referral's hand-off: (the duty facts it opens with, its SMS and e-mail steps) when
    its department has an SMS number or a mailbox; else nothing."""
    d = f.department
    if not (d.sms or d.email) or not f.code:
        return {}, []
    handoff = {"department": d.name, "phone": d.phone, "sms": d.sms, "email": d.email,
               "due_words": f.due_words}
    facts = {"handoff": handoff, "reply_code": f.code, "reply_due": f.reply_due}
    steps: list[Step] = []
    body = text.handoff(f.case, f.call.caller, d.name, f.code, f.due_words)
    if d.sms:
        steps.append(_sms(d.sms, body, "handoff", f.case))
    if d.email:
        record = {"case_number": f.case, "to": [d.email], "department": d.name,
                  "reply_code": f.code, "reply_due": f.reply_due, "caller": f.call.caller,
                  "text": body}
        steps.append(_item(f"handoff-{f.case}", "handoff", record, {}))
    return facts, steps


_PLANNERS.update({Dispatched: _dispatched, Arrived: _arrived,
                  AppointmentMissed: _appointment_missed, ReplyOverdue: _reply_overdue,
                  Replied: _replied, Told: _told, Surveyed: _surveyed,
                  ReferralTexted: _referral_texted, AvailabilityChanged: _availability})
