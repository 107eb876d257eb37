"""Fuzzing caller ID (issue 15, point 1): whatever text a line presents as the caller, the box
takes a phone number (ASCII digits, an optional leading "+", the "*" and "#" a network may
send) or nobody (withheld), and keeps refused text as it came for the call record. Through
the one function (line/callerid.py) and the +CLIP, +CLCC and Quectel ccinfo parsers here;
through each driver's reader on a real pty (GSM, V.253 NMBR) in tests/line/test_fuzz_ports.py."""

import logging
import re

from hypothesis import example, given, strategies as st

from lawline.line.callerid import RAW_KEPT, V253_MARKS, is_caller_id, read_caller_id
from lawline.line.modem import parse_call_state, parse_clip

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
