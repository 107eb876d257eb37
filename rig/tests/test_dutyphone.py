"""probe.dutyphone: the simulated duty phone, called by a real pjsua2 caller.

Each user agent runs in a process of its own: a second pjsua2 Endpoint in one process aborts
it, and this pytest process must not own one either (other tests may). The caller is the small
script CALLER below; it prints one JSON object describing what it saw and heard.
"""

import importlib.util
import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from lawline_rig.probe import dutyphone, hearing
from lawline_rig.wait import wait_until

RATE = hearing.RATE
sip = pytest.mark.skipif(importlib.util.find_spec("pjsua2") is None,
                         reason="pjsua2 is not installed")

CALLER = textwrap.dedent('''
    """A caller for the duty phone tests: dial, record what is heard, send a tone, report."""
    import argparse, json, math, os, struct, sys, time, wave
    import pjsua2 as pj

    p = argparse.ArgumentParser()
    p.add_argument("--target", required=True)
    p.add_argument("--record", required=True)
    p.add_argument("--tone-hz", type=float, default=700)
    p.add_argument("--hold", type=float, default=2.0, help="hang up this long after CONFIRMED")
    p.add_argument("--cancel-after", type=float, help="hang up this long after dialling")
    p.add_argument("--timeout", type=float, default=10.0)
    a = p.parse_args()

    t0 = time.monotonic()
    now = lambda: round(time.monotonic() - t0, 4)
    report = {"states": [], "digits": [], "code": None, "confirmed_at": None}
    inbox = []

    class Call(pj.Call):
        def onCallState(self, prm):
            i = self.getInfo()
            inbox.append(("state", i.state, i.stateText, i.lastStatusCode))
        def onCallMediaState(self, prm):
            info = self.getInfo()   # keep it: .media of a temporary CallInfo reads freed memory
            inbox.append(("media", any(m.type == pj.PJMEDIA_TYPE_AUDIO
                          and m.status == pj.PJSUA_CALL_MEDIA_ACTIVE for m in info.media)))
        def onDtmfDigit(self, prm):
            inbox.append(("dtmf", prm.digit))

    ep = pj.Endpoint()
    from lawline.sip.endpoint import stdout_to_stderr
    stdout_to_stderr(ep.libCreate)          # pjlib's start-up lines go to stderr, flushed
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    class ToStderr(pj.LogWriter):          # stdout is the JSON report's only
        def write(self, entry):
            sys.stderr.write(entry.msg + "\\n")
    writer = ToStderr()
    cfg.logConfig.writer = writer
    cfg.logConfig.consoleLevel = 1
    cfg.logConfig.level = 1
    cfg.medConfig.clockRate = 8000
    cfg.medConfig.sndClockRate = 8000
    ep.libInit(cfg)
    tc = pj.TransportConfig(); tc.port = 0; tc.boundAddress = "127.0.0.1"
    tid = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc)
    ep.libStart()
    ep.audDevManager().setNullDev()
    for c in ep.codecEnum2():
        ep.codecSetPriority(c.codecId, {"PCMA/8000/1": 255, "PCMU/8000/1": 254}.get(c.codecId, 0))
    ac = pj.AccountConfig(); ac.idUri = "sip:box@127.0.0.1"; ac.sipConfig.transportId = tid
    acc = pj.Account(); acc.create(ac, True)

    tone = a.record + ".tone.wav"
    with wave.open(tone, "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
        n = round(round(a.tone_hz) * 8000 / a.tone_hz)       # whole cycles in one second
        w.writeframes(b"".join(struct.pack("<h", round(6000 * math.sin(2 * math.pi * a.tone_hz * i / 8000))) for i in range(n)))
    player = pj.AudioMediaPlayer(); player.createPlayer(tone)
    recorder = None
    call = Call(acc)
    call.makeCall(a.target, pj.CallOpParam(True))
    confirmed = media = hung = False
    while time.monotonic() - t0 < a.timeout and report["code"] is None:
        ep.libHandleEvents(10)
        while inbox:
            ev = inbox.pop(0)
            if ev[0] == "state":
                report["states"].append([now(), ev[2], ev[3]])
                if ev[1] == pj.PJSIP_INV_STATE_CONFIRMED:
                    confirmed = True
                    report["confirmed_at"] = now()
                elif ev[1] == pj.PJSIP_INV_STATE_DISCONNECTED:
                    report["code"] = ev[3]
            elif ev[0] == "media":
                media = ev[1]
            else:
                report["digits"].append([now(), ev[1]])
            if confirmed and media and recorder is None:
                m = call.getAudioMedia(-1)
                recorder = pj.AudioMediaRecorder(); recorder.createRecorder(a.record)
                m.startTransmit(recorder)
                player.startTransmit(m)
                report["record_at"] = now()
        if hung or report["code"] is not None:
            continue
        if (confirmed and now() - report["confirmed_at"] >= a.hold) or (
                a.cancel_after is not None and not confirmed and now() >= a.cancel_after):
            report["hangup_at"] = now()
            call.hangup(pj.CallOpParam())
            hung = True
    if report["code"] is None:
        call.hangup(pj.CallOpParam())
        for _ in range(50):
            ep.libHandleEvents(10)
    # Teardown order that does not abort: recorder, player, call, then the library. The
    # recorder's header is written asynchronously by the bridge clock: wait for it.
    recorder = None
    deadline = time.monotonic() + 1
    while os.path.exists(a.record) and time.monotonic() < deadline:
        with open(a.record, "rb") as f:
            head = f.read(44)
        if len(head) == 44 and int.from_bytes(head[40:44], "little") == os.path.getsize(a.record) - 44:
            break
        ep.libHandleEvents(10)
    player = None
    call = None
    acc.shutdown()
    ep.libDestroy(pj.PJSUA_DESTROY_NO_NETWORK)      # no registration to undo: skip its 1 s wait
    print(json.dumps(report))
''')


