"""The telephone's duties on the office page (issue 17, points 2, 9, 10), over plain HTTPS
to a real `lawline web` on a real spool: an urgent dispute's ladder and who reached the
scene on its case, in Chinese; the calls page says which step of the ladder answered, that
a call came down from the prefecture's 1600148 switchboard (and why) or went up to it; a
bridged call's recording plays only to the roles in [recording] play_roles (the head, by
default), each listening audited, and a clerk is refused with a sentence in Chinese."""

import datetime as dt
import re
import wave
from zoneinfo import ZoneInfo

from lawline.records import outcomes as o

from .client import Client
from .conftest import CALLER, HEAD_MOBILE

PREFECTURE, MEDIATOR = "07732345678", "13900000002"


def _started(minutes_ago=5):
    now = dt.datetime.now(ZoneInfo("Asia/Shanghai")) - dt.timedelta(minutes=minutes_ago)
    return now.isoformat(timespec="seconds")


def _urgent_case_with_a_ladder(office):
    """An urgent case as the box leaves it when nobody of the mediators nor the head
    accepted and the prefecture's duty took it, then reached the scene (SMS 到场)."""
    case = office.open_case("urgent")
    call = o.Call("261207-100000-ab12", CALLER, "07730148")
    office.office.commit([o.LadderStep(call, case.number, "1234", "head", HEAD_MOBILE,
                                       "no_answer", 40.0)])
    office.office.commit([o.LadderStep(call, case.number, "1234", "prefecture", PREFECTURE,
                                       "accepted", 62.0, taker=o.Duty(PREFECTURE, "市级值班"),
                                       others=(MEDIATOR, HEAD_MOBILE))])
    office.office.on_scene(case.number, PREFECTURE, "", f"{PREFECTURE} by SMS", "已到现场")
    return case.number


def _calls(office):
    """Three call records: the ladder's, one transferred down, one handed up; the first
    with its recording (a WAV in the spool, an item of its own)."""
    wav = office.spool / "recordings" / "261207-100000-ab12-bridged-13812345678.wav"
    wav.parent.mkdir(exist_ok=True)
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x01" * 16000)
    office.outbox.commit("recording-261207-100000-ab12", "recording", {
        "call_id": "261207-100000-ab12", "caller": CALLER, "with": PREFECTURE,
        "duration_s": 2.0, "keep_days": 90}, {"recording.wav": wav})
    ladder = [{"step": "mediators", "numbers": [MEDIATOR], "outcome": "no_answer"},
              {"step": "head", "number": HEAD_MOBILE, "outcome": "no_answer"},
              {"step": "prefecture", "number": PREFECTURE, "outcome": "accepted"}]
    calls = [
        {"call_id": "261207-100000-ab12", "caller": CALLER, "started": _started(30),
         "branch": "urgent", "menu_path": ["3"], "outcome": "bridged", "ladder": ladder,
         "recording": {"key": "recording-261207-100000-ab12", "seconds": 2.0},
         "duty_legs": [{"number": MEDIATOR, "outcome": "no_answer"}]},
        {"call_id": "261207-101000-cd34", "caller": "13800138000", "started": _started(20),
         "branch": "service_request", "menu_path": ["transfer:service_request"],
         "outcome": "voicemail",
         "transferred": {"from": "1600148", "caller_from": "pai", "reason": "service_request",
                         "how": "header", "said": "service_request"}},
        {"call_id": "261207-230000-ef56", "caller": "13700137000", "started": _started(10),
         "branch": "after_hours", "menu_path": [], "outcome": "overflow",
         "overflow": {"to": "1600148", "reason": "after_hours", "outcome": "handed_over"}},
    ]
    for record in calls:
        office.outbox.commit(f"call-{record['call_id']}", "call", record, {})
    return calls


def _text(html):
    return re.sub(r"<[^>]+>", " ", html)


def test_the_ladder_the_switchboard_and_recordings_on_the_page(office):
    number = _urgent_case_with_a_ladder(office)
    _calls(office)
    head = Client(office.page.url, source="127.0.0.61")
    assert head.login("head", office.page.password("head"))[0] == 303
    # the case: each step of the ladder and the arrival, in Chinese, with the box's numbers
    status, html = head.request("GET", f"/cases/{number}")
    assert status == 200
    text = _text(html)
    assert f"紧急升级：负责人 {HEAD_MOBILE} 无人接听" in text, text
    assert "紧急升级：市级值班 接听，现由其办理" in text, text
    assert "已到达现场：已到现场" in text, text
    assert "urgent ladder" not in text and "on the scene" not in text
    # the calls: who answered on the ladder, transferred down and why, handed up
    status, html = head.request("GET", "/calls")
    assert status == 200
    text = _text(html)
    for words in ("紧急升级：调解员 无人接听", "紧急升级：负责人 无人接听",
                  "紧急升级：市级值班 已接听", "市级1600148热线转来（法律服务申请，信令注明）",
                  "已转市级1600148热线", "通话录音"):
        assert words in text, (words, text)
    link = "/recordings/recording-261207-100000-ab12/audio"
    assert link in html
    # the head plays it: one audit row
    status, _ = head.request("GET", link, headers={"Range": "bytes=0-"})
    assert status == 206
    rows = [r for r in office.audit_rows() if r["target"] == "recording-261207-100000-ab12"]
    assert [(r["user"], r["action"]) for r in rows] == [("head", "recording_played")]
    status, html = head.request("GET", "/audit")
    assert "播放通话录音" in _text(html)
    # a clerk sees no link and is refused the bytes, in Chinese, with nothing audited
    clerk = Client(office.page.url, source="127.0.0.62")
    assert clerk.login("clerk", office.page.password("clerk"))[0] == 303
    status, html = clerk.request("GET", "/calls")
    assert status == 200 and link not in html and "紧急升级：市级值班 已接听" in _text(html)
    status, html = clerk.request("GET", link)
    assert status == 403 and "不能播放通话录音" in html
    assert [r["user"] for r in office.audit_rows()
            if r["target"] == "recording-261207-100000-ab12"] == ["head"]
    # no such recording, and a voicemail's key is no recording
    status, html = head.request("GET", "/recordings/recording-nope/audio")
    assert status == 404 and "没有这段通话录音" in html
