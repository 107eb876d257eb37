"""Voicemail ends on silence (issue 17.7), the pure parts: the level meter every kind of line
feeds (line/audio.VoiceMeter, through the jitter buffer), the call script's recording action
and what it does with a message that ended on silence or is too short (kept, flagged), and
the [voicemail] options. The recorder itself on each line type: tests/scenarios/
test_numbers.py."""

import math
import struct

import pytest

from lawline import config as configuration
from lawline.errors import ConfigError
from lawline.line.audio import FRAME_BYTES, JitterBuffer, VoiceMeter, dbfs_to_rms
from lawline.records import outcomes as o

from .test_call_script import CASE, GREETED, READBACK, Call, Event

RECORDING = {"seconds": 14.0, "complete": True, "began": 1000.0,
             "path": "/spool/incoming/x.wav"}


def tone(dbfs, frames=1, hz=400):
    """`frames` 20 ms frames of a sine whose RMS is `dbfs`."""
    peak = dbfs_to_rms(dbfs) * math.sqrt(2)
    n = frames * FRAME_BYTES // 2
    return struct.pack(f"<{n}h", *(int(peak * math.sin(2 * math.pi * hz * i / 8000))
                                   for i in range(n)))


def test_the_meter_hears_voice_above_the_level_and_not_below():
    meter = VoiceMeter()
    meter.feed(tone(-20))
    assert meter.voice_at is None and meter.quiet_for() is None     # not listening yet
    meter.listen(-45.0)
    meter.feed(bytes(FRAME_BYTES * 3))
    meter.feed(tone(-50, 5))                    # line noise below the level
    assert meter.voice_at is None and meter.quiet_for() >= 0
    meter.feed(tone(-40, 1))
    assert meter.voice_at is not None
    heard = meter.voice_at
    meter.feed(tone(-60, 2) + tone(-30, 1))     # one loud frame in a chunk is enough
    assert meter.voice_at >= heard
    assert meter.quiet_for(meter.voice_at + 3.0) == pytest.approx(3.0)
    meter.stop()
    assert meter.quiet_for() is None


def test_every_line_feeds_it_through_its_jitter_buffer():
    jitter = JitterBuffer()
    jitter.meter.listen(-45.0)
    jitter.push(tone(-25, 2)[:500])            # what a read gives: not a whole frame count
    jitter.push(tone(-25, 2)[500:])
    assert jitter.meter.voice_at is not None and len(jitter) == 2


@pytest.fixture(autouse=True)
def voicemail_section(monkeypatch):
    """The event-script calls take the real [voicemail] section, with its defaults."""
    from . import test_call_script
    monkeypatch.setattr(test_call_script, "VOICEMAIL", configuration.from_dict({}).voicemail)


def test_the_recording_action_carries_the_silence_options():
    call = Call().run(GREETED + """
        KEY 2 -> PLAY record_request
        PROMPT_ENDED -> RECORD service_request
    """)
    record = call.waiting
    assert record.options == {"max_seconds": 120.0, "silence_seconds": 8.0,
                              "silence_level": -45.0, "warn_before": 10.0}


def ended(call, reason, **info):
    actions = call.script.send(Event("recording_ended", dict(RECORDING, reason=reason,
                                                             **info), 1020.0))
    call.waiting = call._take(actions)
    return call


def test_a_message_ended_by_silence_is_kept_and_the_caller_told_why():
    call = Call().run(GREETED + """
        KEY 2 -> PLAY record_request
        PROMPT_ENDED -> RECORD service_request
    """)
    ended(call, "silence", voice_s=6.0, warned=False)
    commit = call.waiting
    vm = commit.names[0]
    assert isinstance(vm, o.Voicemail) and vm.ended_by == "silence" and not vm.short
    assert vm.voice_s == 6.0
    call.run(f"""
        COMMITTED {CASE} -> PLAY record_silence recorded
        PROMPT_ENDED -> {READBACK}
    """)
    assert call.record["voicemail"] == {"case_number": CASE, "seconds": 14.0,
                                        "ended_by": "silence", "short": False,
                                        "warned": False}


def test_a_message_with_too_little_voice_is_kept_and_flagged_short():
    call = Call().run(GREETED + """
        KEY 1 -> PLAY connecting
        PROMPT_ENDED -> RING ...
        LEG_FAILED -> PLAY duty_unavailable record_message
        PROMPT_ENDED -> RECORD consultation
    """)
    ended(call, "silence", voice_s=0.0)          # nobody spoke: 8 s of silence recorded
    vm = call.waiting.names[0]
    assert vm.short and vm.seconds == 14.0 and vm.voice_s == 0.0
    entry = o.plan([vm], o.Rules("county", "测试", "07730148"), 1796600000.0)
    item = entry.steps[0]
    assert item["kind"] == "voicemail" and item["record"]["short"] is True
    assert item["record"]["ended_by"] == "silence" and item["record"]["voice_s"] == 0.0
    assert item["files"] == {"voicemail.wav": "/spool/incoming/x.wav"}   # never dropped


def test_a_warned_caller_is_noted_on_the_call_record():
    call = Call().run(GREETED + """
        KEY 5 -> PLAY complaint_staff
        KEY # -> PLAY record_complaint
        PROMPT_ENDED -> RECORD complaint
    """)
    ended(call, "maximum length", seconds=120.0, voice_s=119.0, warned=True)
    call.run(f"COMMITTED {CASE} -> PLAY recorded\n")
    assert call.record["voicemail"]["warned"] is True
    assert call.record["voicemail"]["ended_by"] == "maximum length"


def test_the_voicemail_options_and_their_bounds():
    vm = configuration.from_dict({}).voicemail
    assert (vm.silence_seconds, vm.silence_level, vm.min_seconds) == (8.0, -45.0, 1.0)
    assert configuration.from_dict({"voicemail": {"silence_seconds": 0}}).voicemail \
        .silence_seconds == 0
    with pytest.raises(ConfigError, match="'silence_level' in section \\[voicemail\\]"):
        configuration.from_dict({"voicemail": {"silence_level": 3.0}})
    example = configuration.example()
    assert "silence_seconds = 8.0" in example and "(unit: dBFS)" in example
