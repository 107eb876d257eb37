"""The measures leadership asks for, as the centre counts them in SQL over what the boxes
upload.

Each measure is defined once, on the box (lawline.records.measures: its rule, its label, its
target, and the pure functions the box's own weekly and monthly report counts with): the
thresholds, the outcomes that count as abandoned, what "answered" and "asked for a person"
mean and the words the page prints are taken from there, and the SQL below counts the same
calls the same way (tests/test_ingest.py checks the centre's figures against the box's
functions over the same JSON files). Where the national hotline standard (GB/T 33358,
政府热线服务规范) or the 12348 platforms' contracts give a definition or a target, the box's
module follows it (shared reference centre.md).

What the boxes' records cannot give yet is said in `missing` and on the page (the fields are
named in README "The prefecture centre"); the figure is computed from what exists. Records of
boxes from before a field (format 1, or format 2 without it) are counted by the older rule
each SQL expression falls back to.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from lawline.records import measures as box

SHORT_ABANDON_S = box.SHORT_ABANDON_S
ANSWER_WITHIN_S = box.ANSWER_WITHIN_S


@dataclass(frozen=True)
class Measure:
    id: str
    label: str
    rule: str                   # how it is counted, as the page prints it
    unit: str = ""              # "%", "秒", "小时" or "" (a count)
    target: float | None = None
    better: str = "high"        # "high", "low" or "" (no direction: a volume)
    amber: float | None = None  # between amber and target: amber; beyond: red
    missing: str = ""           # what the box's records lack for the standard's definition

    def colour(self, value):
        if value is None or self.target is None:
            return ""
        if self.better == "high":
            return "green" if value >= self.target else \
                "amber" if self.amber is not None and value >= self.amber else "red"
        return "green" if value <= self.target else \
            "amber" if self.amber is not None and value <= self.amber else "red"


# -- calls (table calls: one row per call record, a missed call's too) ----------------------

def _sql_list(values):
    return ", ".join(f"'{v}'" for v in values)


ANSWERED = "(outcome = 'bridged')"                                    # box.answered
# box.wanted_person; a record from before the field: a consultation or urgent call, or one
# that rang duty phones
PERSON = (f"(coalesce(wanted_person, branch IN ('consultation', 'urgent') OR legs > 0) "
          f"OR {ANSWERED})")
GAVE_UP = f"(outcome IN ({_sql_list(box.ABANDONED)}))"               # box.abandoned_any
# box.short_abandon: how long the caller waited where they gave up (a record from before the
# field: the call's duration)
SHORT = f"({GAVE_UP} AND coalesce(abandoned_after_s, duration_s) < {SHORT_ABANDON_S})"

CALL_SQL = {
    "offered": "count(*)",
    "short_abandons": f"count(*) FILTER (WHERE {SHORT})",
    "abandoned": f"count(*) FILTER (WHERE {GAVE_UP} AND NOT coalesce({SHORT}, false))",
    "missed": "count(*) FILTER (WHERE outcome = 'missed')",
    "wanted": f"count(*) FILTER (WHERE {PERSON})",
    "wanted_short": f"count(*) FILTER (WHERE {PERSON} AND {SHORT})",
    "answered": f"count(*) FILTER (WHERE {ANSWERED})",
    "answered_15s": f"count(*) FILTER (WHERE {ANSWERED} AND wait_s <= {ANSWER_WITHIN_S})",
    "wait_p50": f"quantile_cont(wait_s, 0.5) FILTER (WHERE {ANSWERED})",
    "wait_p90": f"quantile_cont(wait_s, 0.9) FILTER (WHERE {ANSWERED})",
    "voicemails": "count(*) FILTER (WHERE voicemail_s IS NOT NULL)",
    "rated": "count(rating) FILTER (WHERE rating BETWEEN 1 AND 5)",
    "satisfied": f"count(*) FILTER (WHERE rating >= {box.SATISFIED_AT} AND rating <= 5)",
    # box.callback_figures: one entry per number and office day on the callback list
    "callbacks": "count(DISTINCT caller || '/' || CAST(started AS DATE)) "
                 "FILTER (WHERE callback = 'listed')",
}
# ... and those of them called back (table callbacks: the box's callback-<day>-<number>-<n>
# items), by the day they were listed
CALLED_BACK = "count(DISTINCT caller || '/' || CAST(listed_day AS VARCHAR))"

# -- cases (table case_facts: one row per case, rebuilt after each ingest) -------------------

CLOSED = f"state IN ({_sql_list(box.CLOSED_STATES)})"

CASE_SQL = {   # over cases opened in the period ("o") or closed in it ("c")
    "opened": ("o", "count(*)"),
    "closed": ("c", "count(*)"),
    "close_p50_h": ("c", "quantile_cont(epoch(closed_at - opened) / 3600.0, 0.5)"),
    "complaints_closed": ("c", "count(*) FILTER (WHERE kind = 'complaint')"),
    "complainants_told": ("c", "count(*) FILTER (WHERE kind = 'complaint' AND informed)"),
}

def _box(id_, better=None, amber=None, missing=""):
    """The box's measure `id_` (its label, rule, unit and target), with the page's colours:
    `amber` is how far past the target a figure is amber rather than red."""
    m = box.BY_ID[id_]
    return Measure(m.id, m.label, m.rule, m.unit, m.target,
                   m.better if better is None else better, amber, missing)


MEASURES = [
    _box("offered"),
    _box("answered"),
    _box("connection_rate", amber=85.0),
    _box("service_level", amber=60.0),
    _box("wait_p50", amber=20.0),
    _box("wait_p90", amber=40.0),
    _box("abandoned"),
    _box("short_abandons"),
    _box("missed"),
    _box("abandon_rate", amber=15.0),
    _box("voicemails"),
    _box("callbacks"),
    _box("called_back"),
    _box("satisfaction", amber=80.0,
         missing="留言和结案后的满意度回访：中心尚不读取案件的回访评分"),
    _box("rated"),
    Measure("opened", "受理案件", "本期新建的案件（咨询、申请服务、紧急、转介、投诉）。",
            better=""),
    Measure("closed", "办结案件", "本期首次办结（已办结或已办结并告知）的案件。", better=""),
    Measure("overdue", "超期案件", "截止时间在本期内、到期时仍未办结的案件；当期另含至今仍超期未"
            "办结的。", "", 0.0, "low", 3.0),
    Measure("close_p50_h", "办结用时中位数", "本期办结案件，从受理到首次办结的小时数中位数。",
            "小时", 72.0, "low", 120.0),
    Measure("complainants_told", "投诉人已告知", "本期办结的投诉中，已告知投诉人结果的件数 ÷ "
            "办结的投诉。", "%", 100.0, "high", 90.0,
            missing="投诉结果告知（caller_informed 对投诉）：设备目前不告知投诉人"),
]
BY_ID = {m.id: m for m in MEASURES}
TABLE_COLUMNS = ("offered", "answered", "connection_rate", "service_level", "wait_p50",
                 "wait_p90", "abandon_rate", "short_abandons", "missed", "called_back",
                 "voicemails", "satisfaction", "opened", "closed", "overdue", "close_p50_h")
TREND_MEASURES = ("offered", "connection_rate", "service_level", "abandon_rate",
                  "satisfaction", "opened", "closed", "overdue")
MISSING_FIELDS = [(m.label, m.missing) for m in MEASURES if m.missing]


def _rate(part, whole):
    return round(100.0 * part / whole, 1) if whole else None


def derive(c):
    """Rates from the counts of CALL_SQL/CASE_SQL (one county, one period)."""
    out = dict(c)
    # box.call_figures: short abandons among the calls for a person are left out
    out["connection_rate"] = _rate(c.get("answered", 0),
                                   c.get("wanted", 0) - c.get("wanted_short", 0))
    out["service_level"] = _rate(c.get("answered_15s", 0), c.get("answered", 0))
    out["abandon_rate"] = _rate(c.get("abandoned", 0),
                                c.get("offered", 0) - c.get("short_abandons", 0))
    out["satisfaction"] = _rate(c.get("satisfied", 0), c.get("rated", 0))
    out["complainants_told"] = _rate(c.get("complainants_told", 0),
                                     c.get("complaints_closed", 0)) \
        if c.get("complaints_closed") else None
    for key in ("wait_p50", "wait_p90", "close_p50_h"):
        if out.get(key) is not None:
            out[key] = round(out[key], 1)
    return out


# -- periods ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    kind: str                   # "week" or "month"
    start: datetime.date
    end: datetime.date          # exclusive

    @classmethod
    def containing(cls, kind, day):
        if kind == "week":
            start = day - datetime.timedelta(days=day.weekday())
            return cls(kind, start, start + datetime.timedelta(days=7))
        start = day.replace(day=1)
        end = (start + datetime.timedelta(days=32)).replace(day=1)
        return cls(kind, start, end)

    def previous(self):
        return Period.containing(self.kind, self.start - datetime.timedelta(days=1))

    def label(self):
        if self.kind == "week":
            last = self.end - datetime.timedelta(days=1)
            return f"{self.start:%Y-%m-%d} 至 {last:%m-%d}（第{self.start.isocalendar()[1]}周）"
        return f"{self.start:%Y年%m月}"

    def back(self, n):
        periods, p = [], self
        for _ in range(n):
            periods.append(p)
            p = p.previous()
        return list(reversed(periods))


def figures(con, period, now, offices=None):
    """{office: {measure id: value}} for `period`; `now` (naive office time) bounds what is
    overdue. `offices`: only these (a county user's)."""
    return figures_many(con, [period], now, offices)[period.start]


def figures_many(con, periods, now, offices=None, total=False):
    """{period start: {office: figures}} for consecutive periods of one kind, one grouped
    query per table (the page's trends cost no more than its table). `total`: the whole
    prefecture as one office, "all"."""
    kind = periods[0].kind
    start = datetime.datetime.combine(periods[0].start, datetime.time())
    end = datetime.datetime.combine(periods[-1].end, datetime.time())
    scope, args = "", []
    if offices is not None:
        scope = " AND office IN (SELECT unnest(?))"
        args = [list(offices)]
    who = "'all'" if total else "office"

    def bucket(column):
        return f"CAST(date_trunc('{kind}', {column}) AS DATE)"
    out = {p.start: {} for p in periods}

    def add(rows, names):
        for row in rows:
            if row[0] in out:
                out[row[0]].setdefault(row[1], {}).update(zip(names, row[2:]))
    cols = ", ".join(f"{sql} AS {name}" for name, sql in CALL_SQL.items())
    add(con.execute(f"SELECT {bucket('started')}, {who}, {cols} FROM calls WHERE started >= ? "
                    f"AND started < ?{scope} GROUP BY 1, 2", [start, end, *args]).fetchall(),
        list(CALL_SQL))
    for which, column in (("o", "opened"), ("c", "closed_at")):
        sqls = {n: q for n, (w, q) in CASE_SQL.items() if w == which}
        cols = ", ".join(f"{q} AS {n}" for n, q in sqls.items())
        add(con.execute(f"SELECT {bucket(column)}, {who}, {cols} FROM case_facts WHERE "
                        f"{column} >= ? AND {column} < ?{scope} GROUP BY 1, 2",
                        [start, end, *args]).fetchall(), list(sqls))
    add(con.execute(f"SELECT {bucket('first_missed')}, {who}, {CALLED_BACK} FROM callbacks "
                    f"WHERE first_missed >= ? AND first_missed < ?{scope} GROUP BY 1, 2",
                    [start, end, *args]).fetchall(), ["called_back"])
    # overdue: due in the period and not closed by then; the period holding `now` also
    # counts every case still open past an earlier due time
    current = next((p for p in periods if p.start <= now.date() < p.end), None)
    rows = con.execute(
        f"SELECT {bucket('due')}, {who}, count(*) FROM case_facts WHERE due >= ? AND due < ? "
        f"AND due < ? AND (closed_at IS NULL OR closed_at > due){scope} GROUP BY 1, 2",
        [start, end, now, *args]).fetchall()
    counted = {(b, o): n for b, o, n in rows}
    if current is not None:
        begin = datetime.datetime.combine(current.start, datetime.time())
        for o, n in con.execute(
                f"SELECT {who}, count(*) FROM case_facts WHERE closed_at IS NULL AND due < ?"
                f"{scope} GROUP BY 1", [begin, *args]).fetchall():
            counted[(current.start, o)] = counted.get((current.start, o), 0) + n
    for (b, o), n in counted.items():
        if b in out:
            out[b].setdefault(o, {})["overdue"] = n
    return {b: {o: derive(v) for o, v in offices_.items()} for b, offices_ in out.items()}


def trend(con, periods, now, office=None, offices=None, total=False):
    """[(period, {office: figures})] for a run of periods (the trend lines)."""
    many = figures_many(con, periods, now, [office] if office else offices, total)
    return [(p, many[p.start]) for p in periods]


def by_kind_topic(con, period, office=None, offices=None):
    """Cases opened and closed, and the median hours to close, per kind and topic."""
    start = datetime.datetime.combine(period.start, datetime.time())
    end = datetime.datetime.combine(period.end, datetime.time())
    scope, args = "", []
    if office:
        scope, args = " AND office = ?", [office]
    elif offices is not None:
        scope, args = " AND office IN (SELECT unnest(?))", [list(offices)]
    return con.execute(
        "SELECT kind, topic, count(*) FILTER (WHERE opened >= ? AND opened < ?) AS opened, "
        "count(*) FILTER (WHERE closed_at >= ? AND closed_at < ?) AS closed, "
        "quantile_cont(epoch(closed_at - opened) / 3600.0, 0.5) FILTER (WHERE closed_at >= ? "
        "AND closed_at < ?) AS p50 FROM case_facts WHERE ((opened >= ? AND opened < ?) OR "
        f"(closed_at >= ? AND closed_at < ?)){scope} GROUP BY kind, topic ORDER BY opened DESC",
        [start, end] * 5 + args).fetchall()


def health(con, now, silent_hours, offices=None):
    """{office: {last_heard, signal_dbm, backlog, oldest_hours, silent}} from the newest
    health report and the newest record of any kind."""
    scope, args = "", []
    if offices is not None:
        scope, args = " WHERE office IN (SELECT unnest(?))", [list(offices)]
    rows = con.execute(f"""
        WITH last_health AS (
            SELECT office, arg_max(signal_dbm, "at") AS signal_dbm, arg_max(backlog, "at")
                   AS backlog, arg_max(oldest_hours, "at") AS oldest_hours, max("at") AS last_at
            FROM health GROUP BY office),
        heard AS (
            SELECT office, max(t) AS last_heard FROM (
                SELECT office, max("at") AS t FROM health GROUP BY office
                UNION ALL SELECT office, max(coalesce(ended, started)) FROM calls
                GROUP BY office) GROUP BY office)
        SELECT h.office, h.last_heard, l.signal_dbm, l.backlog, l.oldest_hours
        FROM heard h LEFT JOIN last_health l USING (office){scope}""", args).fetchall()
    out = {}
    for office, last, signal, backlog, oldest in rows:
        hours = (now - last).total_seconds() / 3600 if last else None
        out[office] = {"last_heard": last, "signal_dbm": signal, "backlog": backlog,
                       "oldest_hours": oldest, "silent_hours": hours,
                       "silent": hours is None or hours > silent_hours}
    return out


def overdue_cases(con, now, offices=None, limit=500):
    """Every open case past its due time, oldest due first, with county and owner."""
    scope, args = "", []
    if offices is not None:
        scope, args = " AND office IN (SELECT unnest(?))", [list(offices)]
    return con.execute(
        f"SELECT office, case_number, kind, topic, opened, due, state, owner, owner_name, "
        f"caller FROM case_facts WHERE NOT ({CLOSED}) AND due < ?{scope} "
        f"ORDER BY due, office, case_number LIMIT ?", [now, *args, limit]).fetchall()


def mask(number):
    """A caller's number as most staff see it: 138****5678 (landlines keep the area code)."""
    number = number or ""
    if len(number) <= 4:
        return "*" * len(number)
    if len(number) >= 11:
        return number[:3] + "*" * (len(number) - 7) + number[-4:]
    return number[:2] + "*" * (len(number) - 4) + number[-2:]
