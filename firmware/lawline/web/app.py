"""The page's application: sessions, CSRF, roles, log-in, and the shared page frame.

Every request goes through `Web.guard`, and in this order, before a byte of a body is read:
the session cookie (random token, Secure, HttpOnly, SameSite=Strict) must name a live session;
a POST must come from this page (Origin, when the browser sends one) and carry the session's
CSRF token in its URL (the forms put it in their action: `?csrf=...`); the user's role must
be allowed on the page; the query string must be one the page understands (query.py: 400 in
Chinese otherwise). Only then is the form read, within the page's cap (body.py: 413 past it,
nothing written to disk). Why the token rides in the URL and not in a hidden field: it must
be checked before the body is read, and a plain HTML form (the page has no script) can set
its action but no header. The URL of a POST is not kept in history (the answer is a redirect
or a page the browser does not bookmark), is sent to no other site (Referrer-Policy
same-origin, and the page links nowhere else), and is not logged (no access log; the page's
own log lines name the path only); the token is worth nothing without the session cookie.

A POST whose session ran out mid-form is not carried out: when its CSRF token is the ended
session's own (accounts.ended_session), the log-in page says so in Chinese and shows back what
was typed, so nothing is lost silently; a stranger's POST is never read.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..phone import national
from . import body, fmt, lockout, query
from .accounts import ROLES, Accounts
from .boxdata import BoxData
from .listening import Listenings

if TYPE_CHECKING:
    from ..config import Config

log = logging.getLogger("lawline.web")

HERE = Path(__file__).resolve().parent
COOKIE = "lawline_session"
LOGIN_COOKIE = "lawline_login"
DEVICE_COOKIE = "lawline_device"
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
       ("/duty", "值班", ALL), ("/calls", "通话记录", ALL), ("/callbacks", "回拨", ALL),
       ("/reports", "报表", ALL),
       ("/settings", "设置", ("head", "clerk")), ("/users", "账号", ("head",)),
       ("/audit", "审计日志", ("head",)))
CSRF_DETAIL = "the form's CSRF token (?csrf= in its action URL) is missing or not this session's"
LOGIN_QUERY: query.Spec = {"next": (query.Path("登录后返回的页面"), "/")}


# A page: its request and the Web it belongs to, to its answer.
Handler = Callable[[Request, "Web"], Awaitable[Response]]
H = TypeVar("H", bound=Handler)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "-"


def takes(**spec: tuple[query.Kind, Any]) -> Callable[[H], H]:
    """A page's query parameters: name=(kind, default), kinds from query.py."""
    def mark(handler: H) -> H:
        setattr(handler, "query", spec)             # read back by Web.guard
        return handler
    return mark


def form(cap: int = body.FORM_CAP, files: bool = False) -> Callable[[H], H]:
    """A POST page's body cap (bytes) and whether a file may come with it."""
    def mark(handler: H) -> H:
        setattr(handler, "body_cap", cap)           # read back by Web.guard
        setattr(handler, "files", files)
        return handler
    return mark


