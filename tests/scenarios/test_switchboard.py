"""The prefecture's 1600148 switchboard both ways (issue 17.9), on the trunk rig: Kamailio is
the SIP trunk; SIPp and a pjsua2 phone are the switchboard.

Up: the office is closed and nobody is on night duty, so the box hands the caller to the
switchboard's number over the trunk (the one 160 number the dial plan lets through, for
that use only): the caller hears that they are being put through, then the switchboard
(SIPp echoing what it hears: the caller hears itself); the INVITE the switchboard received
names the county's line (Diversion), the county and the caller; a switchboard agent (a
pjsua2 phone registered as 1600148) hears the whisper naming the county and the caller.

Down: the switchboard transfers a caller to the county line through the trunk, the original
caller in P-Asserted-Identity: with a reason in the header the call goes straight to that
branch (no greeting, no menu), with a reason keyed as DTMF likewise, without one the menu
plays; the original caller is the call's caller (limits, SMS, the case). Every other
incoming call stays refused (tests/scenarios/test_trunk_fraud.py has those cases).
"""

import asyncio
import json
import re
import shutil

import pytest

from lawline_rig.probe import hearing, hotline, scenarios
from lawline_rig.probe.rig import Process, free_port, lawline_argv, \
    wait_until

from ..conftest import run_call
from ..servers.kamailio import PASSWORDS
from ..servers.trunk_rig import HERE, TrunkRig, _udp_bound

pytestmark = pytest.mark.scenario

BOARD = "1600148"
LAWYER, M1, M2 = "13900000012", "13900000021", "13900000022"
ORIGINAL = "13712345678"            # the caller the switchboard transfers down (not the
#                                     loopback caller's own number: its SMS go outside)
CLOSED = {day: "" for day in ("monday", "tuesday", "wednesday", "thursday", "friday",
                              "saturday", "sunday", "makeup_day")}


@pytest.fixture(scope="module")
def rig(module_rigs, kamailio):
    rig = module_rigs.rig("switchboard", cls=TrunkRig, kamailio=kamailio, box=False,
                          duty=False, box_options={
                              "duty": {"ring_timeout": 8.0, "confirm_timeout": 6.0},
                              "switchboard": {"number": BOARD, "code_seconds": 2.5,
                                              "ring_timeout": 10.0},
                              "hours": {"always_open": False, **CLOSED},
                              "survey": {"enabled": False}})
    rig.use(numbers=[LAWYER], mediators=[M1, M2])
    return rig     # the factory stops it (its phones and SIPp too) and checks the box's exit


def open_hours(rig, open_):
    wanted = {"always_open": open_, **CLOSED}
    if rig.box_options["hours"] != wanted:
        rig.box_options["hours"] = wanted
        rig.start_box()


def sipp(rig, name, scenario, *args):
    """SIPp in its own process (stopped with the rig); its -trace_msg log's path."""
    messages = rig.dir / f"sipp-{name}.messages"
    messages.unlink(missing_ok=True)
    proc = Process(f"sipp-{name}", [
        shutil.which("sipp") or "/usr/bin/sipp", "-sf", str(HERE / scenario),
        "-i", "127.0.0.1", "-mi", "127.0.0.1", "-mp", str(free_port()), "-nostdin",
        "-trace_msg", "-message_file", str(messages), "-trace_err",
        "-error_file", str(rig.dir / f"sipp-{name}.errors"), *args], rig.dir)
    rig.sipps[name] = (proc, messages)
    return proc, messages


def header(message, name):
    m = re.search(rf"^{name}:[ \t]*(.*)$", message, re.M | re.I)
    return m.group(1).strip() if m else ""


# -- up: the caller handed to the switchboard -----------------------------------------------

async def handed_up(rig, hear_echo=True):
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("after_hours", 20)
    await caller.hear("switchboard_transfer", 30)
    caller.audio.speak(hearing.make_tone(scenarios.CALLER_TONE, 1.0))
    if hear_echo:       # SIPp echoes: the caller hears itself through the switchboard
        await caller.hear_tone(scenarios.CALLER_TONE, 30)
    else:
        await caller.hear_tone(scenarios.DUTY_TONE, 30)
    await asyncio.sleep(1.0)
    await caller.hang_up()
    caller.audio.quiet()
    await caller.wait_ended(10)
    return (await rig.next_record("call", after))["record"]


def test_after_hours_nobody_accepts_so_the_switchboard_takes_the_call(rig, kamailio):
    open_hours(rig, False)
    port = kamailio.static_ports[BOARD]
    proc, messages = sipp(rig, "board-uas", "sipp_switchboard.xml", "-p", str(port),
                          "-rtp_echo")
    wait_until(lambda: _udp_bound(port) or not proc.alive(), 10, "SIPp as the switchboard")
    mark = kamailio.mark()
    call = run_call(rig, handed_up)
    assert call["branch"] == "after_hours" and call["outcome"] == "overflow", call
    assert call["overflow"]["to"] == BOARD and call["overflow"]["outcome"] == "handed_over"
    assert not call.get("case_number")      # the prefecture has it: no county case
    # what reached the switchboard, through the trunk
    assert (("INVITE", f"sip:{BOARD}@127.0.0.1")) in kamailio.requests("INVITE", since=mark)
    invite = next(part for part in re.split(r"\n-{5,}[^\n]*\n", messages.read_text())
                  if "INVITE sip:" in part[:400])
    caller = rig.sim["caller"]["number"]
    assert header(invite, "Diversion") == \
        f"<sip:{rig.box_number}@127.0.0.1>;reason=unavailable;counter=1", invite
    assert header(invite, "X-Transfer-Reason") == "overflow-after-hours"
    assert header(invite, "X-Lawline-County") == "demo-county"
    assert header(invite, "X-Lawline-Caller") == caller
    assert "toll-fraud guard" not in rig.box_log()
    proc.stop()


