"""The hotline's own logic on the loopback line: cases and their SMS, a duty person closing a
case by SMS and the caller asking about it, urgent escalation, a complaint that never
reaches the person it names, and a low rating. (After hours on a make-up Saturday and on a
holiday are the office's hours and rota answering the call script: tests/unit/test_call_script.py.)

Also a referral (key 4) by SMS. The box runs with a rota file, office hours and the holiday
calendar, and its office clock moved to a known day by the rig (rig.box_clock:
probe/boxclock.py runs the box with its clock moved (clock.py); it moves office hours and rota
decisions, nothing that is stored). One rig for the module; tests run in
file order and each leaves the duty phone as the next one needs it.
"""

import pytest

from lawline_rig.probe import hotline
from lawline_rig.probe.rig import wait_until

from ..conftest import run_call

pytestmark = pytest.mark.scenario

LAWYER, MEDIATOR, MEDIATOR2, HEAD = "13900000001", "13900000002", "13900000003", "13900000009"
MONDAY = "2026-11-30T10:00:00"       # an ordinary working day, within office hours

ROTA = f"""date,shift,name,role,mobile,staff_no
2026-11-30,day,张律师,lawyer,{LAWYER},11
2026-11-30,day,李调解,mediator,{MEDIATOR},12
2026-11-30,day,王调解,mediator,{MEDIATOR2},13
2026-11-30,night,张律师,lawyer,{LAWYER},11
"""


@pytest.fixture(scope="module")
def rig(module_rigs, tmp_path_factory):
    rota = tmp_path_factory.mktemp("hotline-rota") / "rota.csv"
    rota.write_text(ROTA, encoding="utf-8")
    options = {
        "office": {"head_mobile": HEAD},
        "hours": {"always_open": False},
        "duty": {"rota_files": [str(rota)], "gap_days": 0,
                 "shifts": ["day 08:30-17:30 workdays", "night 17:30-08:30",
                            "rest 08:30-17:30 restdays"]},
        "survey": {"key_timeout": 10.0},
        "referral": [
            {"name": "县劳动保障监察大队", "phone": "07731234567", "address": "县府路1号",
             "hours": "周一至周五 9:00-17:00"},
            {"name": "县市场监督管理局", "phone": "07737654321", "address": "城东路8号",
             "hours": "周一至周五 8:30-17:30"},
        ],
    }
    rig = module_rigs.rig("hotline", start=False, box_options=options)
    rig.box_clock = MONDAY
    rig.start()
    return rig     # the factory stops it and checks that the box exited cleanly


def test_service_request_sends_the_caller_and_the_duty_lawyer_an_sms(rig):
    result = run_call(rig, hotline.service_request_with_sms, LAWYER)
    case = result["case"]
    rig.case = case
    assert result["call"]["case_number"] == case
    # the duty lawyer is the case's owner, from the rota, not from [duty] numbers
    assert "张律师" in rig.box_log() and f"case {case} opened: service_request" in rig.box_log()


def test_an_alphanumeric_sender_or_a_digit_too_many_leaves_the_case_open(rig):
    """The lawyer's number spelt as an alphanumeric originator, and the lawyer's real number
    with one digit too many: neither acts (the next test then resolves the case, so it was
    still open)."""
    case = rig.case
    hotline.deliver_sms(rig, LAWYER, f"结案 {case}", sender_type="alphanumeric")
    wait_until(lambda: f"sms from '{LAWYER}' ignored: its originator is alphanumeric"
               in rig.box_log(), 30, "the box to ignore the alphanumeric sender")
    hotline.deliver_sms(rig, "+86" + LAWYER, f"结案 {case}1")

    async def refused(rig):
        await hotline.wait_outside_sms(rig, LAWYER, f"案件{case}1）：没有这个案件编号")
    run_call(rig, refused)
    assert f"case {case}: resolved" not in rig.box_log()
    assert not hotline.outside_sms(rig, LAWYER, f"案件{case}已结案")


def test_a_duty_sms_resolves_the_case_and_the_caller_hears_it(rig):
    case = rig.case
    hotline.deliver_sms(rig, "+86" + LAWYER, f"结案 {case}")

    async def resolved(rig):
        await hotline.caller_sms(rig, f"您的案件{case}已办结")
        # the lawyer is told it worked
        await hotline.wait_outside_sms(rig, LAWYER, f"案件{case}已结案")
    run_call(rig, resolved)
    # a stranger's SMS is ignored and logged
    hotline.deliver_sms(rig, "13700000000", f"R {case}")
    call = run_call(rig, hotline.status_call, case)
    assert call["status_queries"] == [case]
    log = rig.box_log()
    assert "sms from unknown number '13700000000' ignored" in log
    assert f"case {case}: resolved by '张律师" in log


def test_a_referral_reaches_the_caller_by_sms(rig):
    call, text = run_call(rig, hotline.referral, "2")
    assert call["referral"] == "县市场监督管理局"
    assert "07737654321" in text and "城东路8号" in text, text
    assert "referral prompts rendered: referral_1, referral_2" in rig.box_log()


def test_a_complaint_never_reaches_the_person_it_names(rig):
    duty_calls_before = len(rig.duty_events_list())
    lawyer_sms_before = len(hotline.outside_sms(rig, LAWYER))
    call = run_call(rig, hotline.complaint_naming_staff, "11")
    case = call["case_number"]
    assert call["named_staff"]["name"] == "张律师"

    async def head_told(rig):
        return await hotline.wait_outside_sms(rig, HEAD, case)
    head = run_call(rig, head_told)
    assert "工号11" in head["text"]
    # nothing about it reached the named lawyer: no call, no SMS
    assert len(rig.duty_events_list()) == duty_calls_before
    assert len(hotline.outside_sms(rig, LAWYER)) == lawyer_sms_before
    assert not hotline.outside_sms(rig, LAWYER, case)


def test_a_rating_of_1_alerts_the_office_head(rig):
    rig.start_dutyphone("accept")
    call = run_call(rig, hotline.rated_call, "1")
    case = call["case_number"]

    async def head_told(rig):
        return await hotline.wait_outside_sms(rig, HEAD, "评分1分")
    head = run_call(rig, head_told)
    assert case in head["text"] and "张律师" in head["text"]


def test_urgent_dispute_nobody_accepts_escalates_by_sms(rig):
    rig.start_dutyphone("no-answer")
    call = run_call(rig, hotline.urgent_unanswered)
    case = call["case_number"]
    assert call["branch"] == "urgent", call
    # both mediators on duty were rung at once, neither accepted; then the urgent ladder
    # rang the office head (issue 17.2: tests/scenarios/test_urgent_ladder.py), nor did they
    rung = sorted(leg["number"] for leg in call["duty_legs"] if leg["number"] != HEAD)
    assert rung == [MEDIATOR, MEDIATOR2], call["duty_legs"]
    assert [s["step"] for s in call["ladder"]] == ["mediators", "head"], call["ladder"]

    async def all_told(rig):
        return [await hotline.wait_outside_sms(rig, who, case)
                for who in (MEDIATOR, MEDIATOR2, HEAD)]
    texts = run_call(rig, all_told)
    caller_number = rig.sim["caller"]["number"]
    assert all("紧急" in t["text"] and caller_number in t["text"] for t in texts), texts
    # the lawyer on duty is not a mediator: not told
    assert not hotline.outside_sms(rig, LAWYER, case)
