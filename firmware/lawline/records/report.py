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

Output: a CSV (one row per category plus a total) and a one-page HTML file with inline SVG
bars, readable in any browser without a spreadsheet; matplotlib would be 50 MB on a Pi for
two bar charts. Both go upstream through the outbox as a "report" item.
"""

import csv
import datetime as dt
import html
import io
import json
import logging
import sqlite3
import statistics
import time
from pathlib import Path

from .limits import NAMES as LIMIT_WORDS
from .messages import KIND_WORDS

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


def last_week(today):
    """(Monday, next Monday) of the last complete week before `today`."""
    monday = today - dt.timedelta(days=today.weekday())
    return monday - dt.timedelta(days=7), monday


def last_month(today):
    first = today.replace(day=1)
    prev = (first - dt.timedelta(days=1)).replace(day=1)
    return prev, first


def _ts(day):
    return dt.datetime.combine(day, dt.time()).timestamp()


def _started(record):
    try:
        return dt.datetime.strptime(record["started"], "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except (KeyError, TypeError, ValueError):
        return None


def call_records(outbox_db, start, end):
    """Call records whose call started in [start, end) (dates, local time)."""
    path = Path(outbox_db)
    if not path.exists():
        return []
    lo, hi = _ts(start), _ts(end)
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


def figures(calls, cases, start, end, alert_at_or_below=2, now=None):
    """{category: {column: value}} plus a "total" row. A case is overdue when it was
    resolved after its due time, or is still open past it (by the period's end, or now
    for a period that has not ended yet)."""
    hi = _ts(end)
    until = min(hi, now or time.time())
    def empty():
        return {"calls": 0, "answered": 0, "abandoned": 0, "voicemails": 0, "_waits": [],
                "cases_opened": 0, "cases_resolved": 0, "cases_overdue": 0, "_ratings": []}
    rows = {c: empty() for c in CATEGORIES}
    for record in calls:
        category = record.get("branch") or "none"
        row = rows.setdefault(category, empty())
        row["calls"] += 1
        if record.get("outcome") == "bridged":
            row["answered"] += 1
            if record.get("seconds_to_person") is not None:
                row["_waits"].append(float(record["seconds_to_person"]))
        elif record.get("outcome") == "abandoned":
            row["abandoned"] += 1
        if record.get("voicemail"):
            row["voicemails"] += 1
        if record.get("rating"):
            row["_ratings"].append(int(record["rating"]))
    by_kind = {kind: cat for cat, kind in CASE_KIND.items() if cat != "after_hours"}
    lo = _ts(start)
    for case in cases:
        row = rows[by_kind.get(case.kind, "none")]
        if lo <= case.opened < hi:
            row["cases_opened"] += 1
            late = case.due is not None and ((case.resolved or until) > case.due)
            if late:
                row["cases_overdue"] += 1
        if case.resolved and lo <= case.resolved < hi:
            row["cases_resolved"] += 1
    total = {k: 0 for k in ("calls", "answered", "abandoned", "voicemails", "cases_opened",
                            "cases_resolved", "cases_overdue")}
    total["_waits"], total["_ratings"] = [], []
    out = {}
    for category, row in rows.items():
        for key in total:
            total[key] += row[key]
        out[category] = _finish(row, alert_at_or_below)
    out["total"] = _finish(total, alert_at_or_below)
    return out


def _finish(row, low):
    waits, ratings = row["_waits"], row["_ratings"]
    out = {k: v for k, v in row.items() if not k.startswith("_")}
    out["median_answer_s"] = round(statistics.median(waits), 1) if waits else ""
    out["ratings"] = len(ratings)
    out["mean_rating"] = round(sum(ratings) / len(ratings), 2) if ratings else ""
    out["low_ratings"] = sum(1 for r in ratings if r <= low)
    return out


def to_csv(table):
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


def _bars(title, table, series, width=640):
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


def limit_figures(office, start, end):
    """{limit: times hit} in [start, end) (dates), every limit named, 0 when not hit."""
    limits = getattr(office, "limits", None)
    hits = limits.hits(_ts(start), _ts(end)) if limits is not None else {}
    return {what: hits.get(what, 0) for what in LIMIT_WORDS} | \
        {what: n for what, n in hits.items() if what not in LIMIT_WORDS}


def _limits_html(limits):
    if limits is None:
        return ""
    rows = "".join(f"<tr><td>{html.escape(what)}</td><td>"
                   f"{html.escape(LIMIT_WORDS.get(what, what))}</td><td>{n}</td></tr>"
                   for what, n in limits.items())
    return f"<h2>滥用限制触发次数</h2><table><tr><td>limit</td><td>说明</td><td>次数</td></tr>" \
           f"{rows}</table>"


def to_html(table, office, start, end, kind, limits=None):
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


def build(office, start, end):
    calls = call_records(office.cases.db_path.parent / "outbox.db", start, end)
    cases = office.cases.list(since=_ts(start) - 366 * 86400)
    return figures(calls, cases, start, end, office.cfg.survey.alert_at_or_below), len(calls)


def write(office, start, end, kind, preview=False):
    """Write CSV and HTML under spool/reports; returns (key, csv path, html path, table).
    A preview (`lawline report` without --publish) gets names of its own: the files of a
    published report belong to its outbox item and are never rewritten."""
    table, ncalls = build(office, start, end)
    key = f"report-{kind}-{start}"
    name = f"{key}-preview" if preview else key
    office.reports_dir.mkdir(parents=True, exist_ok=True)
    csv_path = office.reports_dir / f"{name}.csv"
    html_path = office.reports_dir / f"{name}.html"
    csv_path.write_text(to_csv(table), encoding="utf-8")
    html_path.write_text(to_html(table, office.name, start, end, kind,
                                 limit_figures(office, start, end)), encoding="utf-8")
    return key, csv_path, html_path, table


def publish(office, start, end, kind):
    """Write the report and commit it to the outbox for upstream."""
    key, csv_path, html_path, table = write(office, start, end, kind)
    record = {"office": office.cfg.office.id, "kind": kind, "start": str(start),
              "end": str(end), "figures": table,
              "limits_hit": limit_figures(office, start, end)}
    if office.outbox is not None:
        office.outbox.commit(key, "report", record, {"report.csv": csv_path,
                                                     "report.html": html_path})
        if office.on_upload:
            office.on_upload()
    log.info("report: %s %s..%s written to %s%s", kind, start, end - dt.timedelta(days=1),
             csv_path.parent, " and queued for upstream" if office.outbox else "")
    return key


def day_counts(office, day):
    """Figures for the daily summary SMS."""
    table, _ = build(office, day, day + dt.timedelta(days=1))
    total = table["total"]
    overdue = len(office.cases.overdue(time.time()))
    return {"calls": total["calls"], "answered": total["answered"],
            "voicemails": total["voicemails"], "opened": total["cases_opened"],
            "resolved": total["cases_resolved"], "overdue": overdue}
