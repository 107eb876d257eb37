"""Whole calls on the loopback line: each asserts what the caller heard (prompts found in the
caller's audio by cross-correlation), what the duty phone heard (the caller's tone), and that
upstream holds bytes equal to the spooled files."""

import asyncio

import pytest

from lawline_rig import sim
from lawline_rig.probe import hearing, scenarios
from lawline_rig.wait import async_wait_until

from ..conftest import run_call

pytestmark = pytest.mark.scenario


# Every profile runs the three demo calls (a, b, c); the whole set runs on the SIM7600 only,
# to keep the suite short (tests/scenarios/test_modems.py has each profile's own checks).
PROFILES = ["simcom-sim7600", "quectel-ec25", "v253"]
FULL_SET = "simcom-sim7600"


def full_set_only(rig):
    if rig.profile != FULL_SET:
        pytest.skip(f"runs on {FULL_SET} only; {rig.profile} runs the three demo calls")


@pytest.fixture(scope="module", params=PROFILES)
def rig(request, module_rigs, hil_ports):
    profile = request.param
    if hil_ports and hil_ports.get("profile", FULL_SET) != profile:
        pytest.skip(f"the hardware-in-loop rig is a {hil_ports.get('profile')}, not {profile}")
    # every call of the module comes from one caller: a day's allowance of cases and SMS for
    # all of them (tests/unit/test_limits.py tests the caps)
    rig = module_rigs.rig(f"line-{profile}", hil=True, profile=profile, box_options={
        "limits": {"cases_per_number_per_day": 50, "sms_per_number_per_day": 100}})
    yield rig
    module_rigs.stop(rig)        # before the next profile's rig starts


def test_a_consultation_bridged_to_the_duty_phone(rig):
    rig.start_dutyphone("accept")
    result = run_call(rig, scenarios.consultation_bridged)
    assert result["record"]["bridged_to"] == "13900000001"
    # the duty phone saw a confirmed call and pressed 1; the box said so
    events = [e["event"] for e in rig.duty_events_list()]
    assert "confirmed" in events and "dtmf_sent" in events
    assert "accepted after" in rig.box_log()


def test_b_nobody_answers_so_the_caller_leaves_a_voicemail(rig):
    rig.start_dutyphone("no-answer")
    result = run_call(rig, scenarios.consultation_voicemail)
    record = result["voicemail"]["record"]
    assert record["menu_path"] == ["1"]
    assert len(record["case_number"]) == 10 and record["case_number"].isdigit()


def test_c_complaint_goes_to_its_own_box(rig):
    result = run_call(rig, scenarios.complaint)
    assert result["voicemail"]["record"]["menu_path"] == ["5"]


def test_caller_hangs_up_during_the_greeting(rig):
    full_set_only(rig)
    call = run_call(rig, scenarios.hang_up_in_greeting)
    assert call["voicemail"] is None and call["case_number"] is None


def test_a_caller_who_redials_the_instant_they_hang_up_is_answered(rig):
    """The caller hangs up while leaving a complaint and redials at once, three times: the
    RING comes while the box still stores the message and closes the call, and the box
    must not hang up that new call as the old one's (it sent AT+CHUP then: NO CARRIER)."""
    full_set_only(rig)

    async def hangs_up_and_redials(rig):
        caller, after = rig.caller, rig.last_id()
        for _ in range(3):
            await caller.call(rig.box_number)      # "the box did not answer" when refused
            await caller.hear("greeting", 20)
            await caller.press("5")
            await caller.hear("beep", 40)
            caller.audio.speak(hearing.make_tone(scenarios.CALLER_TONE, 1.0))
            await asyncio.sleep(1.5)               # a message to store as the next RING comes
            await caller.hang_up()
            await caller.wait_ended(10)

        def three():
            found = rig.items("voicemail", after=after)
            return found if len(found) >= 3 else None
        return await async_wait_until(three, 30, "the three messages stored")
    stored = run_call(rig, hangs_up_and_redials)
    assert "rejects the call" not in rig.sim_log()
    assert len(stored) == 3, stored


def test_invalid_keys_then_silence_ends_the_call(rig):
    full_set_only(rig)
    run_call(rig, scenarios.invalid_then_silence)


def test_garbage_on_the_at_port_is_survived(rig):
    full_set_only(rig)
    if rig.ports:
        pytest.skip("garbage injection needs the simulated line")
    sim.inject(rig.dir, "garbage", side="box", count=3)
    result = run_call(rig, scenarios.complaint)
    assert result["call"]["outcome"] == "complaint"
    assert "noise on the AT port" in rig.box_log()


def test_cpcmreg_refused_twice_then_accepted(rig):
    full_set_only(rig)
    if rig.ports:
        pytest.skip("fault injection needs the simulated line")
    sim.inject(rig.dir, "cpcmreg_refuse", side="box", count=2)
    call = run_call(rig, scenarios.hang_up_in_greeting)
    assert call["outcome"] == "abandoned"
    log = rig.box_log()
    assert log.count("AT+CPCMREG=1 refused") >= 2
    assert "call audio open after 2 refusals" in log


def test_service_request_key_2(rig):
    full_set_only(rig)
    result = run_call(rig, scenarios.leave_message, "2", "record_request")
    assert result["voicemail"]["record"]["box"] == "service_request"
