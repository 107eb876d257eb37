"""The prefecture's page: every county side by side, a county, a case, the overdue list, the
silent boxes, the refused uploads, the reports, accounts and the audit log. Chinese,
Starlette + Jinja2 on uvicorn, HTTPS, like the box's page.

Log-in, sessions, CSRF, roles, lock-out and the audit log are the box's own code, used as a
library: `lawline.web.accounts.Accounts` (web.db in the centre's data folder) and
`lawline.web.app.Web`, whose guard, log-in, log-out and refusal this page inherits; the
box's base and log-in templates and its stylesheet are served as they are. What the centre
adds is the scope: a user sees the whole prefecture ("*") or one county (the box's
[office] id), kept in web.db's table centre_scope; a county user's every query is limited
to that county. Roles are the box's: head (负责人: the coordinator; sees complaints and
callers' full numbers, each showing audited; accounts and the audit log), clerk (文员) and
duty (值班人员), who see numbers masked and no complaints.
"""

from __future__ import annotations

import datetime
import logging
import math
import sqlite3
import threading
from pathlib import Path
from urllib.parse import urlencode

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

import lawline.web as box_web
from lawline.web import fmt as box_fmt
from lawline.web.accounts import ROLES, AccountError, Accounts
from lawline.web.app import COOKIE, HEADERS, Web

from . import measures, records, reports

log = logging.getLogger("lawline.centre")
HERE = Path(__file__).resolve().parent
BOX_WEB = Path(box_web.__file__).resolve().parent
ALL = tuple(ROLES)
# (path, words, roles, shown to county users too)
NAV = (("/", "各县总览", ALL, True), ("/overdue", "超期案件", ALL, True),
       ("/silent", "失联设备", ALL, True), ("/refused", "未能读取", ("head", "clerk"), True),
       ("/reports", "报表", ALL, True), ("/users", "账号", ("head",), True),
       ("/audit", "审计日志", ("head",), True))
KIND_WORDS = {"consultation": "咨询", "service_request": "申请服务", "urgent": "紧急纠纷",
              "referral": "转介", "complaint": "投诉"}
STATE_WORDS = box_fmt.STATE_WORDS
OUTCOME_WORDS = dict(box_fmt.OUTCOME_WORDS, referred="已转介", callback="预约回电",
                     status_told="已告知进度", status_unknown="查询未果", limited="超出限制",
                     spool_full="存储已满", referral_none="无转介部门")


class _NoBox:
    """The box's Web guard asks its box whether its databases were replaced; the centre
    has no box."""
    outbox = None

    def fresh(self):
        return False

    def close(self):
        pass


class Centre(Web):
    """The box's Web (guard, log-in, log-out, refusals) with the centre's data and scope."""

    def __init__(self, cfg, store, now=None):
        self.cfg = cfg
        self.store = store
        self.data_dir = Path(cfg.centre.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.box = _NoBox()
        self.accounts = Accounts(self.data_dir / "web.db", cfg.web.session_minutes,
                                 cfg.web.max_failures, cfg.web.address_failures)
        self.scopes = Scopes(self.data_dir / "web.db")
        self.now = now or (lambda: datetime.datetime.now(records.OFFICE_TZ).replace(
            tzinfo=None))
        self.jinja = Environment(loader=ChoiceLoader([
            FileSystemLoader(str(HERE / "templates")),
            FileSystemLoader(str(BOX_WEB / "templates"))]),
            autoescape=select_autoescape(["html"]))
        self.jinja.globals.update(box_fmt.GLOBALS)
        self.jinja.filters.update(box_fmt.FILTERS)
        self.jinja.globals.update(measures=measures, kind_words=KIND_WORDS,
                                  state_words=STATE_WORDS, outcome_words=OUTCOME_WORDS,
                                  county_name=self.county_name, num=_num, charts=Charts)
        self._lock = threading.Lock()
        self.ingest_state = {"last": None, "error": None}

    def county_name(self, office):
        return self.cfg.counties.get(office, office)

    def render(self, request, template, status=200, **values):
        session = getattr(request.state, "session", None)
        scope = self.scope_of(session) if session is not None else None
        nav = [(href, label) for href, label, roles, wide in NAV
               if session is not None and session.user.role in roles and
               (wide or scope is None)]
        html = self.jinja.get_template(template).render(
            office=self.cfg.centre.name, session=session, nav=nav, path=request.url.path,
            csrf=session.csrf if session else "", roles=ROLES, scope=scope,
            ingest=self.ingest_state, **values)
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    def scope_of(self, session):
        """None: the whole prefecture; else the one county this user sees."""
        county = self.scopes.get(session.user.name)
        return None if county in (None, "*") else county

    def cursor(self):
        return self.store.cursor()


class Scopes:
    """Which county each account sees ('*': all), in the page's web.db beside Accounts."""

    def __init__(self, path):
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS centre_scope(name TEXT PRIMARY KEY, "
                         "county TEXT NOT NULL)")
        self._lock = threading.Lock()

    def set(self, name, county):
        with self._lock:
            self._db.execute("INSERT INTO centre_scope VALUES (?, ?) ON CONFLICT(name) DO "
                             "UPDATE SET county = excluded.county", (name, county))

    def get(self, name):
        with self._lock:
            row = self._db.execute("SELECT county FROM centre_scope WHERE name = ?",
                                   (name,)).fetchone()
        return row[0] if row else None

    def all(self):
        with self._lock:
            return dict(self._db.execute("SELECT name, county FROM centre_scope"))


def _num(value, unit=""):
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:.1f}" if not value.is_integer() or unit else f"{int(value)}"
    else:
        text = str(value)
    return text + ("%" if unit == "%" else "")


