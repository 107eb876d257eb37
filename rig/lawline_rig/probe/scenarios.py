"""Scripted calls: what a caller does and what must be true afterwards.

Shared by `lawline demo`, the scenario tests and the hardware-in-loop rig. Each scenario
raises AssertionError with a plain message at the first thing that is not as it should be,
and leaves its transcript in `caller.transcript`.
"""

import asyncio
import hashlib

from . import hearing

CALLER_TONE = 700     # Hz, what the caller "says"
DUTY_TONE = 1000      # Hz, what the duty phone plays once it accepts


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def assert_upstream_has(rig, item, timeout=20):
    """Every file of an outbox item is upstream, byte for byte."""
    from lawline.sync.http import remote_name
    from .rig import async_wait_until
    remotes = []
    for name, local in item["files"].items():
        local = _local(rig, local)
        remote = rig.upstream_path(item["key"], remote_name(name, local))
        await async_wait_until(lambda: remote.exists() and _sha(remote) == _sha(local),
                               timeout, f"{remote} to equal {local}")
        remotes.append(remote)
    return remotes


def _local(rig, path):
    from pathlib import Path
    p = Path(path)
    return p if p.is_absolute() else rig.spool_dir / p


async def consultation_bridged(rig):
    """(a) Key 1; the duty phone accepts with 1; caller and duty phone hear each other."""
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    await caller.press("1")
    await caller.hear("connecting", 20)
    caller.audio.speak(hearing.make_tone(CALLER_TONE, 1.0))
    await caller.hear_tone(DUTY_TONE, 30)
    await asyncio.sleep(2.0)      # talk for a moment: both directions carry audio
    await caller.hang_up()
    caller.audio.quiet()
    await caller.wait_ended(10)
    record = (await rig.next_record("call", after))["record"]
    assert record["outcome"] == "bridged", f"call record says {record['outcome']}, not bridged"
    assert record["duty_legs"][-1]["outcome"] == "accepted", record["duty_legs"]
    from .rig import async_wait_until
    recorded = rig.dir / f"duty-{rig.duty_generation}-1.wav"
    # The duty phone says `disconnected` for a recorded call only once pjsua has written the
    # WAV's header (it lands ~100 ms after the call ends, reference/pjsua2.md): reading the
    # file before that event could meet a header still saying zero bytes.
    await async_wait_until(
        lambda: any(e["event"] == "disconnected" and e.get("record") == str(recorded)
                    for e in rig.duty_events_list()), 15, "the duty phone's finished recording")
    pcm = hearing.load_wav(recorded)
    level = hearing.tone_level(pcm[-8000:] if len(pcm) > 16000 else pcm, CALLER_TONE)
    assert level > 0.3, f"the duty phone did not hear the caller's {CALLER_TONE} Hz tone " \
                        f"(level {level:.2f})"
    caller.note(f"duty phone heard the caller's tone (level {level:.2f})")
    return {"record": record, "duty_recording": recorded}


async def leave_message(rig, key, instruction, intro=(), seconds=3.0, end="#"):
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    await caller.press(key)
    for name in intro:
        await caller.hear(name, 40)
    # a deadline for a failure, not a figure: before the complaint box's instruction the box
    # asks whether the complaint is about staff (complaint_staff, 9 s) and listens for the
    # answer; a half-duplex V.253 modem turns the line round twice for that (VTX, VRX, VTX)
    await caller.hear(instruction, 40)
    await caller.hear("beep", 20)
    caller.audio.speak(hearing.make_tone(CALLER_TONE, 1.0))
    await asyncio.sleep(seconds)  # the caller speaks for this long
    caller.audio.quiet()
    if end == "#":
        await caller.press("#")
        await caller.hear("recorded", 20)
        await caller.hear("case_number", 10)
        await caller.wait_ended(30)
    else:
        await caller.hang_up()
        await caller.wait_ended(10)
    vm = await rig.next_record("voicemail", after)
    call = (await rig.next_record("call", after))["record"]
    record = vm["record"]
    assert record["caller"] == rig.sim["caller"]["number"], record
    assert abs(record["duration_s"] - seconds) < 1.5, \
        f"voicemail lasted {record['duration_s']} s, the caller spoke {seconds} s"
    wav = _local(rig, vm["files"]["voicemail.wav"])
    pcm = hearing.load_wav(wav)
    level = hearing.tone_level(pcm, CALLER_TONE)
    assert level > 0.3, f"the voicemail does not hold the caller's voice (level {level:.2f})"
    uploaded = await assert_upstream_has(rig, vm)
    caller.note(f"voicemail case {record['case_number']}: {record['duration_s']} s, "
                f"upstream at {uploaded[0].parent}")
    return {"voicemail": vm, "call": call, "upstream": uploaded}


