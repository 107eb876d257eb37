"""The office's duties on the page (issue 17, points 1, 3, 4, 8): a case's on-site visit,
hand-off, result told and survey shown on its page; a service request dispatched to a
[[provider]] with an appointment, and its arrival recorded (closing it with the result is the
case page's resolve form); on the duty page who signed off and the line's night or day mode,
changed by the head (the mode, anyone's sign-off) or by duty staff (their own).

Each action is the same durable step as its SMS command (records/duties.py on the box's
office: the provider and the caller texted once, the case journalled), checked against the
case as the page showed it, and written to the page's audit log. Refusals are the duties'
own Chinese reasons."""

import datetime as dt
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..records.cases import Case, CaseChanged, CaseError
from ..records.duties import DISPATCH_KINDS, Refused
from ..phone import same
from . import dutywords, fmt
from .accounts import User
from .app import Web
from . import officepages as _office
from . import pages as _pages

log = logging.getLogger("lawline.web")
# the case and duty pages' handlers this module builds on
case_page = _pages.case_page
case_or_refuse = _pages._case_or_refuse
changed_since = _pages._changed_since
duty_page = _office.duty_page
ALL = ("head", "clerk", "duty")


def case_view(web: Web, case: Case) -> dict[str, Any]:
    """What the case page shows of the duties, and which duty forms it offers."""
    facts = web.box.cases.duties(case.number)
    duties = web.box.office.duties
    dispatchable = case.kind in DISPATCH_KINDS and case.state in ("new", "assigned")
    return {"rows": dutywords.case_rows(facts, web.formats.when, web.box.names),
            "providers": [(i, dutywords.provider_choice(i, p))
                          for i, p in enumerate(duties.providers, start=1)]
            if dispatchable else [],
            "arrival": dispatchable and "dispatch" in facts and "arrived" not in facts,
            "today": web.box.clock.today().isoformat()}


def _by(user: User) -> str:
    return f"{user.label} ({user.name}) on the web page"


def _duty_refusal(web: Web, user: User, case: Case) -> str | None:
    """Duty staff dispatch and report only on cases they own (as by SMS); the head and
    clerks act for the office."""
    if user.role != "duty":
        return None
    if web.box.office.barred(case, user.mobile):
        return "此投诉涉及您本人，由上级处理（操作没有执行）"
    if not user.mobile or not same(case.owner, user.mobile):
        return f"只有案件的经办人或负责人可以派单、登记到场；请先接手 {case.number}（操作没有执行）"
    return None


async def case_duty(request: Request, web: Web) -> Response:
    """POST /cases/{number}/dispatch and /cases/{number}/arrived."""
    case, refused = case_or_refuse(request, web)
    if refused:
        return refused
    assert case is not None                     # no refusal: the case
    action = request.url.path.rsplit("/", 1)[-1]
    form = request.state.form
    user = request.state.session.user
    note = str(form.get("note", "")).strip()[:200]
    changed = changed_since(request, web, case)
    if changed:
        log.info("web: %s on case %s by %s not done: the case changed since the page was "
                 "shown", action, case.number, user.name)
        return await case_page(request, web, error=changed, status=409)
    refusal = _duty_refusal(web, user, case)
    if refusal:
        return await case_page(request, web, error=refusal, status=403)
    duties = web.box.office.duties
    try:
        if action == "dispatch":
            provider = duties.provider(str(form.get("provider", "")))
            if provider is None:
                raise Refused("no such provider", "请从名录中选择服务机构")
            when = duties.appointment(str(form.get("day", "")).strip(),
                                      str(form.get("time", "")).strip())
            words = duties.dispatch(case.number, provider, when,
                                    str(form.get("place", ""))[:100], _by(user), note,
                                    expect_updated=case.updated)
            web.audit(request, "case_dispatched", case.number,
                      f"{provider.name} {words} {str(form.get('place', ''))[:100]}")
        elif action == "arrived":
            duties.arrived(case.number, _by(user), note, expect_updated=case.updated)
            web.audit(request, "case_arrived", case.number, note)
        else:
            return web.refuse(request, 404, "没有这个操作。")
    except Refused as exc:
        log.info("web: %s on case %s by %s refused: %s", action, case.number, user.name, exc)
        return await case_page(request, web, status=400,
                               error=f"{exc.reason}（操作没有执行）")
    except CaseChanged as exc:
        log.info("web: %s on case %s by %s not done: %s", action, case.number, user.name, exc)
        fresh = web.box.cases.get(case.number) or case     # cases are never deleted
        return await case_page(request, web, status=409,
                               error=changed_since(request, web, fresh))
    except CaseError as exc:
        log.info("web: %s on case %s by %s refused: %s", action, case.number, user.name, exc)
        state = (web.box.cases.get(case.number) or case).state
        return await case_page(request, web, status=409, error=(
            f"案件当前状态（{fmt.STATE_WORDS.get(state, state)}）不能这样处理，操作没有执行。"))
    return RedirectResponse(f"/cases/{case.number}?done={action}", 303)