# -- charts (inline SVG: no script, no outside host) ---------------------------------------

class Charts:
    @staticmethod
    def bars(items, measure, width=900, height=220):
        """A bar per county (items: [(label, value)]), the target as a line."""
        vals = [v for _, v in items if v is not None]
        top = max(vals + [measure.target or 0, 1])
        n = max(1, len(items))
        bw = (width - 40) / n
        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
                 f'class="chart" role="img" aria-label="{measure.label}">']
        for i, (label, v) in enumerate(items):
            if v is None:
                continue
            h = (height - 30) * v / top
            colour = {"green": "#2e7d32", "amber": "#f9a825", "red": "#c62828"}.get(
                measure.colour(v), "#546e7a")
            parts.append(f'<rect x="{30 + i * bw:.1f}" y="{height - 20 - h:.1f}" '
                         f'width="{max(1, bw - 1):.1f}" height="{h:.1f}" fill="{colour}">'
                         f'<title>{label}: {_num(v, measure.unit)}</title></rect>')
        if measure.target is not None:
            y = height - 20 - (height - 30) * measure.target / top
            parts.append(f'<line x1="30" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" '
                         'stroke="#1d1d1f" stroke-dasharray="4 3"/>'
                         f'<text x="0" y="{y + 4:.1f}" font-size="11">目标</text>')
        parts.append("</svg>")
        return "".join(parts)

    @staticmethod
    def line(points, measure, width=300, height=90):
        """A trend line (points: [(label, value)]), the target dashed."""
        vals = [v for _, v in points if v is not None]
        if not vals:
            return '<p class="muted">无数据</p>'
        low = min(vals + ([measure.target] if measure.target is not None else []))
        high = max(vals + ([measure.target] if measure.target is not None else []))
        low = 0 if low >= 0 else low
        span = (high - low) or 1
        n = len(points)

        def xy(i, v):
            return (34 + i * (width - 70) / max(1, n - 1),
                    height - 14 - (height - 24) * (v - low) / span)
        coords = [xy(i, v) for i, (_, v) in enumerate(points) if v is not None]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
                 f'class="trend" role="img" aria-label="{measure.label}趋势">']
        if measure.target is not None:
            _, y = xy(0, measure.target)
            parts.append(f'<line x1="0" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" '
                         'stroke="#888" stroke-dasharray="3 3"/>')
        parts.append(f'<polyline points="{path}" fill="none" stroke="#7a1f1f" '
                     'stroke-width="2"/>')
        for (x, y), (label, v) in zip(coords, [p for p in points if p[1] is not None]):
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#7a1f1f">'
                         f'<title>{label}: {_num(v, measure.unit)}</title></circle>')
        unit = "%" if measure.unit == "%" else ""
        last = coords[-1], [p for p in points if p[1] is not None][-1][1]
        parts.append(f'<text x="0" y="12" font-size="10" fill="#555">{_num(high, unit)}</text>'
                     f'<text x="0" y="{height - 14}" font-size="10" fill="#555">'
                     f'{_num(low, unit)}</text>'
                     f'<text x="{last[0][0] + 4:.1f}" y="{last[0][1] + 4:.1f}" font-size="11" '
                     f'font-weight="bold">{_num(last[1], unit)}</text>')
        parts.append(f'<text x="34" y="{height - 2}" font-size="10">{points[0][0]}</text>'
                     f'<text x="{width - 36}" y="{height - 2}" font-size="10" '
                     f'text-anchor="end">{points[-1][0]}</text></svg>')
        return "".join(parts)


