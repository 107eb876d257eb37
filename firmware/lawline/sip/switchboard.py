"""The prefecture's 1600148 switchboard, both ways: what the box reads from a call it
transfers down, and what it sends up with a call it hands over. Pure: no pjsua2, no I/O.

The national notice puts a prefecture switchboard (1600148) above the county lines.

Down: the switchboard transfers a caller to the county line through the SIP trunk. The
box answers such a call only when it comes from the trunk (sip/door.py checks the address,
the trunk authenticated the switchboard) and its From is the configured switchboard's
number (`check_invite`); every other incoming call is refused with 403 as before. The
original caller's number is read from P-Asserted-Identity, else Diversion, and believed
only when it is a number (line/callerid.py: anything else makes the caller withheld, the
text kept for the call record). When the switchboard says why it transfers (the
`[switchboard] reason_header`, or a DTMF code ending with # just after the answer), the call
goes straight to that branch without the menu (the national hotline standard discourages
IVR menus for intake); otherwise the menu plays as for any caller.

Up: when nobody accepts and the office is closed (or the urgent ladder reaches it), the
box hands the call to the switchboard's number over the trunk: the leg carries a Diversion
header naming the county's line (RFC 5806, reason no-answer or unavailable), the reason
header, and X-Lawline-County / X-Lawline-Caller; the switchboard's agent hears a whisper
naming the county and the caller. A call that came down from the switchboard is never
handed back up (no loops).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ..line.callerid import WITHHELD, CallerId, read_caller_id
from ..phone import national
from ..settings import LadderSection, OfficeSection, SwitchboardSection
from .dialplan import DialPlan

# The branches a switchboard may send a caller to (call/menu.py's, without repeat/submenu).
TRANSFER_BRANCHES = ("consultation", "service_request", "urgent", "referral", "complaint",
                     "case_status")
LADDER_STEPS = ("head", "prefecture", "switchboard")
PAGE_ROLES = ("head", "clerk", "duty")
CODE_DIGITS = 4                 # a reason code is at most this many digits


@dataclass(frozen=True)
class Transfer:
    """A call the switchboard transferred down, as the call script reads it."""
    switchboard: str                 # its number (From)
    caller: CallerId = WITHHELD      # the original caller (P-Asserted-Identity or Diversion)
    caller_from: str = ""            # "pai", "diversion" or "" (withheld)
    branch: str | None = None        # straight to this branch (from the reason header)
    how: str = ""                    # "header", or "" (a DTMF code may still come)
    said: str = ""                   # the header's value as sent (quoted in the record)
    codes: dict[str, str] = field(default_factory=dict)  # DTMF code -> branch (reasons)
    code_seconds: float = 0.0        # how long to wait for a DTMF code

    def as_record(self) -> dict[str, str | None]:
        return {"from": self.switchboard, "caller_from": self.caller_from,
                "caller_raw": self.caller.raw or None, "reason": self.branch,
                "how": self.how or None, "said": self.said or None}


def reason_codes(section: SwitchboardSection) -> dict[str, str]:
    """[switchboard] reasons as {code: branch}."""
    out = {}
    for entry in section.reasons:
        code, _, branch = entry.partition("=")
        out[code.strip()] = branch.strip()
    return out


def branch_of(value: str | None, codes: dict[str, str]) -> str | None:
    """The branch a reason (header value or DTMF code) names, or None."""
    value = (value or "").strip()
    if value in TRANSFER_BRANCHES:
        return value
    return codes.get(value)


# -- reading the INVITE --------------------------------------------------------------------

_COMPACT = {"f": "from", "t": "to"}


def headers_of(message: str) -> dict[str, list[str]]:
    """{lower-case name: [values]} of a SIP message's headers (compact forms expanded,
    folded lines joined); the start line and the body are left out."""
    head = re.split(r"\r?\n\r?\n", message or "", maxsplit=1)[0]
    lines = re.split(r"\r?\n", head)[1:]
    out: dict[str, list[str]] = {}
    last = None
    for line in lines:
        if line[:1] in (" ", "\t") and last is not None:
            out[last][-1] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue
        name = name.strip().lower()
        name = _COMPACT.get(name, name)
        out.setdefault(name, []).append(value.strip())
        last = name
    return out


_URI_USER = re.compile(r"(?:sips?:([^@;>\s]+)@|tel:([^;>\s]+))", re.I)


def user_of(value: str) -> str:
    """The user part of the first URI in a header value (sip:USER@host, tel:NUMBER), or ""."""
    m = _URI_USER.search(value or "")
    if not m:
        return ""
    return (m.group(1) or m.group(2) or "").strip()


def original_caller(headers: dict[str, list[str]],
                    switchboard: str) -> tuple[CallerId, str]:
    """(CallerId, where from): P-Asserted-Identity first, then Diversion; a value that is the
    switchboard itself names nobody. What is no number makes the caller withheld, the text
    kept in `raw` (line/callerid.py)."""
    refused: CallerId | None = None
    for name, where in (("p-asserted-identity", "pai"), ("diversion", "diversion")):
        for value in headers.get(name, []):
            user = user_of(value)
            if not user:
                refused = refused or CallerId("", value[:256], "not a number")
                continue
            if national(user) and national(user) == national(switchboard):
                continue
            caller = read_caller_id(user)
            if caller.number:
                return caller, where
            refused = refused or caller
    return (refused or WITHHELD), ""


def check_invite(message: str,
                 section: SwitchboardSection) -> tuple[Transfer | None, str | None]:
    """(Transfer, None) for an INVITE the configured switchboard sent, or (None, why not).
    `section`: [switchboard]. The door (sip/door.py) has already checked that the request
    came from the trunk's address."""
    if not section.number:
        return None, "no [switchboard] number is configured"
    if not section.accept_transfers:
        return None, "[switchboard] accept_transfers is off"
    headers = headers_of(message)
    sender = user_of((headers.get("from") or [""])[0])
    if not sender or not national(sender) or national(sender) != national(section.number):
        return None, f"From {sender or '(none)'!r} is not the switchboard {section.number}"
    caller, where = original_caller(headers, section.number)
    codes = reason_codes(section)
    said = (headers.get(section.reason_header.lower()) or [""])[0][:64]
    branch = branch_of(said, codes)
    return Transfer(section.number, caller, where, branch, "header" if branch else "", said,
                    codes, section.code_seconds), None


