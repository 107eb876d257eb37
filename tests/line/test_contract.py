"""The modem contract: one set of checks that every modem profile must pass, run over each
(SIM7600, EC25 with serial PCM, EC25 in USB-audio mode, V.253 full duplex and half duplex), as
gpiozero runs one suite over every pin factory and pyserial's tests run on a pty and on a
hardware loopback alike.

The box's own driver (lawline.line.create_modem) answers; the caller is the box's driver
too, on the caller's modem (a SIM7600 rings a V.253 box, as a phone rings a landline). On
the loopback line both are simulated modems speaking real AT bytes on ptys; with `make hil`
options (tests/conftest.py, board/HIL.md) the same checks run unchanged on two real modems,
except those that need the simulated network (presentation variants, faults, the mailbox),
which say so and skip. Each check names what it needs from the profile in the tables below
(quirks are data, STYLE.md 3): a profile differs in data, never in the check.

The checks: the box answers and names the caller; caller ID as the network presents it
(every variant, free text withheld); DTMF in; call audio both ways; hang-up from either side
and a caller who gives up; SMS in and out where the modem has SMS; a lost port found again
with nothing spinning. Call audio on a sound card is reached through PortAudio, which reads
the ALSA configuration once per process: those checks run the same steps in a child process
(tests/line/soundcard_call.py, soundcard_lost.py)."""

import asyncio
import dataclasses
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
import types

import numpy as np
import pytest

import lawline_rig.sim
from lawline.errors import SmsError
from lawline.line import create_modem, pdu as sms, profiles
from lawline.line.supervisor import READY, LineSupervisor
from lawline_rig.probe import hearing
from lawline_rig.sim.v253 import DLE_STORM
from lawline_rig.wait import async_wait_until

from .cpu import threads_seconds

HERE = os.path.dirname(__file__)
PROFILES = ["simcom-sim7600", "quectel-ec25", "quectel-ec25-uac", "v253", "v253-halfduplex"]
GSM = ["simcom-sim7600", "quectel-ec25", "quectel-ec25-uac"]         # the modems with SMS
SOUND_CARD = {"quectel-ec25-uac"}
KEYS = "159*#"

# What each profile says on the wire for a call with keys (loopback: the simulator's wire
# log), and which spellings it must never use (reference/modems.md).
WIRE = {
    "simcom-sim7600": (["VOICE CALL: BEGIN", "+RXDTMF: 5"], []),
    "quectel-ec25": (['+QIND: "ccinfo",1,1,-1', "+QTONEDET: 53", "AT+QPCMV=1,0"],
                     ["VOICE CALL"]),
    # in USB-audio mode the keys come from the audio, but the modem reports them too
    "quectel-ec25-uac": (["+QTONEDET: 49"], ["VOICE CALL"]),
    "v253": (["AT+VTR"], []),                       # full duplex: receive and send at once
    "v253-halfduplex": (["AT+VTX"], []),            # it plays when the box speaks
}
# The call audio's sample format the box must choose, and whether it can bridge (full duplex)
FORMAT = {"v253": ("ulaw", True), "v253-halfduplex": ("u8", False)}
# How the box's driver says the caller hung up, where the profile says it in words
CALLER_GONE = {"v253": "busy tone", "v253-halfduplex": "busy tone"}
BOX_HUNG_UP = {"v253": "hung up by the box", "v253-halfduplex": "hung up by the box"}

SPOOF = "CALLBACK 16800001234 NOW"
# (presentation set on the simulated network, the caller the driver must report)
PRESENTATIONS = {
    "gsm": [({"withheld": True}, ""),
            ({"number": "+8613800138000", "clip_tail": "long"}, "+8613800138000"),
            ({"number": "+8613800138000", "clip_tail": "none"}, "+8613800138000"),
            ({"number": "013800138000", "clip_tail": "short"}, "013800138000"),
            ({"number": "13800138000", "clip_tail": "quoted"}, "13800138000")],
    # an analog line's caller-ID block (YD/T 1277.1 via the modem's VCID): NMBR with or
    # without spaces, P/O when withheld, an international caller as 00 86 ...
    "v253": [({"cid_spacing": "spaced"}, "13800138000"),
             ({"cid_spacing": "tight", "cid_name": "ZHANG SAN"}, "13800138000"),
             ({"withheld": True, "cid_withheld": "P"}, ""),
             ({"withheld": True, "cid_withheld": "O", "cid_spacing": "spaced"}, ""),
             ({"number": "+8613800138000"}, "008613800138000")],
}
# How a V.253 modem spaces its caller-ID block unless told (sim/profiles.py, modems.md 4.1:
# a USR 5637 printed NMBR=x, Conexant documents NMBR = x)
CID_SPACING = {"v253": "tight", "v253-halfduplex": "spaced"}
RESET = {"withheld": False, "number": None, "clip_tail": None, "cid_spacing": None,
         "cid_name": None, "cid_withheld": None}