# -- requests ---------------------------------------------------------------------------------

def _period(request, web):
    kind = request.query_params.get("period", "week")
    kind = kind if kind in ("week", "month") else "week"
    at = request.query_params.get("at")
    try:
        day = datetime.date.fromisoformat(at) if at else web.now().date()
    except ValueError:
        day = web.now().date()
    return measures.Period.containing(kind, day)


async def overview(request, web):
    session = request.state.session
    scope = web.scope_of(session)
    if scope is not None:
        return RedirectResponse(f"/county/{scope}?" + request.url.query, 303)
    period = _period(request, web)

    def work():
        con = web.cursor()
        now = web.now()
        periods = period.back(8)
        many = measures.figures_many(con, periods, now)
        current, previous = many[period.start], many[periods[-2].start]
        health = measures.health(con, now, web.cfg.centre.silent_hours)
        offices = sorted(set(current) | set(previous) | set(health) | set(web.cfg.counties))
        totals = [(p, f.get("all", {})) for p, f in measures.trend(con, periods, now,
                                                                    total=True)]
        return offices, current, previous, health, totals[-1][1], totals
    offices, current, previous, health, total, totals = await run_in_threadpool(work)
    chart_id = request.query_params.get("chart", "connection_rate")
    chart = measures.BY_ID.get(chart_id) or measures.BY_ID["connection_rate"]
    bars = Charts.bars([(web.county_name(o), current.get(o, {}).get(chart.id))
                        for o in offices], chart)
    trends = _trend_svgs([(p, f) for p, f in totals])
    return web.render(request, "overview.html", title="各县总览", period=period,
                      bars=bars, trends=trends,
                      offices=offices, current=current, previous=previous, health=health,
                      total=total, totals=totals, chart=chart,
                      columns=[measures.BY_ID[c] for c in measures.TABLE_COLUMNS],
                      query=lambda **kw: _query(request, **kw))


def _trend_svgs(points):
    """[(measure, svg)] of the trend lines: points are [(period, figures)]."""
    out = []
    for mid in measures.TREND_MEASURES:
        m = measures.BY_ID[mid]
        out.append((m, Charts.line([(p.start.strftime("%m-%d"), f.get(mid))
                                    for p, f in points], m)))
    return out


def _query(request, **changes):
    params = dict(request.query_params)
    params.update({k: v for k, v in changes.items() if v is not None})
    return "?" + urlencode(params)


def _allowed(web, request, office):
    scope = web.scope_of(request.state.session)
    return scope is None or scope == office


async def county(request, web):
    office = request.path_params["office"]
    if not _allowed(web, request, office):
        return web.refuse(request, 403, "您的账号只能查看本县的数据。")
    period = _period(request, web)
    session = request.state.session
    complaints = session.user.sees_complaints

    def work():
        con = web.cursor()
        periods = period.back(12)
        trend = measures.trend(con, periods, web.now(), office=office)
        current, previous = trend[-1][1], trend[-2][1]
        by_kind = measures.by_kind_topic(con, period, office=office)
        health = measures.health(con, web.now(), web.cfg.centre.silent_hours, [office])
        overdue = measures.overdue_cases(con, web.now(), [office], limit=50)
        start = datetime.datetime.combine(period.start, datetime.time())
        end = datetime.datetime.combine(period.end, datetime.time())
        cases = con.execute(
            "SELECT case_number, kind, topic, opened, due, state, owner_name, owner, caller, "
            "closed_at FROM case_facts WHERE office = ? AND opened >= ? AND opened < ? "
            + ("" if complaints else "AND kind <> 'complaint' ")
            + "ORDER BY opened DESC LIMIT 50", [office, start, end]).fetchall()
        calls = con.execute(
            "SELECT started, caller, branch, outcome, wait_s, duration_s, rating, case_number "
            "FROM calls WHERE office = ? AND started >= ? AND started < ? "
            + ("" if complaints else "AND coalesce(branch, '') <> 'complaint' ")
            + "ORDER BY started DESC LIMIT 30", [office, start, end]).fetchall()
        return current, previous, trend, by_kind, health, overdue, cases, calls
    current, previous, trend, by_kind, health, overdue, cases, calls = \
        await run_in_threadpool(work)
    if not complaints:
        overdue = [r for r in overdue if r[2] != "complaint"]
        by_kind = [r for r in by_kind if r[0] != "complaint"]
    trends = _trend_svgs([(p, f.get(office, {})) for p, f in trend])
    return web.render(request, "county.html", title=web.county_name(office), county_id=office,
                      trends=trends,
                      period=period, now_figures=current.get(office, {}),
                      before=previous.get(office, {}), trend=trend, by_kind=by_kind,
                      health=health.get(office), overdue=overdue, cases=cases, calls=calls,
                      mask=measures.mask, query=lambda **kw: _query(request, **kw))


