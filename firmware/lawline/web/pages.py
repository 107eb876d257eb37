"""The pages staff use every day: status, cases, voicemails, call records.

Case actions call records/office.Office.act, the same transaction the SMS command and
`lawline case` use: resolving queues the caller's SMS, every change is journalled to the
outbox. Each action form carries the case's `updated` time as it was shown; when the case
changed since (an SMS resolved it while the page was open), the action is not done and the
page says what happened instead, so nobody's change is overwritten unseen.
"""

import datetime as dt
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from ..records.messages import duty_case
from ..records.cases import KINDS, OPEN_STATES, STATES, Case, CaseChanged, CaseError
from . import fmt
from .accounts import User
from .app import Web, form, takes
from .boxdata import VOICEMAIL_BOXES
from .query import Choice, Date, Number, Text, span

log = logging.getLogger("lawline.web")
ALL = ("head", "clerk", "duty")
PAGE_SIZE = 100


def _kinds_for(user: User, wanted: str | None = None) -> list[str]:
    kinds = [k for k in KINDS if user.sees_complaints or k != "complaint"]
    if wanted:
        kinds = [k for k in kinds if k == wanted]
    return kinds


# -- status --------------------------------------------------------------------------------

async def status_page(request: Request, web: Web) -> Response:
    st = web.box.status()
    user = request.state.session.user
    if not user.sees_complaints:
        st["last_calls"] = [c for c in st["last_calls"] if c.get("branch") != "complaint"]
    return web.render(request, "status.html", title="状态", st=st)


# -- cases ---------------------------------------------------------------------------------

@takes(state=(Choice("状态", ("open", "all") + STATES), "open"),
       kind=(Choice("类别", KINDS), ""), owner=(Text("经办人", 32), ""),
       overdue=(Choice("只看超期", ("1",)), ""), page=(Number("页码", 1, 100000), 1))
async def cases_page(request: Request, web: Web) -> Response:
    user = request.state.session.user
    q = request.state.query
    state, kind, owner, page = q["state"], q["kind"], q["owner"], q["page"]
    overdue = q["overdue"] == "1"
    states = OPEN_STATES if state == "open" else None if state == "all" else (state,)
    kinds = _kinds_for(user, kind or None)
    # no kind this person may see (a clerk asking for complaints): no rows; never an empty
    # filter, which Cases.list reads as every kind
    cases = web.box.cases
    # an owner is asked for by number, name on the case or name the office knows them by
    owners = [n for n in cases.owners() if owner in n or owner in web.box.names(n)] \
        if owner and kinds else None
    at = time.time() if overdue else None

    # counted and cut in SQL: 100 000 cases stay quick
    def one_page(number: int) -> tuple[int, list[Case]]:
        if not kinds:
            return 0, []
        return cases.page(states, kinds, owners, owner or None, at, limit=PAGE_SIZE,
                          offset=(number - 1) * PAGE_SIZE)
    total, shown = one_page(page)
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    if page > pages:                     # past the last page: the last page
        page = pages
        total, shown = one_page(page)
    args = {"state": state, "kind": kind, "owner": owner, "overdue": "1" if overdue else ""}
    return web.render(request, "cases.html", title="案件", cases=shown, total=total,
                      page=page, pages=pages, args=args, kinds=_kinds_for(user),
                      states=STATES)


def _case_or_refuse(request: Request,
                    web: Web) -> tuple[Case, None] | tuple[None, HTMLResponse]:
    """The case of the path, or the refusal. A complaint is answered to those who may not
    see it exactly as a number that is no case (404, the same words): a clerk cannot tell
    which numbers are complaints (issue 15)."""
    number = request.path_params["number"]
    case = web.box.cases.get(number)
    user = request.state.session.user
    if case is not None and case.kind == "complaint" and not user.sees_complaints:
        log.warning("web: %s (%s) asked for complaint %s; answered as no such case",
                    user.name, user.role, number)
        case = None
    if case is None:
        return None, web.refuse(request, 404, f"没有案件 {number[:32]}。")
    return case, None


@takes(done=(Choice("完成的操作", ("resolve", "take", "assign", "dispatch", "arrived",
                                   "topic")), ""))
