"""Fuzzing caller ID (issue 15, point 1): whatever text a line presents as the caller, the box
takes a phone number (ASCII digits, an optional leading "+", the "*" and "#" a network may
send) or nobody (withheld), and keeps refused text as it came for the call record. Through
the one function (line/callerid.py) and through each driver's reader on a real pty: +CLIP,
+CLCC and Quectel's ccinfo (GSM), NMBR (V.253)."""

import asyncio
import logging
import os
import pty
import re
import tty

import pytest
from hypothesis import example, given, strategies as st

from lawline.line import profiles
from lawline.line.callerid import RAW_KEPT, V253_MARKS, is_caller_id, read_caller_id
from lawline.line.modem import Modem, parse_call_state, parse_clip
from lawline.line.v253 import V253Modem

NUMBER = re.compile(r"\+?[0-9*#]{1,32}")
quiet = logging.getLogger("lawline.fuzz")

numbers = st.from_regex(r"\A\+?[0-9*#]{0,8}[0-9][0-9*#]{0,20}\Z")
# Text a spoofing gateway, a PBX or line noise may present: anything at all, and the near
# misses (a digit too many, a letter O for a zero, spaces, full-width and Arabic digits).
near_misses = st.one_of(
    st.sampled_from(["CALLBACK 16800001234 NOW", "138 0013 8000", "1380013800O", "+",
                     "++8613800138000", "1380013800+", "１３８００１３８０００", "١٣٨٠٠",
                     "13800138000\x00", "#*", "0" * 33, "Call me", "P ", "p", "-1"]),
    st.builds(lambda a, b: a + b, numbers, st.text(min_size=1, max_size=5)),
)
anything = st.one_of(numbers, near_misses, st.text(max_size=300))


def grammar(text):
    return bool(NUMBER.fullmatch(text) and re.search(r"[0-9]", text))


@given(anything, st.sampled_from([None, 129, 145, 161, 128]))
@example("CALLBACK 16800001234 NOW", 129)
def test_a_caller_is_a_number_or_withheld_and_refused_text_is_kept(text, number_type):
    caller = read_caller_id(text, number_type)
    if grammar(text):
        expected = "+" + text if number_type == 145 and not text.startswith("+") else text
        assert (caller.number, caller.raw, caller.why) == (expected, "", "")
    else:
        assert caller.number == "" and caller.withheld
        assert caller.raw == text[:RAW_KEPT]
        assert caller.why == ("withheld" if text == "" else "not a number")
    assert is_caller_id(caller.number)


@given(st.sampled_from(sorted(V253_MARKS)))
def test_v253_private_and_unavailable_are_withheld_without_raw_text(mark):
    caller = read_caller_id(mark, marks=V253_MARKS)
    assert (caller.number, caller.raw, caller.why) == ("", "", V253_MARKS[mark])
    assert read_caller_id(mark).raw == mark      # on a GSM line "P" is just text


def quoted(text):
    return text.replace('"', "")      # a quote would end the +CLIP string early


@given(anything, st.sampled_from(["129", "145", "161", "128", "", "9999"]),
       st.sampled_from(["", ',"",0,"",0', ",,,,0", ',"",128,"",1']))
def test_clip_and_clcc_numbers_follow_the_same_rule(text, kind, tail):
    text = quoted(text)
    sep = f",{kind}" if kind else ""
    caller, _ = parse_clip(f'+CLIP: "{text}"{sep}{tail}')
    assert caller.number == read_caller_id(text, int(kind) if kind else None).number
    assert is_caller_id(caller.number)
    for line in (f'+CLCC: 1,1,4,0,0,"{text}"{sep}',
                 f'+QIND: "ccinfo",1,1,4,0,0,"{text}"{sep}'):
        state = parse_call_state(line)
        assert state is not None and is_caller_id(state[2].number)
        assert state[2].raw == caller.raw


@pytest.fixture(scope="module")
def port():
    master, slave = pty.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


def drain(master):
    while True:
        try:
            if not os.read(master, 4096):
                return
        except (BlockingIOError, OSError):
            return


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