async def consultation_voicemail(rig):
    """(b) Key 1; the duty phone never answers; the caller leaves a voicemail."""
    result = await leave_message(rig, "1", "record_message",
                                 intro=("connecting", "duty_unavailable"))
    legs = result["call"]["duty_legs"]
    assert legs and legs[0]["outcome"] == "no_answer", legs
    assert result["voicemail"]["record"]["box"] == "consultation"
    return result


async def complaint(rig):
    """(c) Key 5: a complaint voicemail in its own box."""
    result = await leave_message(rig, "5", "record_complaint")
    assert result["voicemail"]["record"]["box"] == "complaint"
    assert result["call"]["outcome"] == "complaint"
    assert not result["call"]["duty_legs"], "a complaint must never ring a duty phone"
    return result


async def hang_up_in_greeting(rig):
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    await caller.hang_up()
    await caller.wait_ended(10)
    call = (await rig.next_record("call", after))["record"]
    assert call["outcome"] == "abandoned", call
    assert not rig.items("voicemail") or rig.items("voicemail")[-1]["id"] < after, \
        "a voicemail was stored for a caller who hung up in the greeting"
    return call


async def invalid_then_silence(rig):
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    await caller.press("8")       # 9 is the case-status key; 6, 7 and 8 are free
    await caller.hear("invalid_key", 20)
    # then nothing: the menu times out
    await caller.hear("no_key", 40)
    await caller.press("7")
    await caller.hear("goodbye", 20)
    await caller.wait_ended(20)
    call = (await rig.next_record("call", after))["record"]
    assert call["outcome"] == "no_input", call
    assert call["menu_path"] == ["invalid:8", "timeout", "invalid:7"], call["menu_path"]
    return call


async def two_lines_at_once(rig):
    """(e) Two lines, two callers at once: line 1's caller is bridged to the duty phone while
    line 2's caller leaves a service request (the box's [[line]], sim --lines 2)."""
    from .rig import async_wait_until
    one, after = rig.caller, rig.last_id()
    two = rig.callers.get(2) or await rig.start_caller(2)
    try:
        await one.call(rig.box_number_of(1))
        await one.hear("greeting", 20)
        await one.press("1")
        await one.hear("connecting", 20)
        await one.hear_tone(DUTY_TONE, 30)
        one.note("line 1 bridged; line 2 calls now")
        await two.call(rig.box_number_of(2))
        await two.hear("greeting", 20)
        await two.press("2")
        await two.hear("record_request", 20)
        await two.hear("beep", 20)
        two.audio.speak(hearing.make_tone(CALLER_TONE, 1.0))
        await asyncio.sleep(2.0)
        two.audio.quiet()
        await two.press("#")
        await two.hear("recorded", 20)
        await two.wait_ended(40)
        one.note("line 2's message recorded while line 1 is still bridged; line 2's caller: "
                 + "; ".join(text for _, text in two.transcript))
        await one.hang_up()
        await one.wait_ended(10)
    finally:
        await two.close()
        rig.callers.pop(2, None)

    def both():
        calls = {i["record"]["line"]: i["record"] for i in rig.items("call") if i["id"] > after}
        return calls if len(calls) == 2 else None
    calls = await async_wait_until(both, 30, "both call records")
    bridged = calls[rig.box_number_of(1)]
    assert bridged["outcome"] == "bridged", bridged
    assert calls[rig.box_number_of(2)]["outcome"] == "voicemail", calls
    vm = await rig.next_record("voicemail", after)
    uploaded = await assert_upstream_has(rig, vm)
    return {"record": bridged, "voicemail": vm, "upstream": uploaded}
