"""Generated months of a county line's calls and cases, for the leadership report's tests and
for showing a report (`lawline-rig report-month`).

Nothing is written past the box's own code: every call leaves its outcomes through the
office's call-outcome ledger (records/office.Office.commit, records/outcomes.py), in the
past (each commit planned at the call's own time), exactly as a call on the line would: a
bridged call its case (with the topic the caller chose), rating and record; a message its
voicemail case; a missed or abandoned caller its record on the callback list; later, staff
resolve cases, sort some by topic and call some missed callers back. What was made is
returned as plain facts, so a test can count the report's figures itself.

    lawline-rig report-month --config lawline.toml --month 2026-11 [--calls-per-day 20]
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from lawline.call.lines import missed_record
from lawline.records import outcomes as o
from lawline.sync.wavfile import header

LAWYERS = (("13900000001", "张律师"), ("13900000002", "李律师"), ("13900000003", "王律师"))
# how often each topic comes up (the default [topics] order), and how often none is known
WEIGHTS = [26, 22, 14, 14, 8, 10, 6]


@dataclass
class Made:
    """What a generated call left: enough for a test to count every measure itself."""
    call_id: str
    started: float
    caller: str
    outcome: str                      # bridged voicemail missed abandoned
    topic: str = ""                   # the caller's, or set on its case later ("" none)
    wanted: bool = False
    wait_s: float | None = None       # answered: time to answer
    waited_s: float | None = None     # abandoned or missed: how long they waited
    person: str = ""                  # who answered (mobile)
    rating: int | None = None
    case: str = ""
    resolved_at: float | None = None
    due: float | None = None
    called_back: bool = False
    extras: dict = field(default_factory=dict)


def day_instant(office, day, hour, minute=0, second=0.0):
    return office.clock.instant(dt.datetime.combine(day, dt.time(hour, minute))) + second


def generate(office, first, days, calls_per_day=12, seed=17, now=None):
    """`days` days of calls from office day `first` on; returns [Made]. Cases are resolved,
    sorted and missed callers called back as the days go by, never after `now`."""
    rng = random.Random(seed)
    topics = office.topics
    made = []
    incoming = office.outbox.spool_dir / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    for d in range(days):
        day = first + dt.timedelta(days=d)
        weekend = day.weekday() >= 5
        for i in range(rng.randint(calls_per_day // 2, calls_per_day + calls_per_day // 2)
                       // (3 if weekend else 1)):
            t = day_instant(office, day, rng.randint(8, 19), rng.randint(0, 59),
                            rng.uniform(0, 59))
            if now is not None and t > now:
                continue
            made.append(_call(office, rng, topics, t, f"{day:%y%m%d}-{i:04d}", incoming))
    _staff(office, rng, made, now)
    return made


def _call(office, rng, topics, t, n, incoming):
    caller = f"138{rng.randint(0, 99999999):08d}"
    call_id = f"{n}-{rng.randrange(16 ** 4):04x}"
    chosen = rng.choices(topics + [""], WEIGHTS[:len(topics)] + [30])[0] \
        if rng.random() < 0.6 else ""
    call = o.Call(call_id, caller, office.cfg.office.number, topic=chosen)
    roll = rng.random()
    base = {"call_id": call_id, "line": office.cfg.office.number, "caller": caller,
            "started": t, "menu_path": [], "duty_legs": [], "case_number": None,
            "voicemail": None}
    if chosen:
        base["topic"] = chosen
    if roll < 0.08:                                       # hung up while it rang
        rang = round(rng.uniform(1, 25), 1)
        record = missed_record(call_id, office.cfg.office.number, caller, t, t + rang)
        office.commit([o.CallRecord(call_id, record)], now=t + rang)
        return Made(call_id, t, caller, "missed", waited_s=rang)
    if roll < 0.16:                                       # hung up in the menu
        after = round(rng.choice([rng.uniform(1, 4.9), rng.uniform(6, 40)]), 1)
        record = dict(base, answered=t, ended=t + after, duration_s=after, branch=None,
                      outcome="abandoned", abandoned_in="menu", abandoned_after_s=after)
        office.commit([o.CallRecord(call_id, record)], now=t + after)
        return Made(call_id, t, caller, "abandoned", chosen, waited_s=after)
    if roll < 0.74:                                       # asked for a person
        menu = round(rng.uniform(8, 20), 1)
        hunt = t + menu
        if rng.random() < 0.12:                           # gave up while they rang
            after = round(rng.uniform(2, 45), 1)
            record = dict(base, answered=t, ended=hunt + after, branch="consultation",
                          outcome="abandoned", wanted_person=True, abandoned_in="hunt",
                          abandoned_after_s=after, duration_s=round(menu + after, 1))
            office.commit([o.CallRecord(call_id, record)], now=hunt + after)
            return Made(call_id, t, caller, "abandoned", chosen, wanted=True, waited_s=after)
        if rng.random() < 0.12:                           # nobody accepted: a message
            return _message(office, rng, call, base, t, hunt + 30, "consultation", incoming,
                            wanted=True)
        wait = round(min(90.0, rng.expovariate(1 / 11.0) + 2.0), 1)
        person = rng.choices(LAWYERS, (5, 3, 2))[0]
        talk = rng.uniform(60, 600)
        rating = rng.choice([None, None, 5, 5, 5, 4, 4, 3, 2, 1])
        case = office.cases.next(t)
        end = hunt + wait + talk
        record = dict(base, answered=t, ended=end, branch="consultation", outcome="bridged",
                      wanted_person=True, wait_s=wait, bridged_to=person[0],
                      seconds_to_person=round(menu + wait, 1), bridged_s=round(talk, 1),
                      duration_s=round(end - t, 1), case_number=case)
        items = [o.Bridged(call, "consultation", case, "", o.Duty(*person))]
        if rating:
            record["rating"] = rating
            items.append(o.Rated(call, case, rating, o.Duty(*person)))
        office.commit(items + [o.CallRecord(call_id, record)], now=end)
        return Made(call_id, t, caller, "bridged", chosen, wanted=True, wait_s=wait,
                    person=person[0], rating=rating, case=case,
                    due=end + office.cfg.cases.due_hours * 3600)
    return _message(office, rng, call, base, t, t + rng.uniform(10, 20), "service_request",
                    incoming)


def _message(office, rng, call, base, t, began, box, incoming, wanted=False):
    seconds = round(rng.uniform(5, 90), 1)
    case = office.cases.next(t)
    # each message its own file, as the recorder leaves them (a second of silence here)
    path = incoming / f"{call.call_id}-{box}.wav"
    path.write_bytes(header(16000) + bytes(16000))
    end = began + seconds
    office.commit([o.Voicemail(call, box, case, "", str(path), seconds, "# pressed",
                               started=began, menu_path=("2",))], now=end)
    record = dict(base, answered=t, ended=end + 8, branch=box, outcome="voicemail",
                  voicemail={"case_number": case, "seconds": seconds}, case_number=case,
                  duration_s=round(end + 8 - t, 1))
    if wanted:
        record["wanted_person"] = True
    office.commit([o.CallRecord(call.call_id, record)], now=end + 8)
    return Made(call.call_id, t, call.caller, "voicemail", call.topic, wanted=wanted,
                case=case, due=end + office.cfg.cases.due_hours * 3600)


def _staff(office, rng, made, now):
    """What staff do over the following days: resolve most cases (some late), sort some
    unsorted ones by SMS topic, and call most missed callers back."""
    topics = office.topics
    for m in made:
        if m.case:
            case = office.snapshot(m.case)
            if case is None:
                continue
            if not m.topic and rng.random() < 0.7:
                m.topic = rng.choices(topics, WEIGHTS[:len(topics)])[0]
                at = case.updated + rng.uniform(600, 7200)
                if now is None or at < now:
                    office.commit([o.Topic(case, m.topic, "张律师 by SMS")], now=at)
                else:
                    m.topic = ""
                case = office.snapshot(m.case)
            if rng.random() < 0.85:
                hours = rng.choice([rng.uniform(1, 48), rng.uniform(1, 48),
                                    rng.uniform(60, 150)])
                at = case.updated + hours * 3600
                if now is None or at < now:
                    office.commit([o.Moved(case, "resolved", "张律师 by SMS", "已答复")],
                                  now=at)
                    m.resolved_at = at
        elif m.outcome in ("missed", "abandoned") and rng.random() < 0.75:
            number = m.caller
            entries = [e for e in office.calls.entries(open_only=True, number=number)]
            at = m.started + rng.uniform(600, 5 * 3600)
            if entries and (now is None or at < now):
                office.commit([o.CalledBack(tuple(entries), "张律师 by SMS", "sms")], now=at)
                m.called_back = True


def add_arguments(parser):
    parser.add_argument("--config", required=True, help="the box's config: its spool and "
                        "[office], [topics], [duty]")
    parser.add_argument("--month", required=True, help="YYYY-MM, the report's month")
    parser.add_argument("--calls-per-day", type=int, default=20)
    parser.add_argument("--seed", type=int, default=17)


def main(args):
    """`lawline-rig report-month`: generate a month (and the month before, for the
    comparison) into the spool of a config, then write the report."""
    from lawline import build, config as configuration
    from lawline.records import report
    from lawline.records.office import Office
    from lawline.sync.outbox import Outbox
    cfg = configuration.load(args.config)
    spool = cfg.spool_dir
    spool.mkdir(parents=True, exist_ok=True)
    office = Office.from_config(cfg, spool, Outbox(spool / "outbox.db", spool, []),
                                clock=build.clock(cfg))
    start = dt.date.fromisoformat(args.month + "-01")
    before, _ = report.previous(start, None, "month")
    end = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    made = generate(office, before, (end - before).days, args.calls_per_day, args.seed)
    _, csv_path, html_path, *_ = report.write(office, start, end, "month")
    print(f"{len(made)} calls generated from {before} to {end}; report: {html_path}")
    return 0
