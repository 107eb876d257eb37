"""The periodic report: what callers asked about and how the office answered, per duty
category, for a week or a month (the 148 rules ask for periodic analysis, field.md (b) 3).

Where the figures come from:
- calls: the call records the call flow commits to the outbox (kind "call"; the outbox is
  the box's one durable journal of calls, so there is no second call table to disagree
  with it). Category is the menu branch; outcome, `voicemail`, `rating` and
  `seconds_to_person` (box answered -> a person on the line) are fields of that record.
- cases: spool/cases.db (opened, resolved, overdue in the period).
- abuse limits hit ([limits], records/limits.py): the `limit_hits` table of spool/cases.db,
  one row each time a limit stopped something (a call cut at its maximum length, a menu's
  tries used up, a number's daily cases, SMS, ring-alls or status tries, the hourly SMS cap).

Output (issue 17.5: the leadership report, below): a CSV (total, each topic, each duty
person, this period and the one before), a one-page HTML file with the service levels and
each measure's rule, the chart as inline SVG and, for e-mail, as a PNG (records/chart.py;
matplotlib would be 50 MB on a Pi for one bar chart). All go upstream through the outbox as
a "report" item, and by e-mail to [email] leadership. The older table per menu branch
(`build`, `to_csv`: the office page's report view) counts with the same measures.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import logging
import os
import sqlite3
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence, TypedDict

from . import chart, measures
from .limits import NAMES as LIMIT_WORDS
from .measures import Figures, Record
from .messages import KIND_WORDS

if TYPE_CHECKING:
    from ..clock import Clock
    from .cases import Case
    from .office import Office

log = logging.getLogger("lawline.report")

CATEGORIES = ("consultation", "service_request", "urgent", "referral", "complaint",
              "case_status", "after_hours", "none")
CATEGORY_WORDS = dict(KIND_WORDS, case_status="案件查询", after_hours="非工作时间",
                      none="未选择")
# A call's branch -> the case kind it opens, for joining the case figures
CASE_KIND = {"consultation": "consultation", "service_request": "service_request",
             "urgent": "urgent", "referral": "referral", "complaint": "complaint",
             "after_hours": "consultation"}
COLUMNS = ("category", "name", "calls", "answered", "abandoned", "voicemails",
           "median_answer_s", "cases_opened", "cases_resolved", "cases_overdue", "ratings",
           "mean_rating", "low_ratings")

# the table per menu branch: {category: {column: value}} (COLUMNS), and a "total" row
Table = dict[str, dict[str, Any]]


def last_week(today: dt.date) -> tuple[dt.date, dt.date]:
    """(Monday, next Monday) of the last complete week before `today`."""
    monday = today - dt.timedelta(days=today.weekday())
    return monday - dt.timedelta(days=7), monday


def last_month(today: dt.date) -> tuple[dt.date, dt.date]:
    first = today.replace(day=1)
    prev = (first - dt.timedelta(days=1)).replace(day=1)
    return prev, first


def _ts(day: dt.date, clock: Clock | None = None) -> float:
    """The instant day `day` begins: in the office's zone with its `clock` (clock.py), else
    in the system's (callers that have no clock)."""
    midnight = dt.datetime.combine(day, dt.time())
    return clock.instant(midnight) if clock is not None else midnight.timestamp()