class Web:
    def __init__(self, cfg: Config, data_dir: str | Path) -> None:
        self.cfg = cfg
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._people: tuple[float, dict[str, str]] | None = None
        self.box = BoxData(cfg, accounts_people=self._account_people)
        self.accounts = Accounts(self.data_dir / "web.db", cfg.web.session_minutes,
                                 cfg.web.max_failures, cfg.web.address_failures,
                                 outbox=self.box.outbox, office_id=cfg.office.id,
                                 head_mobile=cfg.office.head_mobile, sms=self._sms,
                                 office_name=cfg.office.name)
        self.accounts.forward()
        self.formats = fmt.Formats(cfg.office.timezone)
        self.listenings = Listenings()
        self.jinja = Environment(loader=FileSystemLoader(str(HERE / "templates")),
                                 autoescape=select_autoescape(["html"]))
        self.jinja.globals.update(fmt.GLOBALS)
        # the roles that may play bridged calls' recordings (issue 17.10: [recording] play_roles)
        self.jinja.globals["recording_roles"] = tuple(cfg.recording.play_roles)
        self.jinja.filters.update(self.formats.filters())

    def _account_people(self) -> dict[str, str]:
        """{national mobile: name} of the page's accounts (names for numbers off the rota)."""
        now = self.accounts.clock()
        if self._people is None or now - self._people[0] > 5:    # one read per page, not row
            self._people = (now, {national(u.mobile): u.label for u in self.accounts.users()
                                  if u.mobile and national(u.mobile)})
        return self._people[1]

    def _sms(self, number: str, text: str) -> None:
        """An unlock code for the office head, through the box's own SMS queue (the box's
        sender takes it from cases.db within its poll interval)."""
        self.box.office.sms.queue(number, text, "web unlock code")

    # -- rendering ----------------------------------------------------------------------

    def render(self, request: Request, template: str, status: int = 200,
               **values: Any) -> HTMLResponse:
        session = getattr(request.state, "session", None)
        nav = [(href, label) for href, label, roles in NAV
               if session is not None and session.user.role in roles]
        csrf = session.csrf if session else ""

        def post(path: str) -> str:
            """A form's action: the path with the session's CSRF token in it."""
            return f"{path}?{urlencode({'csrf': csrf})}"
        html = self.jinja.get_template(template).render(
            office=self.cfg.office.name, session=session, nav=nav, path=request.url.path,
            csrf=csrf, post=post, roles=ROLES, names=self.box.names, **values)
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    def refuse(self, request: Request, status: int, message: str,
               detail: str = "") -> HTMLResponse:
        log.info("web: %s %s refused (%d): %s", request.method, request.url.path, status,
                 message)
        return self.render(request, "refused.html", status=status, message=message,
                           detail=detail)

    def audit(self, request: Request, action: str, target: object = "",
              detail: object = "") -> None:
        session = request.state.session
        self.accounts.audit(session.user.name, session.user.role, client_address(request),
                            action, target, detail)

    # -- the guard ------------------------------------------------------------------------

    def guard(self, handler: Handler,
              roles: Sequence[str] = ALL) -> Callable[[Request], Awaitable[Response]]:
        spec = getattr(handler, "query", {})
        cap = getattr(handler, "body_cap", body.FORM_CAP)
        files = getattr(handler, "files", False)

        async def endpoint(request: Request) -> Response:
            request.state.session = None
            if self.box.fresh():
                self.accounts.outbox = self.box.outbox
            session = self.accounts.session(request.cookies.get(COOKIE))
            if session is None:
                if request.method == "POST":
                    return await self._ended(request)
                return RedirectResponse(f"/login?next={quote(str(request.url.path))}", 303)
            request.state.session = session
            if request.method == "POST":
                if not self._same_origin(request):
                    return self.refuse(request, 403, "表单来自其他网站，操作未执行。")
                if not _token_matches(request, session.csrf):
                    return self.refuse(request, 403, "表单缺少有效的安全校验码，操作未执行。"
                                       "请回到页面刷新后重试。", detail=CSRF_DETAIL)
            if session.user.role not in roles:
                return self.refuse(request, 403, f"您的角色（{ROLES[session.user.role]}）"
                                   "无权查看此页面。")
            try:
                request.state.query = query.parse(request.query_params.multi_items(), spec)
                if request.method == "POST":
                    refused = await self._read_form(request, cap, files)
                    if refused is not None:
                        return refused
                return await handler(request, self)
            except query.QueryError as exc:      # from parse, or a page's own check (span)
                shown = [(k, v[:60]) for k, v in request.query_params.multi_items()
                         if k != "csrf"][:8]            # never the token in the log
                log.info("web: %s %s: bad query %r: %s", request.method, request.url.path,
                         shown, exc)
                return self.refuse(request, 400, f"{exc} 请返回上一页重新选择。")
        setattr(endpoint, "handler", handler)
        return endpoint

    async def _read_form(self, request: Request, cap: int,
                         files: bool) -> HTMLResponse | None:
        """Put the form in request.state.form, or return the refusal (413, 400)."""
        try:
            request.state.form = await body.form(request.headers, request.receive, cap, files)
        except body.TooLarge as exc:
            log.warning("web: %s %s from %s: body over its cap of %d bytes (%s); not read",
                        request.method, request.url.path, client_address(request), cap,
                        exc.seen if exc.seen is not None else "?")
            # A person of this page (session and token checked): the server throws the rest
            # of the body away as it comes (never kept) and the answer reaches the browser;
            # closing now would reset the connection under a browser still sending, and
            # show the clerk a network error instead of the 413 page.
            request.state.drain = True
            limit = f"{cap // 1024 // 1024} MB" if cap >= 1024 * 1024 else f"{cap // 1024} KB"
            return self.refuse(request, 413, f"提交的内容太大（最多 {limit}），操作未执行。",
                               detail=str(exc))
        except body.BadForm as exc:
            return self.refuse(request, 400, "提交的表单无法读取，操作未执行。请回到页面重试。",
                               detail=str(exc))
        return None

    async def _ended(self, request: Request) -> HTMLResponse:
        """A POST without a live session: the log-in page. What was typed is shown back only
        when the form carries the CSRF token of the session that just ended (a person whose
        session ran out, not a stranger: a stranger's body is never read)."""
        ended = self.accounts.ended_session(request.cookies.get(COOKIE))
        kept = {}
        if ended is not None and self._same_origin(request) and \
                _token_matches(request, ended.csrf):
            try:
                typed = await body.form(request.headers, request.receive, body.EXPIRED_CAP)
            except (body.TooLarge, body.BadForm):
                typed = FormData()
            # what the person typed, in words; never a password or a token
            kept = {KEPT[k]: v for k, v in typed.items()
                    if k in KEPT and isinstance(v, str) and v.strip()}
        log.info("web: POST %s from %s without a live session (%s); not done",
                 request.url.path, client_address(request),
                 "it ended" if ended else "none")
        return self.login_page(request, status=401, expired=True, kept=kept,
                               next_url=_referer_path(request))

    def _same_origin(self, request: Request) -> bool:
        origin = request.headers.get("origin")
        if not origin or origin == "null":
            return origin is None
        return urlsplit(origin).netloc == request.headers.get("host")

    # -- logging in -----------------------------------------------------------------------

    def login_page(self, request: Request, status: int = 200, error: str = "",
                   expired: bool = False, kept: dict[str, str] | None = None,
                   next_url: str = "/", name: str = "", locked: bool = False,
                   code_sent: bool = False) -> HTMLResponse:
        nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(16)
        if len(nonce) > 64:
            nonce = secrets.token_urlsafe(16)
        response = self.render(request, "login.html", status=status, error=error,
                               expired=expired, kept=kept or {}, next_url=next_url,
                               action="/login?" + urlencode({"csrf": nonce}), name=name,
                               locked=locked, code_sent=code_sent)
        response.set_cookie(LOGIN_COOKIE, nonce, httponly=True, secure=True, samesite="strict")
        return response

    async def login_get(self, request: Request) -> HTMLResponse:
        request.state.session = None
        try:
            q = query.parse(request.query_params.multi_items(), LOGIN_QUERY)
        except query.QueryError:
            q = {"next": "/"}
        return self.login_page(request, next_url=q["next"])

    async def login_post(self, request: Request) -> Response:
        """The one form a stranger may send: its nonce (in the URL, against the log-in
        cookie) and origin are checked, and the body is read, at most 2 KB of it."""
        request.state.session = None
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        if not nonce or not _token_matches(request, nonce) or not self._same_origin(request):
            return self.login_page(request, 403, "登录表单已失效（缺少安全校验码），请重新输入。")
        try:
            typed = await body.form(request.headers, request.receive, body.LOGIN_CAP)
        except body.TooLarge:
            log.warning("web: log-in from %s over %d bytes; not read", client_address(request),
                        body.LOGIN_CAP)
            return self.login_page(request, 413, "提交的内容太长，请重新输入用户名和密码。")
        except body.BadForm:
            return self.login_page(request, 400, "登录表单无法读取，请重新输入。")
        try:
            next_url = query.Path("")(str(typed.get("next") or "/"))
        except query.QueryError:
            next_url = "/"
        name, password = str(typed.get("name", "")).strip(), str(typed.get("password", ""))
        address = client_address(request)
        if typed.get("want") == "code":
            await run_in_threadpool(self.accounts.request_unlock_code, name, password, address)
            return self.login_page(request, 200, next_url=next_url, name=name, locked=True,
                                   code_sent=True)
        devices = request.cookies.get(DEVICE_COOKIE, "").split(".")
        code = str(typed.get("code", "")).strip() or None
        token, why = await run_in_threadpool(self.accounts.login, name, password, address,
                                             devices, code)
        if token is None:
            assert why is not None          # login gives no token only with its reason
            return self._login_refused(request, why, name, address, next_url)
        response = RedirectResponse(next_url, 303)
        response.set_cookie(COOKIE, token, httponly=True, secure=True, samesite="strict")
        response.delete_cookie(LOGIN_COOKIE)
        if not self.accounts.knows_device(name, devices):
            kept = [self.accounts.remember_device(name)] + [d for d in devices if d]
            response.set_cookie(DEVICE_COOKIE, ".".join(kept[:5]), max_age=180 * 86400,
                                path="/login", httponly=True, secure=True, samesite="strict")
        return response

    def _login_refused(self, request: Request, why: str, name: str, address: str,
                       next_url: str) -> HTMLResponse:
        now = self.accounts.clock()
        if why == "address":
            until = self.accounts.address_locked_until(address) or now
            return self.login_page(request, 429, "这台电脑登录失败次数过多，请在 "
                                   f"{lockout.minutes_left(until, now)} 分钟后再试。",
                                   next_url=next_url, name=name)
        if why in ("locked", "code"):
            until = self.accounts.locked_until(name) or now
            error = (f"该账号因连续输错密码暂时锁定，请在 {lockout.minutes_left(until, now)} "
                     "分钟后再试，或请负责人在“账号”页解锁。在您以前登录过的浏览器上不受此限制。")
            if why == "code":
                error = "短信解锁码不对或已过期（15分钟内有效）。" + error
            return self.login_page(request, 423, error, next_url=next_url, name=name,
                                   locked=True)
        return self.login_page(request, 401, "用户名或密码错误。", next_url=next_url, name=name)

    async def logout(self, request: Request) -> Response:
        token = request.cookies.get(COOKIE)
        session = self.accounts.session(token, touch=False)
        if session is not None:
            if not _token_matches(request, session.csrf):
                request.state.session = session
                return self.refuse(request, 403, "表单缺少有效的安全校验码，操作未执行。",
                                   detail=CSRF_DETAIL)
            self.accounts.audit(session.user.name, session.user.role, client_address(request),
                                "logout", session.user.name)
            assert token is not None        # the session was found by it
            self.accounts.logout(token)
        response = RedirectResponse("/login", 303)
        response.delete_cookie(COOKIE)
        return response


