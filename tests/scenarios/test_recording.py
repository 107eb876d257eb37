"""Call recording with consent (issue 17.10) on the loopback line: with [recording] on, the
caller hears the notice after the greeting, before the menu, the bridged call is recorded both ways (the caller's
tone and the duty phone's in one WAV), and the recording reaches upstream byte for byte as a
`recording` item naming the call and who the caller talked to. Off (the default) is the rest
of the suite: no notice (tests/unit/test_call_line_duties.py has both branches).

A lawyer who puts the call on hold and takes it back (two re-INVITEs) gets the caller back:
pjsua gives the duty leg's audio a new bridge slot each time its direction changes, and the
bridge and the recorder follow it (call/driver.py `_bridge`)."""

import asyncio

import pytest

from lawline_rig.probe import hearing, scenarios
from lawline_rig.probe.rig import async_wait_until

from ..conftest import run_call

pytestmark = pytest.mark.scenario

LAWYER = "13900000001"


@pytest.fixture(scope="module")
def rig(module_rigs):
    return module_rigs.rig("recording", duty=False, box_options={
        "duty": {"numbers": [LAWYER]},
        "recording": {"enabled": True, "keep_days": 30},
        "survey": {"enabled": False}})     # the factory stops it and checks the box's exit


async def recorded_call(rig):
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    # hear() finds each prompt after the one before it: the greeting, the notice, the menu
    await caller.hear("greeting", 20)
    await caller.hear("recording_notice", 20)
    await caller.hear("menu", 20)
    await caller.press("1")
    await caller.hear("connecting", 20)
    caller.audio.speak(hearing.make_tone(scenarios.CALLER_TONE, 1.0))
    await caller.hear_tone(scenarios.DUTY_TONE, 30)
    await asyncio.sleep(2.0)      # talk for a moment: both directions carry audio
    await caller.hang_up()
    caller.audio.quiet()
    await caller.wait_ended(10)
    call = (await rig.next_record("call", after))["record"]
    item = await rig.next_record("recording", after)
    await scenarios.assert_upstream_has(rig, item, timeout=30)
    return call, item


def test_the_caller_is_told_and_the_bridged_call_is_recorded_both_ways(rig):
    rig.start_dutyphone("accept")
    call, item = run_call(rig, recorded_call)
    assert call["outcome"] == "bridged" and call["bridged_to"] == LAWYER, call
    record = item["record"]
    assert record["call_id"] == call["call_id"] and record["with"] == LAWYER, record
    assert record["keep_days"] == 30 and record["duration_s"] > 2.0, record
    # both ways: the caller's tone and the duty phone's, in the one WAV
    wav = hearing.load_wav(rig.spool_dir / item["files"]["recording.wav"])
    for tone in (scenarios.CALLER_TONE, scenarios.DUTY_TONE):
        level = max(hearing.tone_level(wav[i:i + 8000], tone)
                    for i in range(0, max(len(wav) - 8000, 1), 4000))
        assert level > 0.3, f"the recording lacks the {tone} Hz tone (level {level:.2f})"
    # the duty phone took the call with its key 1 (the recorder takes nothing from it)
    assert [e["digit"] for e in rig.duty_events_list() if e["event"] == "dtmf_sent"] == ["1"]
    assert f"recording the call with {LAWYER}" in rig.box_log()


async def held_call(rig):
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("menu", 30)
    await caller.press("1")
    await caller.hear("connecting", 20)
    caller.audio.speak(hearing.make_tone(scenarios.CALLER_TONE, 1.0))
    await caller.hear_tone(scenarios.DUTY_TONE, 30)
    events = rig.duty_events_list
    await async_wait_until(lambda: any(e["event"] == "held" for e in events()), 15,
                           "the lawyer to put the caller on hold")
    await async_wait_until(           # on hold: the lawyer's tone stops
        lambda: not hearing.has_tone(caller.heard_audio()[-4000:], scenarios.DUTY_TONE), 5,
        "the lawyer's tone to stop while the call is held")
    await async_wait_until(lambda: any(e["event"] == "resumed" for e in events()), 15,
                           "the lawyer to take the call back")
    resumed = len(caller.heard_audio()) / 8000
    await caller.hear_tone(scenarios.DUTY_TONE, 10)     # the lawyer's voice is back
    await asyncio.sleep(3.0)                            # and the caller's reaches them
    await caller.hang_up()
    caller.audio.quiet()
    await caller.wait_ended(10)
    call = (await rig.next_record("call", after))["record"]
    item = await rig.next_record("recording", after)
    return call, item, resumed


def test_a_call_the_lawyer_holds_and_takes_back_carries_both_ways_again(rig):
    usual = rig.duty_args
    rig.duty_args = [*usual, "--hold-after", "2", "--hold-for", "3"]
    try:
        rig.start_dutyphone("accept")
        call, item, resumed = run_call(rig, held_call)
    finally:
        rig.duty_args = usual
    assert call["outcome"] == "bridged" and call["bridged_to"] == LAWYER, call
    # the lawyer heard the caller after taking the call back: the last 2 s of what the
    # duty phone recorded are the caller's tone
    ended = [e for e in rig.duty_events_list() if e["event"] == "disconnected"]
    assert ended and ended[-1].get("record"), rig.duty_events_list()
    heard = hearing.load_wav(ended[-1]["record"])
    assert hearing.tone_level(heard[-24000:-8000], scenarios.CALLER_TONE) > 0.3, \
        "after the hold the lawyer no longer hears the caller"
    # and the recording goes on after the hold: its last seconds hold both tones
    wav = hearing.load_wav(rig.spool_dir / item["files"]["recording.wav"])
    tail = wav[-24000:-8000]
    for tone in (scenarios.CALLER_TONE, scenarios.DUTY_TONE):
        assert hearing.tone_level(tail, tone) > 0.1, \
            f"the recording lost the {tone} Hz tone after the hold"
    assert resumed > 0
