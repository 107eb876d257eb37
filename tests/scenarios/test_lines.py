"""Several lines in one box ([[line]]), on the loopback line with two lines: two callers at
once, one bridged while the other leaves a voicemail; a caller queued while the only duty
phone is in a call from this box, who asks to be called back."""

import asyncio

import pytest

from lawline_rig.probe import hearing, scenarios
from lawline_rig.probe.rig import Rig, async_wait_until

pytestmark = pytest.mark.scenario


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    rig = Rig(tmp_path_factory.mktemp("two-lines"), lines=2)   # the box gets two [[line]]
    rig.start()
    yield rig
    codes = rig.stop()
    assert codes.get("box") == 0, f"the box exited with {codes.get('box')}:\n{rig.box_log()[-3000:]}"


def calls_of(rig, after):
    return {item["record"]["line"]: item["record"] for item in rig.items("call")
            if item["id"] > after}


async def bridged_until(rig, caller, other_done):
    """Line 1's caller: key 1, bridged to the duty phone, talking until `other_done`."""
    await caller.call(rig.box_number_of(1))
    await caller.hear("greeting", 20)
    await caller.press("1")
    await caller.hear("connecting", 20)
    await caller.hear_tone(scenarios.DUTY_TONE, 30)
    caller.note("bridged; line 2 goes on")
    await other_done.wait()
    await caller.hang_up()
    await caller.wait_ended(10)


async def message_on_line_2(rig, caller, bridged_first):
    await bridged_first()
    await caller.call(rig.box_number_of(2))
    await caller.hear("greeting", 20)
    await caller.press("2")
    await caller.hear("record_request", 20)
    await caller.hear("beep", 20)
    caller.audio.speak(hearing.make_tone(scenarios.CALLER_TONE, 1.0))
    await asyncio.sleep(2.0)
    caller.audio.quiet()
    await caller.press("#")
    await caller.hear("recorded", 20)
    await caller.wait_ended(40)


def two_calls(rig, first, second):
    async def main():
        one, two = await rig.start_caller(1), await rig.start_caller(2)
        try:
            done = asyncio.Event()
            async def second_then_done():
                try:
                    await second(rig, two)
                finally:
                    done.set()
            await asyncio.gather(first(rig, one, done), second_then_done())
        finally:
            await one.close()
            await two.close()
    asyncio.run(main())


def duty_in_call(rig):
    """Waits until line 1's caller (of this test) is bridged."""
    since = len(rig.box_log())
    async def wait():
        await async_wait_until(lambda: "bridged to duty phone" in rig.box_log()[since:], 60,
                               "line 1's caller to be bridged")
    return wait


def test_two_callers_at_once_one_bridged_one_leaves_a_voicemail(rig):
    rig.start_dutyphone("accept")
    after = rig.last_id()
    two_calls(rig, bridged_until,
              lambda rig, caller: message_on_line_2(rig, caller, duty_in_call(rig)))
    asyncio.run(async_wait_until(lambda: len(calls_of(rig, after)) == 2, 30,
                                 "both call records"))
    calls = calls_of(rig, after)
    one, two = calls[rig.box_number_of(1)], calls[rig.box_number_of(2)]
    assert one["outcome"] == "bridged" and one["bridged_to"] == "13900000001", one
    assert two["outcome"] == "voicemail" and two["voicemail"]["case_number"], two
    vm = [i for i in rig.items("voicemail") if i["id"] > after]
    assert [v["record"]["line"] for v in vm] == [rig.box_number_of(2)]
    log = rig.box_log()
    assert "line 2 (" in log and "answering" in log


async def queued_for_a_callback(rig, caller, bridged_first):
    await bridged_first()
    await caller.call(rig.box_number_of(2))
    await caller.hear("greeting", 20)
    await caller.press("1")
    await caller.hear("queue_place", 30)       # the only duty phone is in line 1's call
    await caller.hear("queue_callback", 20)
    await caller.press("1")
    await caller.hear("callback_booked", 20)
    await caller.wait_ended(30)


def test_a_caller_queued_while_the_duty_phone_is_busy_asks_for_a_callback(rig):
    rig.start_dutyphone("accept")
    after = rig.last_id()
    since = len(rig.box_log())
    two_calls(rig, bridged_until,
              lambda rig, caller: queued_for_a_callback(rig, caller, duty_in_call(rig)))
    asyncio.run(async_wait_until(lambda: len(calls_of(rig, after)) == 2, 30,
                                 "both call records"))
    calls = calls_of(rig, after)
    queued = calls[rig.box_number_of(2)]
    assert queued["outcome"] == "callback" and queued["queued"] is True, queued
    assert queued["queue_place"] == 1 and queued["duty_legs"] == [], queued
    case = queued["case_number"]
    log = rig.box_log()[since:]
    # the duty phone was not rung a second time while in line 1's call
    assert "already rung or in a call from this box; not rung" in log
    # the callback request is a case with the caller's number, owned by the duty lawyer,
    # and the duty lawyer's SMS is queued (records/office.py logs each)
    caller_number = rig.line_info(2)["caller"]["number"]
    assert f"case {case} opened: consultation from '{caller_number}', assigned, owner" in log
    assert f"callback requested: case {case}" in log
    assert "sms: duty case message to 13900000001 queued" in log