async def case(request, web, reveal=False):
    office, number = request.path_params["office"], request.path_params["number"]
    if not _allowed(web, request, office):
        return web.refuse(request, 403, "您的账号只能查看本县的数据。")
    session = request.state.session

    def work():
        con = web.cursor()
        fact = con.execute("SELECT case_number, kind, topic, opened, due, state, owner_name, "
                           "owner, caller, closed_at, call_id FROM case_facts WHERE office = ? "
                           "AND case_number = ?", [office, number]).fetchone()
        history = con.execute(
            "SELECT \"at\", event, state, owner_name, owner, detail FROM cases_log WHERE "
            "office = ? AND case_number = ? ORDER BY steps, \"at\"", [office, number]).fetchall()
        calls = con.execute(
            "SELECT started, branch, outcome, wait_s, duration_s, rating FROM calls WHERE "
            "office = ? AND (case_number = ? OR call_id = ?) ORDER BY started",
            [office, number, fact[10] if fact else ""]).fetchall()
        return fact, history, calls
    fact, history, calls = await run_in_threadpool(work)
    if fact is None:
        return web.refuse(request, 404, f"{web.county_name(office)}没有案件 {number}。")
    if fact[1] == "complaint" and not session.user.sees_complaints:
        return web.refuse(request, 403, "投诉案件只有负责人可以查看。")
    shown = measures.mask(fact[8])
    if reveal:
        if session.user.role != "head":
            return web.refuse(request, 403, "只有负责人可以查看来电人的完整号码。")
        shown = fact[8]
        web.audit(request, "caller_shown", f"{office}/{number}", "完整号码")
    elif fact[1] == "complaint":
        web.audit(request, "complaint_viewed", f"{office}/{number}")
    return web.render(request, "case.html", title=f"案件 {number}", county_id=office, fact=fact,
                      history=history, calls=calls, shown=shown, revealed=reveal,
                      can_reveal=session.user.role == "head")


async def case_reveal(request, web):
    return await case(request, web, reveal=True)


async def overdue(request, web):
    scope = web.scope_of(request.state.session)
    complaints = request.state.session.user.sees_complaints
    rows = await run_in_threadpool(measures.overdue_cases, web.cursor(), web.now(),
                                   None if scope is None else [scope])
    if not complaints:
        rows = [r for r in rows if r[2] != "complaint"]
    return web.render(request, "overdue.html", title="超期案件", rows=rows, now=web.now(),
                      mask=measures.mask)


async def silent(request, web):
    scope = web.scope_of(request.state.session)
    health = await run_in_threadpool(measures.health, web.cursor(), web.now(),
                                     web.cfg.centre.silent_hours,
                                     None if scope is None else [scope])
    known = set(health) | (set(web.cfg.counties) if scope is None else {scope})
    rows = sorted(((o, health.get(o)) for o in known),
                  key=lambda r: (r[1] or {}).get("last_heard") or datetime.datetime.min)
    return web.render(request, "silent.html", title="失联设备", rows=rows,
                      hours=web.cfg.centre.silent_hours)


async def refused(request, web):
    scope = web.scope_of(request.state.session)
    rows = await run_in_threadpool(lambda: web.cursor().execute(
        "SELECT key, size, reason, seen FROM objects WHERE status = 'refused' AND (? IS NULL "
        "OR office = ?) ORDER BY seen DESC, key LIMIT 500", [scope, scope]).fetchall())
    runs = await run_in_threadpool(lambda: web.cursor().execute(
        "SELECT run, started, full_sweep, listed, new, refused, seconds FROM runs ORDER BY "
        "run DESC LIMIT 20").fetchall())
    return web.render(request, "uploads_refused.html", title="未能读取的上传", rows=rows, runs=runs)


