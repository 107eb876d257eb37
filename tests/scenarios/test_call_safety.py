"""One call can never stop the box, case status is for the caller only, and the abuse limits
hold (issue 9 points 3, 5, 6), on the loopback line with the real box, modem driver and
pjsua2.

The box starts on a spool whose start-up recovery fails (a damaged record to set aside and a
file where the `damaged/` folder should be): it must start and answer anyway. It plays a
copy of the prompts, so a test can damage one mid-run. One rig for the module; the tests run
in file order.
"""

import asyncio
import json
import shutil
import time

import pytest

from lawline import config as configuration, update
from lawline.errors import ModemError
from lawline.records.cases import Cases
from lawline_rig.probe import hearing, hotline, scenarios
from lawline_rig.probe.rig import wait_until

from ..conftest import run_call

pytestmark = pytest.mark.scenario

STRANGER = "13700000000"     # another phone: whose case the rig's caller asks about


@pytest.fixture(scope="module")
def rig(module_rigs):
    rig = module_rigs.rig("safety", start=False)
    prompts = rig.dir / "prompts"
    shutil.copytree(configuration.REPO_PROMPTS / "zh-CN", prompts / "zh-CN")
    spool = rig.spool_dir
    (spool / "incoming").mkdir(parents=True)
    (spool / "incoming" / "call-261201-100000-abcd.json").write_text("{not json")
    (spool / "damaged").write_text("a file where recovery wants its folder\n")
    rig.box_options["prompts"] = {"dir": str(prompts)}
    rig.box_prompts = prompts / "zh-CN"
    rig.start()
    return rig     # the factory stops it and checks that the box exited cleanly


def test_a_start_up_recovery_that_raises_does_not_stop_start_up(rig):
    log = rig.box_log()
    assert "start-up recovery of" in log and "failed: FileExistsError" in log, log[-3000:]
    assert "ready on" in log
    # the record it could not set aside is still where it was: tried again next start
    assert (rig.spool_dir / "incoming" / "call-261201-100000-abcd.json").exists()
    call = run_call(rig, scenarios.hang_up_in_greeting)
    assert call["outcome"] == "abandoned"


async def key_0_forty_times(rig):
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    began = time.monotonic()
    await caller.hear("greeting", 20)
    pressed = 0
    for _ in range(40):
        if caller.ended.is_set():
            break
        try:
            await caller.press("0")
        except ModemError:      # the box hung up between two keys
            break
        pressed += 1
    await caller.wait_ended(120)
    took = time.monotonic() - began
    call = (await rig.next_record("call", after))["record"]
    return call, took, pressed


def test_a_caller_keying_0_forty_times_is_off_the_line_in_under_two_minutes(rig):
    before = rig.box_log().count("limit hit: menu_tries")
    call, took, pressed = run_call(rig, key_0_forty_times)
    assert took < 120, f"the caller was on the line {took:.0f} s"
    assert call["outcome"] == "no_input" and call["limits_hit"] == ["menu_tries"], call
    assert call["menu_path"] == ["0", "0", "0"], call["menu_path"]
    # the box hung up, not the caller (who never does in this script)
    assert "caller: hung up" not in " ".join(t for _, t in rig.caller.transcript)
    assert rig.box_log().count("limit hit: menu_tries") == before + 1


def _strangers_resolved_case(rig):
    cases = Cases(rig.spool_dir / "cases.db")
    try:
        case = cases.open_case(cases.next(), "service_request", STRANGER)
        cases.move(case.number, "resolved", "张律师")
        return cases.get(case.number), len(cases.history(case.number))
    finally:
        cases.close()


async def status_with_pin(rig, number, wrong_pin, pin):
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    await caller.press("9")
    await caller.hear("enter_case", 30)
    await caller.press(number + "#")
    await caller.hear("enter_pin", 20)       # not this caller's case: a PIN is asked for
    await caller.press(wrong_pin)
    await caller.hear("case_not_found", 20)  # ... and a wrong one tells nothing
    await caller.hear("enter_case", 20)
    await caller.press(number + "#")
    await caller.hear("enter_pin", 20)
    await caller.press(pin)
    await caller.hear("status_resolved", 30)
    await caller.hear("goodbye", 20)
    await caller.wait_ended(20)
    return (await rig.next_record("call", after))["record"]


def test_status_of_another_numbers_case_needs_its_pin_and_changes_nothing(rig):
    case, history = _strangers_resolved_case(rig)
    rig.stranger_case = case
    assert case.caller != rig.sim["caller"]["number"]
    wrong = "0000" if case.pin != "0000" else "1111"
    call = run_call(rig, status_with_pin, case.number, wrong, case.pin)
    assert call["branch"] == "case_status" and call["outcome"] == "status_told", call
    assert call["status_queries"] == [case.number, case.number]
    assert call["status_by_pin"] is True
    assert case.pin not in str(call)            # the PIN is never written anywhere
    # a lookup never changes the case: still resolved, no new history
    cases = Cases(rig.spool_dir / "cases.db")
    try:
        after = cases.get(case.number)
        assert after.state == "resolved" and len(cases.history(case.number)) == history
    finally:
        cases.close()
    assert f"case status {case.number}: resolved, told (the case's PIN)" in rig.box_log()


def test_key_9_reads_an_old_nine_digit_case_of_this_caller(rig):
    cases = Cases(rig.spool_dir / "cases.db")
    try:   # a case a box before the ten-digit numbers opened for this caller
        cases.open_case("261130005", "consultation", rig.sim["caller"]["number"])
    finally:
        cases.close()
    call = run_call(rig, hotline.status_call, "261130005", "status_new")
    assert call["status_queries"] == ["261130005"] and "status_by_pin" not in call
    assert "case status 261130005: new, told (the caller's own phone)" in rig.box_log()


