"""The office's duties to a result (issue 17, points 1, 3, 4 and 8) on the loopback line:
what each caller heard, what each phone received, and what reached upstream (the HTTP
receiver) and the departments' mailbox (aiosmtpd with STARTTLS and AUTH).

- On-site service: a service request dispatched by the duty lawyer's SMS to a listed
  provider with an appointment; the provider and the caller texted; the provider's 到场 and
  结案 with the result; the caller's closing SMS with that result, the survey and its
  answer; a missed appointment alerting the head and the owner.
- Referral hand-off: the department's phone spoken digit by digit and its address (rendered
  from the config), heard again on 1, texted on 2 to a mobile the caller keys; the
  department gets the case with a reply code by SMS and e-mail; its SMS reply closes the case
  and the caller gets the result; a department that does not reply within its working days
  alerts the head (the box restarted days later).
- Complainants told: the head's result reaches a mobile complainant by SMS in plain words; a
  landline complainant hears it on key 9 and the case records it.
- Staff availability: the only lawyer signs off by SMS (the head is told nobody is left) and
  is not rung; the head's night mode makes the box answer as after hours.

Two lines: line 2's caller is a landline (07731234567). One rig for the module; the tests run
in file order. Run under `flock /tmp/lawline-realtime.lock`.
"""

import asyncio
import datetime as dt
import email
import email.policy
import time

import pytest

from lawline_rig.probe import duties, hearing, hotline, scenarios
from lawline_rig.probe.rig import wait_until
from lawline_rig.probe.upstreams import SmtpServer, TestCa

from ..conftest import run_call

pytestmark = pytest.mark.scenario

LAWYER, MEDIATOR, HEAD = "13900000001", "13900000002", "13900000009"
PROVIDER, DEPARTMENT, TYPED = "13700000011", "13700000021", "13912345678"
LANDLINE = "07731234567"
MONDAY = "2026-11-30T10:00:00"
MAIL_USER, MAIL_PASSWORD = "box@county.example", "smtp-pass-17a"
ROTA = f"""date,shift,name,role,mobile,staff_no
2026-11-30,day,张律师,lawyer,{LAWYER},11
2026-11-30,day,李调解,mediator,{MEDIATOR},12
"""


@pytest.fixture(scope="module")
def rig(module_rigs, tmp_path_factory):
    state = tmp_path_factory.mktemp("duties-files")
    (state / "rota.csv").write_text(ROTA, encoding="utf-8")
    ca = TestCa(tmp_path_factory.mktemp("ca"))
    smtp = SmtpServer(ca, {MAIL_USER: MAIL_PASSWORD}).start()
    secret = state / "smtp.secret"
    secret.write_text(MAIL_PASSWORD)
    secret.chmod(0o600)
    options = {
        "office": {"head_mobile": HEAD},
        "hours": {"always_open": False},
        "duty": {"rota_files": [str(state / "rota.csv")], "gap_days": 0,
                 "shifts": ["day 08:30-17:30 workdays", "night 17:30-08:30"]},
        "cases": {"check_minutes": 0.05},
        # every call of this module's one box comes from the same caller: its day's allowance
        # of cases and SMS would run out before the last test (tests/unit/test_limits.py
        # tests the caps)
        "limits": {"sms_per_number_per_day": 100, "cases_per_number_per_day": 50},
        "onsite": {"missed_after_minutes": 1.0},
        "email": {"to": ["office@county.example"], "host": "127.0.0.1", "port": smtp.port,
                  "sender": MAIL_USER, "username": MAIL_USER,
                  "password_file": str(secret), "ca_file": str(ca.ca)},
        "provider": [{"name": "王律师（城关律师事务所）", "kind": "law_firm", "mobile": PROVIDER,
                      "area": "城关镇"}],
        "referral": [
            {"name": "县劳动保障监察大队", "phone": "07731234567", "address": "县府路1号",
             "hours": "周一至周五 9:00-17:00", "sms": DEPARTMENT, "email": "jc@county.example"},
            {"name": "县市场监督管理局", "phone": "07737654321", "address": "城东路8号",
             "hours": "周一至周五 8:30-17:30"}],
    }
    rig = module_rigs.rig("duties", start=False, box_options=options, lines=2,
                          sim_args=("--caller-number", f"13800138000,{LANDLINE}"))
    rig.box_clock = MONDAY
    rig.smtp = smtp
    try:
        rig.start()
        rig.started = time.monotonic()
        yield rig
        module_rigs.stop(rig)           # fails naming the box if it did not exit cleanly
    finally:
        smtp.stop()


