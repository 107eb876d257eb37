"""The hotline measures leadership asks for, each defined once, as pure functions over the
records the box writes: call records (item `call-<id>`, call/script.py and the missed-call
record of call/lines.py) and case journal items (item `case-<n>-<k>`, records/outcomes.py
_journal). The box's weekly and monthly report (records/report.py) reads these definitions;
the prefecture centre (centre/), which reads the same records from the boxes' uploads, can
import this module and count the same way. No I/O, no clock, no database: the period and
"now" come in as arguments (seconds since the epoch).

Where the definitions come from (shared reference centre.md): GB/T 33358-2016 政府热线服务规范
(answer within 15 s; connection rate at least 95 %), the 12348 platforms' contracts
(connection rate, satisfaction at least 90 %), Asterisk's queue statistics (service level =
answered within the threshold / answered). Abandonment has three counting rules in use
(abandons ignored, counted as misses, short abandons counted as hits); the one used here is
printed with the figure (RULES): a short abandon (the caller waited under 5 s) is counted
apart and left out of both the abandoned calls and the calls offered the rate divides by.

The record fields each measure reads (FIELDS says the same, for the report's notes):

call record                            what it is
  started        ISO time (+0800)      when the line began to ring (missed) or the box answered
  outcome        text                  bridged, voicemail, complaint, referred, callback,
                                       abandoned (hung up with no result), missed (hung up
                                       while it rang), no_input, limited, error, ...
  wanted_person  bool                  the caller asked for a person: the box rang duty
                                       phones for them (key 1, key 3, after-hours duty)
  ring_started   ISO time (+0800)      when the box first rang a duty phone for this caller
  wait_s         seconds               time to answer: from ring_started to a duty person
                                       accepting (bridged only)
  abandoned_in   text                  where an abandoned or missed caller gave up: ringing,
                                       menu, hunt (duty phones ringing), queue, voicemail
                                       (before the recording began)
  abandoned_after_s  seconds           how long that caller had waited there: ringing time,
                                       time in the menu, or time waiting for a person
  topic          text                  the topic the caller chose in a sub-menu (else the
                                       topic of its case, else 未分类)
  case_number    text                  the case the call opened (for its topic)
  bridged_to     mobile                who answered (by duty person)
  rating         1-5                   the caller's rating after the call
  voicemail      {case_number, seconds}  a message was recorded
  callback       "listed"              the caller's number went on the callback list

case journal item (its latest one per case)
  case_number, kind, state, topic, owner, owner_name, call_id
  opened, due    seconds               when it was opened and when it falls due
  history        [{at, state, by, note}]  closed = the first move to resolved
  rating         1-5                   (the box adds it from its case book; a survey reply)
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

# a record as the box writes it (JSON), and the figures of a period
Record = dict[str, Any]
Figures = dict[str, Any]

ANSWER_WITHIN_S = 15.0      # GB/T 33358: answered within 15 s
SHORT_ABANDON_S = 5.0       # an abandon this short is counted apart (a misdial, mostly)
SATISFIED_AT = 4            # ratings 4 and 5 of 5 are satisfied
CONNECTION_TARGET = 95.0    # 12348 platforms: connection rate at least 95 %
SATISFACTION_TARGET = 90.0  # 12348 platforms: satisfaction at least 90 %
SERVICE_LEVEL_TARGET = 80.0  # the industry's 80/20, here 80 % within 15 s
UNSORTED = "未分类"
CLOSED_STATES = ("resolved", "caller_informed")
# a caller who gave up with no result: these outcomes and nothing else
ABANDONED = ("abandoned", "missed")


@dataclass(frozen=True)
class Measure:
    id: str
    label: str                  # as the report prints it
    rule: str                   # how it is counted, printed beside the figure
    unit: str = ""              # "%", "秒", "小时" or "" (a count)
    target: float | None = None
    better: str = ""            # "high", "low" or "" (a volume)

    def status(self, value: float | None) -> str:
        """"ok" or "short" against the target; "" without a target or a value."""
        if value is None or self.target is None:
            return ""
        good = value >= self.target if self.better == "high" else value <= self.target
        return "ok" if good else "short"


MEASURES = (
    Measure("offered", "呼入量", "打进热线的每通来电：设备接起的，和振铃中即挂断的（未接来电）。"),
    Measure("wanted", "请求人工", "来电人要求人工服务、设备为其呼叫值班电话的来电（按1咨询、"
            "按3紧急、非工作时间转值班）。"),
    Measure("answered", "人工接听", "值班人员按1确认接听、与来电人接通的来电。"),
    Measure("answered_15s", "15秒内接听", f"人工接听中，接听用时不超过{ANSWER_WITHIN_S:g}秒的"
            "（接听用时：从开始呼叫值班电话到值班人员接听；GB/T 33358）。"),
    Measure("service_level", "15秒接听率", f"15秒内接听 ÷ 人工接听（Asterisk 服务水平口径；"
            f"目标 ≥ {SERVICE_LEVEL_TARGET:g}%）。", "%", SERVICE_LEVEL_TARGET, "high"),
    Measure("connection_rate", "接通率", "人工接听 ÷ （请求人工 − 其中的短时放弃）"
            f"（12348 平台考核口径，目标 ≥ {CONNECTION_TARGET:g}%）。", "%",
            CONNECTION_TARGET, "high"),
    Measure("wait_p50", "接听用时中位数", "人工接听的来电，接听用时的中位数（线性插值）。", "秒",
            ANSWER_WITHIN_S, "low"),
    Measure("wait_p90", "接听用时90分位", "人工接听的来电，接听用时的第90百分位（线性插值）。",
            "秒", ANSWER_WITHIN_S * 2, "low"),
    Measure("abandoned", "放弃", "来电人未得到任何结果就挂断（振铃中、菜单中、等待值班人员时、"
            f"留言开始前），且已等待{SHORT_ABANDON_S:g}秒以上。"),
    Measure("short_abandons", "短时放弃", f"等待不足{SHORT_ABANDON_S:g}秒即挂断的来电（振铃中按"
            "振铃时长，菜单中按接起后时长，等待人工时按等待时长）；另列，不计入放弃，也不计入"
            "放弃率的分母。"),
    Measure("missed", "振铃中挂断", "设备接起前来电人已挂断的来电（含短时的），均列入回拨名单。"),
    Measure("abandon_rate", "放弃率", "放弃 ÷ （呼入量 − 短时放弃）。计数规则：短时放弃"
            f"（<{SHORT_ABANDON_S:g}秒）另计，既不算放弃也不算呼入。", "%", 10.0, "low"),
    Measure("voicemails", "留言", "录下留言的来电（咨询、申请服务、紧急、投诉）。"),
    Measure("callbacks", "待回拨号码", "放弃或振铃中挂断、显示号码的来电，每个号码每天一条。"),
    Measure("called_back", "已回拨", "回拨名单中，值班人员回复“回拨”或在网页上标记、或来电人当天"
            "再次接通的。"),
    Measure("cases_opened", "新案件", "本期受理的案件（咨询、申请服务、紧急、转介、投诉）。"),
    Measure("cases_closed", "办结", "本期首次办结的案件（办结时间在本期）。"),
    Measure("cases_overdue", "超期", "截止时间在本期内（到现在为止）、到截止时仍未办结的案件。",
            "", 0.0, "low"),
    Measure("close_p50_h", "办结用时中位数", "本期办结的案件，从受理到首次办结的小时数中位数。",
            "小时"),
    Measure("rated", "参评数", "作出评价（1-5分）的来电。"),
    Measure("satisfaction", "满意率", f"评价{SATISFIED_AT}分或5分的 ÷ 作出评价的（通话后按键"
            f"评价，及结案后短信回访的评分；目标 ≥ {SATISFACTION_TARGET:g}%）。", "%",
            SATISFACTION_TARGET, "high"),
)
BY_ID = {m.id: m for m in MEASURES}
# The counting rule printed with the abandon figures
ABANDON_RULE = BY_ID["abandon_rate"].rule
FIELDS = {
    "call": ("started", "outcome", "wanted_person", "ring_started", "wait_s", "abandoned_in",
             "abandoned_after_s", "topic", "case_number", "bridged_to", "rating",
             "voicemail", "callback"),
    "case": ("case_number", "kind", "state", "topic", "owner", "owner_name", "call_id",
             "opened", "due", "history", "rating"),
}


# -- one call ----------------------------------------------------------------------------------

def when(value: object) -> float | None:
    """A record's time (seconds since the epoch, or the ISO text with its offset the box
    writes, 2026-12-07T10:00:00+0800) as seconds since the epoch; None if it is neither."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        for form in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z"):
            try:
                return dt.datetime.strptime(value.strip(), form).timestamp()
            except ValueError:
                continue
    return None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value):
        return None
    return float(value)


