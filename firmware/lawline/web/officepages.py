"""The office's pages: the duty rota (with upload and download), reports, settings, and
for the office head the accounts and the audit log.

A rota upload is checked whole by duty/roster.load_file, the same checker the box uses,
before anything changes: a sheet with one bad cell is refused with every bad row and cell
named, and the rota in force stays. Only a clean sheet replaces the first file of
[duty] rota_files (atomically; the previous one is kept in data_dir/rota-history/), which
the box re-reads by itself on the next call (duty/desk.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from .. import config as configuration
from ..duty import sheets
from ..duty.roster import load_file
from ..errors import ConfigError
from ..records import report
from . import body, fmt
from .accounts import AccountError
from .app import Web, form, takes
from .query import Choice, Date, Spec

if TYPE_CHECKING:
    from ..config import Config

log = logging.getLogger("lawline.web")
ALL = ("head", "clerk", "duty")
MAX_UPLOAD = 2 * 2 ** 20
_SECRET = re.compile(r"password|secret|token|access_key", re.I)
CHECK_CACHE_SECONDS = 60


# -- duty -------------------------------------------------------------------------------------

def _duty_view(web: Web) -> dict[str, Any]:
    desk = web.box.desk
    desk.reload()
    now = desk.now()
    roster = desk.roster
    current = [(day, shift, roster.for_shift(day, shift.name))
               for day, shift in roster.shifts_at(now)] if roster.configured else []
    nxt = roster.next_shift(now) if roster.configured else None
    problems = [fmt.rota_problem(p) for line in desk.rota_errors for p in line.split("\n  ")
                if p and not p.startswith("rota file")]
    return {"now": now, "open": desk.is_open(now), "configured": roster.configured,
            "current": current, "next": nxt, "gaps": desk.gaps(now), "fallback":
            web.cfg.duty.numbers, "files": [str(p) for p in desk.files],
            "disk_problems": problems or [{"text": e} for e in desk.rota_errors]
            if desk.rota_errors else [], "gap_days": web.cfg.duty.gap_days}


async def duty_page(request: Request, web: Web, status: int = 200,
                    **extra: Any) -> Response:
    from .dutypages import availability_view          # issue 17: who signed off, the mode
    return web.render(request, "duty.html", status=status, title="值班", duty=_duty_view(web),
                      availability=availability_view(web, request.state.session.user),
                      can_upload=request.state.session.user.role in ("head", "clerk"), **extra)


def _looks_like_sheet(name: str, raw: bytes) -> str | None:
    suffix = os.path.splitext(name.lower())[1]
    if suffix in (".xlsx", ".xlsm"):
        return suffix if raw[:4] == b"PK\x03\x04" else None
    if suffix in (".csv", ".txt"):
        if b"\0" in raw:
            return None
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                raw.decode(encoding)
                return ".csv"
            except UnicodeDecodeError:
                continue
    return None


def _write_as(target: Path, upload_path: Path, suffix: str) -> None:
    """Write the checked sheet to `target` atomically, in the target's own format."""
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    want = target.suffix.lower()
    if want == suffix or (want in (".csv", ".txt") and suffix == ".csv"):
        tmp.write_bytes(upload_path.read_bytes())
    elif want in (".csv", ".txt"):
        with open(tmp, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            for _, cells in sheets.read_rows(upload_path):
                writer.writerow([sheets.cell_text(c) for c in cells])
    else:
        import openpyxl
        book = openpyxl.Workbook()
        sheet = book.active
        for _, cells in sheets.read_rows(upload_path):
            sheet.append([sheets.cell_text(c) for c in cells])
        book.save(tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, target)


def _discard(path: Path) -> None:
    """An upload is done with: its file and its own folder go."""
    path.unlink(missing_ok=True)
    try:
        path.parent.rmdir()
    except OSError:
        pass


@form(body.UPLOAD_CAP, files=True)
async def rota_upload(request: Request, web: Web) -> Response:
    form = request.state.form
    upload = form.get("rota")
    desk = web.box.desk
    if upload is None or isinstance(upload, str) or not upload.filename:
        return await duty_page(request, web, 400, upload_error="请选择要上传的值班表文件。")
    raw = await upload.read(MAX_UPLOAD + 1)
    name = os.path.basename(upload.filename)
    if len(raw) > MAX_UPLOAD:
        return await duty_page(request, web, 400, upload_error="文件太大（超过2MB），值班表没有改变。")
    suffix = _looks_like_sheet(name, raw)
    if suffix is None:
        web.audit(request, "rota_refused", name, "not a spreadsheet")
        return await duty_page(request, web, 400, upload_error=(
            f"“{name}”不是表格文件（应为 CSV 或 XLSX）。值班表没有改变，仍使用原值班表。"))
    if not desk.files:
        log.info("web: rota upload refused: no [duty] rota_files configured")
        return await duty_page(request, web, 400, upload_error=(
            "配置中没有设置值班表文件，无法上传；请技术人员先在配置中设置。"))
    # Each upload in a folder of its own, named as the clerk named it, so messages say
    # "rota.xlsx row 7" and two clerks sending a rota.xlsx at once never check each other's.
    incoming = web.data_dir / "uploads" / f"{time.strftime('%Y%m%d-%H%M%S')}-" \
                                          f"{secrets.token_hex(4)}"
    incoming.mkdir(parents=True)
    path = incoming / (name if re.fullmatch(r"\w[\w.\- ]{0,79}", name) else f"rota{suffix}")
    path.write_bytes(raw)
    try:
        loaded = load_file(path, desk.shifts, desk.calendar,
                           tuple(web.cfg.duty.required_roles),
                           check_number=desk.dialplan.refusal)    # sip/dialplan.py
    except ConfigError as exc:
        _discard(path)
        web.audit(request, "rota_refused", name, str(exc)[:200])
        return await duty_page(request, web, 400, upload_error=(
            f"“{name}”无法读取为表格，值班表没有改变，仍使用原值班表。"), upload_detail=str(exc))
    if loaded.errors:
        _discard(path)
        web.audit(request, "rota_refused", name, f"{len(loaded.errors)} problem(s)")
        return await duty_page(request, web, 400, upload_error=(
            f"“{name}”有 {len(loaded.errors)} 处错误，值班表没有改变，仍使用原值班表。"
            "请改正下列单元格后重新上传："),
            upload_problems=[fmt.rota_problem(e) for e in loaded.errors])
    target = desk.files[0]
    history = web.data_dir / "rota-history"
    history.mkdir(exist_ok=True)
    try:
        if target.exists():
            stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
            (history / f"{stamp}-{target.name}").write_bytes(target.read_bytes())
        _write_as(target, path, suffix)
    except (OSError, ConfigError) as exc:
        log.error("web: rota %s could not replace %s: %s", name, target, exc)
        return await duty_page(request, web, 500, upload_error=(
            "值班表检查通过，但无法写入设备的存储卡。原值班表仍然有效；请通知技术人员。"),
            upload_detail=f"{target}: {exc}")
    finally:
        _discard(path)
    desk.reload()
    people = len({e.person.mobile for e in loaded.entries})
    web.audit(request, "rota_uploaded", str(target), f"{name}: {len(loaded.entries)} rows, "
              f"{people} people")
    return await duty_page(request, web, upload_done=(
        f"已启用新值班表“{name}”：{len(loaded.entries)} 行，{people} 人。"),
        upload_warnings=[fmt.rota_problem(w) for w in loaded.warnings])


async def rota_download(request: Request, web: Web) -> Response:
    path = web.box.rota_in_force()
    if path is None:
        return web.refuse(request, 404, "没有值班表文件（还没有设置）。",
                          detail="[duty] rota_files is empty")
    web.audit(request, "rota_downloaded", str(path))
    media = "text/csv" if path.suffix.lower() in (".csv", ".txt") else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return FileResponse(path, media_type=media, filename=path.name)


# -- reports ------------------------------------------------------------------------------------

PERIOD: Spec = {"kind": (Choice("报表类型", ("week", "month")), "week"),
          "start": (Date("开始日期"), None)}


def _period(request: Request, web: Web) -> tuple[str, dt.date, dt.date]:
    q = request.state.query
    kind, start = q["kind"], q["start"]
    today = web.box.clock.today()                # the office's day, not the host's
    if start is None:
        start = today - dt.timedelta(days=today.weekday()) if kind == "week" else \
            today.replace(day=1)
    if kind == "week":
        end = start + dt.timedelta(days=7)
    else:
        start = start.replace(day=1)
        end = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return kind, start, end


def _rows(table: dict[str, dict[str, Any]]) -> list[list[str]]:
    return list(csv.reader(io.StringIO(report.to_csv(table))))


def _chart(table: dict[str, dict[str, Any]],
           series: Sequence[tuple[str, str, str]]) -> dict[str, Any]:
    cats = [c for c in table if c != "total" and any(table[c][k] for k, _, _ in series)]
    peak = max([table[c][k] for c in cats for k, _, _ in series] or [1]) or 1
    groups = []
    for c in cats:
        groups.append({"label": report.CATEGORY_WORDS.get(c, c),
                       "bars": [{"value": table[c][k], "colour": colour,
                                 "width": round(70 * table[c][k] / peak, 1)}
                                for k, _, colour in series]})
    return {"groups": groups, "legend": [(n, colour) for _, n, colour in series]}


@takes(**PERIOD)
async def reports_page(request: Request, web: Web) -> Response:
    kind, start, end = _period(request, web)
    table = web.box.report(start, end)
    rows = _rows(table)
    calls = _chart(table, (("calls", "来电", "#4472c4"), ("answered", "接通", "#70ad47"),
                           ("abandoned", "挂断", "#c00000"), ("voicemails", "留言", "#ffc000")))
    cases = _chart(table, (("cases_opened", "新案件", "#4472c4"),
                           ("cases_resolved", "办结", "#70ad47"),
                           ("cases_overdue", "超期", "#c00000")))
    step = dt.timedelta(days=7)
    prev = start - step if kind == "week" else (start - dt.timedelta(days=1)).replace(day=1)
    return web.render(request, "reports.html", title="报表", kind=kind, start=start,
                      last=end - dt.timedelta(days=1), prev=prev, next=end, head=rows[0],
                      rows=rows[1:], calls=calls, cases=cases)


@takes(**PERIOD)
async def report_download(request: Request, web: Web) -> Response:
    kind, start, end = _period(request, web)
    form = request.path_params["format"]
    if form not in ("csv", "xlsx"):
        return web.refuse(request, 404, "没有这种格式的报表（可下载 CSV 或 XLSX）。")
    table = web.box.report(start, end)
    name = f"report-{kind}-{start}"
    web.audit(request, "report_downloaded", f"{name}.{form}")
    if form == "csv":
        return Response(("\ufeff" + report.to_csv(table)).encode("utf-8"),
                        media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    import openpyxl
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "周报" if kind == "week" else "月报"
    for line in _rows(table):
        sheet.append([_number(v) for v in line])
    buf = io.BytesIO()
    book.save(buf)
    return Response(buf.getvalue(), media_type="application/vnd.openxmlformats-"
                    "officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})


def _number(text: str) -> int | float | str:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


# -- settings ----------------------------------------------------------------------------------

def masked(name: str, value: Any) -> Any:
    if _SECRET.search(name) and not name.endswith("_file") and value:
        return "******"
    if isinstance(value, str):
        return re.sub(r"(//[^/:@]+:)[^@/]+@", r"\1******@", value)
    if isinstance(value, list):
        return ", ".join(masked(name, v) for v in value)
    return value


def settings_rows(cfg: Config) -> list[tuple[str, list[tuple[str, Any, str, bool]]]]:
    out: list[tuple[str, list[tuple[str, Any, str, bool]]]] = []
    for section, options in configuration.SCHEMA.items():
        values = getattr(cfg, section)
        out.append((section, [(o.name, masked(o.name, getattr(values, o.name)), o.doc,
                               getattr(values, o.name) != o.default)
                              for o in options]))
    for section in configuration.TABLES:
        for i, entry in enumerate(getattr(cfg, section, []), start=1):
            out.append((f"{section} {i}", [(k, masked(k, v), "", True)
                                          for k, v in vars(entry).items()
                                          if not k.startswith("_")]))
    return out


_check_cache: dict[str, tuple[float, list[tuple[str, str, str]], float]] = {}


def run_check(cfg: Config) -> tuple[list[tuple[str, str, str]], float]:
    """`lawline check --no-modem` in its own process (it must never open the modem the box
    owns); [(state, part, message)], cached for a minute."""
    cached = _check_cache.get(str(cfg.path))
    if cached and time.time() - cached[0] < CHECK_CACHE_SECONDS:
        return cached[1], cached[2]
    try:
        done = subprocess.run([sys.executable, "-m", "lawline", "check", "--no-modem",
                               "--config", str(cfg.path)], capture_output=True, text=True,
                              timeout=60)
        out = done.stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [("fail", "check", f"lawline check did not finish: {exc}")], time.time()
    rows: list[tuple[str, str, str]] = []
    for line in out.splitlines():
        m = re.match(r"\[(ok  |WARN|FAIL)\] ([^:]+): (.*)", line)
        if m:
            rows.append(({"ok  ": "ok", "WARN": "warn", "FAIL": "fail"}[m[1]], m[2], m[3]))
    _check_cache[str(cfg.path)] = (time.time(), rows, time.time())
    return rows, time.time()


async def settings_page(request: Request, web: Web) -> Response:
    rows, at = await run_in_threadpool(run_check, web.cfg)
    web.audit(request, "settings_viewed", str(web.cfg.path))
    return web.render(request, "settings.html", title="设置", sections=settings_rows(web.cfg),
                      check=rows, checked_at=at, config_path=web.cfg.path)


# -- accounts and audit (the office head) ---------------------------------------------------

async def users_page(request: Request, web: Web, status: int = 200, error: str = "",
                     done: str = "") -> Response:
    return web.render(request, "users.html", status=status, title="账号",
                      users=web.accounts.users(), error=error, done=done)


@form()
async def user_add(request: Request, web: Web) -> Response:
    form = request.state.form
    name = str(form.get("name", "")).strip()
    try:
        await run_in_threadpool(web.accounts.add_user, name, str(form.get("role", "")),
                                str(form.get("password", "")),
                                str(form.get("display", "")).strip(),
                                str(form.get("mobile", "")).strip())
    except AccountError as exc:
        return await users_page(request, web, 400, error=str(exc))
    web.audit(request, "user_added", name, str(form.get("role", "")))
    return await users_page(request, web, done=f"已新建账号 {name}。")


@form(body.KIB)
async def user_unlock(request: Request, web: Web) -> Response:
    name = request.path_params["name"]
    try:
        web.accounts.unlock(name)
    except AccountError as exc:
        return await users_page(request, web, 404, error=str(exc))
    web.audit(request, "user_unlocked", name)
    return RedirectResponse("/users", 303)


async def audit_page(request: Request, web: Web) -> Response:
    labels = {u.name: u.display for u in web.accounts.users() if u.display}
    return web.render(request, "audit.html", title="审计日志",
                      entries=web.accounts.audit_entries(), labels=labels)


ROUTES = [
    ("/duty", duty_page, ["GET"], ALL),
    ("/duty/rota", rota_upload, ["POST"], ("head", "clerk")),
    ("/duty/rota/download", rota_download, ["GET"], ALL),
    ("/reports", reports_page, ["GET"], ALL),
    ("/reports/download.{format:str}", report_download, ["GET"], ALL),
    ("/settings", settings_page, ["GET"], ("head", "clerk")),
    ("/users", users_page, ["GET"], ("head",)),
    ("/users", user_add, ["POST"], ("head",)),
    ("/users/{name}/unlock", user_unlock, ["POST"], ("head",)),
    ("/audit", audit_page, ["GET"], ("head",)),
]