def office_now(rig):
    """The box's office clock: MONDAY when it started, running on since."""
    return dt.datetime.fromisoformat(rig.box_clock) + \
        dt.timedelta(seconds=time.monotonic() - rig.started)


def mails_to(rig, address):
    return [email.message_from_bytes(raw, policy=email.policy.default)
            for _, rcpts, raw in rig.smtp.messages
            if address in rcpts]


# -- 1. on-site service -------------------------------------------------------------------------

def test_a_service_request_is_dispatched_visited_and_closed_with_its_result(rig):
    result = run_call(rig, duties.onsite_visit, LAWYER, PROVIDER, "12-01 09:30",
                      "城关镇幸福村3组", "已上门为申请人代写遗嘱，联系13900000001")
    case, upstream = result["case"], result["record"]
    assert "已上门为申请人代写遗嘱" in result["closing"] and "139****0001" in result["closing"]
    assert upstream["dispatch"]["provider"] == "王律师（城关律师事务所）"
    assert upstream["dispatch"]["place"] == "城关镇幸福村3组" and upstream["arrived"]
    assert upstream["told_how"] == "sms" and upstream["survey_score"] == 5
    assert upstream["state"] == "caller_informed"
    log = rig.box_log()
    assert f"case {case}: dispatched on site to '王律师（城关律师事务所）'" in log
    assert f"case {case}: the caller 13800138000 answered the survey: 5 of 5" in log


def test_a_missed_appointment_alerts_the_head_and_the_owner(rig):
    request = run_call(rig, hotline.service_request_with_sms, LAWYER)
    case = request["case"]
    soon = office_now(rig) - dt.timedelta(minutes=2)   # due a minute ago ([onsite] 1 min)
    hotline.deliver_sms(rig, LAWYER, f"上门 {case} 1 {soon:%m-%d %H:%M} 城东路8号")

    async def alerted(rig):
        head = await hotline.wait_outside_sms(rig, HEAD, f"未到场提醒：案件{case}")
        owner = await hotline.wait_outside_sms(rig, LAWYER, f"未到场提醒：案件{case}")
        record = await duties.upstream_journal(rig, case, "appointment_missed")
        return head, owner, record
    head, owner, record = run_call(rig, alerted)
    assert "王律师" in head["text"] and "城东路8号" in head["text"]
    assert record["missed_alerted"] and "arrived" not in record


# -- 3. referral hand-off ----------------------------------------------------------------------

def test_a_referral_is_spoken_texted_handed_off_and_closed_by_the_departments_reply(rig):
    call = run_call(rig, duties.referral_handoff, "1", "07731234567", "referral_address_1",
                    TYPED)
    case = call["case_number"]

    async def handed(rig):
        typed = await hotline.wait_outside_sms(rig, TYPED, "07731234567")
        department = await hotline.wait_outside_sms(rig, DEPARTMENT, f"案件{case}")
        record = await duties.upstream_journal(rig, case, "opened")
        return typed, department, record
    typed, department, record = run_call(rig, handed)
    assert "县劳动保障监察大队" in call["caller_sms"] and "07731234567" in call["caller_sms"]
    assert "县府路1号" in typed["text"] and "县劳动保障监察大队" in typed["text"]
    code = record["reply_code"]
    assert code in department["text"] and "13800138000" in department["text"]
    assert record["handoff"]["department"] == "县劳动保障监察大队" and record["reply_due"]
    wait_until(lambda: mails_to(rig, "jc@county.example"), 40, "the hand-off e-mail")
    mail = mails_to(rig, "jc@county.example")[0]
    assert code in mail["Subject"] and case in mail["Subject"]
    body = next(p for p in mail.walk() if p.get_content_type() == "text/plain")
    assert case in body.get_content() and code in body.get_content()
    hotline.deliver_sms(rig, DEPARTMENT, f"{code} 已联系用人单位，为来电人追回工资2000元")

    async def closed(rig):
        told = await hotline.caller_sms(rig, f"您的案件{case}已办结")
        thanks = await hotline.wait_outside_sms(rig, DEPARTMENT, f"已收到案件{case}")
        replied = await duties.upstream_journal(rig, case, "caller_informed", told_how="sms")
        return told, thanks, replied
    told, thanks, replied = run_call(rig, closed)
    assert "为您追回工资2000元" in told, told
    assert replied["reply_result"].startswith("已联系用人单位") and replied["reply_at"]
    assert rig.upstream_path(f"handoff-{case}", "record.json").exists()


