"""The real box, killed with SIGKILL during a real call on the loopback line, then started
again: the voicemail cut short is repaired and delivered with the caller's number, flagged
interrupted; one committed just before the kill is delivered once; and a box whose spool is
full tells the caller instead of recording."""

import asyncio
import os
import signal

import pytest

from lawline_rig.probe import hearing, scenarios

from ..conftest import run_call

pytestmark = pytest.mark.scenario


@pytest.fixture(scope="module")
def rig(module_rigs):
    return module_rigs.rig("killed", hil=True)


def kill_box(rig):
    proc = rig.procs.pop("box")
    os.kill(proc.pid, signal.SIGKILL)
    proc.proc.wait(10)
    proc._log.close()
    kills = len(list(rig.dir.glob("box-killed-*.log")))
    os.replace(proc.log_path, rig.dir / f"box-killed-{kills + 1}.log")


def upstream_copies(rig, key):
    office = rig.upstream_dir / rig.box_config()["office"]["id"]
    return sorted(office.glob(f"*/{key}"))


async def record_then_kill(rig, speak_seconds):
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    await caller.press("5")
    await caller.hear("record_complaint", 20)
    await caller.hear("beep", 20)
    caller.audio.speak(hearing.make_tone(scenarios.CALLER_TONE, speak_seconds + 2))
    await asyncio.sleep(speak_seconds)  # the caller is mid-sentence when the power goes
    kill_box(rig)
    caller.audio.quiet()
    await caller.hang_up()
    await caller.wait_ended(15)
    await asyncio.to_thread(rig.start_box)
    item = await rig.next_record("voicemail", after, timeout=30)
    record = item["record"]
    assert record["interrupted"] is True, record
    assert record["caller"] == rig.sim["caller"]["number"], record
    assert record["box"] == "complaint"
    assert abs(record["duration_s"] - speak_seconds) < 1.5, record
    wav = rig.spool_dir / item["files"]["voicemail.wav"]
    level = hearing.tone_level(hearing.load_wav(wav), scenarios.CALLER_TONE)
    assert level > 0.3, f"the repaired recording lost the caller's voice ({level:.2f})"
    await scenarios.assert_upstream_has(rig, item)
    assert len(upstream_copies(rig, item["key"])) == 1
    assert f"recording {os.path.basename(item['files']['voicemail.wav'])} was cut short" \
        in rig.box_log()
    return item


def test_killed_while_recording_the_message_is_delivered_flagged(rig):
    run_call(rig, record_then_kill, 2.0)


async def commit_then_kill(rig):
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    await caller.press("5")
    await caller.hear("beep", 30)
    caller.audio.speak(hearing.make_tone(scenarios.CALLER_TONE, 1.5))
    await asyncio.sleep(1.5)
    caller.audio.quiet()
    await caller.press("#")
    item = await rig.next_record("voicemail", after, timeout=20)  # committed: kill now,
    kill_box(rig)                                                 # mid-upload or just after
    await caller.hang_up()
    await caller.wait_ended(15)
    await asyncio.to_thread(rig.start_box)
    await scenarios.assert_upstream_has(rig, item)
    voicemails = [i for i in rig.items("voicemail") if i["id"] > after]
    assert len(voicemails) == 1, "the committed message was stored twice"
    assert not voicemails[0]["record"].get("interrupted")
    assert len(upstream_copies(rig, item["key"])) == 1
    return item


def test_killed_after_the_commit_the_message_arrives_once(rig):
    run_call(rig, commit_then_kill)


async def full_spool(rig):
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    await caller.press("5")
    await caller.hear("service_unavailable", 20)
    await caller.wait_ended(30)
    call = (await rig.next_record("call", after))["record"]
    assert call["outcome"] == "spool_full", call
    return call


def test_full_spool_tells_the_caller_and_keeps_answering(rig):
    # a budget smaller than one longest message: the box must refuse to record
    rig.box_options = {"spool": {"max_mb": 1.0}, "voicemail": {"max_seconds": 120.0}}
    rig.procs.pop("box").stop()
    os.replace(rig.dir / "box.log", rig.dir / "box-before-full.log")
    rig.start_box()
    try:
        run_call(rig, full_spool)
        assert "is full" in rig.box_log() and "told the box cannot take a message" in \
            rig.box_log()
    finally:
        rig.box_options = {}