def test_the_switchboards_agent_hears_the_county_and_the_caller(rig):
    open_hours(rig, False)
    # a pjsua2 phone registered as the switchboard (registered beats the static route)
    number_proc, events, record = rig.phone(BOARD, "accept")
    try:
        call = run_call(rig, handed_up, False)
        assert call["outcome"] == "overflow"
        first = record.with_name(f"{record.stem}-1{record.suffix}")
        wait_until(lambda: any(e["event"] == "disconnected" for e in rig.phone_events(BOARD)),
                   15, "the switchboard phone's recording")
        heard = hearing.load_wav(first)
        county = hearing.load_wav(rig.spool_dir / "prompts" / "generated" /
                                  "switchboard_county.wav")
        assert hearing.find(county, heard) is not None, "the agent did not hear the county"
        whisper_caller = hearing.load_wav(rig.prompts.path("whisper_caller"))
        scores = hearing.correlate(whisper_caller, heard)
        assert hearing.find(whisper_caller, heard) is not None, (
            f"the agent did not hear 来电号码: best score {scores.max():.2f} at "
            f"{scores.argmax() / hearing.RATE:.2f} s of {len(heard) / hearing.RATE:.2f} s "
            f"({first}); the caller was {call.get('caller')!r}")
    finally:
        # a second try starts its own phone: its first recording is its own call's
        number_proc.stop()
        rig.phones.pop(BOARD, None)


# -- down: transferred by the switchboard ---------------------------------------------------

def sipp_transfer(rig, kamailio, scenario, reason_line, *keys, talk_ms=14000):
    proc, messages = sipp(rig, "board-uac", scenario, "-p", str(free_port()),
                          "-s", rig.box_number, f"127.0.0.1:{kamailio.port}", "-m", "1",
                          "-au", BOARD, "-ap", PASSWORDS[BOARD], "-key", "pai", ORIGINAL,
                          "-key", "reason_line", reason_line, "-d", str(talk_ms), *keys)
    return proc, messages


def test_a_transfer_with_a_reason_header_goes_straight_to_the_service_request(rig, kamailio):
    open_hours(rig, True)
    after = rig.last_id()
    proc, messages = sipp_transfer(rig, kamailio, "sipp_switchboard_transfer.xml",
                                   "X-Transfer-Reason: service_request")

    async def transferred(rig):
        vm = await rig.next_record("voicemail", after, timeout=60)
        call = (await rig.next_record("call", after, timeout=30))["record"]
        case = vm["record"]["case_number"]
        to_caller = await hotline.wait_outside_sms(rig, ORIGINAL, case)
        to_lawyer = await hotline.wait_outside_sms(rig, LAWYER, case)
        await scenarios.assert_upstream_has(rig, vm)
        return vm, call, to_caller, to_lawyer
    vm, call, to_caller, to_lawyer = run_call(rig, transferred)
    wait_until(lambda: not proc.alive(), 30, "SIPp to finish its call")
    assert proc.stop() == 0, (rig.dir / "sipp-board-uac.errors").read_text(errors="replace")
    assert call["caller"] == ORIGINAL and call["branch"] == "service_request", call
    assert call["menu_path"] == ["transfer:service_request"]
    assert call["transferred"] == {"from": BOARD, "caller_from": "pai", "caller_raw": None,
                                   "reason": "service_request", "how": "header",
                                   "said": "service_request"}
    assert vm["record"]["caller"] == ORIGINAL and vm["record"]["duration_s"] > 3, vm
    assert "法律服务申请" in to_caller["text"] and ORIGINAL in to_lawyer["text"]


def test_a_transfer_with_a_reason_code_goes_straight_to_the_urgent_branch(rig, kamailio):
    open_hours(rig, True)
    rig.phone(M1, "no-answer")
    rig.phone(M2, "accept")
    after, mark = rig.last_id(), kamailio.mark()
    proc, messages = sipp_transfer(rig, kamailio, "sipp_switchboard_code.xml",
                                   "X-Trace: none", "-key", "code", "3", talk_ms=12000)

    async def taken(rig):
        call = (await rig.next_record("call", after, timeout=90))["record"]
        told = await hotline.wait_outside_sms(rig, M1, f"紧急纠纷案件{call['case_number']}")
        return call, told
    call, told = run_call(rig, taken)
    wait_until(lambda: not proc.alive(), 30, "SIPp to finish its call")
    assert proc.stop() == 0
    assert call["branch"] == "urgent" and call["transferred"]["how"] == "dtmf", call
    assert call["transferred"]["said"] == "3" and call["caller"] == ORIGINAL
    assert call["taken_by"]["number"] == M2 and M2 in told["text"]
    # the call came down from the switchboard: nothing went back up to it
    assert ("INVITE", f"sip:{BOARD}@127.0.0.1") not in kamailio.requests("INVITE", since=mark)


