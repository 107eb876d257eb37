"""Fuzzing the AT reader and caller ID (issue 9, point 9): whatever a hostile or broken line
sends, only the box's typed errors come out, and the reader routes the same lines wherever
the serial reads cut the bytes.

Here the parsers' own properties and the strategies of a line's bytes; the channel and the
drivers reading them on a real pseudo-terminal are tests/line/test_fuzz_ports.py.
"""

import logging

from hypothesis import given, strategies as st

from lawline.line import profiles
from lawline.line.at import MAX_LINE
from lawline.line.callerid import is_caller_id
from lawline.line.modem import parse_call_state, parse_clip, parse_dtmf

PROFILES = (profiles.SIM7600, profiles.EC25, profiles.V253)
quiet = logging.getLogger("lawline.fuzz")

printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)
digits = st.text("0123456789", min_size=0, max_size=20)
number = st.one_of(digits, digits.map(lambda d: "+" + d), printable)


@st.composite
def urc(draw, profile):
    """A URC of `profile`: a known spelling with fuzzed fields, or a known prefix with junk."""
    n = draw(number)
    t = draw(st.one_of(st.sampled_from(["129", "145", "161", "128"]), digits))
    templates = [
        f'+CLIP: "{n}",{t},"",0,"",0', f'+CLIP: "{n}",{t}', f'+CLIP: "{n}"', "RING",
        "+CRING: VOICE", f'+CMTI: "SM",{draw(digits)}', f"+RXDTMF: {draw(printable)}",
        f"+QTONEDET: {draw(digits)}", f"+CLCC: 1,{draw(digits)},{draw(digits)},0,0,\"{n}\",{t}",
        f'+QIND: "ccinfo",1,1,{draw(st.sampled_from(["-1", "0", "4", "6"]))},0,0,"{n}",{t}',
        "VOICE CALL: BEGIN", f"VOICE CALL: END: {draw(digits)}", "NO CARRIER",
        f"MISSED_CALL: 10:22AM {n}", "+SMS FULL", f"DATE = {draw(digits)}",
        f"TIME={draw(digits)}", f"NMBR = {n}", f"NMBR={draw(st.sampled_from(['P', 'O']))}",
        f"NAME = {draw(printable)}", f"MESG = {draw(printable)}",
    ]
    prefix = draw(st.sampled_from(profile.urc_prefixes))
    return draw(st.sampled_from(templates + [prefix + draw(printable)]))


def framed(line_strategy):
    frames = st.sampled_from([b"\r\n%s\r\n", b"\r\r\n%s\r\r\n", b"%s\r\n", b"\r\n%s\r"])
    return st.tuples(frames, line_strategy).map(lambda ft: ft[0] % ft[1].encode("latin-1"))


noise = st.binary(max_size=40)
finals = st.sampled_from(["OK", "ERROR", "+CME ERROR: 10", "+CMS ERROR: 304", "NO CARRIER",
                          "BUSY", "+CSQ: 20,99", "AT+CSQ"])


def stream(profile):
    """The bytes of a line: URCs, final results, information lines, echo and noise."""
    token = st.one_of(framed(urc(profile)), framed(finals), framed(printable), noise,
                      st.binary(min_size=MAX_LINE - 2, max_size=MAX_LINE + 40).map(
                          lambda b: b.replace(b"\r", b"x").replace(b"\n", b"x")))
    return st.lists(token, max_size=12).map(b"".join)


def cuts(data):
    """Read boundaries for `data`: sorted cut positions."""
    return st.lists(st.integers(0, len(data)), max_size=8).map(sorted)


def chunked(data, positions):
    out, start = [], 0
    for p in positions + [len(data)]:
        out.append(data[start:p])
        start = p
    return [c for c in out if c]


@given(st.text(max_size=MAX_LINE))
def test_line_parsers_take_any_text(line):
    for profile in PROFILES[:2]:
        assert parse_dtmf(line, profile) in (None, *"0123456789*#ABCD")
        assert parse_dtmf(profile.dtmf_prefix + line, profile) in (None, *"0123456789*#ABCD")
    caller, kind = parse_clip("+CLIP: " + line)
    assert caller is None or is_caller_id(caller.number)
    assert kind is None or isinstance(kind, int)
    state = parse_call_state("+CLCC: " + line)
    assert state is None or len(state) == 3
    assert state is None or state[2] is None or is_caller_id(state[2].number)


@given(digits.filter(bool), st.sampled_from([129, 145, 161]), printable)
def test_clip_number_comes_out_as_sent(n, kind, tail):
    caller, got = parse_clip(f'+CLIP: "{n}",{kind},"{tail.replace(chr(34), "")}",0')
    assert (caller.number, caller.raw, got) == ("+" + n if kind == 145 else n, "", kind)
