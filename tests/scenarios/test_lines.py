"""Several lines in one box ([[line]]), on the loopback line with three lines: two callers at
once, one bridged while the other leaves a voicemail; a caller queued while the only duty
phone is in a call from this box, who asks to be called back; three callers at once, the
third second in the queue behind the second."""

import asyncio
import subprocess

import pytest

from lawline_rig import sim
from lawline_rig.probe import hearing, scenarios
from lawline_rig.probe.hotline import outside_sms
from lawline_rig.probe.rig import async_wait_until, lawline_argv

pytestmark = pytest.mark.scenario


# one status LED per line ([hat] status_led_pin is line 1's); the box's pins are gpiozero's
# MockFactory (GPIOZERO_PIN_FACTORY, hat.py), whose LED changes the box logs
LED_PINS = {1: 17, 2: 22, 3: 27}


@pytest.fixture(scope="module")
def rig(module_rigs):
    # the box gets three [[line]]; the tests of two callers leave line 3 idle
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GPIOZERO_PIN_FACTORY", "mock")
        yield module_rigs.rig("three-lines", lines=3, box_options={
            "hat": {"status_led_pin": LED_PINS[1]},
            "line": [{}, {"status_led_pin": LED_PINS[2]}, {"status_led_pin": LED_PINS[3]}]})


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


def test_three_callers_the_third_is_second_in_the_queue_and_asks_for_a_callback(rig):
    """Line 1's caller is bridged to the only duty phone; line 2's caller waits in the queue
    (place 1); line 3's caller hears place 2, presses 1 and is called back: a case with their
    number, the duty lawyer's SMS sent, the case in the office's case list."""
    rig.start_dutyphone("accept")
    after = rig.last_id()
    since = len(rig.box_log())
    second_queued, third_done = asyncio.Event(), asyncio.Event()

    async def waits_in_the_queue(caller):
        await duty_in_call(rig)()
        await caller.call(rig.box_number_of(2))
        await caller.hear("greeting", 20)
        await caller.press("1")
        await caller.hear("queue_place", 30)
        second_queued.set()
        await third_done.wait()
        await caller.hang_up()
        await caller.wait_ended(10)

    async def second_in_the_queue(caller):
        try:
            await second_queued.wait()
            await caller.call(rig.box_number_of(3))
            await caller.hear("greeting", 20)
            await caller.press("1")
            await caller.hear("queue_place", 30)
            await caller.hear("digit_2", 10)
            await caller.hear("queue_callback", 20)
            await caller.press("1")
            await caller.hear("callback_booked", 20)
            await caller.wait_ended(30)
        finally:
            third_done.set()

    async def main():
        callers = [await rig.start_caller(k) for k in (1, 2, 3)]
        try:
            await asyncio.gather(bridged_until(rig, callers[0], third_done),
                                 waits_in_the_queue(callers[1]),
                                 second_in_the_queue(callers[2]))
        finally:
            for caller in callers:
                await caller.close()
    asyncio.run(main())
    asyncio.run(async_wait_until(lambda: len(calls_of(rig, after)) == 3, 30,
                                 "the three call records"))
    calls = calls_of(rig, after)
    assert calls[rig.box_number_of(1)]["outcome"] == "bridged", calls
    assert calls[rig.box_number_of(2)]["queue_place"] == 1, calls
    third = calls[rig.box_number_of(3)]
    assert third["outcome"] == "callback" and third["queue_place"] == 2, third
    assert third["duty_legs"] == [], third
    case, caller_number = third["case_number"], rig.line_info(3)["caller"]["number"]
    log = rig.box_log()[since:]
    assert "every duty phone is busy; place 2 in the queue" in log
    assert f"case {case} opened: consultation from '{caller_number}', assigned, owner" in log
    # the duty lawyer's SMS left the box's modem with the case and the caller's number
    sent = asyncio.run(async_wait_until(
        lambda: outside_sms(rig, "13900000001", case), 40, f"the duty SMS of case {case}"))
    assert caller_number in sent[0]["text"], sent
    # the office sees it: `lawline case list` on the box's config lists it, open, assigned
    listed = subprocess.run(lawline_argv("case", "--config", str(rig.config_path), "list"),
                            capture_output=True, text=True, timeout=30)
    assert listed.returncode == 0, listed.stderr
    row = next((line for line in listed.stdout.splitlines() if case in line), None)
    assert row is not None and caller_number in row, listed.stdout


def led_said(line, what):
    return f"hat: line {line}'s status LED (BCM {LED_PINS[line]}) {what}"


def test_line_2s_led_follows_line_2s_modem_only(rig):
    """Every line's LED went on when its modem was ready; line 2's modem loses its ports
    (USB re-enumeration): line 2's LED blinks until the line is back, then is on again; the
    LEDs of lines 1 and 3 do not change."""
    log = rig.box_log()
    assert all(led_said(k, "on") in log for k in LED_PINS), log[-3000:]
    since = len(log)
    sim.inject(rig.dir, "port_gone", side="box", line=2, ms=1000)

    def blinked_then_on():
        new = rig.box_log()[since:]
        blink = new.find(led_said(2, "blinking"))
        return blink >= 0 and led_said(2, "on") in new[blink:]
    asyncio.run(async_wait_until(blinked_then_on, 60, "line 2's LED to blink and come on"))
    new = rig.box_log()[since:]
    assert "modem 2: " in new                       # the state `lawline check` reads per line
    assert "line 1's status LED" not in new and "line 3's status LED" not in new, new
