"""Issue 17's numbers on the loopback line, with the box and every part in its own process:
a caller's topic (17.5), a missed call called back and an abandoned one (17.6), and a
message that ends on silence and one that warns of its end (17.7), on a SIM7600 (serial
PCM, full duplex; the other kinds of line: test_voicemail_lines.py). Each asserts what the
caller heard, what each phone received (the duty lawyer's SMS leave the line into the
simulator's mailbox) and what reached upstream.

Run under the real-time lock: flock /tmp/lawline-realtime.lock pytest tests/scenarios/...
"""

import pytest

from lawline_rig.probe import hearing, hotline, numbers

from ..conftest import run_call

pytestmark = pytest.mark.scenario

LAWYER = "13900000001"


@pytest.fixture(scope="module")
def rig(module_rigs, hil_ports):
    if hil_ports:
        pytest.skip("missed calls need the simulated network to ring without an answer")
    options = {
        "menu": numbers.TOPIC_MENU,
        # the caller may hang up while it rings: the box answers at the third ring
        "line": {"answer_after_rings": 3},
        "duty": {"numbers": [LAWYER]},
        "voicemail": {"max_seconds": 20.0, "silence_seconds": 3.0},
    }
    return module_rigs.rig("numbers", box_options=options)


# -- 17.5: topics ------------------------------------------------------------------------------

def test_the_caller_chooses_a_topic_and_the_duty_lawyer_sorts_a_case_by_sms(rig):
    rig.start_dutyphone("accept")
    result = run_call(rig, numbers.topic_chosen_and_bridged, "2", "劳动争议")
    case = result["case"]

    async def sorted_by_sms(rig):
        # the duty lawyer got the case by SMS, then sorts it anew by the topic's number
        await hotline.wait_outside_sms(rig, LAWYER, case)
        after = rig.last_id()
        hotline.deliver_sms(rig, LAWYER, f"主题 {case} 3")
        await hotline.wait_outside_sms(rig, LAWYER, f"案件{case}主题已设为：土地纠纷")
        journal = await rig.next_record("case", after)
        assert journal["record"]["event"] == "topic", journal["record"]
        assert journal["record"]["topic"] == "土地纠纷", journal["record"]
        from lawline_rig.probe.scenarios import assert_upstream_has
        await assert_upstream_has(rig, journal)
    run_call(rig, sorted_by_sms)
    assert f"case {case}: topic '土地纠纷'" in rig.box_log()


# -- 17.6: every call recorded, every missed call called back ---------------------------------

def test_a_missed_call_is_recorded_texted_once_and_marked_called_back(rig):
    caller_number = rig.sim["caller"]["number"]
    result = run_call(rig, numbers.missed_call, LAWYER)
    assert result["record"]["rang_s"] >= 0
    # the same caller gives up in the menu: recorded and listed, but no second SMS today
    record = run_call(rig, numbers.abandoned_in_the_menu)
    assert record["callback"] == "listed"
    texts = hotline.outside_sms(rig, LAWYER, f"待回拨：{caller_number}")
    assert len(texts) == 1, texts

    async def called_back(rig):
        after = rig.last_id()
        hotline.deliver_sms(rig, LAWYER, f"回拨 {caller_number} 已解答")
        await hotline.wait_outside_sms(rig, LAWYER, f"已记录：{caller_number}已回拨（2条未接来电）")
        item = await rig.next_record("callback", after)
        assert item["record"]["caller"] == caller_number and item["record"]["how"] == "sms"
        assert len(item["record"]["call_ids"]) == 2, item["record"]
        from lawline_rig.probe.scenarios import assert_upstream_has
        await assert_upstream_has(rig, item)
    run_call(rig, called_back)
    # the caller's phone got nothing from any of it
    assert not rig.caller.sms


# -- 17.7: a message that ends on silence ----------------------------------------------------------

def test_a_message_ends_on_silence_and_the_caller_hears_why(rig):
    result = run_call(rig, numbers.message_ended_by_silence)
    record = result["voicemail"]["record"]
    # 2 s of voice, then 3 s of silence ([voicemail] silence_seconds) ended it
    assert 1.5 <= record["voice_s"] <= 3.0 and record["duration_s"] <= 7.5, record


def test_the_caller_hears_the_time_left_over_the_recording(rig):
    """Full duplex: the caller talks through the prompt, and the message holds the caller's
    voice to its end and not the prompt."""
    result = run_call(rig, numbers.time_left_before_the_longest_message)
    numbers.assert_time_left_not_recorded(rig, result)
    assert 19.0 <= result["voicemail"]["record"]["duration_s"] <= 21.5, result["voicemail"]
    tail = result["pcm"][-8000 * 9:]          # the last 9 s: after the prompt began
    assert hearing.tone_level(tail, numbers.CALLER_TONE) > 0.3