def _started(record: Record) -> float | None:
    try:
        return dt.datetime.strptime(record["started"], "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except (KeyError, TypeError, ValueError):
        return None


def call_records(outbox_db: str | os.PathLike[str], start: dt.date, end: dt.date,
                 clock: Clock | None = None) -> list[Record]:
    """Call records whose call started in [start, end) (dates: the office's with its
    `clock`, else the system's)."""
    path = Path(outbox_db)
    if not path.exists():
        return []
    lo, hi = _ts(start, clock), _ts(end, clock)
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        # `created` is the commit time, never before the call started: it bounds the scan
        # from below (with a day's margin for a clock set late); the start time decides
        rows = con.execute("SELECT record_json FROM items WHERE kind = 'call' AND "
                           "created >= ?", (lo - 86400,)).fetchall()
    finally:
        con.close()
    out = []
    for (raw,) in rows:
        record = json.loads(raw)
        t = _started(record)
        if t is not None and lo <= t < hi:
            out.append(record)
    return out


def figures(calls: Iterable[Record], cases: Iterable[Case], start: dt.date, end: dt.date,
            alert_at_or_below: int = 2, now: float | None = None,
            clock: Clock | None = None) -> Table:
    """{category: {column: value}} plus a "total" row. A case is overdue when it was
    resolved after its due time, or is still open past it (by the period's end, or now
    for a period that has not ended yet)."""
    hi = _ts(end, clock)
    until = min(hi, now or time.time())
    def empty() -> dict[str, Any]:
        return {"calls": 0, "answered": 0, "abandoned": 0, "voicemails": 0, "_waits": [],
                "cases_opened": 0, "cases_resolved": 0, "cases_overdue": 0, "_ratings": []}
    rows = {c: empty() for c in CATEGORIES}
    for record in calls:
        category = record.get("branch") or "none"
        row = rows.setdefault(category, empty())
        row["calls"] += 1
        if measures.answered(record):
            row["answered"] += 1
            if record.get("seconds_to_person") is not None:
                row["_waits"].append(float(record["seconds_to_person"]))
        elif measures.abandoned_any(record):
            row["abandoned"] += 1
        if record.get("voicemail"):
            row["voicemails"] += 1
        if measures.rating(record) is not None:
            row["_ratings"].append(measures.rating(record))
    by_kind = {kind: cat for cat, kind in CASE_KIND.items() if cat != "after_hours"}
    lo = _ts(start, clock)
    for case in cases:
        row = rows[by_kind.get(case.kind, "none")]
        if lo <= case.opened < hi:
            row["cases_opened"] += 1
            late = case.due is not None and ((case.resolved or until) > case.due)
            if late:
                row["cases_overdue"] += 1
        if case.resolved and lo <= case.resolved < hi:
            row["cases_resolved"] += 1
    total: dict[str, Any] = {k: 0 for k in ("calls", "answered", "abandoned", "voicemails",
                                            "cases_opened", "cases_resolved", "cases_overdue")}
    total["_waits"], total["_ratings"] = [], []
    out: Table = {}
    for category, row in rows.items():
        for key in total:
            total[key] += row[key]
        out[category] = _finish(row, alert_at_or_below)
    out["total"] = _finish(total, alert_at_or_below)
    return out


def _finish(row: dict[str, Any], low: int) -> dict[str, Any]:
    waits, ratings = row["_waits"], row["_ratings"]
    out = {k: v for k, v in row.items() if not k.startswith("_")}
    out["median_answer_s"] = round(statistics.median(waits), 1) if waits else ""
    out["ratings"] = len(ratings)
    out["mean_rating"] = round(sum(ratings) / len(ratings), 2) if ratings else ""
    out["low_ratings"] = sum(1 for r in ratings if r <= low)
    return out


def to_csv(table: Table) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for category, row in table.items():
        if category != "total" and not row["calls"] and not row["cases_opened"] and \
                not row["cases_resolved"]:
            continue
        writer.writerow([category, CATEGORY_WORDS.get(category, "合计" if category == "total"
                                                      else category)] +
                        [row[c] for c in COLUMNS[2:]])
    return buf.getvalue()


def _bars(title: str, table: Table, series: Sequence[tuple[str, str, str]],
          width: int = 640) -> str:
    """A horizontal grouped bar chart as inline SVG."""
    cats = [c for c in table if c != "total" and any(table[c][s] for s, _, _ in series)]
    if not cats:
        return f"<h2>{html.escape(title)}</h2><p>（无数据）</p>"
    peak = max(table[c][s] for c in cats for s, _, _ in series) or 1
    bar, gap, label_w = 14, 10, 110
    group = bar * len(series) + gap
    height = group * len(cats) + 30
    scale = (width - label_w - 60) / peak
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="12">']
    for i, cat in enumerate(cats):
        y0 = 10 + i * group
        parts.append(f'<text x="0" y="{y0 + bar * len(series) / 2 + 4}">'
                     f'{html.escape(CATEGORY_WORDS.get(cat, cat))}</text>')
        for j, (key, _, colour) in enumerate(series):
            value = table[cat][key]
            y = y0 + j * bar
            parts.append(f'<rect x="{label_w}" y="{y}" width="{value * scale:.1f}" '
                         f'height="{bar - 2}" fill="{colour}"/>')
            parts.append(f'<text x="{label_w + value * scale + 4:.1f}" y="{y + bar - 4}">'
                         f'{value}</text>')
    parts.append("</svg>")
    legend = " ".join(f'<span style="color:{c}">■</span> {html.escape(n)}' for _, n, c in series)
    return f"<h2>{html.escape(title)}</h2><p>{legend}</p>" + "".join(parts)


def limit_figures(office: Office, start: dt.date, end: dt.date) -> dict[str, int]:
    """{limit: times hit} in [start, end) (dates), every limit named, 0 when not hit."""
    limits = getattr(office, "limits", None)
    clock = getattr(office, "clock", None)
    hits = limits.hits(_ts(start, clock), _ts(end, clock)) if limits is not None else {}
    return {what: hits.get(what, 0) for what in LIMIT_WORDS} | \
        {what: n for what, n in hits.items() if what not in LIMIT_WORDS}


def _limits_html(limits: Mapping[str, int] | None) -> str:
    if limits is None:
        return ""
    rows = "".join(f"<tr><td>{html.escape(what)}</td><td>"
                   f"{html.escape(LIMIT_WORDS.get(what, what))}</td><td>{n}</td></tr>"
                   for what, n in limits.items())
    return f"<h2>滥用限制触发次数</h2><table><tr><td>limit</td><td>说明</td><td>次数</td></tr>" \
           f"{rows}</table>"


def to_html(table: Table, office: str, start: dt.date, end: dt.date, kind: str,
            limits: Mapping[str, int] | None = None) -> str:
    period = "周报" if kind == "week" else "月报"
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in line) + "</tr>"
        for line in csv.reader(io.StringIO(to_csv(table))))
    return (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            f"<title>{html.escape(office)} {period}</title>"
            "<style>body{font-family:sans-serif;max-width:720px;margin:1em auto}"
            "table{border-collapse:collapse;font-size:12px}td{border:1px solid #999;"
            "padding:2px 5px}tr:first-child td{font-weight:bold}</style></head><body>"
            f"<h1>{html.escape(office)} {period}</h1>"
            f"<p>{start} 至 {end - dt.timedelta(days=1)}</p>"
            + _bars("来电", table, (("calls", "来电", "#4472c4"), ("answered", "接通", "#70ad47"),
                                   ("abandoned", "挂断", "#c00000"),
                                   ("voicemails", "留言", "#ffc000")))
            + _bars("案件", table, (("cases_opened", "新案件", "#4472c4"),
                                   ("cases_resolved", "办结", "#70ad47"),
                                   ("cases_overdue", "超期", "#c00000")))
            + f"<h2>明细</h2><table>{rows}</table>" + _limits_html(limits)
            + "</body></html>\n")


