"""Caller ID as the box takes it: a phone number, or withheld. Never free text.

What a line presents as the caller is outside input: a GSM network's `+CLIP`/`+CLCC` number
(27.007 7.6, 7.18; reference/modems.md 1.2, 1.3), an analog line's `NMBR` (V.253 +VCID,
modems.md 4.1). A spoofing gateway or a misconfigured PBX may put anything there
(`NMBR = CALLBACK 16800001234 NOW`, `+CLIP: "Call me",129`). The caller's number goes into
the duty SMS, the office page and the call record, and is the key of the caller's daily
limits, so only a number is taken for one: ASCII digits with an optional leading `+`, and the
`*` and `#` some networks send, 1 to 32 characters (the dial-string bound of modem.dial).
Anything else makes the caller withheld; the text as it came is kept (`raw`) for the call
record and logged quoted by the driver, so nothing is lost and nothing is believed.

One pure function, used by every driver: the GSM modem (+CLIP, +CLCC, +QIND "ccinfo",
MISSED_CALL; the EC25 in sound-card mode is that same driver) and the V.253 modem (NMBR).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_NUMBER = re.compile(r"\+?[0-9*#]{1,32}", re.ASCII)
_DIGIT = re.compile(r"[0-9]", re.ASCII)

# V.253 caller-ID "NMBR" values that are no number by design (modems.md 4.1).
V253_MARKS = {"P": "private", "O": "unavailable"}
# 27.007 type of address 145: an international number, whose "+" some modems leave out.
INTERNATIONAL = 145
# How much of a refused text the record keeps: a real caller-ID field is short (an MDMF
# number is at most 20 characters); past this it is noise, and the log has the whole line.
RAW_KEPT = 256


@dataclass(frozen=True)
class CallerId:
    number: str        # the caller's number, "" when withheld (or refused)
    raw: str = ""      # the text as presented, when it was refused as a number; else ""
    why: str = ""      # "" with a number; "withheld", "private", "unavailable", "not a number"

    @property
    def withheld(self) -> bool:
        return not self.number


WITHHELD = CallerId("", "", "withheld")


def read_caller_id(text: object, number_type: int | None = None,
                   marks: Mapping[str, str] | None = None) -> CallerId:
    """The caller ID in `text` as the line presented it (the quoted +CLIP/+CLCC number, the
    V.253 NMBR value). `number_type` is 27.007's type of address: 145 (international) adds
    the "+" a modem left out. `marks` maps texts that mean "no number" on that line (V.253:
    P private, O unavailable) to why. Never raises."""
    if text is None or text == "":
        return WITHHELD
    if not isinstance(text, str):
        text = str(text)
    if marks and text in marks:
        return CallerId("", "", marks[text])
    if _NUMBER.fullmatch(text) and _DIGIT.search(text):
        if number_type == INTERNATIONAL and not text.startswith("+"):
            text = "+" + text
        return CallerId(text)
    return CallerId("", text[:RAW_KEPT], "not a number")


def is_caller_id(number: str) -> bool:
    """True for what a line event may carry as the caller: "" (withheld) or a number."""
    return number == "" or bool(_NUMBER.fullmatch(number) and _DIGIT.search(number))


def described(caller: CallerId) -> str:
    """For a log line: the number, or why there is none (the refused text quoted)."""
    if caller.number:
        return caller.number
    if caller.raw:
        return f"a withheld number (caller ID {caller.raw!r})"
    return {"private": "a withheld number", "unavailable": "an unavailable number"}.get(
        caller.why, "a withheld number")