def answered(call: Record) -> bool:
    """A duty person accepted the call and was bridged to the caller."""
    return call.get("outcome") == "bridged"


def wanted_person(call: Record) -> bool:
    """The caller asked for a person (the box rang duty phones for them)."""
    return bool(call.get("wanted_person")) or answered(call)


def wait_seconds(call: Record) -> float | None:
    """Time to answer of an answered call, or None."""
    if not answered(call):
        return None
    return _number(call.get("wait_s"))


def abandoned_any(call: Record) -> bool:
    """The caller hung up with no result (short abandons included)."""
    return call.get("outcome") in ABANDONED


def short_abandon(call: Record) -> bool:
    """An abandon after waiting less than SHORT_ABANDON_S. A record without the wait (a box
    before the field) is judged by its duration."""
    if not abandoned_any(call):
        return False
    waited = _number(call.get("abandoned_after_s"))
    if waited is None:
        waited = _number(call.get("duration_s"))
    return waited is not None and waited < SHORT_ABANDON_S


def abandoned(call: Record) -> bool:
    """An abandon that counts: the caller waited SHORT_ABANDON_S or more."""
    return abandoned_any(call) and not short_abandon(call)


def missed(call: Record) -> bool:
    return call.get("outcome") == "missed"


def rating(record: Record) -> int | None:
    value = _number(record.get("rating"))
    return int(value) if value is not None and 1 <= value <= 5 else None