# -- helpers -----------------------------------------------------------------------------

class DutyPhoneProcess:
    """`python -m lawline_rig.probe.dutyphone` on a free port, its events file tailed."""

    def __init__(self, folder, *options):
        self.folder = Path(folder)
        self.events_path = self.folder / "events.jsonl"
        self.record = self.folder / "duty.wav"
        ready = self.folder / "ready.json"
        self.stderr = open(self.folder / "dutyphone.err", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lawline_rig.probe.dutyphone", "--port", "0",
             "--ready-file", str(ready), "--events", str(self.events_path),
             "--record", str(self.record), *options],
            stdout=subprocess.PIPE, stderr=self.stderr)
        wait_until(lambda: ready.exists() or self.proc.poll() is not None, 10, "ready file")
        assert self.proc.poll() is None, self._stderr()
        self.port = json.loads(ready.read_text())["port"]
        self.uri = f"sip:0148@127.0.0.1:{self.port}"

    def events(self):
        if not self.events_path.exists():
            return []
        lines = self.events_path.read_text().split("\n")[:-1]    # whole lines only
        return [json.loads(line) for line in lines]

    def wait_event(self, event, call=1, timeout=5):
        def seen():
            return [e for e in self.events() if e["event"] == event and e["call"] == call]
        wait_until(seen, timeout, f"duty phone event {event!r} of call {call}")
        return seen()[0]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, _ = self.proc.communicate(timeout=10)
        finally:
            self.stderr.close()
        return self.proc.returncode, out

    def _stderr(self):
        self.stderr.flush()
        return (self.folder / "dutyphone.err").read_text()


@pytest.fixture
def duty_phone(tmp_path):
    phones = []

    def start(*options):
        phones.append(DutyPhoneProcess(tmp_path, *options))
        return phones[-1]

    yield start
    for phone in phones:
        if phone.proc.poll() is None:
            phone.proc.kill()
            phone.proc.wait()


