"""The loopback line's pure parts: command splitting, FIFO, IMEI, fault requests, arguments."""

import argparse
import re

import pytest

import lawline_rig.sim
from lawline_rig.sim import faults, profiles
from lawline_rig.sim.audio import Uplink
from lawline_rig.sim.line import missed_call_time
from lawline_rig.sim.atparse import edit_line, split_args, split_commands


@pytest.mark.parametrize("body, expected", [
    ("", []),
    ("E0", ["E0"]),
    ("E0V1", ["E0", "V1"]),
    ("+CLIP=1;+CRC=1", ["+CLIP=1", "+CRC=1"]),
    ("+CMEE=1;E0", ["+CMEE=1", "E0"]),
    ('+VTS="1;2"', ['+VTS="1;2"']),
    ("D13800138000;", ["D13800138000;"]),
    ("E1D07730148;", ["E1", "D07730148;"]),
    ("S0=0", ["S0=0"]),
    ("&F", ["&F"]),
    ("+CPCMREG?", ["+CPCMREG?"]),
])
def test_split_commands(body, expected):
    assert split_commands(body) == expected


def test_split_commands_refuses_what_is_not_a_command():
    with pytest.raises(ValueError):
        split_commands("E0@")


def test_split_args_keeps_quoted_commas():
    assert split_args('"a,b",129, 3') == ['"a,b"', "129", "3"]


def test_edit_line_applies_backspace_and_drops_control_bytes():
    assert edit_line(b"ATX\x08I\x00\xff") == "ATI"


def test_uplink_drops_oldest_whole_samples_and_pads_underrun():
    fifo = Uplink(limit=8)
    fifo.push(bytes(range(1, 12)))  # 11 bytes into room for 8: the oldest 4 go (3 rounded to a sample)
    assert len(fifo) == 7
    assert fifo.take(4) == bytes([5, 6, 7, 8])
    assert fifo.take(4) == bytes([9, 10, 0, 0])  # byte 11 is half a sample: kept back, padded
    assert fifo.dropped == 4


def test_imei_has_a_valid_luhn_digit_and_differs_per_side():
    box = profiles.imei(profiles.SIM7600, "box")
    caller = profiles.imei(profiles.SIM7600, "caller")
    assert box != caller
    for imei in (box, caller):
        assert len(imei) == 15 and imei.isdigit()
        digits = [int(d) for d in imei]
        total = sum(d if i % 2 == 0 else (2 * d - 9 if 2 * d > 9 else 2 * d)
                    for i, d in enumerate(digits))
        assert total % 10 == 0


def test_imei_check_digit_of_a_published_example():
    # The check-digit example of GSMA TS.06 style tables: 49015420323751 -> 8.
    p = profiles.SIM7600
    example = profiles.Profile(**{**p.__dict__, "imei_body": {"box": "49015420323751"}})
    assert profiles.imei(example, "box") == "490154203237518"


def test_missed_call_time_is_twelve_hour_with_am_pm():
    import time
    morning = time.mktime((2024, 5, 6, 8, 48, 0, 0, 0, -1))
    evening = time.mktime((2024, 5, 6, 23, 1, 0, 0, 0, -1))
    noon = time.mktime((2024, 5, 6, 12, 5, 0, 0, 0, -1))
    midnight = time.mktime((2024, 5, 6, 0, 5, 0, 0, 0, -1))
    assert missed_call_time(morning) == "08:48AM"
    assert missed_call_time(evening) == "11:01PM"
    assert missed_call_time(noon) == "12:05PM"
    assert missed_call_time(midnight) == "12:05AM"


def test_garbage_bursts_hold_the_promised_bytes_and_no_line_end():
    bursts = faults.garbage_bursts(5, seed=3)
    assert bursts == faults.garbage_bursts(5, seed=3)
    for burst in bursts:
        assert b"\x00" in burst and b"\xff" in burst and b"+CL" in burst and b"\r" in burst
        assert b"\n" not in burst and not burst.endswith(b"\r")


class _FakeModem:
    def __init__(self):
        self.faults = faults.ArmedFaults()
        self.decisions = []

    def log_decision(self, text):
        self.decisions.append(text)


@pytest.mark.parametrize("request_, message", [
    ({"fault": "x"}, "unknown fault 'x'; known: audio_gone, clock_skew, cpcmreg_refuse, "
                     "dle_storm, double_cr, garbage, late_reply, no_reply, port_gone, reset, "
                     "sms_refuse, urc_in_reply"),
    ({"fault": "audio_gone", "ms": 0}, "'ms' must be above 0"),
    ({"fault": "dle_storm"}, "needs a V.253 side"),
    ({"fault": "port_gone", "ms": 0}, "'ms' must be above 0"),
    ({"fault": "sms_refuse", "code": "x"}, "'code' must be a +CMS ERROR number"),
    ({"fault": "no_reply", "side": "duty"}, "side must be one of box, caller, not 'duty'"),
    ({"fault": "no_reply", "count": 0}, "count must be a whole number >= 1, not 0"),
    ({"fault": "no_reply", "count": True}, "count must be a whole number >= 1"),
    ({"fault": "no_reply", "ms": 5}, "does not take 'ms'; it takes: no parameters"),
    ({"fault": "late_reply", "msec": 5}, "does not take 'msec'; it takes: ms"),
    ({"fault": "late_reply", "ms": "soon"}, "'ms' must be a number of milliseconds"),
    ({"fault": "clock_skew"}, "needs 'ppm'"),
])
def test_fault_requests_are_checked_strictly(request_, message):
    modems = {"box": _FakeModem(), "caller": _FakeModem()}
    with pytest.raises(faults.FaultError, match=re.escape(message)):
        faults.apply(request_, modems)


def test_fault_request_arms_the_named_side_only():
    modems = {"box": _FakeModem(), "caller": _FakeModem()}
    faults.apply({"fault": "late_reply", "side": "caller", "count": 2, "ms": 30}, modems)
    assert modems["caller"].faults.pending() == {"late_reply": 2}
    assert modems["box"].faults.pending() == {}
    assert modems["caller"].faults.take("late_reply") == 30.0
    assert modems["caller"].decisions == ["fault late_reply injected x2 {'ms': 30}"]


def test_fault_error_is_a_lawline_error_and_a_value_error():
    from lawline.errors import LawlineError
    assert issubclass(faults.FaultError, LawlineError) and issubclass(faults.FaultError, ValueError)


def test_add_arguments_defaults_and_required_state_dir():
    parser = lawline_rig.sim.add_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["--state-dir", "/tmp/x"])
    assert (args.profile, args.state_dir, args.box_number, args.caller_number, args.ring_interval) == \
        ("simcom-sim7600", "/tmp/x", "07730148", "13800138000", 2.0)
    with pytest.raises(SystemExit):
        parser.parse_args([])
    with pytest.raises(SystemExit):
        parser.parse_args(["--state-dir", "/tmp/x", "--ring-interval", "0"])


def test_run_refuses_an_unknown_profile_without_starting(tmp_path, caplog):
    assert lawline_rig.sim.run(str(tmp_path), profile="quectel-ec99") == 2
    assert ("unknown modem profile 'quectel-ec99'; known: " + ", ".join(sorted(lawline_rig.sim.PROFILES))
            in caplog.text)
    assert not (tmp_path / "sim.json").exists()