def _token_matches(request: Request, expected: str) -> bool:
    """The CSRF token of a POST, from its URL (`?csrf=`) or an X-CSRF-Token header."""
    got = request.query_params.get("csrf") or request.headers.get("x-csrf-token") or ""
    return bool(expected) and hmac.compare_digest(got.encode(), expected.encode())


def _referer_path(request: Request) -> str:
    ref = request.headers.get("referer", "")
    parts = urlsplit(ref)
    if parts.netloc and parts.netloc != request.headers.get("host"):
        return "/"
    try:
        return query.Path("")(parts.path + (f"?{parts.query}" if parts.query else ""))
    except query.QueryError:
        return "/"


def build(cfg: Config, data_dir: str | Path) -> Starlette:
    """The Starlette application for `cfg`; its Web object is app.state.web."""
    from . import dutypages, pages, officepages
    web = Web(cfg, data_dir)
    routes = [Route("/login", web.login_get, methods=["GET"]),
              Route("/login", web.login_post, methods=["POST"]),
              Route("/logout", web.logout, methods=["POST"]),
              Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")]
    for path, handler, methods, roles in \
            dutypages.ROUTES + pages.ROUTES + officepages.ROUTES:     # duties' first
        routes.append(Route(path, web.guard(handler, roles), methods=methods))

    async def not_found(request: Request, exc: Exception) -> Response:
        request.state.session = web.accounts.session(request.cookies.get(COOKIE), touch=False)
        return web.render(request, "refused.html", status=404, message="没有这个页面。")

    async def not_allowed(request: Request, exc: Exception) -> Response:
        request.state.session = web.accounts.session(request.cookies.get(COOKIE), touch=False)
        return web.render(request, "refused.html", status=405, message="此页面不能这样打开。")

    async def broken(request: Request, exc: Exception) -> Response:
        # a fault of the page itself, never a person's mistake: said in Chinese, logged whole
        log.error("web: %s %s failed", request.method, request.url.path, exc_info=exc)
        request.state.session = None
        return web.render(request, "refused.html", status=500, message=(
            "页面出错，操作可能没有完成。请稍后重试；如果再次出现，请告诉技术人员（详情在设备日志中）。"))

    app = Starlette(routes=routes, middleware=[Middleware(body.CloseUnread)],
                    exception_handlers={404: not_found, 405: not_allowed, 500: broken})
    app.state.web = web
    return app
