"""Scripted calls for the numbers of issue 17: a topic chosen in a sub-menu, a missed call
called back, a message that ends on silence, and the time left before the longest message.

Shared by tests/scenarios/test_numbers.py. Each raises AssertionError at the first thing
that is not as it should be; the caller's transcript says what it heard.
"""

import asyncio

from . import hearing, hotline, scenarios
from .rig import async_wait_until

CALLER_TONE = scenarios.CALLER_TONE
# how the topics sub-menu is set up on the box for these calls ([menu] keys)
TOPIC_MENU = {
    "keys": {"1": {"branch": "submenu", "menu": "topics"}, "2": "service_request",
             "5": "complaint", "9": "case_status", "0": "repeat"},
    "submenu": {"topics": {"prompt": "menu_topics", "keys": {
        "1": {"branch": "consultation", "topic": "婚姻家庭"},
        "2": {"branch": "consultation", "topic": "劳动争议"},
        "3": {"branch": "consultation", "topic": "土地纠纷"},
        "7": {"branch": "consultation", "topic": "其他"}}}},
}


async def topic_chosen_and_bridged(rig, key="2", topic="劳动争议"):
    """Key 1, then the topic's key in the sub-menu; the duty phone accepts. The call record
    and the case's journal item carry the topic upstream."""
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    await caller.press("1")
    await caller.hear("menu_topics", 20)
    await caller.press(key)
    await caller.hear("connecting", 20)
    caller.audio.speak(hearing.make_tone(CALLER_TONE, 1.0))
    await caller.hear_tone(scenarios.DUTY_TONE, 30)
    await asyncio.sleep(1.0)       # talk for a moment
    await caller.hang_up()
    caller.audio.quiet()
    await caller.wait_ended(10)
    call = await rig.next_record("call", after)
    record = call["record"]
    assert record["outcome"] == "bridged" and record["topic"] == topic, record
    assert record["wanted_person"] is True and record["wait_s"] >= 0, record
    case = record["case_number"]
    journal = await rig.next_record("case", after)
    assert journal["record"]["case_number"] == case, journal
    assert journal["record"]["topic"] == topic, journal["record"]
    await scenarios.assert_upstream_has(rig, call)
    await scenarios.assert_upstream_has(rig, journal)
    return {"record": record, "case": case, "journal": journal}


async def ring_then_hang_up(rig, rings=1):
    """Dial the box and hang up after `rings` rings, before it answers (the box must answer
    later than that: [line] answer_after_rings)."""
    caller = rig.caller
    await rig.box_line_free()
    before = rig.box_log().count(": ring ")
    await caller.modem.dial(rig.box_number)
    caller.note(f"dialled {rig.box_number}")
    await async_wait_until(lambda: rig.box_log().count(": ring ") >= before + rings, 20,
                           f"the box's line to ring {rings} time(s)")
    assert not caller.modem.in_call, "the box answered before the caller hung up"
    await caller.modem.hangup()
    caller.note(f"hung up after {rings} ring(s), before the box answered")
    heard = caller.audio.listener.recording()
    return heard


async def missed_call(rig, duty):
    """The caller hangs up while it rings: a `missed` call record upstream, and the duty
    lawyer a callback SMS with the caller's number."""
    caller_number = rig.sim["caller"]["number"]
    after = rig.last_id()
    await ring_then_hang_up(rig)
    call = await rig.next_record("call", after)
    record = call["record"]
    assert record["outcome"] == "missed" and record["abandoned_in"] == "ringing", record
    assert record["callback"] == "listed" and record["answered"] is None, record
    await scenarios.assert_upstream_has(rig, call)
    sms = await hotline.wait_outside_sms(rig, duty, f"待回拨：{caller_number}")
    assert f"回拨 {caller_number}" in sms["text"], sms
    return {"record": record, "sms": sms}


async def abandoned_in_the_menu(rig):
    """The caller hangs up in the greeting: an `abandoned` record, where and after how
    long."""
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    await caller.hang_up()
    await caller.wait_ended(10)
    call = await rig.next_record("call", after)
    record = call["record"]
    assert record["outcome"] == "abandoned" and record["abandoned_in"] == "menu", record
    await scenarios.assert_upstream_has(rig, call)
    return record


async def message_ended_by_silence(rig, speak=2.0, after_voice=None, key="2",
                                   instruction="record_request"):
    """Key 2, the caller speaks for `speak` s and then says nothing without hanging up
    (`after_voice`: quiet line noise instead of digital silence): the box ends the message
    on silence, tells the caller why and reads back the case number."""
    await rig.box_line_free()           # the last call's hang-up is over (a V.253 box's ATH)
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    await caller.press(key)
    await caller.hear(instruction, 40)
    await caller.hear("beep", 20)
    caller.audio.speak(hearing.make_tone(CALLER_TONE, 1.0))
    await asyncio.sleep(speak)                # the caller speaks for this long
    if after_voice is None:
        caller.audio.quiet()
    else:
        caller.audio.speak(after_voice)
    caller.note("the caller puts the phone down without hanging up")
    await caller.hear("record_silence", 40)
    await caller.hear("recorded", 20)
    await caller.hear("case_number", 20)
    caller.audio.quiet()
    await caller.wait_ended(40)
    vm = await rig.next_record("voicemail", after)
    call = (await rig.next_record("call", after))["record"]
    record = vm["record"]
    assert record["ended_by"] == "silence" and record["short"] is False, record
    assert call["voicemail"]["ended_by"] == "silence", call
    uploaded = await scenarios.assert_upstream_has(rig, vm)
    pcm = hearing.load_wav(scenarios._local(rig, vm["files"]["voicemail.wav"]))
    level = hearing.tone_level(pcm, CALLER_TONE)
    assert level > 0.2, f"the message does not hold the caller's voice (level {level:.2f})"
    caller.note(f"message of {record['duration_s']} s, voice {record['voice_s']} s, "
                f"ended by silence, upstream at {uploaded[0].parent}")
    return {"voicemail": vm, "call": call}


async def time_left_before_the_longest_message(rig, key="2", instruction="record_request"):
    """The caller talks on and on: ten seconds before the longest message the box tells them
    how long is left, while the recorder goes on recording the caller (the prompt is not in
    the message); the message ends at the longest length."""
    await rig.box_line_free()
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    await caller.press(key)
    await caller.hear(instruction, 40)
    await caller.hear("beep", 20)
    caller.audio.speak(hearing.make_tone(CALLER_TONE, 1.0))
    await caller.hear("record_time_left", 60)
    await caller.hear("recorded", 40)
    caller.audio.quiet()
    await caller.wait_ended(40)
    vm = await rig.next_record("voicemail", after)
    call = (await rig.next_record("call", after))["record"]
    record = vm["record"]
    assert record["ended_by"] == "maximum length", record
    assert call["voicemail"]["warned"] is True, call
    await scenarios.assert_upstream_has(rig, vm)
    pcm = hearing.load_wav(scenarios._local(rig, vm["files"]["voicemail.wav"]))
    return {"voicemail": vm, "call": call, "pcm": pcm}


def assert_time_left_not_recorded(rig, result):
    """The time-left prompt reached the caller (they heard it) but not the message: the
    recorder records the caller's side, never what the box plays."""
    prompt = hearing.load_wav(rig.prompts.path("record_time_left"))
    assert hearing.find(hearing.Template(prompt, "record_time_left"), result["pcm"]) is None, \
        "the time-left prompt is in the message: the recorder recorded the box"