CHINESE_150 = ("您好，这里是县法律服务专线。请按一号键咨询法律问题，按二号键申请法律服务。" * 5)[:150]

# the line supervisor as the lost-port checks run it: fast checks, short back-off
SUPERVISE = types.SimpleNamespace(health_interval=0.3, health_timeout=1.5,
                                  recovery_max_backoff=1.0, reset_after_hangup=False)
IDLE = 0.15      # CPU seconds any one thread may use in the measured second (a spin uses ~1)
GONE_MS = 4000   # how long a lost port stays away: the measured second fits inside


# -- the line under test -------------------------------------------------------------------

@pytest.fixture(scope="module", params=PROFILES)
def line(request, module_rigs):
    """The loopback line of one profile, kept for the module; or the hardware-in-loop rig's
    two real modems when `make hil` gave them (the other profiles then skip)."""
    profile = request.param
    if module_rigs.hil:
        if module_rigs.hil["profile"] != profile:
            pytest.skip(f"the hardware-in-loop rig is a {module_rigs.hil['profile']}, "
                        f"not a {profile}")
        rig = module_rigs.line(profile, hil=True)
    else:
        rig = module_rigs.line(profile)
    rig.contract_profile = profile
    yield rig
    module_rigs.stop(rig)        # before the next profile's line starts


def simulated(line, why):
    """Skip on real modems: the check drives the simulated network (`why`)."""
    if line.ports:
        pytest.skip(f"needs the loopback line's simulated network: {why}")


def same_caller(line, number):
    """The caller's number as the box must name it: on the loopback line exactly; on a real
    network at least its last eight digits (the presentation's prefix is the operator's:
    national, +86..., board/HIL.md)."""
    expected = line["caller"]["number"]
    if line.ports:
        return bool(expected) and number.endswith(expected[-8:]) or not expected and bool(number)
    return number == expected


def modem(line, side, **options):
    info = line[side]
    if side == "box" and info.get("sound_device"):
        options.setdefault("audio_backend", "soundcard")
        options.setdefault("sound_device", info["sound_device"])
    return create_modem(info["driver_profile"], info.get("at_link", info["at"]),
                        info.get("audio_link", info["audio"]), name=side,
                        audio_retry_delay=0.1, **options)


def run(line, script, with_caller=True):
    """Start the box's and the caller's drivers on `line`, run `script(box, caller)`, and
    close both whatever happens. Without the caller's driver (`with_caller=False`: another
    client has the caller's modem) `caller` is None."""
    async def main():
        box = modem(line, "box")
        caller = modem(line, "caller") if with_caller else None
        await box.start()
        try:
            if caller:
                await caller.start()
            return await script(box, caller)
        finally:
            box.close()
            if caller:
                caller.close()
    return asyncio.run(main())


async def next_event(modem, kinds, timeout=10):
    kinds = (kinds,) if isinstance(kinds, str) else kinds
    while True:
        event = await asyncio.wait_for(modem.events.get(), timeout)
        if event.kind in kinds:
            return event


async def ring_and_answer(line, box, caller):
    """The caller dials; the box sees the ring and the caller, answers; both are in the call."""
    await caller.dial(line["box"]["number"])
    assert (await next_event(box, ("ring", "caller_id"))).kind == "ring"
    event = await next_event(box, "caller_id")
    assert same_caller(line, event.number), event
    assert box.ringing
    await box.answer()
    begin = await next_event(box, "begin")
    await next_event(caller, "begin")
    return event, begin


