"""Property tests of the line's readers on a real pseudo-terminal (issue 9 point 9, issue 15
point 1): the AT channel and each driver (GSM, V.253) open the pty's slave side as a modem,
and the test hands their reader (`_feed`, what the port's read callback calls) the bytes in
the chunks it chooses, because the kernel would choose the cuts itself. Whatever a hostile
or broken line sends, only the box's typed errors come out, the same lines and samples are
routed at any read boundary, and a caller is a number or withheld. The strategies and the
pure parsers' properties are in tests/unit/test_fuzz_{at,callerid,voice}.py."""

import asyncio
import os
import pty
import tty

import pytest
from hypothesis import example, given, strategies as st

from lawline.errors import LawlineError
from lawline.line import profiles
from lawline.line.at import ATChannel, MAX_LINE
from lawline.line.callerid import RAW_KEPT, V253_MARKS, is_caller_id
from lawline.line.modem import Modem
from lawline.line.v253 import HANGUP_CUES, V253Modem

from ..unit.test_fuzz_at import PROFILES, chunked, cuts, framed, quiet, stream, urc
from ..unit.test_fuzz_callerid import anything, grammar, quoted
from ..unit.test_fuzz_voice import FORMATS, codes, data_stream, decode
from ..unit.test_fuzz_voice import chunked as chunked_sorted


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
    """Everything the reader under test wrote to the far end so far."""
    out = b""
    while True:
        try:
            out += os.read(master, 4096)
        except (BlockingIOError, OSError):
            return out


# -- the AT channel and the drivers (tests/unit/test_fuzz_at.py's strategies) --------------
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


# -- caller ID through each driver (tests/unit/test_fuzz_callerid.py) ---------------------
async def _presented(modem, lines):
    modem.at.open()
    try:
        for line in lines:
            modem.at._feed(b"\r\n" + line.encode("utf-8") + b"\r\n")
            await asyncio.sleep(0)
        events = []
        while not modem.events.empty():
            events.append(modem.events.get_nowait())
        return events, modem.caller, modem.caller_raw
    finally:
        modem.close()
        await asyncio.sleep(0)


def printable_line(text):
    # what survives the AT reader: it drops control characters and 8-bit noise (at.clean)
    return "".join(c for c in text if " " <= c <= "~").strip()


@pytest.mark.parametrize("profile", [profiles.SIM7600, profiles.EC25], ids=lambda p: p.name)
@given(text=anything)
@example(text="CALLBACK 16800001234 NOW")
def test_the_gsm_driver_never_names_a_caller_by_free_text(port, profile, text):
    master, path = port
    text = quoted(printable_line(text))
    modem = Modem(profile, path, path, name="fuzz", log=quiet)
    events, caller, raw = asyncio.run(_presented(modem, ["RING", f'+CLIP: "{text}",129']))
    drain(master)
    ids = [(e.number, e.raw) for e in events if e.kind == "caller_id"]
    expected = (text, "") if grammar(text) else ("", text[:RAW_KEPT])
    assert ids == [expected] and (caller, raw) == expected
    assert all(is_caller_id(e.number) for e in events if e.number is not None)


@given(text=anything)
@example(text="CALLBACK 16800001234 NOW")
def test_the_v253_driver_never_names_a_caller_by_free_text(port, text):
    master, path = port
    text = printable_line(text)
    modem = V253Modem(profiles.V253, path, path, name="fuzz", log=quiet)
    events, caller, raw = asyncio.run(_presented(
        modem, ["RING", "DATE = 1201", "TIME = 0930", f"NMBR = {text}"]))
    drain(master)
    ids = [(e.number, e.raw) for e in events if e.kind == "caller_id"]
    if text in V253_MARKS:
        expected = ("", "")
    else:
        expected = (text, "") if grammar(text) else ("", text[:RAW_KEPT])
    assert ids == [expected] and (caller, raw) == expected


# -- V.253 voice data (tests/unit/test_fuzz_voice.py) --------------------------------------
async def _record(path, fmt, chunks):
    """A V.253 modem in a call goes to AT+VTR; the modem's CONNECT and data stream arrive in
    `chunks`. What the bridge heard, the events, and the lines after the stream."""
    modem = V253Modem(profiles.V253, path, path, name="fuzz", log=quiet)
    modem.at.open()
    after = []
    modem.at.on_urc = after.append
    modem.in_call = True
    modem.audio.format = fmt
    heard = []
    modem.audio.on_frame = heard.append
    try:
        task = asyncio.ensure_future(modem._enter("duplex"))
        await asyncio.sleep(0)
        for chunk in chunks:
            modem.at._feed(chunk)
            await asyncio.sleep(0)
        await asyncio.wait_for(task, 5)
        events = []
        while not modem.events.empty():
            e = modem.events.get_nowait()
            events.append((e.kind, e.digit))
        return b"".join(heard), events, modem.at.in_data_state, after
    finally:
        modem.close()
        await asyncio.sleep(0)


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.codec)
@given(data=st.data())
def test_voice_data_state_is_the_same_at_any_read_boundary(port, fmt, data):
    master, path = port
    # A hang-up cue (DLE b, d, l...) ends the data state from the call flow's side, so
    # where the reads fall then decides which bytes still come as data: left out here.
    stream = data.draw(data_stream(codes.filter(lambda c: chr(c) not in HANGUP_CUES)),
                       label="stream")
    raw = b"\r\nCONNECT\r\n" + stream
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=8), label="cuts")
    whole = asyncio.run(_record(path, fmt, [raw]))
    split = asyncio.run(_record(path, fmt, chunked_sorted(raw, cuts)))
    drain(master)
    assert split == whole
    heard, events, in_data, after = whole
    samples, codes_seen, end = decode([stream])
    assert in_data == (end is None)
    # keys, and the modem's silence reports (DLE s, DLE q: issue 17.7) for the recorder
    assert events == [("dtmf", c) if c in "0123456789*#ABCD" else ("silence", None)
                      for c in codes_seen if c in "0123456789*#ABCDsq"]
    assert after == []  # VCON after the stream is the result of a leave, not a URC
