"""The page's application: sessions, CSRF, roles, log-in, and the shared page frame.

Every request goes through `Web.guard`: the session cookie (random token, Secure, HttpOnly,
SameSite=Strict) must name a live session, the user's role must be allowed on the page, and
every POST must carry the session's CSRF token (and, when the browser sends one, an Origin
of this page). A POST whose session ran out mid-form is not carried out: the log-in page says
so in Chinese and shows back what was typed, so nothing is lost silently.
"""

import hmac
import logging
import secrets
from pathlib import Path
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .accounts import ROLES, Accounts
from .boxdata import BoxData
from . import fmt

log = logging.getLogger("lawline.web")

HERE = Path(__file__).resolve().parent
COOKIE = "lawline_session"
LOGIN_COOKIE = "lawline_login"
ALL = tuple(ROLES)
HEADERS = {
    # Everything the page needs is its own: no inline script, no outside host.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
KEPT = {"note": "办理结果", "mobile": "指派给（手机）", "name": "用户名", "display": "姓名",
        "role": "角色"}
NAV = (("/", "状态", ALL), ("/cases", "案件", ALL), ("/voicemails", "留言", ALL),
       ("/duty", "值班", ALL), ("/calls", "通话记录", ALL), ("/reports", "报表", ALL),
       ("/settings", "设置", ("head", "clerk")), ("/users", "账号", ("head",)),
       ("/audit", "审计日志", ("head",)))


def client_address(request):
    return request.client.host if request.client else "-"


class Web:
    def __init__(self, cfg, data_dir):
        self.cfg = cfg
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.box = BoxData(cfg)
        self.accounts = Accounts(self.data_dir / "web.db", cfg.web.session_minutes,
                                 cfg.web.max_failures, cfg.web.address_failures,
                                 outbox=self.box.outbox, office_id=cfg.office.id)
        self.accounts.forward()
        self.jinja = Environment(loader=FileSystemLoader(str(HERE / "templates")),
                                 autoescape=select_autoescape(["html"]))
        self.jinja.globals.update(fmt.GLOBALS)
        self.jinja.filters.update(fmt.FILTERS)

    # -- rendering ----------------------------------------------------------------------

    def render(self, request, template, status=200, **values):
        session = getattr(request.state, "session", None)
        nav = [(href, label) for href, label, roles in NAV
               if session is not None and session.user.role in roles]
        html = self.jinja.get_template(template).render(
            office=self.cfg.office.name, session=session, nav=nav, path=request.url.path,
            csrf=session.csrf if session else "", roles=ROLES, **values)
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    def refuse(self, request, status, message):
        log.info("web: %s %s refused (%d): %s", request.method, request.url.path, status,
                 message)
        return self.render(request, "refused.html", status=status, message=message)

    def audit(self, request, action, target="", detail=""):
        session = request.state.session
        self.accounts.audit(session.user.name, session.user.role, client_address(request),
                            action, target, detail)

    # -- the guard ------------------------------------------------------------------------

    def guard(self, handler, roles=ALL):
        async def endpoint(request):
            request.state.session = None
            if self.box.fresh():
                self.accounts.outbox = self.box.outbox
            session = self.accounts.session(request.cookies.get(COOKIE))
            if session is None:
                if request.method == "POST":
                    form = await request.form()
                    # what the person typed, in words; never a password or a token
                    kept = {KEPT[k]: v for k, v in form.items()
                            if k in KEPT and isinstance(v, str) and v.strip()}
                    log.info("web: POST %s from %s after the session ended; not done",
                             request.url.path, client_address(request))
                    return self.login_page(request, status=401, expired=True, kept=kept,
                                           next_url=_referer_path(request))
                return RedirectResponse(f"/login?next={quote(str(request.url.path))}", 303)
            request.state.session = session
            if request.method == "POST":
                form = await request.form()
                token = form.get("csrf")
                if not isinstance(token, str) or not hmac.compare_digest(token, session.csrf):
                    return self.refuse(request, 403, "表单缺少有效的安全校验码（CSRF），操作未执行。"
                                       "请回到页面刷新后重试。")
                if not self._same_origin(request):
                    return self.refuse(request, 403, "表单来自其他网站，操作未执行。")
                request.state.form = form
            if session.user.role not in roles:
                return self.refuse(request, 403, f"您的角色（{ROLES[session.user.role]}）"
                                   "无权查看此页面。")
            return await handler(request, self)
        return endpoint

    def _same_origin(self, request):
        origin = request.headers.get("origin")
        if not origin or origin == "null":
            return origin is None
        return urlsplit(origin).netloc == request.headers.get("host")

    # -- logging in -----------------------------------------------------------------------

    def login_page(self, request, status=200, error="", expired=False, kept=None,
                   next_url="/"):
        nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(16)
        response = self.render(request, "login.html", status=status, error=error,
                               expired=expired, kept=kept or {}, next_url=next_url,
                               login_csrf=nonce)
        response.set_cookie(LOGIN_COOKIE, nonce, httponly=True, secure=True, samesite="strict")
        return response

    async def login_get(self, request):
        request.state.session = None
        return self.login_page(request, next_url=_safe_next(request.query_params.get("next")))

    async def login_post(self, request):
        request.state.session = None
        form = await request.form()
        next_url = _safe_next(form.get("next"))
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        if not nonce or not hmac.compare_digest(str(form.get("csrf", "")), nonce):
            return self.login_page(request, 403, "登录表单已失效（缺少安全校验码），请重新输入。",
                                   next_url=next_url)
        name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
        address = client_address(request)
        token, why = await run_in_threadpool(self.accounts.login, name, password, address)
        if token is None:
            error = {"address": "此地址登录失败次数过多，请10分钟后再试。",
                     "locked": "账号已锁定（密码连续错误）。请联系负责人解锁。",
                     "wrong": "用户名或密码错误。"}[why]
            return self.login_page(request, 401 if why == "wrong" else 429 if
                                   why == "address" else 423, error, next_url=next_url)
        response = RedirectResponse(next_url, 303)
        response.set_cookie(COOKIE, token, httponly=True, secure=True, samesite="strict")
        response.delete_cookie(LOGIN_COOKIE)
        return response

    async def logout(self, request):
        token = request.cookies.get(COOKIE)
        session = self.accounts.session(token, touch=False)
        if session is not None:
            form = await request.form()
            if not hmac.compare_digest(str(form.get("csrf", "")), session.csrf):
                request.state.session = session
                return self.refuse(request, 403, "表单缺少有效的安全校验码（CSRF），操作未执行。")
            self.accounts.audit(session.user.name, session.user.role, client_address(request),
                                "logout", session.user.name)
            self.accounts.logout(token)
        response = RedirectResponse("/login", 303)
        response.delete_cookie(COOKIE)
        return response


def _safe_next(value):
    value = str(value or "/")
    # only a path of this page: "//host" and "/\host" would leave it
    return value if value.startswith("/") and value[1:2] not in ("/", "\\") else "/"


def _referer_path(request):
    ref = request.headers.get("referer", "")
    parts = urlsplit(ref)
    if parts.netloc and parts.netloc != request.headers.get("host"):
        return "/"
    return _safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))


def build(cfg, data_dir):
    """The Starlette application for `cfg`; its Web object is app.state.web."""
    from . import pages, officepages
    web = Web(cfg, data_dir)
    routes = [Route("/login", web.login_get, methods=["GET"]),
              Route("/login", web.login_post, methods=["POST"]),
              Route("/logout", web.logout, methods=["POST"]),
              Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")]
    for path, handler, methods, roles in pages.ROUTES + officepages.ROUTES:
        routes.append(Route(path, web.guard(handler, roles), methods=methods))

    async def not_found(request, exc):
        request.state.session = web.accounts.session(request.cookies.get(COOKIE), touch=False)
        return web.render(request, "refused.html", status=404, message="没有这个页面。")

    app = Starlette(routes=routes, exception_handlers={404: not_found})
    app.state.web = web
    return app
