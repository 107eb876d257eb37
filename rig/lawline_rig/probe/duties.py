"""Scripted calls and SMS for the office's duties to a result (issue 17): on-site service
with an appointment, a referral handed to its department, the result told to the caller
(complainants too) with the survey, staff availability.

Shared by tests/scenarios/test_duties.py and `lawline demo`. Each asserts what the caller
heard, what each phone received (the caller's modem; every other number's SMS land in the
simulator's outside mailbox) and what reached upstream, and returns what it saw.
"""

import asyncio
import json

from . import hearing, hotline, scenarios
from .rig import async_wait_until


def upstream_record(rig, key):
    """An outbox item's record as the upstream receiver stored it, or None."""
    path = rig.upstream_path(key, "record.json")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


async def upstream_journal(rig, case, event, timeout=40, **fields):
    """The case's journal item upstream with `event` (and `fields` equal), once it is
    there."""
    def find():
        office = rig.upstream_dir / rig.box_config()["office"]["id"]
        for path in sorted(office.glob(f"*/case-{case}-*/record.json")):
            record = json.loads(path.read_text(encoding="utf-8"))
            if record.get("event") == event and \
                    all(record.get(k) == v for k, v in fields.items()):
                return record
        return None
    record = await async_wait_until(find, timeout, f"case {case}'s {event!r} journal item "
                                    "upstream")
    rig.caller.note(f"upstream: case {case} {event}")
    return record


def template_from_spool(rig, caller, name, prompt):
    """Let `caller` hear a prompt the box rendered on its spool (spool/prompts: a
    department's address, a case's result)."""
    path = rig.spool_dir / "prompts" / "generated" / f"{prompt}.wav"
    caller._templates[name] = hearing.load_wav(path)


# -- on-site service ----------------------------------------------------------------------------

async def onsite_visit(rig, lawyer, provider, when, place, result, score="5"):
    """Key 2: a service request; the duty lawyer dispatches it by SMS (上门) to provider 1
    with an appointment; the provider and the caller are texted; the provider reports 到场,
    then 结案 with the result; the caller gets the result and the survey, answers it."""
    request = await hotline.service_request_with_sms(rig, lawyer)
    case = request["case"]
    caller_number = rig.sim["caller"]["number"]
    hotline.deliver_sms(rig, lawyer, f"上门 {case} 1 {when} {place}")
    to_provider = await hotline.wait_outside_sms(rig, provider, f"到场 {case}")
    assert place in to_provider["text"] and caller_number in to_provider["text"], to_provider
    to_caller = await hotline.caller_sms(rig, "已安排上门服务")
    assert case in to_caller and provider in to_caller, to_caller
    confirm = await hotline.wait_outside_sms(rig, lawyer, f"案件{case}已派")
    await upstream_journal(rig, case, "dispatched")
    hotline.deliver_sms(rig, provider, f"到场 {case}")
    await hotline.wait_outside_sms(rig, provider, f"案件{case}已登记到场")
    hotline.deliver_sms(rig, provider, f"结案 {case} {result}")
    closing = await hotline.caller_sms(rig, f"您的案件{case}已办结")
    survey = await hotline.caller_sms(rig, "回复数字1-5")
    hotline.deliver_sms(rig, caller_number, score)
    surveyed = await upstream_journal(rig, case, "surveyed", survey_score=int(score))
    return {"case": case, "closing": closing, "survey": survey, "record": surveyed,
            "sms": [(provider, to_provider["text"]), ("caller", to_caller),
                    (lawyer, confirm["text"]), ("caller", closing), ("caller", survey)]}


# -- referral hand-off ---------------------------------------------------------------------------

