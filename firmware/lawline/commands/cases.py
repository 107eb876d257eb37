"""`lawline case` and `lawline report`: the office's cases and reports from the shell.

    lawline case list [--all] [--kind K]         open cases (or all), oldest first
    lawline case show NUMBER                     one case and its history
    lawline case resolve NUMBER [--note TEXT]    resolved; the caller gets an SMS
    lawline case assign NUMBER MOBILE            assigned to a rota person (SMS to them)
    lawline report --week [--start DATE]         last complete week (or the week from DATE)
    lawline report --month [--start DATE]        last month (or the month from DATE)

They work on the spool the box uses, while it runs (SQLite WAL allows that); texts they
queue are sent by the running box within half a minute.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import TYPE_CHECKING

from .. import build, config as configuration
from ..records import report
from ..records.cases import CaseError
from ..records.messages import KIND_WORDS
from ..records.office import Office

if TYPE_CHECKING:
    from ..config import Config


def add_case_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="/etc/lawline/lawline.toml")
    sub = p.add_subparsers(dest="action", required=True)
    q = sub.add_parser("list", help="open cases (--all: every case)")
    q.add_argument("--all", action="store_true")
    q.add_argument("--kind", choices=("consultation", "service_request", "urgent", "referral",
                                      "complaint"))
    q = sub.add_parser("show", help="one case and its history")
    q.add_argument("number")
    q = sub.add_parser("resolve", help="mark a case resolved (the caller is told by SMS)")
    q.add_argument("number")
    q.add_argument("--note", default="")
    q = sub.add_parser("assign", help="assign a case to a rota person by mobile")
    q.add_argument("number")
    q.add_argument("mobile")
    q.add_argument("--note", default="")


def add_report_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="/etc/lawline/lawline.toml")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--week", action="store_true", help="a week, Monday to Sunday (default)")
    which.add_argument("--month", action="store_true", help="a calendar month")
    p.add_argument("--start", type=dt.date.fromisoformat,
                   help="first day of the period (default: the last complete one)")
    p.add_argument("--publish", action="store_true",
                   help="also queue the report for upstream (the box does this by itself)")


def open_office(cfg: Config) -> Office:
    """The office on the box's spool, as build.py makes it (its outbox owed to the
    configured targets: what the shell changes goes upstream like the box's own)."""
    cfg.spool_dir.mkdir(parents=True, exist_ok=True)
    clock = build.clock(cfg)
    return build.office(cfg, clock, build.outbox(cfg, clock))


def case_main(args: argparse.Namespace) -> int:
    cfg = configuration.load(args.config)
    office = open_office(cfg)
    def _when(t: float | None) -> str:
        return office.clock.local(t).strftime("%Y-%m-%d %H:%M") if t else "-"
    cases = office.cases
    if args.action == "list":
        rows = cases.list(None if args.all else ("new", "assigned", "referred"),
                          [args.kind] if args.kind else None)
        if not rows:
            print("no open cases" if not args.all else "no cases")
        for c in rows:
            late = "  OVERDUE" if c.overdue() else ""
            print(f"{c.number}  {c.state:15} {c.kind:16} caller {c.caller or '-':14} owner "
                  f"{c.owner_name or c.owner or '-':10} opened {_when(c.opened)}{late}")
        return 0
    case = cases.get(args.number)
    if case is None:
        print(f"lawline: no case {args.number}", file=sys.stderr)
        return 1
    if args.action == "show":
        print(f"case {case.number}: {KIND_WORDS[case.kind]} ({case.kind}), {case.state}"
              f"{', OVERDUE' if case.overdue() else ''}")
        print(f"  caller {case.caller or '-'}, owner {case.owner_name or '-'} "
              f"{case.owner or ''}, opened {_when(case.opened)}, due {_when(case.due)}")
        if case.detail:
            print(f"  detail {case.detail}")
        if case.rating:
            print(f"  rating {case.rating} of 5")
        for name, value in cases.duties(case.number).items():   # issue 17's duty facts
            shown = _when(value) if isinstance(value, float) else value
            print(f"  {name} {shown}")
        for at, state, by, note in cases.history(case.number):
            print(f"  {_when(at)}  {state:15} by {by}{'  ' + note if note else ''}")
        return 0
    try:
        if args.action == "resolve":
            office.act(case.number, "resolved", "shell", args.note)
        else:
            person = office.desk.person(args.mobile)
            if person is None:
                print(f"lawline: {args.mobile} is not in the duty rota", file=sys.stderr)
                return 1
            if office.barred(case, person.mobile):
                print(f"lawline: case {case.number} is a complaint about {person.name}",
                      file=sys.stderr)
                return 1
            office.act(case.number, "assigned", "shell", args.note, owner=person.mobile,
                       owner_name=person.name, notify=(person.mobile,))
    except CaseError as exc:
        print(f"lawline: {exc}", file=sys.stderr)
        return 1
    now = cases.get(case.number)
    assert now is not None                  # the case just changed: it is there
    print(f"case {case.number}: {now.state}")
    return 0


def report_main(args: argparse.Namespace) -> int:
    cfg = configuration.load(args.config)
    office = open_office(cfg)
    kind = "month" if args.month else "week"
    today = office.clock.today()
    if args.start:
        start = args.start
        if kind == "week":
            end = start + dt.timedelta(days=7)
        else:
            end = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    else:
        start, end = report.last_week(today) if kind == "week" else report.last_month(today)
    if args.publish:
        key = report.publish(office, start, end, kind)
        item = office.outbox.get(key)
        assert item is not None             # publish just committed it
        csv_path, html_path = item.files["report.csv"], item.files["report.html"]
    else:
        _, csv_path, html_path, *_ = report.write(office, start, end, kind, preview=True)
    print(f"# {office.name}: {kind} {start} .. {end - dt.timedelta(days=1)}")
    print(csv_path.read_text(encoding="utf-8"), end="")
    print(f"# chart: {html_path}")
    return 0