async def case_page(request: Request, web: Web, error: str | None = "", status: int = 200,
                    note: str = "") -> Response:
    case, refused = _case_or_refuse(request, web)
    if refused:
        return refused
    assert case is not None                 # no refusal: the case
    if case.kind == "complaint" and request.method == "GET":
        web.audit(request, "complaint_viewed", case.number)
    voicemail = web.box.voicemail(case.number)
    from .dutypages import case_view         # it builds on this module's pages
    people = sorted(web.box.desk.roster.people().values(), key=lambda p: p.name)
    return web.render(request, "case.html", status=status, title=f"案件 {case.number}",
                      case=case, history=web.box.cases.history(case.number),
                      sms=web.box.case_sms(case.number), voicemail=voicemail,
                      people=people, error=error, note=note, topics=web.box.office.topics,
                      duties=case_view(web, case),        # issue 17 (dutypages.py)
                      done=request.state.query.get("done", ""))


def _changed_since(request: Request, web: Web, case: Case) -> str | None:
    """None when the case is as the form saw it, else a Chinese sentence of what changed."""
    seen = request.state.form.get("seen", "")
    if seen == repr(case.updated):
        return None
    history = web.box.cases.history(case.number)
    people = [h for h in history if h[2] != "box"] or history
    at, state, by, note = people[-1]
    return (f"案件 {case.number} 在您打开页面之后已被更改：现在是“{fmt.STATE_WORDS[case.state]}”"
            f"（{fmt.STATE_WORDS.get(state, state)}：{fmt.who(by, web.box.names)}，"
            f"{web.formats.when(at)}{'，' + fmt.note(note) if note else ''}）。"
            "您的操作没有执行，下面是最新情况。")


def _duty_may_not(web: Web, user: User, case: Case, action: str,
                  form: Mapping[str, Any]) -> str | None:
    """Duty staff act on the page as they would by SMS (records/office.may_act: take a case
    before resolving it, only the owner resolves or hands it on); the head and clerks act
    for the office. Returns the refusal in Chinese, or None."""
    if user.role != "duty":
        return None
    from ..records.messages import Command
    from ..phone import national
    from ..records.office import may_act
    state = {"resolve": "resolved", "take": "assigned"}.get(action, "reassigned")
    to = str(form.get("mobile", "")) if action == "assign" else ""
    sender = national(user.mobile)
    staff = web.box.office.staff()
    refused = may_act(Command(state, case.number, "", to), case, sender, False,
                      web.box.office.barred(case, user.mobile),
                      national(to) in staff if to else False)
    return refused[1] + "（操作没有执行）" if refused else None