# -- handing a call up ---------------------------------------------------------------------

def overflow_headers(section: SwitchboardSection, line_number: str, office_id: str,
                     caller: str, reason: str, domain: str) -> list[tuple[str, str]]:
    """The headers of the INVITE that hands a call up to the switchboard: the county's line
    diverted it (RFC 5806), why, which county and which caller."""
    why = "unavailable" if reason == "after_hours" else "no-answer"
    return [("Diversion", f"<sip:{line_number}@{domain}>;reason={why};counter=1"),
            (section.reason_header, f"overflow-{reason.replace('_', '-')}"),
            ("X-Lawline-County", office_id),
            ("X-Lawline-Caller", caller or "anonymous")]


def destinations(office: OfficeSection, ladder: LadderSection,
                 board: SwitchboardSection) -> list[tuple[str, str, str]]:
    """The numbers issue 17 adds to what the box may dial (sip/hunt.Dialler extra), with
    where each comes from and its one purpose: the office head and the prefecture's
    number when the urgent ladder calls them, the switchboard for a hand-over only."""
    out = []
    if "head" in ladder.steps and office.head_mobile:
        out.append((office.head_mobile, "[office] head_mobile (the urgent ladder)", "duty"))
    if "prefecture" in ladder.steps and ladder.prefecture_number:
        out.append((ladder.prefecture_number, "[ladder] prefecture_number", "duty"))
    if board.number:
        out.append((board.number, "[switchboard] number", "switchboard"))
    return out


# -- the configuration ---------------------------------------------------------------------

def validate_config(cfg: Any) -> None:
    """[switchboard], [ladder] and [recording]: each number inside the dial plan for its use
    (the switchboard's 160 number for the switchboard only), reason codes and page roles
    known. Errors name the option."""
    plan = DialPlan.from_config(cfg)
    board = cfg.switchboard
    if board.number:
        why = plan.refusal(board.number, "switchboard")
        if why:
            raise ConfigError(f"option 'number' in section [switchboard]: {board.number!r} "
                              f"is refused by the dial plan: {why}")
    for entry in board.reasons:
        code, sep, branch = entry.partition("=")
        if not sep or not re.fullmatch(rf"[0-9]{{1,{CODE_DIGITS}}}", code.strip()) or \
                branch.strip() not in TRANSFER_BRANCHES:
            raise ConfigError(f"option 'reasons' in section [switchboard]: {entry!r} is not "
                              f"'CODE=branch' (a code of 1-{CODE_DIGITS} digits; branches: "
                              f"{', '.join(TRANSFER_BRANCHES)})")
    ladder = cfg.ladder
    for step in ladder.steps:
        if step not in LADDER_STEPS:
            raise ConfigError(f"option 'steps' in section [ladder]: {step!r} is not one of "
                              f"{', '.join(LADDER_STEPS)}")
    if "head" in ladder.steps and cfg.office.head_mobile:
        why = plan.refusal(cfg.office.head_mobile)
        if why:
            raise ConfigError(f"option 'head_mobile' in section [office]: "
                              f"{cfg.office.head_mobile!r} is refused by the dial plan, and "
                              f"the urgent ladder ([ladder] steps) calls it: {why}")
    if ladder.prefecture_number:
        why = plan.refusal(ladder.prefecture_number)
        if why:
            raise ConfigError(f"option 'prefecture_number' in section [ladder]: "
                              f"{ladder.prefecture_number!r} is refused by the dial plan: "
                              f"{why}")
    for role in cfg.recording.play_roles:
        if role not in PAGE_ROLES:
            raise ConfigError(f"option 'play_roles' in section [recording]: {role!r} is not "
                              f"one of {', '.join(PAGE_ROLES)}")
