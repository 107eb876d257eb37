"""Each modem profile's own checks, whole box on the loopback line: caller-ID variants as the
network presents them, a V.253 modem without full duplex (prompts and voicemail work, bridging
says plainly that it cannot), a DLE-heavy stream and garbage on the V.253 port, and the modem
faults the box must survive: it stops answering mid-call, its AT port goes away and comes back
under a new name. (test_calls.py runs the three demo calls on every profile.)"""

import asyncio
import json

import pytest

from lawline_rig import sim
from lawline_rig.probe import hearing, scenarios
from lawline_rig.probe.rig import async_wait_until

from ..conftest import run_call

pytestmark = pytest.mark.scenario

# The box checks its modem every second here (30 s in the field) so faults are found fast;
# the reply timeout stays long enough that a loaded machine never makes a healthy modem
# look dead (1 s did, now and then, with four test files at once).
FAST_HEALTH = {"line": {"health_interval": 1.0, "health_timeout": 3.0,
                        "recovery_max_backoff": 2.0}}


@pytest.fixture(scope="module", params=["simcom-sim7600", "quectel-ec25", "quectel-ec25-uac",
                                        "v253-halfduplex"])
def rig(request, module_rigs, hil_ports):
    if hil_ports:
        pytest.skip("these checks drive the simulated network (presentation, faults)")
    rig = module_rigs.rig(f"modems-{request.param}", profile=request.param,
                          box_options=FAST_HEALTH)
    yield rig
    module_rigs.stop(rig)        # before the next profile's rig starts


def _state(rig):
    try:
        return json.loads((rig.spool_dir / "state.json").read_text())["parts"]["modem"]
    except (OSError, ValueError, KeyError):
        return {}


async def _presented_as(rig, presentation):
    """Call with the network presenting the caller as given; the caller hangs up in the
    greeting. Returns the call record."""
    caller, after = rig.caller, rig.last_id()
    sim.present(rig.dir, **{"withheld": False, "number": None, "clip_tail": None,
                            "cid_spacing": None, **presentation})
    try:
        await caller.call(rig.box_number)
        await caller.hear("greeting", 20)
        await caller.hang_up()
        await caller.wait_ended(10)
    finally:
        sim.present(rig.dir, withheld=False, number=None, clip_tail=None, cid_spacing=None)
    return (await rig.next_record("call", after))["record"]


SPOOF = "CALLBACK 16800001234 NOW"
CALLER_IDS = {
    # profile: [(presentation, the caller the call record must name)]
    "simcom-sim7600": [({"withheld": True}, ""),
                       ({"number": "+8613800138000", "clip_tail": "long"}, "+8613800138000"),
                       ({"clip_tail": "none"}, "13800138000"),
                       # free text is no caller: withheld, the text kept (issue 15.1)
                       ({"number": SPOOF}, "")],
    "quectel-ec25": [({"withheld": True}, ""),
                     ({"number": "+8613800138000", "clip_tail": "short"}, "+8613800138000")],
    "quectel-ec25-uac": [({"clip_tail": "none"}, "13800138000")],
    # an analog line: NMBR=P when withheld; an international caller as 00 86 ...
    "v253-halfduplex": [({"withheld": True}, ""),
                        ({"number": "+8613800138000", "cid_spacing": "tight"},
                         "008613800138000"),
                        ({"number": SPOOF}, "")],
}


def test_caller_id_variants_reach_the_call_record(rig):
    async def calls(rig):
        return [(p, expected, await _presented_as(rig, p))
                for p, expected in CALLER_IDS[rig.profile]]
    for presentation, expected, record in run_call(rig, calls):
        recorded = record["caller"]
        assert recorded == expected, f"{presentation}: the record says {recorded!r}"
        # a caller ID that is no number is kept as it came, and only then
        raw = SPOOF if presentation.get("number") == SPOOF else None
        assert record.get("caller_raw") == raw, record