def build(office: Office, start: dt.date, end: dt.date) -> tuple[Table, int]:
    """The table per menu branch for the office's days [start, end): the call book's calls
    (and the outbox's older ones), the case book's cases."""
    clock = office.clock
    calls = calls_between(office, _ts(start, clock), _ts(end, clock))
    cases = office.cases.list(since=_ts(start, clock) - 366 * 86400)
    return figures(calls, cases, start, end, office.cfg.survey.alert_at_or_below,
                   clock=clock), len(calls)


# -- the leadership report: topics, duty people, service levels, the previous period ----------
#
# Issue 17.5. Every figure is a measure of records/measures.py (defined once, its rule printed
# beside it) over the office's call book (records/calls.py; calls older than the book, from
# the outbox), its case book (as case journal facts) and its callback list. Periods are the
# office's days ([office] timezone), whatever the system's zone is.

SUMMARY = ("offered", "wanted", "answered", "answered_15s", "service_level",
           "connection_rate", "wait_p50", "wait_p90", "abandoned", "short_abandons", "missed",
           "abandon_rate", "voicemails", "callbacks", "called_back", "cases_opened",
           "cases_closed", "cases_overdue", "close_p50_h", "rated", "satisfaction")
TOPIC_COLUMNS = ("offered", "answered", "connection_rate", "abandoned", "cases_opened",
                 "cases_closed", "cases_overdue", "close_p50_h", "satisfaction")
