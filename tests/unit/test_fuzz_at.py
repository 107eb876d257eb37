"""Fuzzing the AT reader and caller ID (issue 9, point 9): whatever a hostile or broken line
sends, only the box's typed errors come out, and the reader routes the same lines wherever
the serial reads cut the bytes.

The channel is opened on a real pseudo-terminal, as the driver opens a modem; the bytes are
handed to its reader (`_feed`, what the port's read callback calls) in chunks the test
chooses, because the kernel would choose the cuts itself.
"""

import asyncio
import logging
import os
import pty
import tty

import pytest
from hypothesis import given, strategies as st

from lawline.errors import LawlineError
from lawline.line import profiles
from lawline.line.at import ATChannel, MAX_LINE
from lawline.line.callerid import is_caller_id
from lawline.line.modem import Modem, parse_call_state, parse_clip, parse_dtmf
from lawline.line.v253 import V253Modem

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


@pytest.fixture(scope="module")
def port():
    """A pseudo-terminal: the channel opens its slave side as a serial port."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


def drain(master):
    out = b""
    while True:
        try:
            out += os.read(master, 4096)
        except (BlockingIOError, OSError):
            return out


async def _route(path, profile, chunks, command):
    """Feed `chunks` to a channel with `command` in flight: (URCs routed, command outcome)."""
    urcs = []
    ch = ATChannel(path, "fuzz", profile.urc_prefixes, urcs.append, log=quiet)
    ch.open()
    try:
        task = asyncio.ensure_future(ch.command(command, timeout=60, expect="+CSQ:"))
        await asyncio.sleep(0)
        for chunk in chunks:
            ch._feed(chunk)
        for _ in range(20):   # the result travels through a few futures
            if task.done():
                break
            await asyncio.sleep(0)
        else:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return urcs, "still waiting"
        exc = task.exception()
        if exc is not None:
            assert isinstance(exc, LawlineError), repr(exc)
            return urcs, repr(exc)
        return urcs, task.result()
    finally:
        ch.close()


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
@given(data=st.data())
def test_reader_routes_the_same_lines_at_any_read_boundary(port, profile, data):
    master, path = port
    raw = data.draw(stream(profile), label="bytes")
    positions = data.draw(cuts(raw), label="cuts")
    command = data.draw(st.sampled_from(["AT+CSQ", "ATD13900000001;", "ATA"]), label="command")
    whole = asyncio.run(_route(path, profile, [raw], command))
    split = asyncio.run(_route(path, profile, chunked(raw, positions), command))
    drain(master)
    assert split == whole
    for line in whole[0]:  # URCs, and the result of a dial that also ends the call
        assert len(line) <= MAX_LINE
        assert line.startswith(profile.urc_prefixes) or line in ("BUSY", "NO ANSWER")


async def _drive_modem(path, profile, chunks):
    """The real driver of `profile` handling whatever the line says; its events."""
    cls = V253Modem if profile.kind == "v253" else Modem
    modem = cls(profile, path, path, name="fuzz", log=quiet)
    modem.at.open()
    try:
        for chunk in chunks:
            modem.at._feed(chunk)
            await asyncio.sleep(0)
        events = []
        while not modem.events.empty():
            events.append(modem.events.get_nowait())
        return events
    finally:
        modem.close()
        await asyncio.sleep(0)


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
@given(data=st.data())
def test_driver_takes_any_urcs_without_an_untyped_error(port, profile, data):
    master, path = port
    raw = data.draw(stream(profile), label="bytes")
    chunks = chunked(raw, data.draw(cuts(raw), label="cuts"))
    events = asyncio.run(_drive_modem(path, profile, chunks))
    drain(master)
    for event in events:
        assert event.kind in ("ring", "caller_id", "begin", "ended", "dtmf", "missed", "sms")
        if event.kind != "sms":     # an SMS sender may be a name (line/pdu.py)
            assert event.number is None or is_caller_id(event.number), event
        assert event.digit is None or event.digit in "0123456789*#ABCD"


async def _send_sms(path, master, chunks, urcs):
    ch = ATChannel(path, "fuzz", profiles.SIM7600.urc_prefixes, urcs.append, log=quiet)
    ch.open()
    try:
        task = asyncio.ensure_future(ch.command_with_prompt(
            "AT+CMGS=17", "0011000B916131", timeout=60, prompt_timeout=60, expect="+CMGS:"))
        await asyncio.sleep(0)
        for chunk in chunks:
            ch._feed(chunk)
            await asyncio.sleep(0)
        written = b""
        for _ in range(1000):  # the modem answers once the body is in (Ctrl-Z)
            written += drain(master)
            if written.endswith(b"\x1a") or task.done():
                break
            await asyncio.sleep(0.001)
        ch._feed(b"\r\n+CMGS: 42\r\n\r\nOK\r\n")
        lines = await asyncio.wait_for(task, 5)
        return lines, written
    finally:
        ch.close()


@given(data=st.data())
def test_sms_prompt_is_seen_at_any_read_boundary(port, data):
    """27.005 3.5.1: CR LF '>' space with no line end; URCs may come before it and in the
    same read right after it. The body goes out once, after the prompt, whatever the cuts."""
    master, path = port
    drain(master)
    before = data.draw(st.lists(framed(urc(profiles.SIM7600)), max_size=3), label="before")
    after = data.draw(st.lists(framed(urc(profiles.SIM7600)), max_size=3), label="after")
    raw = b"".join(before) + b"\r\n> " + b"".join(after)
    urcs = []
    lines, written = asyncio.run(_send_sms(path, master, chunked(raw, data.draw(cuts(raw))),
                                           urcs))
    assert written == b"AT+CMGS=17\r0011000B916131\x1a"
    routed, others = [], []
    for token in before + after:
        text = token.strip(b"\r\n").decode("latin-1").strip()
        (routed if text.startswith(profiles.SIM7600.urc_prefixes) else others).append(text)
    assert urcs == routed
    assert lines == others + ["+CMGS: 42"]  # what is not a URC belongs to the reply


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


async def _vcid(path, block):
    modem = V253Modem(profiles.V253, path, path, name="fuzz", log=quiet)
    modem.at.open()
    try:
        modem.at._feed(block)
        await asyncio.sleep(0)
        events = []
        while not modem.events.empty():
            events.append(modem.events.get_nowait())
        return events
    finally:
        modem.close()


@given(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1,
               max_size=20), st.sampled_from(["=", " = ", "= ", " ="]))
def test_v253_caller_id_block_names_the_caller(port, value, equals):
    """V.253 VCID after the first RING (modems.md 4.1): the NMBR field, with or without
    spaces around '=', is the caller when it is a number (P and O: withheld or unavailable;
    any other text: withheld, and kept as it came, line/callerid.py)."""
    master, path = port
    block = (f"\r\nRING\r\n\r\nDATE{equals}1201\r\nTIME{equals}0930\r\n"
             f"NMBR{equals}{value}\r\nNAME{equals}ZHANG\r\n").encode()
    events = asyncio.run(_vcid(path, block))
    drain(master)
    ids = [(e.number, e.raw) for e in events if e.kind == "caller_id"]
    if value in ("P", "O"):
        assert ids == [("", "")]
    elif is_caller_id(value):
        assert ids == [(value, "")]
    else:
        assert ids == [("", value)]
