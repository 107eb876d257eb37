"""Phone numbers as the office writes them: one place for their forms.

A number reaches the box as the network presents it (+8613900000001, 008613900000001,
8613900000001) and as staff type it in a rota (13900000001); these say when two are the same
phone and which can receive an SMS. Caller ID that is not a number at all never gets here as
one (line/callerid.py makes it "withheld").
"""

from __future__ import annotations

import re

_MOBILE = re.compile(r"(\+?86)?1\d{10}")


def national(number: str | None) -> str:
    """A number as the office lists it: +86, 0086, or a bare 86 in front of an 11-digit
    mobile dropped; other countries keep "+" and their code (+1 202... is never the mobile
    1202...). "" for anything but digits (and spaces or dashes)."""
    n = (number or "").strip().replace(" ", "").replace("-", "")
    foreign = n.startswith("+") or n.startswith("00")
    n = n[1:] if n.startswith("+") else n[2:] if n.startswith("00") else n
    if not n.isascii() or not n.isdigit():
        return ""
    if foreign:
        return n[2:] if n.startswith("86") else "+" + n
    if len(n) == 13 and n.startswith("861"):
        return n[2:]
    return n


def same(a: str | None, b: str | None) -> bool:
    """The same phone (+86 or 0086 in front aside); never true for an empty number."""
    return bool(national(a)) and national(a) == national(b)


def is_mobile(number: str | None) -> bool:
    """Only Chinese mobiles can receive an SMS; a landline caller gets none."""
    return bool(number) and bool(_MOBILE.fullmatch(number or ""))
