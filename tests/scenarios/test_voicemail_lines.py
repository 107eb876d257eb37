"""Voicemail ends on silence (issue 17.7) on the other kinds of line than test_numbers.py's
SIM7600: a USB sound card (EC25 in UAC mode, the box's level meter on the card's capture), a
V.253 modem in full duplex (AT+VTR: the level meter on its samples, and its own silence
detector, AT+VSD's DLE q) and in half duplex (no AT+VTR: the time-left prompt cannot play
over the recording, so its length is added). Each profile has its own rig, and make test runs
them on separate workers (tests/conftest.py SPLIT_BY_PARAMETER).

Run under the real-time lock: flock /tmp/lawline-realtime.lock pytest tests/scenarios/...
"""

import asyncio

import pytest

from lawline_rig.probe import hearing, numbers

from ..conftest import run_call

pytestmark = pytest.mark.scenario

LINES = ["quectel-ec25-uac", "v253", "v253-halfduplex"]


@pytest.fixture(scope="module", params=LINES)
def rig(request, module_rigs, hil_ports):
    if hil_ports:
        pytest.skip("runs on the simulated line types")
    # the time-left prompt is due at 10 s, well after a message that ends on silence
    options = {"voicemail": {"max_seconds": 20.0, "silence_seconds": 3.0}}
    rig = module_rigs.rig(f"silence-{request.param}", profile=request.param,
                          box_options=options)
    yield rig
    module_rigs.stop(rig)        # before the next profile's rig starts


def test_silence_ends_the_message(rig):
    result = run_call(rig, numbers.message_ended_by_silence)
    record = result["voicemail"]["record"]
    assert record["voice_s"] >= 1.0 and record["duration_s"] < 10.0, record
    if rig.profile.startswith("v253"):
        # the modem's own detector was set to the same 3 s (reference/modems.md 4.4)
        wire = (rig.dir / "wire.log").read_text(errors="replace")
        assert "AT+VSD=128,30" in wire


def test_half_duplex_the_time_left_prompt_adds_its_length(rig):
    """A half-duplex modem cannot listen while it plays: the prompt's length is added to
    the message, so the caller still has ten seconds after it."""
    if rig.profile != "v253-halfduplex":
        pytest.skip("full duplex: test_numbers.py")
    result = run_call(rig, numbers.time_left_before_the_longest_message)
    numbers.assert_time_left_not_recorded(rig, result)
    assert result["voicemail"]["record"]["duration_s"] >= 20.0 + 4.0, result["voicemail"]


def test_a_v253_modems_own_silence_report_ends_the_message(rig):
    """Line noise the box's level meter takes for voice (it listens down to -70 dBFS here),
    but the modem's detector does not: the modem's DLE q ends the message."""
    if rig.profile != "v253":
        pytest.skip("DLE s / DLE q are a V.253 modem's (full duplex here)")
    rig.box_options["voicemail"]["silence_level"] = -70.0
    asyncio.run(rig.box_line_free())    # not while the last call's ATH is under way
    rig.procs.pop("box").stop()
    rig.start_box()
    asyncio.run(rig.box_line_free())    # its restarted module booted (else NO CARRIER)
    try:
        noise = hearing.make_tone(300, 1.0, amplitude=60)     # about -55 dBFS
        result = run_call(rig, numbers.message_ended_by_silence, 2.0, noise)
    finally:
        rig.box_options["voicemail"].pop("silence_level")
    assert "DLE q: quiet after speech" in rig.box_log()
    sim_log = (rig.dir / "sim.log").read_text(errors="replace")
    assert "silence detector: 3 s without voice: DLE q" in sim_log
    assert result["voicemail"]["record"]["ended_by"] == "silence"