def topic_of(call: Record, case_topics: dict[str, str] | None = None) -> str:
    """The call's topic: chosen by the caller, else its case's, else UNSORTED."""
    topic = call.get("topic")
    if not topic and case_topics:
        topic = case_topics.get(call.get("case_number") or "")
    return topic or UNSORTED


# -- one case (from its latest journal item) -------------------------------------------------------

def case_facts(record: Record) -> Figures:
    """The facts of one case from its latest journal item: number, kind, topic, owner, when
    it was opened, fell due and was first closed, its rating."""
    closed = None
    for step in record.get("history") or ():
        if isinstance(step, dict) and step.get("state") in CLOSED_STATES:
            closed = when(step.get("at"))
            break
    if closed is None and record.get("state") in CLOSED_STATES:
        closed = when(record.get("resolved"))
    return {"case_number": record.get("case_number"), "kind": record.get("kind"),
            "topic": record.get("topic") or UNSORTED, "state": record.get("state"),
            "owner": record.get("owner") or "", "owner_name": record.get("owner_name") or "",
            "call_id": record.get("call_id"), "opened": when(record.get("opened")),
            "due": when(record.get("due")), "closed": closed, "rating": rating(record)}


# -- statistics ----------------------------------------------------------------------------------

def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th quantile (0..1) by linear interpolation between closest ranks (numpy's
    default, DuckDB's quantile_cont); None for no values."""
    data = sorted(values)
    if not data:
        return None
    pos = (len(data) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (pos - low)


def rate(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


# -- the figures of a period -------------------------------------------------------------------

def in_period(t: float | None, start: float, end: float) -> bool:
    return t is not None and start <= t < end


def call_figures(calls: Iterable[Record]) -> Figures:
    """Counts and rates over call records (already chosen for a period and a group)."""
    calls = list(calls)
    short = [c for c in calls if short_abandon(c)]
    wanted = [c for c in calls if wanted_person(c)]
    waits = [w for w in (wait_seconds(c) for c in calls) if w is not None]
    answered_n = sum(1 for c in calls if answered(c))
    within = sum(1 for w in waits if w <= ANSWER_WITHIN_S)
    abandoned_n = sum(1 for c in calls if abandoned(c))
    out: Figures = {
        "offered": len(calls),
        "wanted": len(wanted),
        "answered": answered_n,
        "answered_15s": within,
        "short_abandons": len(short),
        "abandoned": abandoned_n,
        "missed": sum(1 for c in calls if missed(c)),
        "voicemails": sum(1 for c in calls if c.get("voicemail")),
        "wait_p50": _round(percentile(waits, 0.5)),
        "wait_p90": _round(percentile(waits, 0.9)),
    }
    out["service_level"] = rate(within, answered_n)
    out["connection_rate"] = rate(answered_n, len(wanted) - sum(1 for c in wanted
                                                                if short_abandon(c)))
    out["abandon_rate"] = rate(abandoned_n, len(calls) - len(short))
    return out


def case_figures(cases: Iterable[Record], start: float, end: float, now: float) -> Figures:
    """Counts over case facts (case_facts): opened and closed in [start, end), overdue (due
    in the period up to `now`, not closed by its due time), the median hours to close."""
    cases = list(cases)
    closed = [c for c in cases if in_period(c["closed"], start, end)]
    hours = [(c["closed"] - c["opened"]) / 3600 for c in closed if c["opened"] is not None]
    until = min(end, now)
    overdue = [c for c in cases if c["due"] is not None and start <= c["due"] < until and
               (c["closed"] is None or c["closed"] > c["due"])]
    return {"cases_opened": sum(1 for c in cases if in_period(c["opened"], start, end)),
            "cases_closed": len(closed), "cases_overdue": len(overdue),
            "close_p50_h": _round(percentile(hours, 0.5))}


def satisfaction(calls: Iterable[Record], cases: Iterable[Record], start: float,
                 end: float, every_call: Iterable[Record] | None = None) -> Figures:
    """Ratings of the period: each rated call (by its start), and each case closed in the
    period whose rating came from no rated call (a survey reply after it was resolved).
    `every_call`: all the calls known (any period), to tell a call's rating copied onto its
    case from a survey reply; `calls` when None."""
    calls = list(calls)
    ratings = [r for r in (rating(c) for c in calls) if r is not None]
    rated_calls = {c.get("case_number") for c in (calls if every_call is None else every_call)
                   if rating(c) is not None}
    for case in cases:
        if case["rating"] is not None and case["case_number"] not in rated_calls and \
                in_period(case["closed"], start, end):
            ratings.append(case["rating"])
    happy = sum(1 for r in ratings if r >= SATISFIED_AT)
    return {"rated": len(ratings), "satisfaction": rate(happy, len(ratings))}


def callback_figures(entries: Iterable[Record], start: float, end: float) -> Figures:
    """Over callback-list entries (records/calls.py: first_at, done_at): listed in the
    period, and of those how many were called back."""
    listed = [e for e in entries if in_period(when(e.get("first_at")), start, end)]
    return {"callbacks": len(listed),
            "called_back": sum(1 for e in listed if e.get("done_at"))}


def figures(calls: Iterable[Record], cases: Iterable[Record], start: float, end: float,
            now: float, callbacks: Iterable[Record] = ()) -> Figures:
    """Every measure for the period [start, end) (seconds): `calls` call records, `cases`
    case facts (case_facts), `callbacks` callback-list entries. Calls are taken by their
    start; cases as case_figures says."""
    calls = list(calls)
    mine = [c for c in calls if in_period(when(c.get("started")), start, end)]
    cases = list(cases)
    out = call_figures(mine)
    out.update(case_figures(cases, start, end, now))
    out.update(satisfaction(mine, cases, start, end, calls))
    out.update(callback_figures(callbacks, start, end))
    return out


def grouped(calls: Iterable[Record], cases: Iterable[Record], start: float, end: float,
            now: float, key_call: Callable[[Record], str | None],
            key_case: Callable[[Record], str | None]) -> dict[str, Figures]:
    """{group: figures} with calls grouped by `key_call(call)` and cases by
    `key_case(case)` (None: not in any group)."""
    calls, cases = list(calls), list(cases)
    groups: dict[str | None, tuple[list[Record], list[Record]]] = {}
    for c in calls:
        groups.setdefault(key_call(c), ([], []))[0].append(c)
    for c in cases:
        groups.setdefault(key_case(c), ([], []))[1].append(c)
    groups.pop(None, None)
    return {g: figures(cl, cs, start, end, now) for g, (cl, cs) in groups.items()
            if g is not None}


def by_topic(calls: Iterable[Record], cases: Iterable[Record], start: float, end: float,
             now: float, topics: Sequence[str] = ()) -> dict[str, Figures]:
    """{topic: figures}: the configured topics first (in their order, each shown even when
    nothing was counted), then any other topic found, then UNSORTED."""
    cases = list(cases)
    case_topics = {c["case_number"]: c["topic"] for c in cases
                   if c["topic"] and c["topic"] != UNSORTED}
    found = grouped(calls, cases, start, end, now, lambda c: topic_of(c, case_topics),
                    lambda c: c["topic"] or UNSORTED)
    order = [t for t in topics if t != UNSORTED] + \
        sorted(t for t in found if t not in topics and t != UNSORTED) + [UNSORTED]
    empty = figures((), (), start, end, now)
    return {t: found.get(t, empty) for t in order if t in found or t in topics}


def by_person(calls: Iterable[Record], cases: Iterable[Record], start: float, end: float,
              now: float, names: dict[str, str] | None = None) -> dict[str, Figures]:
    """{person: figures}: calls by who answered them (bridged_to), cases by their owner.
    `names`: mobile -> name (the rota's); a person without a name is shown by number."""
    names = names or {}

    def who(mobile: str | None) -> str | None:
        return (names.get(mobile) if mobile else None) or mobile or None
    return grouped(calls, cases, start, end, now,
                   lambda c: who(c.get("bridged_to")) if answered(c) else None,
                   lambda c: c["owner_name"] or who(c["owner"]))


def change(now_value: float | None, before_value: float | None) -> float | None:
    """now - before, for numbers; None when either is missing."""
    if now_value is None or before_value is None:
        return None
    return round(now_value - before_value, 1)