def test_half_duplex_v253_prompts_voicemail_and_no_bridging(rig):
    """Key 1 on a modem without AT+VTR: no duty phone is rung; the caller leaves a message
    (prompts via AT+VTX, the recording via AT+VRX); a DLE-heavy stream and line garbage in
    the middle of the recording end nothing."""
    if rig.profile != "v253-halfduplex":
        pytest.skip("the half-duplex V.253 modem only")

    async def call(rig):
        caller, after = rig.caller, rig.last_id()
        await caller.call(rig.box_number)
        await caller.hear("greeting", 20)
        await caller.press("1")
        # the voicemail instruction reaches the caller whole through 8-bit linear PCM and the
        # turn-round (VRX for the key, VTX for the prompt); then the beep
        await caller.hear("record_message", 40)
        await caller.hear("beep", 20)
        caller.audio.speak(hearing.make_tone(scenarios.CALLER_TONE, 1.0))
        await asyncio.sleep(0.5)
        sim.inject(rig.dir, "dle_storm", side="box", seconds=1.5)
        await asyncio.sleep(3.0)      # the storm, then 1.5 s more of the caller's voice
        caller.audio.quiet()
        await caller.press("#")
        vm = await rig.next_record("voicemail", after)
        await caller.wait_ended(60)
        call = (await rig.next_record("call", after))["record"]
        return vm, call
    since = len(rig.box_log())
    vm, call = run_call(rig, call)
    assert call["bridging_unavailable"] is True and call["duty_legs"] == []
    assert vm["record"]["ended_by"] == "# pressed", vm["record"]
    assert vm["record"]["duration_s"] > 3.0
    pcm = hearing.load_wav(scenarios._local(rig, vm["files"]["voicemail.wav"]))
    tail = pcm[-int(1.2 * 8000):]
    assert hearing.tone_level(tail, scenarios.CALLER_TONE) > 0.3, "the voice after the storm"
    log = rig.box_log()
    assert "bridging unavailable on this modem: no AT+VTR" in log
    assert "the caller hung up" not in log[since:]    # no DLE b read into the storm
    assert "bridging unavailable" in _state(rig).get("message", "")
    # garbage on the port while idle is survived too
    sim.inject(rig.dir, "garbage", side="box", count=3)
    call = run_call(rig, scenarios.hang_up_in_greeting)
    assert call["outcome"] == "abandoned"
    assert "noise on the AT port" in rig.box_log()


def test_sound_card_call_audio_and_in_band_dtmf(rig):
    """The EC25 in USB-audio mode: the box's PortAudio/ALSA stream carries the prompts, and
    the caller's keys are found in the audio (the driver ignores +QTONEDET then)."""
    if rig.profile != "quectel-ec25-uac":
        pytest.skip("the sound-card profile only")

    async def call(rig):
        caller, after = rig.caller, rig.last_id()
        await caller.call(rig.box_number)
        await caller.hear("greeting", 20)
        await caller.press("5")
        await caller.hear("complaint_staff", 20)
        await caller.hang_up()
        await caller.wait_ended(10)
        return (await rig.next_record("call", after))["record"]
    record = run_call(rig, call)
    assert record["menu_path"][:1] == ["5"], record
    log = rig.box_log()
    assert "call audio on sound card 'lawline_box' at 8000 Hz" in log
    assert "DTMF is detected in-band" in log


def test_modem_stops_answering_mid_call(rig):
    if rig.profile != "simcom-sim7600":
        pytest.skip("one profile is enough for the supervisor (unit tests cover the rest)")

    async def call(rig):
        caller, after = rig.caller, rig.last_id()
        await caller.call(rig.box_number)
        await caller.hear("greeting", 20)
        # the next two commands (both health checks) vanish; the AT+CRESET after them works
        sim.inject(rig.dir, "no_reply", side="box", count=2)
        await caller.wait_ended(20)           # the reset drops the call
        return (await rig.next_record("call", after))["record"]
    record = run_call(rig, call)
    assert record["outcome"] == "error" and record["error"] == "modem stopped answering", record
    run_call(rig, lambda rig: async_wait_until(
        lambda: _state(rig).get("state") == "ok" and "now /dev/pts/" in _state(rig)["message"],
        30, "the modem back on its re-enumerated port"))
    call = run_call(rig, scenarios.hang_up_in_greeting)     # and it answers again
    assert call["outcome"] == "abandoned"
    log = rig.box_log()
    assert "soft reset with AT+CRESET" in log and "modem stopped answering" in log


def test_at_port_goes_away_and_comes_back_under_a_new_name(rig):
    if rig.profile != "simcom-sim7600":
        pytest.skip("one profile is enough for the supervisor (unit tests cover the rest)")
    before = json.loads((rig.dir / "sim.json").read_text())["box"]["at"]
    sim.inject(rig.dir, "port_gone", side="box", ms=1500)
    run_call(rig, lambda rig: async_wait_until(
        lambda: json.loads((rig.dir / "sim.json").read_text())["box"]["at"] != before and
        _state(rig).get("state") == "ok" and
        json.loads((rig.dir / "sim.json").read_text())["box"]["at"] in _state(rig)["message"],
        60, "the box on the renamed port"))
    call = run_call(rig, scenarios.hang_up_in_greeting)
    assert call["outcome"] == "abandoned"
    assert "is gone (USB re-enumeration?)" in rig.box_log()
