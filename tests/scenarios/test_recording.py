"""Call recording with consent (issue 17.10) on the loopback line: with [recording] on, the
caller hears the notice after the greeting, before the menu, the bridged call is recorded both ways (the caller's
tone and the duty phone's in one WAV), and the recording reaches upstream byte for byte as a
`recording` item naming the call and who the caller talked to. Off (the default) is the rest
of the suite: no notice (tests/unit/test_call_line_duties.py has both branches)."""

import asyncio

import pytest

from lawline_rig.probe import hearing, scenarios

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
