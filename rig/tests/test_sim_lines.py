"""The loopback line with several lines (`lawline sim --lines N`): a box modem and its own caller
modem per line, all on one simulated network, so N callers can call the box at once.

Raw bytes on the ptys named in sim.json and the control socket, as in test_sim_line.py. Every
wait is a bounded wait for bytes; the checks that something does NOT arrive watch a short,
bounded while.
"""

import argparse
import json
import os
import re
import time

import pytest
import serial

import lawline_rig.sim
from lawline_rig.sim import server
from lawline_rig.wait import wait_until

RING_INTERVAL = 0.3
FRAME = 320


class Port:
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

    def expect(self, pattern, timeout=5.0):
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

    def at(self, command, timeout=5.0):
        self.send(command.encode() + b"\r")
        return self.expect(re.compile(rb"\r\n(OK|ERROR|NO CARRIER|\+CMS ERROR: \d+)\r\n"), timeout)

    def read_for(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._pump()
        got = bytes(self.buf)
        self.buf.clear()
        return got


class Sim:
    """The loopback line from the rig factory, several lines; `port(line, role, kind)` opens
    a pty of line `line`."""

    def __init__(self, line):
        self.line = line
        self.dir = str(line.dir)
        self.info = line.info
        self.opened = []

    def log(self):
        return self.line.sim_log()

    def port(self, line, role, kind="at"):
        p = Port(self.info["lines"][line - 1][role][kind], f"line {line} {role} {kind}")
        self.opened.append(p)
        return p

    def number(self, line, role):
        return self.info["lines"][line - 1][role]["number"]

    def close_ports(self):
        for p in self.opened:
            p.close()


@pytest.fixture
def sims(rigs):
    """`sims(lines=2)`, `sims(profile="simcom-sim7600,v253")`: loopback lines from the rig
    factory, which checks that each exits cleanly and takes sim.json away."""
    started = []

    def start(profile="simcom-sim7600", lines=None):
        sim = Sim(rigs.line(profile, ring_interval=RING_INTERVAL, lines=lines))
        started.append(sim)
        return sim
    yield start
    for sim in started:
        sim.close_ports()


# -- without a simulator: the plan of lines -------------------------------------------------

def test_line_plan_counts_numbers_up_and_takes_one_profile_per_line():
    plan = server.line_plan("simcom-sim7600", 3)
    assert [(p.name, b, c) for p, b, c in plan] == [
        ("simcom-sim7600", "07730148", "13800138000"),
        ("simcom-sim7600", "07730149", "13800138001"),
        ("simcom-sim7600", "07730150", "13800138002")]
    mixed = server.line_plan("simcom-sim7600,v253")
    assert [p.name for p, _b, _c in mixed] == ["simcom-sim7600", "v253"]
    listed = server.line_plan("quectel-ec25", 2, box_number="+8607730148,07730200")
    assert [b for _p, b, _c in listed] == ["+8607730148", "07730200"]


def test_line_plan_refuses_what_does_not_add_up():
    with pytest.raises(ValueError, match="names 2 profiles for --lines 3"):
        server.line_plan("simcom-sim7600,v253", 3)
    with pytest.raises(ValueError, match="from 1 to 8"):
        server.line_plan("simcom-sim7600", 0)
    with pytest.raises(ValueError, match="3 numbers for 2 lines"):
        server.line_plan("simcom-sim7600", 2, box_number="1,2,3")
    # line 2's box counts up onto line 1's caller
    with pytest.raises(ValueError, match="line 2's box and line 1's caller need different numbers"):
        server.line_plan("simcom-sim7600", 2, box_number="13800137999", caller_number="13800138000")
    with pytest.raises(KeyError, match="unknown modem profile 'nokia'"):
        server.line_plan("simcom-sim7600,nokia")


def test_sim_arguments_take_lines_and_a_list_of_profiles():
    parser = lawline_rig.sim.add_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["--state-dir", "/tmp/x", "--profile", "simcom-sim7600,v253"])
    assert (args.profile, args.lines) == ("simcom-sim7600,v253", None)
    assert parser.parse_args(["--state-dir", "/tmp/x", "--lines", "2"]).lines == 2
    for bad in (["--lines", "0"], ["--lines", "two"], ["--profile", "simcom-sim7600,nokia"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["--state-dir", "/tmp/x", *bad])


def test_run_refuses_mismatched_lines_without_starting(tmp_path, caplog):
    assert lawline_rig.sim.run(str(tmp_path), profile="simcom-sim7600,v253", lines=3) == 2
    assert "names 2 profiles for --lines 3" in caplog.text
    assert not (tmp_path / "sim.json").exists()


# -- a running simulator with two lines -----------------------------------------------------

def test_sim_json_keeps_line_1_at_the_top_and_lists_every_line(sims):
    sim = sims(lines=2)
    info = sim.info
    assert [line["line"] for line in info["lines"]] == [1, 2]
    assert info["box"] == info["lines"][0]["box"] and info["caller"] == info["lines"][0]["caller"]
    assert info["profile"] == info["lines"][0]["profile"] == "simcom-sim7600"
    assert info["box"]["at_link"] == os.path.join(sim.dir, "box-at")
    two = info["lines"][1]
    assert (two["box"]["number"], two["caller"]["number"]) == ("07730149", "13800138001")
    assert two["box"]["at_link"] == os.path.join(sim.dir, "box2-at")
    assert two["caller"]["audio_link"] == os.path.join(sim.dir, "caller2-audio")
    paths = [line[role][kind] for line in info["lines"] for role in ("box", "caller")
             for kind in ("at", "audio")]
    assert len(set(paths)) == 8
    for line in info["lines"]:
        for role in ("box", "caller"):
            for kind in ("at", "audio"):
                assert os.path.realpath(line[role][f"{kind}_link"]) == line[role][kind]
    # each modem has its own identity
    imeis = {sim.port(k, role).at("AT+CGSN") for k in (1, 2) for role in ("box", "caller")}
    assert len(imeis) == 4


def test_two_callers_ring_two_boxes_at_once_and_audio_stays_on_its_pair(sims):
    sim = sims(lines=2)
    boxes = {k: sim.port(k, "box") for k in (1, 2)}
    callers = {k: sim.port(k, "caller") for k in (1, 2)}
    for k in (1, 2):
        assert boxes[k].at("AT+CLIP=1").endswith(b"OK\r\n")
    for k in (1, 2):
        number = sim.number(k, "box")
        assert callers[k].at(f"ATD{number};") == f"ATD{number};\r\r\nOK\r\n".encode()
    for k in (1, 2):
        clip = f'\r\nRING\r\n\r\n+CLIP: "{sim.number(k, "caller")}",161,"",0,"",0\r\n'.encode()
        assert boxes[k].expect(clip).endswith(clip)
    both = lawline_rig.sim.status(sim.dir)["calls"]
    assert sorted((c["from"], c["to"], c["state"]) for c in both) == [
        ("caller", "box", "ringing"), ("caller2", "box2", "ringing")]
    for k in (1, 2):
        boxes[k].send(b"ATA\r")
        boxes[k].expect(b"VOICE CALL: BEGIN\r\n")
        callers[k].expect(b"VOICE CALL: BEGIN\r\n")
    status2 = lawline_rig.sim.status(sim.dir, line=2)
    assert status2["line"] == 2 and status2["call"]["state"] == "active"
    assert (status2["call"]["from"], status2["call"]["to"]) == ("caller2", "box2")

    audio = {(k, role): sim.port(k, role, "audio") for k in (1, 2) for role in ("box", "caller")}
    at = {(k, "box"): boxes[k] for k in (1, 2)} | {(k, "caller"): callers[k] for k in (1, 2)}
    for (k, role), port in audio.items():
        assert at[k, role].at("AT+CPCMREG=1").endswith(b"OK\r\n")
        port.expect(re.compile(b"\x00{%d}" % FRAME))
    # Each caller talks in its own byte; each box hears its own caller's only.
    one, two = bytes([0x11]) * (8 * FRAME), bytes([0x22]) * (8 * FRAME)
    audio[1, "caller"].send(one)
    audio[2, "caller"].send(two)
    audio[1, "box"].expect(one)
    audio[2, "box"].expect(two)
    heard1 = audio[1, "box"].read_for(0.3)
    heard2 = audio[2, "box"].read_for(0.3)
    assert 0x22 not in set(heard1) and 0x11 not in set(heard2)
    # and back: box 2 talks, only caller 2 hears it
    audio[1, "caller"].read_for(0.05)
    back = bytes([0x33]) * (8 * FRAME)
    audio[2, "box"].send(back)
    audio[2, "caller"].expect(back)
    assert 0x33 not in set(audio[1, "caller"].read_for(0.3))

    # Line 1 hangs up; line 2's call goes on.
    callers[1].send(b"AT+CHUP\r")
    boxes[1].expect(b"NO CARRIER\r\n")
    assert lawline_rig.sim.status(sim.dir)["call"] is None
    assert lawline_rig.sim.status(sim.dir, line=2)["call"]["state"] == "active"
    audio[2, "caller"].send(two)
    audio[2, "box"].expect(two)
    callers[2].send(b"AT+CHUP\r")
    boxes[2].expect(b"NO CARRIER\r\n")


def test_a_caller_may_dial_another_lines_box_and_hears_that_box(sims):
    sim = sims(lines=2)
    box2, caller1 = sim.port(2, "box"), sim.port(1, "caller")
    assert caller1.at(f"ATD{sim.number(2, 'box')};").endswith(b"OK\r\n")
    box2.expect(b"RING\r\n")
    box2.send(b"ATA\r")
    box2.expect(b"VOICE CALL: BEGIN\r\n")
    caller1.expect(b"VOICE CALL: BEGIN\r\n")
    box1_audio = sim.port(1, "box", "audio")
    box2_audio, caller1_audio = sim.port(2, "box", "audio"), sim.port(1, "caller", "audio")
    box1 = sim.port(1, "box")
    assert box2.at("AT+CPCMREG=1").endswith(b"OK\r\n")
    assert caller1.at("AT+CPCMREG=1").endswith(b"OK\r\n")
    assert box1.at("AT+CPCMREG=1").endswith(b"ERROR\r\n")  # no call on line 1's box: no PCM
    box2_audio.expect(re.compile(b"\x00{%d}" % FRAME))
    words = bytes([0x44]) * (8 * FRAME)
    caller1_audio.send(words)
    box2_audio.expect(words)
    assert box1_audio.read_for(0.2) == b""
    # box 2 is taken: caller 2 dialling it hears busy, and box 2's call goes on
    caller2 = sim.port(2, "caller")
    assert caller2.at(f"ATD{sim.number(2, 'box')};").endswith(b"OK\r\n")
    caller2.expect(b"\r\nBUSY\r\n")
    status = lawline_rig.sim.status(sim.dir, line=2)
    assert [(c["from"], c["to"], c["state"]) for c in status["calls"]] == [
        ("caller", "box2", "active")]
    assert status["call"] == status["calls"][0]


def test_sms_between_lines_and_to_the_outside(sims):
    sim = sims(lines=2)
    box1, box2, caller2 = sim.port(1, "box"), sim.port(2, "box"), sim.port(2, "caller")
    for port in (box1, box2, caller2):
        assert port.at("AT+CMGF=1").endswith(b"OK\r\n")
    caller2.send(f'AT+CMGS="{sim.number(2, "box")}"\r'.encode())
    caller2.expect(b"> ")
    caller2.send(b"hello line two\x1a")
    caller2.expect(re.compile(rb"\+CMGS: \d+\r\n\r\nOK\r\n"))
    urc = box2.expect(re.compile(rb'\+CMTI: "SM",(\d+)\r\n'))
    index = int(re.search(rb'"SM",(\d+)', urc).group(1))
    read = box2.at(f"AT+CMGR={index}")
    assert sim.number(2, "caller").encode() in read and b"hello line two" in read
    assert lawline_rig.sim.status(sim.dir, line=2)["box"]["sms_stored"] == [index]
    assert lawline_rig.sim.status(sim.dir, line=1)["box"]["sms_stored"] == []
    # box 2 answers a number outside the loopback line: the outside mailbox
    box2.send(b'AT+CMGS="13900000001"\r')
    box2.expect(b"> ")
    box2.send(b"to the duty phone\x1a")
    box2.expect(re.compile(rb"\+CMGS: \d+\r\n\r\nOK\r\n"))
    sent = lawline_rig.sim.sms_sent(sim.dir)
    assert [(m["from"], m["to"], m["text"]) for m in sent] == [
        (sim.number(2, "box"), "13900000001", "to the duty phone")]
    # an outside text to line 2's box through the control socket
    lawline_rig.sim.deliver_sms(sim.dir, "10086", "话费余额", line=2)
    box2.expect(b'+CMTI: "SM",')
    assert len(lawline_rig.sim.status(sim.dir, line=2)["box"]["sms_stored"]) == 2
    assert box1.read_for(0.1) == b""


def test_faults_and_status_address_one_line(sims):
    sim = sims(lines=2)
    lawline_rig.sim.inject(sim.dir, "no_reply", side="box", line=2, count=3)
    assert lawline_rig.sim.status(sim.dir, line=2)["box"]["faults"] == {"no_reply": 3}
    assert lawline_rig.sim.status(sim.dir)["box"]["faults"] == {}
    assert sim.port(1, "box").at("AT") == b"AT\r\r\nOK\r\n"
    with pytest.raises(lawline_rig.sim.FaultError, match="line must be a line number from 1 to 2"):
        lawline_rig.sim.inject(sim.dir, "no_reply", line=3)


def test_port_gone_on_line_2_moves_its_links_and_its_entry_in_sim_json(sims):
    sim = sims(lines=2)
    old = sim.info["lines"][1]["box"]["at"]
    lawline_rig.sim.inject(sim.dir, "port_gone", side="box", line=2, ms=200, reset=False)
    path = os.path.join(sim.dir, "sim.json")

    def renamed():
        try:
            with open(path) as f:
                now = json.load(f)
        except (OSError, ValueError):
            return None      # between the old file going and the new one coming
        return now if now["lines"][1]["box"]["at"] != old else None
    now = wait_until(renamed, 10, "sim.json to name line 2's new box port")
    assert now["box"] == now["lines"][0]["box"] == sim.info["box"]
    assert os.path.realpath(os.path.join(sim.dir, "box2-at")) == now["lines"][1]["box"]["at"]
    assert Port(os.path.join(sim.dir, "box2-at"), "box2").at("AT").endswith(b"OK\r\n")


def test_a_mixed_sim7600_and_v253_loopback_line_starts_with_both(sims):
    sim = sims(profile="simcom-sim7600,v253")
    assert [(line["profile"], line["box"]["driver_profile"], line["caller"]["profile"])
            for line in sim.info["lines"]] == [("simcom-sim7600", "simcom-sim7600", "simcom-sim7600"),
                                               ("v253", "v253", "simcom-sim7600")]
    assert sim.info["lines"][1]["box"]["audio"] == sim.info["lines"][1]["box"]["at"]
    box1, box2 = sim.port(1, "box"), sim.port(2, "box")
    assert b"SIMCOM_SIM7600G-H" in box1.at("AT+CGMM")
    assert b"USR5637" in box2.at("AT+GMM")
    assert box2.at("AT+FCLASS=8").endswith(b"OK\r\n")
    assert box2.at("AT+VCID=1").endswith(b"OK\r\n")
    assert box2.at("AT+GCI=26").endswith(b"OK\r\n")  # China: the caller-ID block follows RING
    caller2 = sim.port(2, "caller")
    assert caller2.at(f"ATD{sim.number(2, 'box')};").endswith(b"OK\r\n")
    box2.expect(b"\r\nRING\r\n")
    box2.expect(f"NMBR={sim.number(2, 'caller')}\r\n".encode())
    assert box1.read_for(0.1) == b""