async def reports_page(request, web):
    now = web.now().date()
    week = measures.Period.containing("week", now).previous()
    month = measures.Period.containing("month", now).previous()
    return web.render(request, "reports.html", title="报表", week=week, month=month,
                      mail=bool(web.cfg.mail.host and web.cfg.mail.leadership),
                      notice=request.query_params.get("sent") and "报表已发送。" or "")


async def report_download(request, web):
    kind = request.path_params["kind"]
    if kind not in ("week", "month"):
        return web.refuse(request, 404, "没有这种报表。")
    scope = web.scope_of(request.state.session)
    period = measures.Period.containing(kind, web.now().date()).previous()
    data = await run_in_threadpool(reports.build, web, period, scope)
    web.audit(request, "report_downloaded", f"{kind} {period.start}",
              scope or "prefecture")
    name = f"centre-{kind}-{period.start}.xlsx"
    return Response(data.xlsx, media_type="application/vnd.openxmlformats-officedocument."
                    "spreadsheetml.sheet", headers={**HEADERS, "Content-Disposition":
                                                    f'attachment; filename="{name}"'})


async def report_send(request, web):
    kind = request.state.form.get("kind")
    if kind not in ("week", "month"):
        return web.refuse(request, 400, "没有这种报表。")
    if request.state.session.user.role != "head":
        return web.refuse(request, 403, "只有负责人可以发送报表。")
    period = measures.Period.containing(kind, web.now().date()).previous()
    try:
        await run_in_threadpool(reports.send_report, web, period)
    except reports.MailError as exc:
        return web.refuse(request, 502, f"报表未能发送：{exc}")
    web.audit(request, "report_sent", f"{kind} {period.start}")
    return RedirectResponse("/reports?sent=1", 303)


async def users(request, web):
    notice = error = ""
    if request.method == "POST":
        form = request.state.form
        name, role = str(form.get("name", "")).strip(), str(form.get("role", ""))
        county = str(form.get("county", "*")).strip() or "*"
        try:
            if county != "*" and not records._NAME.fullmatch(county):
                raise AccountError(f"县 {county!r} 不是设备的编号（[office] id）")
            user = await run_in_threadpool(web.accounts.add_user, name, role,
                                           str(form.get("password", "")),
                                           str(form.get("display", "")))
            web.scopes.set(user.name, county)
            web.audit(request, "user_added", user.name, f"{role} {county}")
            notice = f"账号 {user.name} 已建立。"
        except AccountError as exc:
            error = str(exc)
    return web.render(request, "users.html", title="账号", users=web.accounts.users(),
                      scopes=web.scopes.all(), notice=notice, error=error)


async def audit_page(request, web):
    return web.render(request, "audit.html", title="审计日志",
                      entries=web.accounts.audit_entries(), words=box_fmt.ACTION_WORDS)


ROUTES = [
    ("/", overview, ["GET"], ALL),
    ("/county/{office}", county, ["GET"], ALL),
    ("/case/{office}/{number}", case, ["GET"], ALL),
    ("/case/{office}/{number}/reveal", case_reveal, ["POST"], ALL),
    ("/overdue", overdue, ["GET"], ALL),
    ("/silent", silent, ["GET"], ALL),
    ("/refused", refused, ["GET"], ("head", "clerk")),
    ("/reports", reports_page, ["GET"], ALL),
    ("/reports/{kind}.xlsx", report_download, ["GET"], ALL),
    ("/reports/send", report_send, ["POST"], ("head",)),
    ("/users", users, ["GET", "POST"], ("head",)),
    ("/audit", audit_page, ["GET"], ("head",)),
]


def build(cfg, store, now=None):
    web = Centre(cfg, store, now)
    routes = [Route("/login", web.login_get, methods=["GET"]),
              Route("/login", web.login_post, methods=["POST"]),
              Route("/logout", web.logout, methods=["POST"]),
              Mount("/static", StaticFiles(directory=str(BOX_WEB / "static")), name="static"),
              Mount("/centre-static", StaticFiles(directory=str(HERE / "static")),
                    name="centre-static")]
    for path, handler, methods, roles in ROUTES:
        routes.append(Route(path, web.guard(handler, roles), methods=methods))

    async def not_found(request, exc):
        request.state.session = web.accounts.session(request.cookies.get(COOKIE), touch=False)
        return web.render(request, "refused.html", status=404, message="没有这个页面。")

    app = Starlette(routes=routes, exception_handlers={404: not_found})
    app.state.web = web
    return app


__all__ = ["build", "Centre", "Charts", "math"]