def tone(hz, amplitude=8000):
    t = np.arange(160)
    return (np.sin(2 * np.pi * hz * t / 8000) * amplitude).astype("<i2").tobytes()


def level(pcm, hz):
    return hearing.tone_level(bytes(pcm[-3200:]), hz)


class Pump:
    """What the media bridge does with a line's audio (and a handset with the caller's):
    every 20 ms one frame out (`say`) and one frame in (kept in `heard`)."""

    def __init__(self, audio):
        self.audio = audio
        self.say = bytes(320)
        self.heard = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="pump")
        self._thread.start()

    def _run(self):
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.audio.write(self.say)
            frame = self.audio.read_frame()
            if frame:
                self.heard += frame
            next_at += 0.02
            self._stop.wait(max(0, next_at - time.monotonic()))

    def stop(self):
        self._stop.set()
        self._thread.join(2)


class InCall:
    """An answered call with both drivers' audio open and pumped (async context manager), as
    the box runs every call: a V.253 modem hears the far end hang up (its busy tone, DLE b)
    only in a voice data state. A box whose audio is a sound card (PortAudio, in a child
    process here) has only the modem's side of the call in this process."""

    def __init__(self, line, box, caller):
        self.line, self.box, self.caller = line, box, caller
        self.pumps, self.audios = [], []

    async def __aenter__(self):
        self.caller_id, self.begin = await ring_and_answer(self.line, self.box, self.caller)
        if self.line.contract_profile in SOUND_CARD:
            return self
        await self.caller.open_audio()
        await self.box.open_audio()
        for driver in (self.box, self.caller):
            audio = driver.make_audio()
            audio.open()
            self.audios.append(audio)
            self.pumps.append(Pump(audio))
        self.at_box, self.at_caller = self.pumps
        return self

    async def __aexit__(self, *exc):
        for pump in self.pumps:
            pump.stop()
        for audio in self.audios:
            audio.close()