def switchboard_caller(rig, kamailio, *headers, keys="", hang_up_after=16.0, hold=None):
    """A pjsua2 phone registered as the switchboard, calling the county line through the
    trunk: it records what the transferred caller hears. `hold`: (after, for) seconds from
    the answer, the switchboard puts the call on hold and takes it back (two re-INVITEs)."""
    gen = len([p for p in rig.dir.glob("board-caller-*.ready")]) + 1
    ready = rig.dir / f"board-caller-{gen}.ready"
    events = rig.dir / f"board-caller-{gen}.events"
    record = rig.dir / f"board-caller-{gen}.wav"
    proc = Process(f"board-caller-{gen}", lawline_argv(
        "dutyphone", "--port", "0", "--registrar", kamailio.registrar, "--user", BOARD,
        "--password", PASSWORDS[BOARD], "--events", str(events), "--record", str(record),
        "--ready-file", str(ready), "--call", f"sip:{rig.box_number}@127.0.0.1:{kamailio.port}",
        "--header", f"P-Asserted-Identity: <sip:{ORIGINAL}@127.0.0.1>",
        *[arg for h in headers for arg in ("--header", h)], "--keys", keys,
        "--tone-hz", str(scenarios.CALLER_TONE), "--hang-up-after", str(hang_up_after),
        *(["--hold-after", str(hold[0]), "--hold-for", str(hold[1])] if hold else [])),
        rig.dir)
    rig.phones[f"caller-{gen}"] = (proc, events, record)

    def done():
        try:
            lines = [json.loads(line) for line in events.read_text().splitlines()]
        except (OSError, ValueError):
            return None
        return next((e for e in lines if e["event"] == "disconnected" and e.get("record")),
                    None)
    return proc, done


def test_what_a_transferred_caller_hears_with_and_without_a_reason(rig, kamailio):
    open_hours(rig, True)
    after = rig.last_id()
    proc, done = switchboard_caller(rig, kamailio, "X-Transfer-Reason: 2")
    ended = wait_until(done, 60, "the switchboard's call to end")
    heard = hearing.load_wav(ended["record"])
    for name in ("record_request", "beep"):
        assert hearing.find(hearing.load_wav(rig.prompts.path(name)), heard) is not None, name
    assert hearing.find(hearing.load_wav(rig.prompts.path("greeting")), heard) is None
    proc.stop()

    async def message(rig):
        return await rig.next_record("voicemail", after, timeout=30)
    vm = run_call(rig, message)
    wav = rig.spool_dir / vm["files"]["voicemail.wav"]
    assert hearing.tone_level(hearing.load_wav(wav), scenarios.CALLER_TONE) > 0.3
    assert vm["record"]["caller"] == ORIGINAL
    # without a reason the menu plays, as for any caller
    proc, done = switchboard_caller(rig, kamailio, hang_up_after=14.0)
    ended = wait_until(done, 60, "the switchboard's call to end")
    heard = hearing.load_wav(ended["record"])
    for name in ("greeting", "menu"):
        assert hearing.find(hearing.load_wav(rig.prompts.path(name)), heard) is not None, name
    proc.stop()


def test_a_transferred_caller_held_and_taken_back_is_still_recorded(rig, kamailio):
    """The switchboard puts a transferred call on hold while the caller leaves a message and
    takes it back: pjsua gives the call's audio a new bridge slot at each re-INVITE and
    drops the old one's links, so the box's recorder follows the line's new slot
    (call/driver.py _line_moved): what the caller says after the resume is in the message."""
    open_hours(rig, True)
    after = rig.last_id()
    # answer, then record_request (6.8 s) and the beep: the message starts about 8 s in;
    # held at 11 s for 2 s, hung up at 24 s: 11 s of the caller's tone after the resume
    proc, done = switchboard_caller(rig, kamailio, "X-Transfer-Reason: 2", hang_up_after=24.0,
                                    hold=(11.0, 2.0))
    wait_until(done, 60, "the switchboard's call to end")
    proc.stop()

    async def message(rig):
        return await rig.next_record("voicemail", after, timeout=30)
    vm = run_call(rig, message)
    heard = hearing.load_wav(rig.spool_dir / vm["files"]["voicemail.wav"])
    rate = 8000
    assert len(heard) > 12 * rate, f"the message is {len(heard) / rate:.1f} s long"
    # the last seconds before the hang-up: after the resume
    tail = heard[-8 * rate:-2 * rate]
    assert hearing.tone_level(tail, scenarios.CALLER_TONE) > 0.3, \
        "the caller's voice after the switchboard took the call back is not in the message"
    assert "the line's audio changed (re-INVITE)" in rig.box_log()
