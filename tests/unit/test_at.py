"""AT line framing and parsing: split lines, clean noise, caller ID and DTMF reports. (The
channel on a real pty: tests/line/test_at_channel.py.)"""

import pytest

from lawline.line.at import clean, split_lines
from lawline.line.modem import parse_clip, parse_dtmf
from lawline.line.profiles import SIM7600


def test_split_handles_echo_and_double_cr():
    lines, rest = split_lines(b"AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n\r\r\nRING\r\r\n+CL")
    assert lines == [b"AT+CSQ", b"+CSQ: 20,99", b"OK", b"RING"]
    assert rest == b"+CL"


def test_clean_drops_line_noise():
    assert clean(b"\x00\xffOK") == ("OK", True)
    assert clean(b"+CLIP: \"138\",129") == ('+CLIP: "138",129', False)


@pytest.mark.parametrize("line,number", [
    ('+CLIP: "13800138000",161,"",0,"",0', "13800138000"),
    ('+CLIP: "+8613800138000",145,,,,0', "+8613800138000"),
    ('+CLIP: "8613800138000",145', "+8613800138000"),
    ('+CLIP: "",128,"",0,"",0', ""),
    ('+CLIP: "CALLBACK 16800001234 NOW",129', ""),      # free text: withheld (callerid.py)
    ('+CLIP: "1380013800O",129', ""),
])
def test_clip_variants(line, number):
    assert parse_clip(line)[0].number == number


def test_dtmf_reports():
    assert parse_dtmf("+RXDTMF: 5", SIM7600) == "5"
    assert parse_dtmf("+RXDTMF: #", SIM7600) == "#"
    assert parse_dtmf("+RXDTMF: x", SIM7600) is None