# -- 8. staff availability ---------------------------------------------------------------------

def test_a_signed_off_lawyer_is_not_rung_and_the_head_is_told(rig):
    rig.start_dutyphone("accept")
    seen = run_call(rig, duties.signed_off_is_not_rung, LAWYER, HEAD)
    assert "当前已无律师" in seen["head"]["text"]
    assert "duty: signed off, not rung: 13900000001" in rig.box_log()
    # audited upstream: the change reached the receiver as kind audit
    actions = [i["record"]["action"] for i in rig.items("audit")]
    assert actions[-2:] == ["availability_off", "availability_on"]


def test_the_heads_night_mode_makes_the_box_answer_as_after_hours(rig):
    call = run_call(rig, duties.night_mode, HEAD)
    assert call["branch"] == "after_hours"
    assert "night mode set by" in rig.box_log()


# -- 4. complainants told --------------------------------------------------------------------------

def test_a_complainant_is_told_the_heads_outcome_by_sms(rig):
    result = run_call(rig, duties.complaint_told, HEAD,
                      "经核实，当事人反映的接待态度问题属实，已对该工作人员批评教育。")
    assert "您反映的接待态度问题属实" in result["told"]
    assert "经核实，" in result["told"]          # Chinese punctuation kept


def test_a_landline_complainant_hears_the_outcome_on_key_9(rig):
    box2 = rig.box_number_of(2)

    async def complain_then_ask(rig):
        caller = await rig.start_caller(line=2)
        try:
            after = rig.last_id()
            await caller.call(box2)
            await caller.hear("greeting", 20)
            await caller.press("5")
            await caller.hear("complaint_staff", 30)
            await caller.press("#")
            await caller.hear("record_complaint", 30)
            await caller.hear("beep", 20)
            caller.audio.speak(hearing.make_tone(scenarios.CALLER_TONE, 1.0))
            await asyncio.sleep(2.0)
            caller.audio.quiet()
            await caller.press("#")
            await caller.hear("recorded", 20)
            await caller.hang_up()
            await caller.wait_ended(20)
            vm = await rig.next_record("voicemail", after)
            case = vm["record"]["case_number"]
            assert vm["record"]["caller"] == LANDLINE, vm["record"]
            await hotline.wait_outside_sms(rig, HEAD, case)
            hotline.deliver_sms(rig, HEAD, f"结案 {case} 已调查核实并作出处理")
            await hotline.wait_outside_sms(rig, HEAD, f"案件{case}已结案")
            await duties.upstream_journal(rig, case, "resolved", result="已调查核实并作出处理")
            assert not hotline.outside_sms(rig, LANDLINE)     # a landline gets no SMS
            call = await duties.result_on_the_phone(rig, caller, box2, case)
            record = await duties.upstream_journal(rig, case, "caller_informed",
                                                   told_how="phone")
            return call, record
        finally:
            await caller.close()
    call, record = run_call(rig, complain_then_ask)
    assert call["branch"] == "case_status" and record["told_at"]


# -- 3. ... and a department that never replies ---------------------------------------------------

def test_a_department_that_does_not_reply_in_working_days_alerts_the_head(rig):
    async def refer(rig):
        caller, after = rig.caller, rig.last_id()
        await caller.call(rig.box_number)
        await caller.hear("greeting", 20)
        await caller.press("4")
        await caller.hear("referral_intro", 30)
        await caller.press("1")
        await caller.hear("referral_phone", 30)
        await caller.hang_up()
        await caller.wait_ended(20)
        return (await rig.next_record("call", after))["record"]["case_number"]
    case = run_call(rig, refer)
    # Monday's hand-off is due by the end of Thursday (three working days); Friday it is late
    assert rig.procs.pop("box").stop() == 0
    before = rig.box_log().count("answering after")
    rig.box_clock = "2026-12-04T10:00:00"
    rig.start_box()
    wait_until(lambda: rig.box_log().count("answering after") > before, 30, "the box")

    async def late(rig):
        head = await hotline.wait_outside_sms(rig, HEAD, f"转介督办：案件{case}")
        record = await duties.upstream_journal(rig, case, "reply_overdue")
        return head, record
    head, record = run_call(rig, late)
    assert "县劳动保障监察大队" in head["text"] and record["reply_code"] in head["text"]
    assert record["state"] == "referred" and record["reply_alerted"]