def on_sound_card(line, keys):
    """The call steps with the box's audio on the (simulated or real) USB sound card, in a
    child process: PortAudio reads the ALSA configuration once, at start."""
    pytest.importorskip("sounddevice", reason="sounddevice (and Debian libportaudio2) needed")
    env = dict(os.environ)
    if line["box"].get("alsa_config"):
        env["ALSA_CONFIG_PATH"] = "/usr/share/alsa/alsa.conf:" + line["box"]["alsa_config"]
    done = subprocess.run([sys.executable, os.path.join(HERE, "soundcard_call.py"),
                           json.dumps(line.info), keys], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def wire_says(line, profile):
    if line.ports:
        return                 # a real modem keeps no wire log
    wire = line.wire()
    present, absent = WIRE[profile]
    for text in present:
        assert text in wire, f"{profile}: {text!r} not on the wire"
    for text in absent:
        assert text not in wire, f"{profile}: {text!r} on the wire"


# -- the checks ----------------------------------------------------------------------------

def test_the_box_answers_and_names_the_caller(line):
    async def script(box, caller):
        assert await box.ping(5) and await caller.ping(5)     # both modems answer AT
        async with InCall(line, box, caller) as call:
            assert same_caller(line, call.begin.number), call.begin
            assert box.in_call and caller.in_call
            await caller.hangup()
            await next_event(box, ("ended", "missed"), 20)
            await next_event(caller, "ended")
    run(line, script)


def test_dtmf_from_the_caller_reaches_the_box_once_per_key(line):
    profile = line.contract_profile
    if profile in SOUND_CARD:
        report = on_sound_card(line, KEYS)
        # every key once, from the audio (not from +QTONEDET, which the driver then ignores)
        assert report["keys"] == [[k, "in-band"] for k in KEYS], report
    else:
        async def with_call(box, caller):
            async with InCall(line, box, caller) as call:
                for key in KEYS:
                    await caller.send_dtmf(key)
                    assert (await next_event(box, "dtmf")).digit == key
                if profile == "v253-halfduplex":
                    # the box speaks: the modem plays (AT+VTX), and reports keys there too
                    call.at_box.say = tone(1000)
                    await async_wait_until(lambda: box.mode == "play", 5, "the switch to play")
                    await caller.send_dtmf("5")
                    assert (await next_event(box, "dtmf")).digit == "5"
                await caller.hangup()
                await next_event(box, "ended")
        run(line, with_call)
    wire_says(line, profile)


def test_call_audio_goes_both_ways(line):
    profile = line.contract_profile
    if profile in SOUND_CARD:
        report = on_sound_card(line, KEYS)
        assert report["rate"] == 8000
        assert report["caller_hears_box"] and report["box_hears_caller"], report
        return

    async def script(box, caller):
        async with InCall(line, box, caller) as call:
            if profile in FORMAT:
                codec, duplex = FORMAT[profile]
                assert box.audio.format.codec == codec and box.can_bridge == duplex
            else:
                assert box.can_bridge
                if not line.ports:
                    assert lawline_rig.sim.status(line.dir)["box"]["pcm"]
                    # serial PCM carries the caller's samples byte for byte
                    call.at_caller.say = b"\x11\x22" * 160
                    await async_wait_until(lambda: b"\x11\x22" * 8 in call.at_box.heard, 5,
                                           "the caller's samples at the box, as sent")
            # the box speaks: the caller hears it
            call.at_box.say = tone(1000)
            await async_wait_until(lambda: level(call.at_caller.heard, 1000) > 0.5, 5,
                                   "the caller to hear the box")
            # the caller speaks: the box hears it (full duplex at once; half duplex once the
            # box falls silent and the modem turns round to record)
            call.at_caller.say = tone(700)
            if box.can_bridge:
                await async_wait_until(lambda: level(call.at_box.heard, 700) > 0.5, 5,
                                       "the box to hear the caller while it speaks")
            call.at_box.say = bytes(320)
            await async_wait_until(lambda: level(call.at_box.heard, 700) > 0.5, 5,
                                   "the box to hear the caller")
            if profile == "v253-halfduplex":
                assert box.mode == "record"
            await caller.hangup()
            await next_event(box, "ended")
    run(line, script)


def test_the_caller_hangs_up(line):
    profile = line.contract_profile

    async def script(box, caller):
        since = len(line.wire())
        async with InCall(line, box, caller):
            await caller.hangup()
            event = await next_event(box, ("ended", "missed"))
            assert event.kind == "ended", event
            assert CALLER_GONE.get(profile, "") in event.detail, event
            await next_event(caller, "ended")
            if profile.startswith("v253") and not line.ports:
                await async_wait_until(lambda: "ATH" in line.wire()[since:], 5,
                                       "the box to go on-hook")
            assert not box.in_call and not caller.in_call
    run(line, script)


def test_the_box_hangs_up(line):
    profile = line.contract_profile

    async def script(box, caller):
        async with InCall(line, box, caller):
            await box.hangup()
            event = await next_event(box, "ended")
            assert BOX_HUNG_UP.get(profile, "") in event.detail, event
            await next_event(caller, "ended")
            assert not box.in_call and not caller.in_call
    run(line, script)


def test_a_caller_who_gives_up_before_the_answer_is_a_missed_call(line):
    async def script(box, caller):
        await caller.dial(line["box"]["number"])
        await next_event(box, "caller_id")
        await caller.hangup()
        # a V.253 modem on an analog line hears no hang-up: the rings stop (v253.py)
        event = await next_event(box, ("missed", "ended"), 20)
        assert event.kind == "missed" and same_caller(line, event.number), event
        assert not box.ringing
    run(line, script)


@pytest.fixture
def presented(line):
    """Set the simulated network's presentation of the caller; put it back afterwards."""
    simulated(line, "the caller's presentation")
    yield lambda **settings: lawline_rig.sim.present(line.dir, **{**RESET, **settings})
    lawline_rig.sim.present(line.dir, **RESET)


def test_caller_id_as_the_network_presents_it(line, presented):
    profile = line.contract_profile
    family = "v253" if profile.startswith("v253") else "gsm"

    async def script(box, caller):
        for presentation, expected in PRESENTATIONS[family]:
            presented(**presentation)
            since = len(line.wire())
            await caller.dial(line["box"]["number"])
            event = await next_event(box, "caller_id")
            assert (event.number, event.raw) == (expected, ""), (presentation, event)
            if family == "v253":
                # the block came with the spacing asked for (NMBR=... or NMBR = ...)
                block = line.wire()[since:]
                tight = (presentation.get("cid_spacing") or CID_SPACING[profile]) == "tight"
                assert ("NMBR=" in block) == tight and ("NMBR = " in block) == (not tight), \
                    (presentation, block[-600:])
            await caller.hangup()
            await next_event(caller, "ended")       # its NO CARRIER must not end the next dial
            assert (await next_event(box, ("missed", "ended"), 20)).number == expected
        if family == "gsm":
            # AT+CLIR=1 on the caller's modem withholds its number too (27.007 7.7)
            presented()
            await caller.at.command("AT+CLIR=1")
            try:
                await caller.dial(line["box"]["number"])
                assert (await next_event(box, "caller_id")).number == ""
                await caller.hangup()
                await next_event(box, ("missed", "ended"))
            finally:
                await caller.at.command("AT+CLIR=0")
    run(line, script)


def test_free_text_caller_id_is_withheld_and_kept_as_it_came(line, presented, caplog):
    """A spoofing gateway presents `CALLBACK 16800001234 NOW` as the caller (issue 15.1):
    the driver reports a withheld caller, keeps the text for the call record, and says so
    once in the log, quoted, however often the ring repeats it."""
    profile = line.contract_profile
    v253 = profile.startswith("v253")

    async def script(box, caller):
        presented(number=SPOOF)
        await caller.dial(line["box"]["number"])
        seen = []
        while sum(e.kind == "ring" for e in seen) < 3:   # GSM: caller ID at every ring
            seen.append(await next_event(box, ("ring", "caller_id")))
        held = (box.caller, box.caller_raw)
        await caller.hangup()
        over = await next_event(box, ("missed", "ended"), 20)
        return seen, held, over, (box.caller, box.caller_raw)

    with caplog.at_level(logging.INFO, logger="lawline.line"):
        seen, held, over, after = run(line, script)
    ids = [(e.number, e.raw) for e in seen if e.kind == "caller_id"]
    # V.253: one caller-ID block, after the first ring (modems.md 4.1); GSM: one per ring
    assert ids == [("", SPOOF)] * (1 if v253 else len(ids)), seen
    assert len(ids) >= (1 if v253 else 2), seen
    assert all(e.number in (None, "") for e in seen if e.kind == "ring"), seen
    assert over.number == "" and held == ("", SPOOF)
    assert after == (None, "")                     # the next call starts clean
    said = [r.getMessage() for r in caplog.records if "incoming call from" in r.getMessage()
            and r.getMessage().startswith("modem box:")]
    assert len(said) == 1 and said[0].startswith(
        f"modem box: incoming call from a withheld number: caller ID {SPOOF!r} (in "), said
    assert said[0].endswith(") is not a phone number"), said


# -- SMS, where the modem has it ------------------------------------------------------------

# (SMS: the profiles whose modem has it; a V.253 modem has none)
ON_GSM = pytest.mark.parametrize("line", GSM, indirect=True)


@ON_GSM
def test_long_chinese_and_emoji_sms_from_the_box_arrive_whole(line):
    text = "值班律师将在一个工作日内与您联系😀，案件编号 240312001。" * 5   # emoji: outside the BMP

    async def script(box, caller):
        refs = await box.send_sms(line["caller"]["number"], text)
        assert len(refs) == len(sms.encode_submit("1", text)) > 1
        assert refs == sorted(refs) and len(set(refs)) == len(refs)  # +CMGS: <mr> each part
        event = await next_event(caller, "sms", 120)
        assert event.detail == text
        assert event.number == line["box"]["number"] if not line.ports else \
            event.number.endswith(line["box"]["number"][-8:]), event
    if line.ports and not line["caller"]["number"]:
        pytest.skip("hardware in loop: give CALLER_NUMBER to test SMS")
    run(line, script)


@ON_GSM
def test_sms_to_the_box_arrives_whole_and_leaves_the_sim_empty(line):
    """150 Chinese characters sent by python-gsmmodem (an independent GSM client) on the
    caller's modem: the box reads every part, joins them and deletes them from the SIM."""
    GsmModem = pytest.importorskip("gsmmodem.modem").GsmModem
    client = GsmModem(line["caller"]["at"])
    client.connect()

    async def script(box, caller):
        await asyncio.to_thread(client.sendSms, line["box"]["number"], CHINESE_150)
        event = await next_event(box, "sms", 120)
        assert same_caller(line, event.number) and event.detail == CHINESE_150, event
        if not line.ports:
            # every part was read and deleted from the SIM
            await async_wait_until(
                lambda: lawline_rig.sim.status(line.dir)["box"]["sms_stored"] == [], 20,
                "the box to delete every part from the SIM")
    try:
        run(line, script, with_caller=False)     # python-gsmmodem has the caller's modem
    finally:
        client.close()
    if not line.ports:
        assert line.wire().count("AT+CMGD=") >= 3


@ON_GSM
def test_python_gsmmodem_receives_what_the_driver_sends(line):
    simulated(line, "the caller's SIM is read back by the simulator")
    GsmModem = pytest.importorskip("gsmmodem.modem").GsmModem
    got = queue.Queue()
    client = GsmModem(line["caller"]["at"], smsReceivedCallbackFunc=got.put)
    client.connect()

    async def script(box, caller):
        await box.send_sms(line["caller"]["number"], "您的案件已受理。")
        message = await asyncio.to_thread(got.get, True, 10)
        assert (message.number, message.text) == (line["box"]["number"], "您的案件已受理。")
        # python-gsmmodem deletes the message after its callback: wait for that before closing
        await async_wait_until(
            lambda: not lawline_rig.sim.status(line.dir)["caller"]["sms_stored"], 5,
            "python-gsmmodem to delete the message")
    try:
        run(line, script, with_caller=False)     # python-gsmmodem has the caller's modem
    finally:
        client.close()


@ON_GSM
def test_python_gsmmodem_sees_the_incoming_call_with_the_callers_number(line):
    GsmModem = pytest.importorskip("gsmmodem.modem").GsmModem
    calls = queue.Queue()
    client = GsmModem(line["box"]["at"], incomingCallCallbackFunc=calls.put)
    client.connect()

    async def main():
        caller = modem(line, "caller")
        await caller.start()
        try:
            await caller.dial(line["box"]["number"])
            call = await asyncio.to_thread(calls.get, True, 20)
            # python-gsmmodem prefixes "+" to every CLIP number
            assert same_caller(line, call.number.lstrip("+")) and call.number.startswith("+")
            await asyncio.to_thread(call.answer)
            await next_event(caller, "begin")
            await caller.hangup()
            await next_event(caller, "ended")
        finally:
            caller.close()
    try:
        asyncio.run(main())
    finally:
        client.close()


@ON_GSM
def test_sms_to_an_outside_number_lands_in_the_mailbox(line):
    simulated(line, "the simulator's mailbox of texts to the outside")
    text = "紧急调解：请回电 13800138000。" * 6
    before = len(lawline_rig.sim.sms_sent(line.dir))

    async def script(box, caller):
        return await box.send_sms("+8613900000001", text)
    refs = run(line, script)
    [sent] = lawline_rig.sim.sms_sent(line.dir)[before:]
    assert sent["to"] == "+8613900000001" and sent["text"] == text
    assert sent["parts"] == len(refs) == 2 and sent["complete"] and sent["references"] == refs
    assert sent["from"] == line["box"]["number"]


@ON_GSM
def test_a_refused_sms_raises_sms_error_with_the_code(line):
    simulated(line, "the fault sms_refuse")
    before = len(lawline_rig.sim.sms_sent(line.dir))

    async def script(box, caller):
        lawline_rig.sim.inject(line.dir, "sms_refuse", side="box", code=330)
        with pytest.raises(SmsError) as info:
            await box.send_sms("13900000001", "测试")
        assert info.value.code == 330 and "SMSC address unknown" in str(info.value)
        assert len(await box.send_sms("13900000001", "测试")) == 1   # the next one goes
    run(line, script)
    assert [m["text"] for m in lawline_rig.sim.sms_sent(line.dir)[before:]] == ["测试"]


@ON_GSM
def test_texts_stored_while_the_box_was_down_are_read_at_start(line):
    simulated(line, "a text delivered to the SIM before the box starts")
    lawline_rig.sim.control_request(line.dir, {"sms_deliver": {"to": "box", "from": "10086",
                                                               "text": "余额提醒" * 30}})
    assert len(lawline_rig.sim.status(line.dir)["box"]["sms_stored"]) == 2

    async def script(box, caller):
        event = await next_event(box, "sms")
        assert (event.number, event.detail) == ("10086", "余额提醒" * 30)
    run(line, script)


# -- a lost port ---------------------------------------------------------------------------

# The fault that takes each profile's port away mid-call (sim faults.py): the far end of the
# audio port hangs up (a pty closed; on a Pi a USB modem or card that goes away), or the whole
# modem re-enumerates (both ports renamed).
LOSSES = {
    "simcom-sim7600": [("audio_gone", {}), ("port_gone", {"reset": False})],
    "quectel-ec25": [("audio_gone", {})],
    "v253": [("audio_gone", {})],
    "v253-halfduplex": [("audio_gone", {})],
    "quectel-ec25-uac": [("audio_gone", {})],       # the USB sound card (soundcard_lost.py)
}


async def busiest_over(seconds):
    """(the most CPU seconds one thread used, the process's) over the next `seconds`, while
    the loop goes on serving (the supervisor's retries run meanwhile)."""
    before, process = threads_seconds(), time.process_time()
    await asyncio.sleep(seconds)
    after = threads_seconds()
    busiest = max((after[t] - before.get(t, 0.0) for t in after), default=0.0)
    return busiest, time.process_time() - process


async def lose_in_a_call(line, fault, **params):
    """Answer a call with its audio open under the line supervisor, take the port away, and
    see the call fail, the process stay idle while the port is gone, and the line come back
    ready, taking calls on the new port."""
    info = line["box"]
    chosen = dataclasses.replace(profiles.get(info["driver_profile"]), boot_seconds=1.0)
    box = create_modem(chosen, info["at_link"], info["audio_link"], name="box",
                       command_timeout=3.0, audio_retry_delay=0.1)
    caller = modem(line, "caller")
    audio = box.make_audio()
    supervisor = LineSupervisor(box, audio, SUPERVISE)
    stop = asyncio.Event()
    assert await supervisor.start(stop)
    watch = asyncio.ensure_future(supervisor.run(stop))
    await caller.start()
    pump = Pump(audio)
    pump.say = b"\x00\x10" * 160       # loud enough to count as speech, DLE bytes in it
    try:
        await caller.dial(info["number"])
        await next_event(box, "caller_id")
        await box.answer()
        await next_event(box, "begin")
        await box.open_audio()
        old = os.path.realpath(info["audio_link"])
        lawline_rig.sim.inject(line.dir, fault, side="box", **params)
        failed = await next_event(box, "failed")
        busiest, process = await busiest_over(1.0)
        await async_wait_until(lambda: supervisor.state.state == READY and
                               supervisor.recoveries, 20, "the line to come back")
        back = os.path.realpath(info["audio_link"])
        # and it takes calls again
        await caller.hangup()
        await next_event(caller, ("ended", "missed"))
        await caller.dial(info["number"])
        again = await next_event(box, "caller_id")
        await caller.hangup()
        reading = getattr(audio, "reader", None)
        reading = reading is None or (reading.is_alive() and audio.check() is None)
        return failed, busiest, old, back, again, reading
    finally:
        pump.stop()
        stop.set()
        await watch
        supervisor.audio.close()
        box.close()
        caller.close()


def test_a_lost_port_is_found_again_and_nothing_spins(line, caplog):
    """A port that hangs up is lost, not spun on (issue 15.8): when the far end goes,
    `select` says readable and `os.read` gives b'' for ever; every reader and writer takes
    that as the port lost (one log line, the supervisor told), the call ends, no thread
    spins while it is gone (CPU time of every thread over a second, /proc/self/task), and the
    supervisor reopens the ports by name once they are back."""
    profile = line.contract_profile
    simulated(line, "the faults audio_gone and port_gone (on the rig: pull the USB cable)")
    if profile in SOUND_CARD:
        return lose_the_sound_card(line)
    for fault, params in LOSSES[profile]:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="lawline.line"):
            failed, busiest, old, back, again, reading = asyncio.run(
                lose_in_a_call(line, fault, ms=GONE_MS, **params))
        # a pty whose far end went reads as end of file or as EIO, by the kernel's timing
        # (the hang-up seen before or after the close): either is the port lost
        port_lost = [f"audio port {line['box']['audio_link']} lost: {why}"
                     for why in ("end of file (its far end hung up)",
                                 "[Errno 5] Input/output error")]
        audio_lost = [f"call audio lost ({lost})" for lost in port_lost]
        if profile.startswith("v253"):
            # one port for commands and samples: the AT reader sees end of file in the middle
            # of the voice data state; the sample writer says once that it cannot write
            assert failed.detail == "modem port went away", failed.detail
            unwritable = [r for r in caplog.records if "cannot be written" in r.getMessage()]
            assert len(unwritable) <= 1, [r.getMessage() for r in unwritable]
        elif fault == "port_gone":
            # both ports go: whichever reader sees it first ends the call
            assert failed.detail in ("modem port went away", *audio_lost), failed.detail
        else:
            assert failed.detail in audio_lost, failed.detail
            # the reader said it once; the supervisor's state lines follow it
            lost = [r.getMessage() for r in caplog.records if r.filename == "audio.py" and
                    " lost: " in r.getMessage()]     # (the jitter buffer's lines are its own)
            assert len(lost) == 1 and lost[0] in [f"modem box: {x}" for x in port_lost], lost
        assert busiest < IDLE, f"a thread used {busiest:.2f} s of the second the port was gone"
        # the simulator made a new pty (the kernel may hand out the old number again): the
        # box found it by its link, not by the number it had open
        assert os.path.exists(back), f"the port's link {line['box']['audio_link']} is gone"
        assert again.number == line["caller"]["number"]
        assert reading, "the audio is read again, on the new port"


