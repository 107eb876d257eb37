"""The loopback line from outside: a real simulator process, real ptys, raw bytes.

Everything here talks to the simulator only through serial.Serial on the paths in sim.json and
through the control socket, so the same assertions hold for two real SIM7600s looped back.
Waits are bounded waits for bytes, never fixed sleeps (a few checks that something does NOT
arrive necessarily watch for a short, bounded while).
"""

import json
import os
import queue
import re
import socket
import time

import pytest
import serial

import lawline_rig.sim
from lawline_rig.sim import faults
from lawline_rig.sim.line import missed_call_time

BOX, CALLER = "07730148", "13800138000"
RING_INTERVAL = 0.3
FRAME = 320
CLIP = b'\r\n+CLIP: "13800138000",161,"",0,"",0\r\n'


class Port:
    """A serial port read into a buffer; `expect` waits (bounded) for a pattern."""

    def __init__(self, path, name):
        self.name = name
        self.serial = serial.Serial(path, timeout=0.02)
        self.buf = bytearray()

    def close(self):
        self.serial.close()

    def send(self, data):
        self.serial.write(data)

    def _pump(self):
        chunk = self.serial.read(self.serial.in_waiting or 1)
        self.buf += chunk
        return len(chunk)

    def expect(self, pattern, timeout=3.0):
        """Everything up to and including the first match of `pattern` (bytes or regex)."""
        regex = pattern if hasattr(pattern, "search") else re.compile(re.escape(pattern))
        deadline = time.monotonic() + timeout
        while True:
            m = regex.search(self.buf)
            if m:
                got = bytes(self.buf[:m.end()])
                del self.buf[:m.end()]
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: waited {timeout} s for {regex.pattern!r}; "
                                     f"got {bytes(self.buf)!r}")
            self._pump()

    def at(self, command, timeout=3.0):
        """Send an AT command line; return the bytes up to its final result."""
        self.send(command.encode() + b"\r")
        return self.expect(re.compile(rb"\r\n(OK|ERROR|NO CARRIER)\r\n"), timeout)

    def quiet_for(self, seconds):
        """Whatever arrives within `seconds` (used to check that nothing does)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._pump()
        got = bytes(self.buf)
        self.buf.clear()
        return got

    def read_for(self, seconds):
        """Append `seconds` worth of arrivals to buf; return how many bytes came."""
        n = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            n += self._pump()
        return n


@pytest.fixture
def sim(rigs):
    """The loopback line (one SIM7600 pair) from the rig factory, as a dict: sim.json plus
    `state_dir`, `log` and `port(side, kind)`. The factory checks that it exits cleanly and
    takes sim.json away."""
    line = rigs.line(ring_interval=RING_INTERVAL)
    info = dict(line.info)
    info["state_dir"] = str(line.dir)
    info["log"] = str(line.dir / "sim.log")
    opened = []

    def port(side, kind):
        p = Port(info[side][kind], f"{side} {kind}")
        opened.append(p)
        return p

    info["port"] = port
    try:
        yield info
    finally:
        for p in opened:
            p.close()


def _call_up(sim):
    """Caller dials the box, the box answers; returns (box, caller) AT ports."""
    box, caller = sim["port"]("box", "at"), sim["port"]("caller", "at")
    assert caller.at(f"ATD{BOX};") == f"ATD{BOX};\r\r\nOK\r\n".encode()
    box.expect(b"\r\nRING\r\n")
    assert box.at("ATA") == b"ATA\r\r\nOK\r\n"
    box.expect(b"\r\nVOICE CALL: BEGIN\r\n")
    caller.expect(b"\r\nVOICE CALL: BEGIN\r\n")
    return box, caller


# -- ports and framing -------------------------------------------------------------------

def test_sim_json_names_four_ptys_both_numbers_and_the_control_socket(sim):
    assert sim["profile"] == "simcom-sim7600"
    assert isinstance(sim["pid"], int)
    assert sim["box"]["number"] == BOX and sim["caller"]["number"] == CALLER
    paths = [sim[side][kind] for side in ("box", "caller") for kind in ("at", "audio")]
    assert len(set(paths)) == 4
    for path in paths:
        assert re.fullmatch(r"/dev/pts/\d+", path)
    assert sim["control"] == os.path.join(sim["state_dir"], "control.sock")
    assert set(sim) - {"state_dir", "log", "port"} == {"profile", "pid", "box", "caller", "control",
                                                        "lines"}
    assert sim["lines"] == [{"line": 1, "profile": "simcom-sim7600", "box": sim["box"],
                             "caller": sim["caller"]}]


def test_echo_and_framing(sim):
    box = sim["port"]("box", "at")
    assert box.at("AT") == b"AT\r\r\nOK\r\n"
    assert box.at("AT+NOSUCH") == b"AT+NOSUCH\r\r\nERROR\r\n"
    assert box.at("ATE0") == b"ATE0\r\r\nOK\r\n"
    assert box.at("AT") == b"\r\nOK\r\n"
    box.send(b"AT\r\n")  # CR LF from the host: the LF is ignored, one reply only
    assert box.expect(b"OK\r\n") == b"\r\nOK\r\n"
    assert box.at("at+csq") == b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n"
    assert box.at("AT+CLIP=1;+CLIP?") == b"\r\n+CLIP: 1,1\r\n\r\nOK\r\n"
    assert box.at("ATE1") == b"\r\nOK\r\n"
    assert box.at("AT") == b"AT\r\r\nOK\r\n"
    assert box.quiet_for(0.05) == b""


def test_identity_and_network_queries(sim):
    box, caller = sim["port"]("box", "at"), sim["port"]("caller", "at")
    assert box.at("ATE0") == b"ATE0\r\r\nOK\r\n"
    assert box.at("AT+CGMI") == b"\r\nSIMCOM INCORPORATED\r\n\r\nOK\r\n"
    assert box.at("AT+CGMM") == b"\r\nSIMCOM_SIM7600G-H\r\n\r\nOK\r\n"
    assert box.at("AT+CPIN?") == b"\r\n+CPIN: READY\r\n\r\nOK\r\n"
    assert box.at("AT+CREG?") == b"\r\n+CREG: 0,1\r\n\r\nOK\r\n"
    ati = box.at("ATI")
    assert ati.startswith(b"\r\nManufacturer: SIMCOM INCORPORATED\r\nModel: SIMCOM_SIM7600G-H\r\n")
    imeis = []
    for port in (box, caller):
        m = re.search(rb"\r\n(\d{15})\r\n\r\nOK\r\n$", port.at("AT+CGSN"))
        assert m
        imeis.append(m.group(1))
    assert imeis[0] != imeis[1]
    assert b"IMEI: " + imeis[0] in ati


def test_a_client_can_close_and_reopen_a_port(sim):
    box = sim["port"]("box", "at")
    assert box.at("AT") == b"AT\r\r\nOK\r\n"
    box.close()
    again = sim["port"]("box", "at")
    assert again.at("AT") == b"AT\r\r\nOK\r\n"


# -- calls -----------------------------------------------------------------------------

def test_full_call_with_dtmf_and_audio(sim):
    box, caller = sim["port"]("box", "at"), sim["port"]("caller", "at")
    box_audio, caller_audio = sim["port"]("box", "audio"), sim["port"]("caller", "audio")
    assert box.at("AT+CLIP=1") == b"AT+CLIP=1\r\r\nOK\r\n"

    assert caller.at(f"ATD{BOX};") == f"ATD{BOX};\r\r\nOK\r\n".encode()
    ring = b"\r\nRING\r\n" + CLIP
    started = time.monotonic()
    assert box.expect(ring) == ring
    assert box.expect(ring) == ring  # it repeats every ring interval
    assert time.monotonic() - started >= RING_INTERVAL * 0.8
    assert box.at("AT+CLCC") == b'AT+CLCC\r\r\n+CLCC: 1,1,4,0,0,"13800138000",161\r\n\r\nOK\r\n'
    assert box.at("AT+CPCMREG=1") == b"AT+CPCMREG=1\r\r\nERROR\r\n"  # not up yet (modems.md 1.5)

    box.send(b"ATA\r")
    assert box.expect(b"VOICE CALL: BEGIN\r\n") == b"ATA\r\r\nOK\r\n\r\nVOICE CALL: BEGIN\r\n"
    answered = time.monotonic()
    assert caller.expect(b"VOICE CALL: BEGIN\r\n") == b"\r\nVOICE CALL: BEGIN\r\n"

    # DTMF both ways.
    assert caller.at("AT+VTS=5") == b"AT+VTS=5\r\r\nOK\r\n"
    assert box.expect(b"\r\n+RXDTMF: 5\r\n") == b"\r\n+RXDTMF: 5\r\n"
    assert box.at('AT+VTS="1#A"') == b'AT+VTS="1#A"\r\r\nOK\r\n'
    assert caller.expect(b"+RXDTMF: A\r\n") == b"\r\n+RXDTMF: 1\r\n\r\n+RXDTMF: #\r\n\r\n+RXDTMF: A\r\n"

    # PCM on the box only: frames of silence, and the caller's audio is discarded.
    assert box.at("AT+CPCMREG=1") == b"AT+CPCMREG=1\r\r\nOK\r\n"
    box_audio.expect(re.compile(b"\x00{%d}" % FRAME, re.S))
    caller_audio.send(b"\x55" * 640)
    box_audio.read_for(0.15)
    assert set(box_audio.buf) <= {0}
    assert caller.at("AT+CPCMREG=1") == b"AT+CPCMREG=1\r\r\nOK\r\n"
    assert caller.at("AT+CPCMREG?") == b"AT+CPCMREG?\r\r\n+CPCMREG: 1\r\n\r\nOK\r\n"

    # Audio both ways, frame-aligned. Keep every byte of each stream to check alignment.
    box_stream = bytearray(box_audio.buf)
    box_audio.buf.clear()
    caller_audio.expect(re.compile(b"\x00{%d}" % FRAME, re.S))
    caller_stream = bytearray()
    to_box = bytes((i % 250) + 1 for i in range(8 * FRAME))
    to_caller = bytes(255 - (i % 250) for i in range(8 * FRAME))
    caller_audio.send(to_box)
    box_audio.send(to_caller)
    box_stream += box_audio.expect(to_box)
    caller_stream += caller_audio.expect(to_caller)
    assert (box_stream.index(to_box)) % FRAME == 0
    caller_prefix = b"\x00" * FRAME + caller_stream  # the frame `expect` consumed above
    assert caller_prefix.index(to_caller) % FRAME == 0

    # Real-time pacing: the stream is paced (never a flood of queued frames), and it flows.
    # The rate itself is a figure (make bench); on a loaded machine frames come late, so the
    # bounds here only tell a paced stream from an unpaced or a stalled one.
    t0 = time.monotonic()
    n = box_audio.read_for(2.0)
    frames = n / FRAME
    seconds = time.monotonic() - t0
    assert frames <= seconds * 50 + 10, (frames, seconds)    # + the catch-up a late tick may owe
    assert frames >= 20, (frames, seconds)
    box_stream += box_audio.buf
    box_audio.buf.clear()

    # The caller hangs up: OK, then END and NO CARRIER on both sides.
    caller.send(b"AT+CHUP\r")
    got = caller.expect(b"NO CARRIER\r\n")
    seconds = time.monotonic() - answered
    m = re.fullmatch(rb"AT\+CHUP\r\r\nOK\r\n\r\nVOICE CALL: END: (\d{6})\r\n\r\nNO CARRIER\r\n", got)
    assert m, got
    assert abs(int(m.group(1)) - seconds) <= 1
    assert box.expect(b"NO CARRIER\r\n") == b"\r\nVOICE CALL: END: " + m.group(1) + b"\r\n\r\nNO CARRIER\r\n"

    # The stream stops, having carried whole frames only.
    box_stream += box_audio.quiet_for(0.1)
    assert box_audio.quiet_for(0.1) == b""
    assert len(box_stream) % FRAME == 0
    assert box.at("AT+CPCMREG?") == b"AT+CPCMREG?\r\r\n+CPCMREG: 0\r\n\r\nOK\r\n"
    assert box.at("AT+CLCC") == b"AT+CLCC\r\r\nOK\r\n"


def test_missed_call_when_the_caller_gives_up(sim):
    box, caller = sim["port"]("box", "at"), sim["port"]("caller", "at")
    caller.at(f"ATD{BOX};")
    box.expect(b"\r\nRING\r\n")
    before = missed_call_time()
    assert caller.at("AT+CHUP") == b"AT+CHUP\r\r\nOK\r\n"
    assert caller.expect(b"NO CARRIER\r\n") == b"\r\nNO CARRIER\r\n"
    got = box.expect(re.compile(rb"\r\nMISSED_CALL: [^\r]*\r\n"))
    m = re.search(rb"\r\nMISSED_CALL: ((?:0[1-9]|1[0-2]):[0-5]\d[AP]M) 13800138000\r\n$", got)
    assert m, got
    assert m.group(1).decode() in (before, missed_call_time())
    assert b"VOICE CALL" not in got


def test_crc_ring_without_clip_and_the_box_rejecting(sim):
    box, caller = sim["port"]("box", "at"), sim["port"]("caller", "at")
    assert box.at("AT+CRC=1") == b"AT+CRC=1\r\r\nOK\r\n"
    caller.at(f"ATD{BOX};")
    assert box.expect(b"+CRING: VOICE\r\n") == b"\r\n+CRING: VOICE\r\n"  # CLIP is off: no +CLIP
    assert box.at("ATH") == b"ATH\r\r\nOK\r\n"
    assert caller.expect(b"NO CARRIER\r\n") == b"\r\nNO CARRIER\r\n"


def test_refusals_unknown_number_busy_and_nothing_to_answer(sim):
    box, caller = sim["port"]("box", "at"), sim["port"]("caller", "at")
    assert box.at("ATA") == b"ATA\r\r\nERROR\r\n"
    assert box.at("AT+VTS=1") == b"AT+VTS=1\r\r\nERROR\r\n"
    assert caller.at("ATD07730148") == b"ATD07730148\r\r\nERROR\r\n"  # no ';': not a voice call

    sent = time.monotonic()
    assert caller.at("ATD10086;") == b"ATD10086;\r\r\nOK\r\n"
    assert caller.at("ATD10086;") == b"ATD10086;\r\r\nERROR\r\n"  # still busy with the first
    assert caller.expect(b"NO CARRIER\r\n") == b"\r\nNO CARRIER\r\n"
    assert time.monotonic() - sent >= 0.4

    caller.at(f"ATD{BOX};")
    box.expect(b"RING\r\n")
    assert caller.at(f"ATD{BOX};") == f"ATD{BOX};\r\r\nERROR\r\n".encode()
    assert box.at(f"ATD{CALLER};") == f"ATD{CALLER};\r\r\nERROR\r\n".encode()
    assert caller.at("ATA") == b"ATA\r\r\nERROR\r\n"  # the dialling side cannot answer


# -- faults ------------------------------------------------------------------------------

def test_fault_no_reply_swallows_commands_but_echoes(sim):
    box = sim["port"]("box", "at")
    lawline_rig.sim.inject(sim["state_dir"], "no_reply", side="box", count=2)
    box.send(b"AT+CSQ\rAT+CGMI\rAT+CGMM\r")
    assert box.expect(b"OK\r\n") == b"AT+CSQ\rAT+CGMI\rAT+CGMM\r\r\nSIMCOM_SIM7600G-H\r\n\r\nOK\r\n"


def test_fault_garbage_writes_the_bursts_and_the_modem_still_answers(sim):
    box = sim["port"]("box", "at")
    lawline_rig.sim.inject(sim["state_dir"], "garbage", side="box", count=3, seed=11)
    expected = b"".join(faults.garbage_bursts(3, seed=11))
    assert box.expect(expected) == expected
    assert box.at("AT") == b"AT\r\r\nOK\r\n"


def test_fault_urc_in_reply(sim):
    box = sim["port"]("box", "at")
    lawline_rig.sim.inject(sim["state_dir"], "urc_in_reply", side="box")
    assert box.at("AT+CSQ") == b"AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\n+CREG: 1\r\n\r\nOK\r\n"
    lawline_rig.sim.inject(sim["state_dir"], "urc_in_reply", side="box", urc="+CSQN: 17,99")
    assert box.at("AT") == b"AT\r\r\n+CSQN: 17,99\r\n\r\nOK\r\n"
    assert box.at("AT+CSQ") == b"AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n"


def test_fault_late_reply(sim):
    box = sim["port"]("box", "at")
    lawline_rig.sim.inject(sim["state_dir"], "late_reply", side="box", ms=400)
    sent = time.monotonic()
    box.send(b"AT\r")
    assert box.expect(b"AT\r") == b"AT\r"  # the echo comes on its own, before the reply
    echoed = time.monotonic()
    assert box.expect(b"OK\r\n") == b"\r\nOK\r\n"
    # the reply is held back by the fault: a late scheduler can only make it later
    assert time.monotonic() - sent >= 0.38
    assert time.monotonic() > echoed


def test_fault_cpcmreg_refuse_then_pcm_starts(sim):
    box, caller = _call_up(sim)
    box_audio = sim["port"]("box", "audio")
    lawline_rig.sim.inject(sim["state_dir"], "cpcmreg_refuse", side="box", count=2)
    assert box.at("AT+CPCMREG=1") == b"AT+CPCMREG=1\r\r\nERROR\r\n"
    assert box.at("AT+CPCMREG=1") == b"AT+CPCMREG=1\r\r\nERROR\r\n"
    assert box.at("AT+CPCMREG=1") == b"AT+CPCMREG=1\r\r\nOK\r\n"
    box_audio.expect(re.compile(b"\x00{%d}" % FRAME, re.S))
    assert caller.at("AT+CPCMREG=1") == b"AT+CPCMREG=1\r\r\nOK\r\n"  # the other side was not touched


def test_fault_double_cr_frames_the_next_urc_with_two_crs(sim):
    box, caller = sim["port"]("box", "at"), sim["port"]("caller", "at")
    box.at("AT+CRC=1")
    lawline_rig.sim.inject(sim["state_dir"], "double_cr", side="box")
    caller.at(f"ATD{BOX};")
    assert box.expect(b"+CRING: VOICE\r\r\n") == b"\r\r\n+CRING: VOICE\r\r\n"
    assert box.expect(b"+CRING: VOICE\r\n") == b"\r\n+CRING: VOICE\r\n"


def test_fault_reset_drops_the_call_and_reboots(sim):
    box, caller = _call_up(sim)
    assert box.at("ATE0") == b"ATE0\r\r\nOK\r\n"
    lawline_rig.sim.inject(sim["state_dir"], "reset", side="box", boot_ms=200)
    assert re.fullmatch(rb"\r\nVOICE CALL: END: \d{6}\r\n\r\nNO CARRIER\r\n", caller.expect(b"NO CARRIER\r\n"))
    assert box.expect(b"PB DONE\r\n") == b"\r\nRDY\r\n\r\n+CPIN: READY\r\n\r\nSMS DONE\r\n\r\nPB DONE\r\n"
    assert box.at("AT") == b"AT\r\r\nOK\r\n"  # echo is back on after the reboot


def test_unknown_fault_and_bad_requests_are_answered_with_errors(sim):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(3)
        s.connect(sim["control"])
        f = s.makefile("rwb")

        def ask(raw):
            f.write(raw + b"\n")
            f.flush()
            return json.loads(f.readline())

        assert ask(b'{"fault": "x", "side": "box", "count": 1}') == {
            "ok": False, "error": "unknown fault 'x'; known: " + ", ".join(sorted(faults.FAULTS))}
        assert {"no_reply", "garbage", "cpcmreg_refuse", "reset", "port_gone"} <= set(faults.FAULTS)
        assert ask(b"not json")["ok"] is False
        assert ask(b'{"fault": "no_reply", "side": "duty"}')["error"].startswith("fault 'no_reply': side must be")
        assert ask(b'{"fault": "no_reply", "side": "caller", "count": 1}') == {"ok": True}
        status = ask(b'{"status": true}')
        assert status["ok"] and status["caller"]["faults"] == {"no_reply": 1} and status["call"] is None
    with pytest.raises(faults.FaultError, match="unknown fault 'nope'"):
        lawline_rig.sim.inject(sim["state_dir"], "nope")


# -- an independent client -------------------------------------------------------------------

def test_python_gsmmodem_sees_the_incoming_call_with_the_callers_number(sim):
    try:
        from gsmmodem.modem import GsmModem
    except ImportError:
        pytest.skip("python-gsmmodem-new is not installed (pip install python-gsmmodem-new)")
    calls = queue.Queue()
    modem = GsmModem(sim["box"]["at"], incomingCallCallbackFunc=calls.put)
    modem.connect()
    try:
        assert modem.manufacturer == "SIMCOM INCORPORATED"
        caller = sim["port"]("caller", "at")
        caller.at(f"ATD{BOX};")
        call = calls.get(timeout=5)
        assert call.number == "+" + CALLER  # python-gsmmodem prefixes "+" to every CLIP number
        call.answer()
        caller.expect(b"\r\nVOICE CALL: BEGIN\r\n")
        caller.at("AT+CHUP")
        caller.expect(b"NO CARRIER\r\n")
    finally:
        modem.close()
