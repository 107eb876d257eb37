"""The simulator's USB faults seen from outside: ports that vanish and come back renamed (the
port_gone fault, and AT+CRESET / AT+CFUN=1,1 re-enumerating), with sim.json and the stable
DIR/<side>-at links following."""

import json
import os
import select
import time

import pytest
import serial

import lawline_rig.sim
from lawline_rig.wait import wait_until


def _at(path, command=b"AT", timeout=3.0):
    with serial.Serial(path, timeout=0.05) as port:
        port.write(command + b"\r")
        buf, deadline = b"", time.monotonic() + timeout
        while time.monotonic() < deadline and not buf.endswith(b"OK\r\n"):
            buf += port.read(256)
        return buf


def _sim_json(line):
    with open(os.path.join(line.dir, "sim.json")) as f:
        return json.load(f)


@pytest.mark.parametrize("profile", ["simcom-sim7600", "v253"])
def test_port_gone_comes_back_under_a_new_name_and_the_link_follows(rigs, profile):
    line = rigs.line(profile)
    old, link = line["box"]["at"], line["box"]["at_link"]
    assert os.path.realpath(link) == old and _at(link).endswith(b"OK\r\n")
    client = serial.Serial(link, timeout=0)
    lawline_rig.sim.inject(line.dir, "port_gone", side="box", ms=300, reset=False)
    # the open client sees the port die: readable, then end of file or EIO (the box's AT
    # reader takes either for "the port went away")
    assert select.select([client.fileno()], [], [], 2)[0]
    try:
        assert os.read(client.fileno(), 10) == b""
    except OSError:
        pass
    client.close()
    wait_until(lambda: _sim_json(line)["box"]["at"] != old, 3, "sim.json to name the new port")
    new = _sim_json(line)["box"]["at"]
    assert os.path.realpath(link) == new
    assert _at(link).endswith(b"OK\r\n")
    if profile == "v253":
        assert _sim_json(line)["box"]["audio"] == new      # one port for AT and audio
    else:
        assert os.path.realpath(line["box"]["audio_link"]) == _sim_json(line)["box"]["audio"]


def test_creset_reboots_and_renames_the_ports(rigs):
    line = rigs.line()
    old = line["box"]["at"]
    with serial.Serial(old, timeout=0.05) as port:
        port.write(b"AT+CRESET\r")
        time.sleep(0.2)
    wait_until(lambda: _sim_json(line)["box"]["at"] != old, 3, "the re-enumerated port")
    link = line["box"]["at_link"]
    wait_until(lambda: b"OK" in _at(link, timeout=0.3), 5, "the module to boot")
    assert "USB re-enumeration" in line.sim_log()