# -- availability (the duty page) -------------------------------------------------------------

def availability_view(web: Web, user: User) -> dict[str, Any]:
    """What the duty page shows of who signed off and the line's mode, and whom this person
    may sign off or on (the head and clerks: anyone on the rota; duty staff: themselves)."""
    duties = web.box.office.duties
    shown = dutywords.availability_rows(duties.state(), web.formats.when, web.box.names)
    people = sorted(web.box.desk.roster.people().values(), key=lambda p: p.name)
    if user.role == "duty":
        people = [p for p in people if user.mobile and same(p.mobile, user.mobile)]
    shown["people"] = [(p.mobile, p.name) for p in people]
    shown["can_mode"] = user.role == "head"
    shown["mode_hours"] = f"{web.cfg.availability.mode_default_hours:g}"
    return shown


def _hours(form: Any) -> float | None:
    """The form's hours (blank: none); Refused when it is no number from 0.5 to 720."""
    raw = str(form.get("hours", "")).strip()
    if not raw:
        return None
    try:
        hours = float(raw)
    except ValueError:
        raise Refused(f"{raw!r} is no number of hours", "时长应为小时数，如 3 或 0.5") from None
    if not 0.5 <= hours <= 720:
        raise Refused(f"{hours} hours is out of range", "时长应在 0.5 至 720 小时之间")
    return hours


async def availability_action(request: Request, web: Web) -> Response:
    """POST /duty/availability (what=off|on, mobile, hours) and /duty/mode (what=night|day|
    auto, hours): the same step as 休息/上班 and 夜间/日间/恢复 by SMS, audited here."""
    form = request.state.form
    user = request.state.session.user
    duties = web.box.office.duties
    what = str(form.get("what", ""))
    clock = web.box.clock
    try:
        hours = _hours(form)
        until = clock.now() + dt.timedelta(hours=hours) if hours else None
        if request.url.path.endswith("/mode"):
            if user.role != "head":
                raise Refused("only the head", "只有负责人可以切换夜间、日间模式")
            if what not in dutywords.AVAILABILITY or what in ("off", "on"):
                raise Refused(f"no mode {what!r}", "请选择夜间、日间或恢复")
            if what != "auto" and until is None:
                until = clock.now() + dt.timedelta(
                    hours=web.cfg.availability.mode_default_hours)
            done = duties.set_mode(what, until, _by(user), "web", audit=False)
            web.audit(request, f"availability_{what}", "line",
                      f"{until:%Y-%m-%d %H:%M}" if until else "")
        else:
            if what not in ("off", "on"):
                raise Refused(f"no change {what!r}", "请选择休息或上班")
            mobile = str(form.get("mobile", ""))
            allowed = dict(availability_view(web, user)["people"])
            if mobile not in allowed:
                raise Refused(f"{mobile!r} is not one this person may sign",
                              "只能为值班表中的人员（值班人员只能为自己）登记休息或上班")
            done = duties.sign(mobile, allowed[mobile], what, until if what == "off" else None,
                               _by(user), "web", audit=False)
            web.audit(request, f"availability_{what}", f"{allowed[mobile]} {mobile}",
                      f"{until:%Y-%m-%d %H:%M}" if until else "")
    except Refused as exc:
        log.info("web: availability %r by %s refused: %s", what, user.name, exc)
        return await duty_page(request, web, 400,
                               availability_error=f"{exc.reason}（没有更改）")
    log.info("web: availability %r by %s: %s", what, user.name, done)
    return await duty_page(request, web, availability_done=done)


ROUTES = [
    ("/cases/{number}/dispatch", case_duty, ["POST"], ALL),
    ("/cases/{number}/arrived", case_duty, ["POST"], ALL),
    ("/duty/availability", availability_action, ["POST"], ALL),
    ("/duty/mode", availability_action, ["POST"], ("head",)),
]