async def referral_handoff(rig, key, digits, address_prompt, mobile):
    """Key 4 and a department: its phone is read digit by digit, then its address (rendered
    from the config); 1 hears them again; 2 and a mobile have them texted there."""
    caller, after = rig.caller, rig.last_id()
    template_from_spool(rig, caller, address_prompt, address_prompt)
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    await caller.press("4")
    await caller.hear("referral_intro", 30)
    await caller.press(key)
    await caller.hear("referral_phone", 30)
    for digit in digits:
        await caller.hear(f"digit_{digit}", 10)
    await caller.hear("referral_address", 10)
    await caller.hear(address_prompt, 20)
    await caller.hear("referral_options", 20)
    await caller.press("1")                         # again
    await caller.hear("referral_phone", 20)
    await caller.hear("referral_options", 60)
    await caller.press("2")
    await caller.hear("referral_enter_mobile", 20)
    await caller.press(mobile + "#")
    await caller.hear("referral_texted", 30)
    await caller.wait_ended(40)
    call = (await rig.next_record("call", after))["record"]
    assert call["outcome"] == "referred", call
    assert call["referral_texted"] == [{"number": mobile[:3] + "****" + mobile[-4:],
                                        "sent": True}], call
    # the caller's own phone got the department's details during the call: read them with
    # this caller (the next run_call's caller is a fresh one, its phone's SMS unread)
    mine = await hotline.caller_sms(rig, f"转介信息（案件{call['case_number']}）")
    return {**call, "caller_sms": mine}


# -- the result told -------------------------------------------------------------------------

async def complaint_told(rig, head, result):
    """(f) Key 5, a complaint; the office head records the outcome by SMS; the complainant is
    told it by SMS in plain words (and asked to rate it); the case upstream says when and
    how they were told."""
    left = await scenarios.leave_message(rig, "5", "record_complaint",
                                         intro=("complaint_staff",))
    case = left["voicemail"]["record"]["case_number"]
    await hotline.wait_outside_sms(rig, head, case)
    hotline.deliver_sms(rig, head, f"结案 {case} {result}")
    told = await hotline.caller_sms(rig, f"您的案件{case}已办结")
    await hotline.caller_sms(rig, f"请对案件{case}的办理作出评价")
    record = await upstream_journal(rig, case, "caller_informed", told_how="sms")
    assert record["kind"] == "complaint" and record["result"], record
    rig.caller.note(f"complainant told: {told}")
    return {"case": case, "told": told, "voicemail": left["voicemail"], "call": left["call"],
            "upstream": left["upstream"], "sms": [("complainant", told)]}


async def result_on_the_phone(rig, caller, box_number, case):
    """Key 9 from the phone that opened `case` (resolved, its caller not told yet): the
    status, then the result the office wrote, spoken."""
    after = rig.last_id()
    await caller.call(box_number)
    await caller.hear("greeting", 20)
    await caller.press("9")
    await caller.hear("enter_case", 30)
    await caller.press(case + "#")
    await caller.hear("status_resolved", 30)
    await caller.hear("case_result", 20)
    template_from_spool(rig, caller, f"result_{case}", f"result_{case}")
    await caller.hear(f"result_{case}", 30)
    await caller.wait_ended(40)
    call = (await rig.next_record("call", after))["record"]
    assert call["result_told"] == case, call
    return call


# -- staff availability ---------------------------------------------------------------------------

async def signed_off_is_not_rung(rig, lawyer, head):
    """The only lawyer on duty signs off by SMS: confirmed, the head is told nobody is left;
    a key 1 call then rings nobody and leaves a voicemail; 上班 brings them back."""
    hotline.deliver_sms(rig, lawyer, "休息 2小时")
    confirm = await hotline.wait_outside_sms(rig, lawyer, "已登记休息")
    told = await hotline.wait_outside_sms(rig, head, "休息")
    duty_calls = len(rig.duty_events_list())
    left = await scenarios.leave_message(rig, "1", "record_message")
    assert left["call"]["duty_legs"] == [], left["call"]
    assert len(rig.duty_events_list()) == duty_calls
    hotline.deliver_sms(rig, lawyer, "上班")
    back = await hotline.wait_outside_sms(rig, lawyer, "已恢复值班")
    return {"confirm": confirm, "head": told, "back": back, "call": left["call"]}


async def night_mode(rig, head):
    """The head switches the line to night mode by SMS: the next caller hears the
    after-hours greeting; 恢复 brings the office hours back."""
    hotline.deliver_sms(rig, head, "夜间 1小时")
    await hotline.wait_outside_sms(rig, head, "夜间模式")
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("after_hours", 20)
    await caller.hang_up()
    await caller.wait_ended(20)
    call = (await rig.next_record("call", after))["record"]
    assert call["branch"] == "after_hours", call
    hotline.deliver_sms(rig, head, "恢复")
    await hotline.wait_outside_sms(rig, head, "恢复按办公时间")
    await asyncio.sleep(0)
    return call