PERSON_COLUMNS = ("answered", "wait_p50", "service_level", "cases_opened", "cases_closed",
                  "cases_overdue", "close_p50_h", "satisfaction")


class TopicFigures(TypedDict):
    now: Figures
    before: Figures | None          # None: the topic had no figures the period before


class Leadership(TypedDict):
    """The leadership report's figures (leadership): the CSV, the HTML and the outbox
    item's record are made from them."""
    office: str
    office_id: str
    kind: str                       # week, month
    start: str                      # the period's first day (ISO)
    end: str                        # the day after its last
    previous: list[str]             # [start, end] of the period before
    total: Figures
    total_before: Figures
    topics: dict[str, TopicFigures]
    people: dict[str, Figures]
    callbacks_open: int
    abandon_rule: str


def previous(start: dt.date, end: dt.date, kind: str) -> tuple[dt.date, dt.date]:
    """The period before [start, end) of the same kind (the week before, the month
    before)."""
    if kind == "week":
        return start - dt.timedelta(days=7), start
    first = (start - dt.timedelta(days=1)).replace(day=1)
    return first, start


def case_records(office: Office, since: float) -> list[Figures]:
    """Every case opened since `since` (seconds) as the facts of its latest journal item
    (records/measures.case_facts), its rating from the case book."""
    out = []
    for case in office.cases.list(since=since):
        record = {"case_number": case.number, "kind": case.kind, "state": case.state,
                  "topic": case.topic, "owner": case.owner, "owner_name": case.owner_name,
                  "call_id": case.call_id, "opened": case.opened, "due": case.due,
                  "resolved": case.resolved, "rating": case.rating,
                  "history": [{"at": at, "state": st} for at, st, _, _ in
                              office.cases.history(case.number)]}
        out.append(measures.case_facts(record))
    return out


def calls_between(office: Office, lo: float, hi: float) -> list[Record]:
    """Call records of calls started in [lo, hi) (seconds): the call book's, and the
    outbox's for calls the book does not hold (committed before it existed)."""
    book = office.calls.calls(lo, hi)
    seen = {r.get("call_id") for r in book}
    day = dt.timedelta(days=1)
    local = office.clock.local
    older = call_records(office.outbox.db_path, local(lo).date() - day,
                         local(hi).date() + day)
    extra = [r for r in older if r.get("call_id") not in seen and
             measures.in_period(measures.when(r.get("started")), lo, hi)]
    return book + extra


def leadership(office: Office, start: dt.date, end: dt.date, kind: str,
               now: float | None = None) -> Leadership:
    """The report's figures: this period and the one before, in all, by topic and by duty
    person; the callback list. `start`, `end`: the office's dates."""
    now = now or time.time()
    clock = office.clock
    p_start, p_end = previous(start, end, kind)
    lo, hi = clock.instant(dt.datetime.combine(start, dt.time())), \
        clock.instant(dt.datetime.combine(end, dt.time()))
    p_lo = clock.instant(dt.datetime.combine(p_start, dt.time()))
    calls = calls_between(office, p_lo, hi)
    cases = case_records(office, p_lo - 366 * 86400)
    callbacks = office.calls.entries(since=p_lo)
    topics = office.topics
    # a duty person by the rota's name, else the name their cases carry, else the number
    names = {c["owner"]: c["owner_name"] for c in cases if c["owner"] and c["owner_name"]}
    for mobile in {c.get("bridged_to") for c in calls} | set(names):
        if mobile:
            names[mobile] = office.duty_person(mobile).name or names.get(mobile, "")
    cur = measures.figures(calls, cases, lo, hi, now, callbacks)
    before = measures.figures(calls, cases, p_lo, lo, now, callbacks)
    by_topic = measures.by_topic(calls, cases, lo, hi, now, topics)
    by_topic_before = measures.by_topic(calls, cases, p_lo, lo, now, topics)
    people = measures.by_person(calls, cases, lo, hi, now, names)
    open_now = [e for e in office.calls.entries(open_only=True)]
    return {"office": office.name, "office_id": office.cfg.office.id, "kind": kind,
            "start": str(start), "end": str(end), "previous": [str(p_start), str(p_end)],
            "total": cur, "total_before": before,
            "topics": {t: {"now": f, "before": by_topic_before.get(t)}
                       for t, f in by_topic.items()},
            "people": people, "callbacks_open": len(open_now),
            "abandon_rule": measures.ABANDON_RULE}