@form()
async def case_action(request: Request, web: Web) -> Response:
    case, refused = _case_or_refuse(request, web)
    if refused:
        return refused
    assert case is not None                 # no refusal: the case
    action = request.path_params["action"]
    form = request.state.form
    user = request.state.session.user
    note = str(form.get("note", "")).strip()[:200]
    changed = _changed_since(request, web, case)
    if changed:
        log.info("web: %s on case %s by %s not done: the case changed since the page was "
                 "shown", action, case.number, user.name)
        return await case_page(request, web, error=changed, status=409, note=note)
    by = f"{user.label} ({user.name}) on the web page"
    office = web.box.office
    # a topic is anyone's to set, as by SMS (主题 <case> <topic>); the rest as by SMS
    may_not = None if action == "topic" else _duty_may_not(web, user, case, action, form)
    if may_not:
        return await case_page(request, web, status=403, note=note, error=may_not)
    try:
        if action == "resolve":
            if not note:
                return await case_page(request, web, error="请填写办理结果后再结案。", status=400)
            office.act(case.number, "resolved", by, note, expect_updated=case.updated)
            web.audit(request, "case_resolved", case.number, note)
        elif action == "take":
            if not user.mobile:
                return await case_page(request, web, status=400, error=(
                    "您的账号没有登记手机号，无法接手（超期提醒要发到手机）。请负责人在账号页登记。"))
            office.act(case.number, "assigned", by, note, owner=user.mobile,
                       owner_name=user.label, expect_updated=case.updated)
            web.audit(request, "case_taken", case.number, note)
        elif action == "assign":
            mobile = str(form.get("mobile", ""))
            person = web.box.desk.person(mobile)
            if person is None:
                return await case_page(request, web, status=400, note=note,
                                       error=f"{mobile[:20]} 不在值班表中，不能指派。")
            if office.barred(case, person.mobile):
                return await case_page(request, web, status=400, note=note,
                                       error="这是针对此人的投诉，不能指派给被投诉人。")
            office.act(case.number, "assigned", by, note, owner=person.mobile,
                       owner_name=person.name, expect_updated=case.updated)
            office.sms.queue(person.mobile, duty_case(case.number, case.kind, case.caller,
                                                      office.name), "duty case", case.number)
            web.audit(request, "case_assigned", case.number, f"{person.name} {person.mobile}")
        elif action == "topic":             # issue 17.5: what the case is about
            topic = str(form.get("topic", ""))
            if topic not in office.topics:
                return await case_page(request, web, status=400, note=note,
                                       error=f"“{topic[:20]}”不是设定的主题，请从列表中选择。")
            office.set_topic(case.number, topic, by, expect_updated=case.updated)
            web.audit(request, "case_topic", case.number, topic)
        else:
            return web.refuse(request, 404, "没有这个操作。")
    except CaseChanged as exc:          # changed between the check above and the write
        log.info("web: %s on case %s by %s not done: %s", action, case.number, user.name, exc)
        fresh = web.box.cases.get(case.number) or case     # cases are never deleted
        return await case_page(request, web, error=_changed_since(request, web, fresh),
                               status=409, note=note)
    except CaseError as exc:
        log.info("web: %s on case %s by %s refused: %s", action, case.number, user.name, exc)
        return await case_page(request, web, status=409, note=note, error=(
            f"案件当前状态（{fmt.STATE_WORDS[(web.box.cases.get(case.number) or case).state]}）"
            "不能这样处理，操作没有执行。"))
    return RedirectResponse(f"/cases/{case.number}?done={action}", 303)


# -- voicemails -------------------------------------------------------------------------------

@takes(day=(Date("日期"), None), box=(Choice("信箱", VOICEMAIL_BOXES), ""))
async def voicemails_page(request: Request, web: Web) -> Response:
    user = request.state.session.user
    day = request.state.query["day"]
    day = day.isoformat() if day else ""
    box = request.state.query["box"]
    rows = web.box.voicemails(day or None, box or None)
    if not user.sees_complaints:
        rows = [r for r in rows if r["box"] != "complaint"]
    boxes = {k: v for k, v in VOICEMAIL_BOXES.items()
             if user.sees_complaints or k != "complaint"}
    return web.render(request, "voicemails.html", title="留言", voicemails=rows, day=day,
                      box=box, boxes=boxes)


@takes(download=(Choice("下载", ("1",)), ""))
async def voicemail_audio(request: Request, web: Web) -> Response:
    """A recording's bytes, any range of them. Each request belongs to a listening, and the
    listening's first request writes its audit row (listening.py): no range is served
    unaudited, and one listening, however many ranges it takes, is one row. The page's
    players never fetch before play is pressed (preload="none")."""
    key = request.path_params["key"]
    found = web.box.voicemail(key)
    user = request.state.session.user
    if found is not None and found[0].get("box") == "complaint" and not user.sees_complaints:
        log.warning("web: %s (%s) asked for complaint voicemail %s; answered as no such "
                    "voicemail", user.name, user.role, key)
        found = None
    if found is None:
        return web.refuse(request, 404, f"没有留言 {key[:32]}。")
    return _listen(request, web, key, found[1], "voicemail")

def _listen(request: Request, web: Web, key: str, wav: Path | None, what: str) -> Response:
    """A voicemail's or a recording's audio (`what`): played inline or downloaded, each
    listening audited once however many byte ranges the player asks for (listening.py)."""
    if wav is None:
        return web.refuse(request, 410, "录音文件已不在本机（已上报并按保留期删除）。")
    download = request.state.query["download"] == "1"
    action = f"{what}_downloaded" if download else f"{what}_played"
    session = request.state.session
    if web.listenings.begins((session.user.name, session.csrf), key, action,
                             web.accounts.clock()):
        web.audit(request, action, key)
    return FileResponse(wav, media_type="audio/wav",
                        filename=f"{key}.wav" if download else None,
                        content_disposition_type="attachment" if download else "inline",
                        headers={"Cache-Control": "no-store"})