async def request_when_a_prompt_is_damaged(rig):
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    await caller.press("2")
    await caller.hear("record_request", 20)
    await caller.hear("beep", 20)
    caller.audio.speak(hearing.make_tone(scenarios.CALLER_TONE, 1.0))
    await asyncio.sleep(2.0)      # the caller speaks for this long
    caller.audio.quiet()
    await caller.press("#")
    await caller.hear("recorded", 20)
    # the case number cannot be read back (its prompt is garbage): the call ends cleanly
    await caller.hear("service_unavailable", 20)
    await caller.hear("goodbye", 20)
    await caller.wait_ended(20)
    vm = await rig.next_record("voicemail", after)
    call = (await rig.next_record("call", after))["record"]
    return vm, call


def test_a_failure_inside_a_call_ends_that_call_only(rig):
    prompt = rig.box_prompts / "generated" / "case_number.wav"
    good = prompt.read_bytes()
    prompt.write_bytes(b"RIFF\x00\x00\x00\x00this is not a wave file" * 10)
    try:
        vm, call = run_call(rig, request_when_a_prompt_is_damaged)
    finally:
        prompt.write_bytes(good)
    assert call["outcome"] == "error", call
    assert call["error"].startswith("Error: ") or "wave" in call["error"].lower(), call
    assert call["error_at"], call
    # what the caller said is kept and owed upstream
    assert vm["record"]["case_number"] == call["case_number"]
    log = rig.box_log()
    assert f"call {call['call_id']}: unexpected" in log and "the box goes on" in log
    # the box answers the next call normally
    result = run_call(rig, scenarios.leave_message, "2", "record_request")
    assert result["call"]["outcome"] == "voicemail" and "error" not in result["call"]


async def bridged_until_cut(rig):
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    await caller.press("1")
    await caller.hear("connecting", 20)
    await caller.hear_tone(scenarios.DUTY_TONE, 30)
    await caller.hear("goodbye", 60)     # the box ends the call at its maximum length
    await caller.wait_ended(20)
    return (await rig.next_record("call", after))["record"]


async def status_tries_used_up(rig, number, wrong_pin):
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    await caller.press("9")
    await caller.hear("enter_case", 30)
    await caller.press(number + "#")
    await caller.hear("enter_pin", 20)
    await caller.press(wrong_pin)
    await caller.hear("case_not_found", 20)
    await caller.hear("goodbye", 30)         # no second try: the day's tries are used up
    await caller.wait_ended(20)
    return (await rig.next_record("call", after))["record"]


def test_status_tries_per_number_per_day_survive_a_restart(rig):
    # one wrong try was made above; with two a day this one is the last
    assert rig.procs.pop("box").stop() == 0
    before = rig.box_log().count("answering after")
    rig.box_options["limits"] = {"max_call_seconds": 40.0,
                                 "status_tries_per_number_per_day": 2}
    rig.start_box()
    wait_until(lambda: rig.box_log().count("answering after") > before, 30, "the box")
    case = rig.stranger_case
    call = run_call(rig, status_tries_used_up, case.number,
                    "0000" if case.pin != "0000" else "1111")
    assert call["outcome"] == "status_unknown" and call["limits_hit"] == ["status_tries_day"]
    assert call["status_queries"] == [case.number]
    assert "limit hit: status_tries_day" in rig.box_log()


def test_a_call_is_cut_at_its_maximum_length(rig):
    rig.start_dutyphone("accept")      # the box runs with max_call_seconds = 40 (above)
    call = run_call(rig, bridged_until_cut)
    assert call["outcome"] == "bridged" and call["cut"] == "call_length", call
    assert call["limits_hit"] == ["call_length"]
    assert 35 <= call["duration_s"] <= 55, call["duration_s"]
    assert "limit hit: call_length" in rig.box_log()
    # the duty phone's leg was hung up too
    wait_until(lambda: "disconnected" in [e["event"] for e in rig.duty_events_list()], 15,
               "the duty phone's leg to be hung up")


async def calls_in_state_during_a_call(rig):
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    up = json.loads((rig.spool_dir / "state.json").read_text())["calls"]
    await caller.hang_up()
    await caller.wait_ended(10)
    await rig.next_record("call", after)
    return up


async def rings_unanswered(rig, seconds):
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(rig.caller.call(rig.box_number), seconds)
    await rig.caller.hang_up()


def test_an_update_holding_the_line_leaves_new_calls_ringing(rig):
    """Field updates (issue 20, update.py): the updater restarts the box only when state.json
    counts no call in progress, and its flag in the spool keeps new calls from being answered
    until the restart; a flag of another boot holds nothing."""
    state = rig.spool_dir / "state.json"
    assert run_call(rig, calls_in_state_during_a_call) == 1
    wait_until(lambda: json.loads(state.read_text())["calls"] == 0, 10, "calls back to 0")
    flag = rig.spool_dir / update.FLAG
    flag.write_text(update.flag_text(update.boot_id(), time.time(), "test: restart for 2.0"))
    missed = rig.box_log().count("missed call from")
    try:
        run_call(rig, rings_unanswered, 12)
        wait_until(lambda: rig.box_log().count("missed call from") > missed, 15,
                   "the box to log the call it let ring")
    finally:
        flag.unlink()
    assert "not answering new calls: test: restart for 2.0" in rig.box_log()
    flag.write_text(update.flag_text("another boot", time.time(), "stale"))
    try:
        assert run_call(rig, scenarios.hang_up_in_greeting)["outcome"] == "abandoned"
    finally:
        flag.unlink()