def leadership_csv(data: Leadership) -> str:
    """One row per (section, group, period): total, each topic, each duty person."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(("section", "group", "period") + SUMMARY)
    writer.writerow(("total", "合计", "current") + tuple(_cell(data["total"].get(m))
                                                        for m in SUMMARY))
    writer.writerow(("total", "合计", "previous") +
                    tuple(_cell(data["total_before"].get(m)) for m in SUMMARY))
    for topic, both in data["topics"].items():
        for period, f in (("current", both["now"]), ("previous", both["before"])):
            if f is not None:
                writer.writerow(("topic", topic, period) + tuple(_cell(f.get(m))
                                                                 for m in SUMMARY))
    for person, f in data["people"].items():
        writer.writerow(("person", person, "current") + tuple(_cell(f.get(m))
                                                              for m in SUMMARY))
    return buf.getvalue()


def _cell(value: object) -> object:
    return "" if value is None else value


def _show(value: object, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return text + ("%" if unit == "%" else "")


def _delta(now: float | None, before: float | None, unit: str = "") -> str:
    d = measures.change(now, before)
    if d is None:
        return ""
    return (f"+{d:g}" if d > 0 else f"{d:g}") + ("个百分点" if unit == "%" else "")


def chart_png(data: Leadership) -> bytes:
    """Calls by topic, the previous period beside this one (records/chart.py)."""
    groups = [((both["before"] or {}).get("offered", 0), both["now"]["offered"])
              for both in data["topics"].values()]
    return chart.bars(groups)


def _svg_chart(data: Leadership, width: int = 640) -> str:
    """The same chart with its words, inline SVG, for the HTML report."""
    rows = [(t, (b["before"] or {}).get("offered", 0), b["now"]["offered"])
            for t, b in data["topics"].items()]
    peak = max([v for _, p, c in rows for v in (p, c)] + [1])
    bar, gap, label_w = 12, 10, 90
    height = (2 * bar + gap) * len(rows) + 20
    scale = (width - label_w - 50) / peak
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="12" role="img" aria-label="各主题来电">']
    for i, (topic, before, now) in enumerate(rows):
        y0 = 10 + i * (2 * bar + gap)
        out.append(f'<text x="0" y="{y0 + bar + 4}">{i + 1}. {html.escape(topic)}</text>')
        for j, (value, colour) in enumerate(((before, "#bdbdbd"), (now, "#4472c4"))):
            y = y0 + j * bar
            out.append(f'<rect x="{label_w}" y="{y}" width="{value * scale:.1f}" '
                       f'height="{bar - 2}" fill="{colour}"/>')
            out.append(f'<text x="{label_w + value * scale + 4:.1f}" y="{y + bar - 3}">'
                       f'{value}</text>')
    out.append("</svg>")
    return "".join(out)


def leadership_html(data: Leadership, chart_html: str | None = None,
                    limits: Mapping[str, int] | None = None,
                    branches: Table | None = None) -> str:
    """The report as one page: service levels against the previous period with each rule,
    the chart (`chart_html`: the inline SVG by default; the e-mail puts its PNG there), by
    topic, by duty person, the callback list, and the older by-branch table."""
    period = "周报" if data["kind"] == "week" else "月报"
    last = dt.date.fromisoformat(data["end"]) - dt.timedelta(days=1)
    p_last = dt.date.fromisoformat(data["previous"][1]) - dt.timedelta(days=1)
    e = html.escape
    rows = []
    for mid in SUMMARY:
        m = measures.BY_ID[mid]
        now, before = data["total"].get(mid), data["total_before"].get(mid)
        status = m.status(now)
        target = "" if m.target is None else ("≥ " if m.better == "high" else "≤ ") + \
            _show(m.target, m.unit)
        rows.append(f'<tr class="{status}"><th>{e(m.label)}</th><td>{_show(now, m.unit)}</td>'
                    f"<td>{_show(before, m.unit)}</td><td>{_delta(now, before, m.unit)}</td>"
                    f"<td>{e(target)}</td><td class=rule>{e(m.rule)}</td></tr>")
    topic_head = "".join(f"<th>{e(measures.BY_ID[c].label)}</th>" for c in TOPIC_COLUMNS)
    topic_rows = []
    for i, (topic, both) in enumerate(data["topics"].items(), start=1):
        now, before = both["now"], both["before"] or {}
        cells = "".join(
            f"<td>{_show(now.get(c), measures.BY_ID[c].unit)}"
            + (f"<br><small>上期 {_show(before.get(c), measures.BY_ID[c].unit)}</small>"
               if c in ("offered", "cases_opened") else "") + "</td>" for c in TOPIC_COLUMNS)
        topic_rows.append(f"<tr><th>{i}. {e(topic)}</th>{cells}</tr>")
    person_head = "".join(f"<th>{e(measures.BY_ID[c].label)}</th>" for c in PERSON_COLUMNS)
    person_rows = "".join(
        f"<tr><th>{e(person)}</th>" + "".join(
            f"<td>{_show(f.get(c), measures.BY_ID[c].unit)}</td>" for c in PERSON_COLUMNS)
        + "</tr>" for person, f in data["people"].items()) or \
        f'<tr><td colspan="{len(PERSON_COLUMNS) + 1}">（本期无人工接听或负责的案件）</td></tr>'
    total = data["total"]
    callbacks = (f"<p>本期列入回拨名单 {total.get('callbacks', 0)} 个号码，已回拨 "
                 f"{total.get('called_back', 0)} 个；目前仍待回拨 {data['callbacks_open']} 个。"
                 "</p>")
    parts = [
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(data['office'])} {period}</title><style>"
        "body{font-family:sans-serif;max-width:760px;margin:1em auto;padding:0 8px;"
        "color:#222}table{border-collapse:collapse;font-size:13px;margin:.5em 0;width:100%}"
        "td,th{border:1px solid #bbb;padding:3px 5px;text-align:left;vertical-align:top}"
        "th{background:#f3f3f3}.rule{font-size:11px;color:#555}"
        "tr.ok td:nth-child(2){background:#c8e6c9}tr.short td:nth-child(2){"
        "background:#ffcdd2}small{color:#666}.legend span{display:inline-block;width:12px;"
        "height:12px;margin:0 4px 0 10px;vertical-align:middle}</style></head><body>",
        f"<h1>{e(data['office'])} {period}</h1>",
        f"<p>本期：{data['start']} 至 {last}；上期：{data['previous'][0]} 至 {p_last}。</p>",
        "<h2>服务水平</h2><table><tr><th>指标</th><th>本期</th><th>上期</th><th>变化</th>"
        "<th>目标</th><th>口径</th></tr>" + "".join(rows) + "</table>",
        f"<p><b>放弃的计数规则：</b>{e(data['abandon_rule'])}</p>",
        '<h2>各主题来电</h2><p class="legend"><span style="background:#bdbdbd"></span>上期'
        '<span style="background:#4472c4"></span>本期</p>',
        chart_html if chart_html is not None else _svg_chart(data),
        f"<h2>按主题</h2><table><tr><th>主题</th>{topic_head}</tr>{''.join(topic_rows)}"
        "</table>",
        f"<h2>按值班人员</h2><table><tr><th>值班人员</th>{person_head}</tr>{person_rows}"
        "</table>",
        f"<h2>回拨名单</h2>{callbacks}",
    ]
    if branches is not None:
        lines = list(csv.reader(io.StringIO(to_csv(branches))))
        parts.append("<h2>按菜单分类</h2><table>" + "".join(
            "<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in line) + "</tr>"
            for line in lines) + "</table>")
    parts.append(_limits_html(limits))
    parts.append("<p class=rule>各项指标的定义见 records/measures.py；期间按本办公室所在时区"
                 "的自然日计算。</p></body></html>\n")
    return "".join(parts)


def write(office: Office, start: dt.date, end: dt.date, kind: str, preview: bool = False,
          now: float | None = None) -> tuple[str, Path, Path, Leadership, dict[str, Path]]:
    """Write the report under spool/reports: CSV, HTML (with its chart), the chart as PNG
    and the e-mail's HTML (the PNG inline); returns (key, csv path, html path, data).
    A preview (`lawline report` without --publish) gets names of its own: the files of a
    published report belong to its outbox item and are never rewritten."""
    data = leadership(office, start, end, kind, now)
    branches, _ = build(office, start, end)
    limits = limit_figures(office, start, end)
    key = f"report-{kind}-{start}"
    name = f"{key}-preview" if preview else key
    office.reports_dir.mkdir(parents=True, exist_ok=True)
    paths = {"report.csv": office.reports_dir / f"{name}.csv",
             "report.html": office.reports_dir / f"{name}.html",
             "chart.png": office.reports_dir / f"{name}-chart.png",
             "email.html": office.reports_dir / f"{name}-email.html"}
    paths["report.csv"].write_text(leadership_csv(data), encoding="utf-8")
    paths["report.html"].write_text(leadership_html(data, limits=limits, branches=branches),
                                    encoding="utf-8")
    paths["chart.png"].write_bytes(chart_png(data))
    # the mail's body: the same page with the PNG in place of the SVG (sync/mail.py sends
    # chart.png inline as cid:chart.png), without the long by-branch and limits tables
    paths["email.html"].write_text(leadership_html(
        data, chart_html='<p><img src="cid:chart.png" alt="各主题来电（编号同下表）" '
        'width="640" height="280"></p>'), encoding="utf-8")
    return key, paths["report.csv"], paths["report.html"], data, paths


def summary_text(data: Leadership) -> str:
    """The report in a few lines, for the e-mail's text part."""
    t, b = data["total"], data["total_before"]
    period = "周报" if data["kind"] == "week" else "月报"
    last = dt.date.fromisoformat(data["end"]) - dt.timedelta(days=1)
    lines = [f"{data['office']} {period}：{data['start']} 至 {last}",
             f"来电 {t['offered']}（上期 {b['offered']}），人工接听 {t['answered']}，接通率 "
             f"{_show(t['connection_rate'], '%')}（上期 {_show(b['connection_rate'], '%')}），"
             f"15秒接听率 {_show(t['service_level'], '%')}。",
             f"放弃 {t['abandoned']}，短时放弃 {t['short_abandons']} 另计；放弃率 "
             f"{_show(t['abandon_rate'], '%')}。",
             f"新案件 {t['cases_opened']}，办结 {t['cases_closed']}，超期 {t['cases_overdue']}；"
             f"满意率 {_show(t['satisfaction'], '%')}。",
             "主题：" + "，".join(f"{k} {v['now']['offered']}" for k, v in data["topics"].items()),
             "详见附件（HTML、CSV）。"]
    return "\n".join(lines)