# -- bridged calls' recordings (issue 17.10) ---------------------------------------------------

@takes(download=(Choice("下载", ("1",)), ""))
async def recording_audio(request: Request, web: Web) -> Response:
    """A bridged call's recording, to the roles in [recording] play_roles only; every
    listening audited as a voicemail's is (listening.py)."""
    key = request.path_params["key"]
    user = request.state.session.user
    if user.role not in web.cfg.recording.play_roles:
        log.warning("web: %s (%s) asked for recording %r; refused: [recording] play_roles is "
                    "%s", user.name, user.role, key[:64], ", ".join(web.cfg.recording.play_roles))
        return web.refuse(request, 403, "您的账号不能播放通话录音；如需听取，请找办公室负责人。")
    found = web.box.recording(key)
    if found is None:
        return web.refuse(request, 404, "没有这段通话录音。")
    return _listen(request, web, key, found[1], "recording")


# -- call records -----------------------------------------------------------------------------

@takes(start=(Date("从"), None), end=(Date("到"), None))
async def calls_page(request: Request, web: Web) -> Response:
    user = request.state.session.user
    today = web.box.clock.today()                # the office's day, not the host's
    q = request.state.query
    end = q["end"] or today
    start = q["start"] or min(end, today) - dt.timedelta(days=6)
    start, end = span(start, end, "查询的日期范围")
    rows = web.box.calls(start, end + dt.timedelta(days=1))
    if not user.sees_complaints:
        rows = [r for r in rows if r.get("branch") != "complaint"]
    return web.render(request, "calls.html", title="通话记录", calls=rows[:500],
                      total=len(rows), start=start, end=end)


# -- the callback list (issue 17.6) -----------------------------------------------------------

CALLBACK_DAYS = 7           # done entries shown this many office days back


@takes(done=(Text("已回拨的号码", 20), ""))
async def callbacks_page(request: Request, web: Web, error: str = "",
                         status: int = 200) -> Response:
    """Callers who hung up with no result and showed a number: open entries first (oldest
    first: who has waited longest), then those called back in the last week."""
    office = web.box.office
    clock = web.box.clock                 # the office's days, not the host's
    since = clock.instant(dt.datetime.combine(clock.today() - dt.timedelta(days=CALLBACK_DAYS),
                                              dt.time()))
    entries = office.calls.entries(since=since)
    open_ = sorted((e for e in entries if not e["done_at"]), key=lambda e: e["first_at"])
    done = [e for e in entries if e["done_at"]]
    older = [e for e in office.calls.entries(open_only=True) if e["last_at"] < since]
    return web.render(request, "callbacks.html", status=status, title="回拨名单",
                      open_entries=older + open_, done_entries=done, error=error,
                      done=request.state.query.get("done", ""))


@form()
async def callback_done(request: Request, web: Web) -> Response:
    """A duty person called the number back from their own phone: every open entry of that
    number is done (the same step as the SMS 回拨 <number>), audited."""
    number = request.path_params["number"]
    user = request.state.session.user
    note = str(request.state.form.get("note", "")).strip()[:200]
    by = f"{user.label} ({user.name}) on the web page"
    answered = web.box.office.called_back(number, by, "page", note)
    if not answered:
        return await callbacks_page(request, web, status=404,
                                    error=f"{number[:20]} 不在待回拨名单中（可能已有人回拨）。")
    web.audit(request, "callback_done", number[:20], note)
    return RedirectResponse(f"/callbacks?done={number[:20]}", 303)


ROUTES = [
    ("/", status_page, ["GET"], ALL),
    ("/cases", cases_page, ["GET"], ALL),
    ("/cases/{number}", case_page, ["GET"], ALL),
    ("/cases/{number}/{action}", case_action, ["POST"], ALL),
    ("/voicemails", voicemails_page, ["GET"], ALL),
    ("/voicemails/{key}/audio", voicemail_audio, ["GET"], ALL),
    ("/calls", calls_page, ["GET"], ALL),
    ("/recordings/{key}/audio", recording_audio, ["GET"], ALL),
    ("/callbacks", callbacks_page, ["GET"], ALL),
    ("/callbacks/{number}/done", callback_done, ["POST"], ALL),
]