def lose_the_sound_card(line):
    """The EC25's USB sound card goes away (its capture reads end of file and PortAudio calls
    back as fast as the CPU goes): the box finds that, says so once, aborts the stream, and
    its supervisor reopens the card once it is back (in a child process: PortAudio)."""
    pytest.importorskip("sounddevice", reason="sounddevice (and Debian libportaudio2) needed")
    env = dict(os.environ, ALSA_CONFIG_PATH="/usr/share/alsa/alsa.conf:" +
               line["box"]["alsa_config"], PYTHONPATH=os.pathsep.join(
                   [HERE] + os.environ.get("PYTHONPATH", "").split(os.pathsep)).rstrip(os.pathsep))
    done = subprocess.run([sys.executable, os.path.join(HERE, "soundcard_lost.py"),
                           json.dumps(line.info), str(line.dir), str(GONE_MS)], env=env,
                          capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert 40 <= report["pace_before"] <= 60, report          # 50 frames of 20 ms a second
    assert report["noticed"], report
    assert report["busiest"] < IDLE, report
    assert report["back"] and report["lost_after"] is None, report
    assert 40 <= report["pace_after"] <= 70, report           # its clock, not a spin
    assert len(report["card_said"]) == 1, report
    assert report["card_said"][0].startswith("modem box: sound card 'lawline_box' lost: "), report
    assert any("the call audio went away (sound card 'lawline_box' lost" in said
               for said in report["supervisor_said"]), report


# -- a profile's own -----------------------------------------------------------------------

@pytest.mark.parametrize("line", ["v253"], indirect=True)
def test_v253_a_dle_storm_in_the_samples_ends_nothing_and_the_box_hangs_up(line):
    """DLE bytes in the sample stream are samples (shielded), never events: a second of them
    ends nothing; then the box hangs up (the full-duplex V.253 modem's data state)."""
    simulated(line, "the fault dle_storm")

    async def script(box, caller):
        heard = bytearray()
        await ring_and_answer(line, box, caller)
        await box.open_audio()
        box.audio.on_frame = heard.extend
        lawline_rig.sim.inject(line.dir, "dle_storm", side="box", seconds=1.0)
        storm = box.audio.format.to_s16(DLE_STORM)
        await async_wait_until(lambda: storm in bytes(heard), 5,
                               "the DLE storm to arrive as samples")
        await async_wait_until(lambda: heard.count(storm) > 40, 5, "a whole second of it")
        assert box.in_call and box.at.in_data_state and box.events.empty()
        await box.hangup()
        assert (await next_event(box, "ended")).detail == "hung up by the box"
        await next_event(caller, "ended")
    run(line, script)