def publish(office: Office, start: dt.date, end: dt.date, kind: str,
            now: float | None = None) -> str:
    """Write the report and commit it to the outbox: upstream, and by e-mail with its chart
    to [email] leadership (sync/mail.py)."""
    key, csv_path, html_path, data, paths = write(office, start, end, kind, now=now)
    last = end - dt.timedelta(days=1)
    record = {"office": office.cfg.office.id, "kind": kind, "start": str(start),
              "end": str(end), "figures": build(office, start, end)[0],
              "service": {"now": data["total"], "before": data["total_before"]},
              "topics": data["topics"], "people": data["people"],
              "abandon_rule": data["abandon_rule"],
              "limits_hit": limit_figures(office, start, end),
              "subject": f"【{office.name}】{'周报' if kind == 'week' else '月报'} "
                         f"{start} 至 {last}",
              "summary": summary_text(data)}
    if office.outbox is not None:
        office.outbox.commit(key, "report", record, paths)
        if office.on_upload:
            office.on_upload()
    log.info("report: %s %s..%s written to %s%s", kind, start, last, csv_path.parent,
             " and queued for upstream and the leadership's mail" if office.outbox else "")
    return key


def day_counts(office: Office, day: dt.date) -> dict[str, int]:
    """Figures for the daily summary SMS."""
    table, _ = build(office, day, day + dt.timedelta(days=1))
    total = table["total"]
    overdue = len(office.cases.overdue(time.time()))
    return {"calls": total["calls"], "answered": total["answered"],
            "voicemails": total["voicemails"], "opened": total["cases_opened"],
            "resolved": total["cases_resolved"], "overdue": overdue}