@pytest.fixture
def call(tmp_path):
    script = tmp_path / "caller.py"
    script.write_text(CALLER)
    count = iter(range(1, 100))

    def dial(uri, **options):
        record = tmp_path / f"caller-{next(count)}.wav"
        argv = [sys.executable, str(script), "--target", uri, "--record", str(record)]
        for key, value in options.items():
            argv += [f"--{key.replace('_', '-')}", str(value)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr[-3000:]
        report = json.loads(done.stdout.strip().splitlines()[-1])
        report["heard"] = hearing.load_wav(record) if record.exists() else None
        return report

    return dial


def _between(report, start, end=None):
    """The caller's recording between two of its report's times (seconds)."""
    heard = report["heard"]
    first = int((start - report["record_at"]) * RATE)
    last = None if end is None else int((end - report["record_at"]) * RATE)
    return heard[max(0, first):last]


def _names(events, call=1):
    return [e["event"] for e in events if e["call"] == call]


# -- calls -------------------------------------------------------------------------------

@sip
def test_accept_presses_1_then_plays_the_tone_and_records_the_caller(duty_phone, call):
    phone = duty_phone("--behaviour", "accept", "--answer-after", "0.2", "--key-delay", "0.3")
    report = call(phone.uri, hold=1.8, tone_hz=700)
    assert report["code"] == 200                       # we hung up a confirmed call
    assert [d[1] for d in report["digits"]] == ["1"]
    pressed = report["digits"][0][0]
    before = _between(report, report["record_at"], pressed - 0.05)
    after = _between(report, pressed + 0.3, report["hangup_at"] - 0.1)
    assert not hearing.has_tone(before, 1000, 0.1)
    assert len(after) > RATE
    assert hearing.has_tone(after, 1000, 0.9)

    ended = phone.wait_event("disconnected")
    assert ended["record"] == str(dutyphone.record_path(phone.record, 1))
    recorded = hearing.load_wav(ended["record"])
    assert len(recorded) > 1.2 * RATE
    assert hearing.has_tone(recorded[RATE // 5:], 700, 0.9)
    assert np.array_equal(hearing.load_wav(phone.record), recorded)   # latest call's copy

    events = phone.events()
    assert _names(events) == ["incoming", "ringing", "answered", "confirmed", "dtmf_sent",
                              "disconnected"]
    by_name = {e["event"]: e for e in events}
    assert "sip:box@127.0.0.1" in by_name["incoming"]["from"]
    assert by_name["ringing"]["code"] == 180
    assert by_name["answered"]["code"] == 200
    assert by_name["dtmf_sent"]["digit"] == "1"
    assert by_name["dtmf_sent"]["t"] - by_name["confirmed"]["t"] == pytest.approx(0.3, abs=0.15)
    assert by_name["answered"]["t"] - by_name["incoming"]["t"] == pytest.approx(0.2, abs=0.15)
    assert phone.stop() == (0, b"")                    # SIGTERM: clean exit, stdout clean


@sip
def test_busy_answers_486(duty_phone, call):
    phone = duty_phone("--behaviour", "busy")
    report = call(phone.uri)
    assert report["code"] == 486
    assert report["confirmed_at"] is None
    phone.wait_event("disconnected")
    events = phone.events()
    assert _names(events) == ["incoming", "answered", "disconnected"]
    assert events[1]["code"] == 486
    assert "record" not in events[2]
    assert phone.stop()[0] == 0


@sip
def test_no_answer_rings_until_the_caller_cancels(duty_phone, call):
    phone = duty_phone("--behaviour", "no-answer")
    report = call(phone.uri, cancel_after=0.6)
    assert report["code"] == 487
    assert [s[1] for s in report["states"]][-2:] == ["EARLY", "DISCONNECTED"]
    ended = phone.wait_event("disconnected")
    assert ended["code"] == 487
    assert _names(phone.events()) == ["incoming", "ringing", "disconnected"]
    assert phone.stop()[0] == 0


@sip
def test_decline_presses_2_and_never_plays_the_tone(duty_phone, call):
    phone = duty_phone("--behaviour", "decline", "--answer-after", "0", "--key-delay", "0.2")
    report = call(phone.uri, hold=1.0)
    assert [d[1] for d in report["digits"]] == ["2"]
    assert not hearing.has_tone(report["heard"], 1000, 0.1)
    phone.wait_event("disconnected")
    assert "dtmf_sent" in _names(phone.events())
    assert phone.stop()[0] == 0


@sip
def test_silent_announces_records_each_call_and_stops_cleanly_mid_call(duty_phone, call, tmp_path):
    phone = duty_phone("--behaviour", "silent", "--answer-after", "0")
    first = call(phone.uri, hold=1.0)
    assert first["digits"] == []
    heard = _between(first, first["record_at"] + 0.1)
    assert hearing.has_tone(heard, 440, 0.9)
    assert 0.1 <= hearing.silence_ratio(heard) <= 0.5               # beeps: 0.4 s on, 0.2 s off
    assert phone.wait_event("disconnected", call=1)["record"].endswith("duty-1.wav")

    # Second call: the duty phone is stopped while it is in the call. It hangs up (BYE),
    # finishes the recording and exits 0 (teardown did not abort).
    script = tmp_path / "caller.py"
    caller = subprocess.Popen(
        [sys.executable, str(script), "--target", phone.uri, "--record",
         str(tmp_path / "second.wav"), "--hold", "20"], stdout=subprocess.PIPE, text=True)
    try:
        phone.wait_event("confirmed", call=2)
        second = dutyphone.record_path(phone.record, 2)
        wait_until(lambda: second.exists() and second.stat().st_size > 44 + RATE // 5,
                    5, "audio in the second call's recording")
        code, out = phone.stop()
        assert (code, out) == (0, b"")
        report = json.loads(caller.communicate(timeout=15)[0].strip().splitlines()[-1])
    finally:
        if caller.poll() is None:
            caller.kill()
    assert report["code"] == 200                         # the far end's BYE
    ended = [e for e in phone.events() if e["event"] == "disconnected" and e["call"] == 2]
    assert ended and ended[0]["record"].endswith("duty-2.wav")
    assert dutyphone.wav_is_complete(ended[0]["record"])
    assert hearing.has_tone(hearing.load_wav(ended[0]["record"])[RATE // 50:], 700, 0.8)


# -- pieces without SIP ------------------------------------------------------------------

def test_record_path_numbers_calls_from_1():
    assert dutyphone.record_path("/x/duty.wav", 1) == Path("/x/duty-1.wav")
    assert dutyphone.record_path(Path("rec.WAV"), 12) == Path("rec-12.WAV")


def test_options_and_defaults():
    import argparse
    parser = dutyphone.add_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["--port", "5080"])
    assert (args.port, args.behaviour, args.answer_after, args.key_delay, args.tone_hz) == (
        5080, "accept", 0.5, 1.0, 1000.0)
    assert args.record is None and args.events is None and args.ready_file is None
    for bad in (["--behaviour", "maybe"], ["--record", "x.mp3"], ["--answer-after", "-1"], []):
        with pytest.raises(SystemExit):
            parser.parse_args((["--port", "5080"] if bad else []) + bad)


def test_tone_wav_loops_cleanly_and_is_heard_as_the_tone(tmp_path):
    path = tmp_path / "tone.wav"
    dutyphone.write_tone_wav(path, 1000, 1.0)
    pcm = hearing.load_wav(path)
    assert len(pcm) == RATE
    looped = np.concatenate([pcm, pcm])
    assert hearing.tone_level(looped[RATE - 80:RATE + 80], 1000) > 0.95   # across the join
    assert dutyphone.wav_is_complete(path)
    beeps = tmp_path / "beeps.wav"
    dutyphone.write_tone_wav(beeps, 440, 0.6, on_seconds=0.4, period=0.6)
    assert hearing.silence_ratio(hearing.load_wav(beeps)) == pytest.approx(1 / 3, abs=0.05)


def test_wav_is_complete_rejects_a_header_not_yet_written(tmp_path):
    path = tmp_path / "partial.wav"
    hearing.write_wav(path, bytes(800))
    data = bytearray(path.read_bytes())
    data[40:44] = (0).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    assert not dutyphone.wav_is_complete(path)
    assert not dutyphone.wav_is_complete(tmp_path / "missing.wav")


def test_event_log_lines_are_json_and_skip_empty_fields(tmp_path):
    path = tmp_path / "ev.jsonl"
    events = dutyphone.EventLog(path)
    events.write("incoming", 1, **{"from": "<sip:box@127.0.0.1>"})
    events.write("dtmf_sent", 1, digit="1", code=None)
    lines = [json.loads(x) for x in path.read_text().splitlines()]   # flushed without close
    events.close()
    assert [x["event"] for x in lines] == ["incoming", "dtmf_sent"]
    assert lines[1] == {"t": lines[1]["t"], "mono": lines[1]["mono"], "event": "dtmf_sent",
                        "call": 1, "digit": "1"}
    assert abs(lines[0]["t"] - time.time()) < 5
    # CLOCK_MONOTONIC beside the wall clock: the benches' shared clock across processes
    assert abs(lines[0]["mono"] - time.monotonic()) < 5


def test_main_without_pjsua2_fails_with_a_message(monkeypatch, caplog):
    monkeypatch.setattr(dutyphone, "pj", None)
    assert dutyphone.main(["--port", "5080"]) == 2
    assert "pjsua2" in caplog.text


def test_one_phone_behaves_per_called_number_and_can_place_a_call():
    """The urgent ladder's rig: one phone process stands for every number it is called on
    (--behaviour-of NUMBER=BEHAVIOUR, others --behaviour); --call makes it the caller (the
    prefecture's switchboard transferring down) with its headers and keys."""
    import argparse
    parser = dutyphone.add_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["--port", "0", "--behaviour", "no-answer",
                              "--behaviour-of", "07732345678=accept",
                              "--behaviour-of", " 13900000009 =busy",
                              "--call", "sip:0148@127.0.0.1:5060",
                              "--header", "X-Transfer-Reason: 2", "--keys", "3#"])
    assert dict(args.behaviour_of) == {"07732345678": "accept", "13900000009": "busy"}
    assert (args.call, args.header, args.keys) == ("sip:0148@127.0.0.1:5060",
                                                   ["X-Transfer-Reason: 2"], "3#")
    for bad in ("07732345678", "07732345678=maybe"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--port", "0", "--behaviour-of", bad])
    assert dutyphone._called_user("<sip:13900000002@127.0.0.1:5070>") == "13900000002"
    assert dutyphone._called_user("sip:13900000002@127.0.0.1") == "13900000002"
    assert dutyphone._called_user("<sip:127.0.0.1:5070>") == ""
