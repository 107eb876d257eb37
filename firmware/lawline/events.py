"""The one event type of the box's telephone parts: a line (its modem), a SIP leg to a duty
phone, and the SIP trunk all report what happened as a `PartEvent`.

Plain, frozen data: the part that emits it fills in what it knows and nothing acts on it but
its consumer (a line's events go to the idle handler or the active call, call/lines.py; a
leg's to the hunt and the bridge, sip/leg.py and call/driver.py; the trunk's to the trunk's
own registration state, sip/trunk.py). pjsua2 callbacks only post these to the loop.

The kinds, by source:

    line   ring       a ring (number: the caller so far)
           caller_id  caller ID came in (number: digits with an optional leading + and
                      the * # a network may send, "" when withheld or when what the line
                      presented is no number (line/callerid.py); raw: that text, kept for
                      the call record)
           begin      the call is up (answered, or a dialled call connected)
           dtmf       a key (digit)
           ended      the call ended (number; detail: the URC or why)
           missed     the caller hung up while it rang (number)
           failed     the line failed during the call (detail: why)
           silence    the modem heard no voice for its silence time (V.253 DLE s or DLE q,
                      AT+VSD; detail: which)
           sms        an SMS came in (number, detail: the text, sender_type)
    leg    progress   a SIP call state before answer (code: the last SIP status)
           begin      the callee answered: 200 OK acknowledged (code)
           ended      the leg is gone (code, detail: the SIP reason)
           media      its audio stream is active (index: pjsua2's media index)
           dtmf       a key from the duty phone (digit; detail: RFC 4733 or SIP INFO)
    trunk  registration  the registrar answered a REGISTER (code, detail: the reason,
                         expires: seconds, 0 when unregistered)
           ping       the registrar answered (or did not) an OPTIONS (code)
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = {
    "line": frozenset({"ring", "caller_id", "begin", "dtmf", "ended", "missed", "failed",
                       "sms", "silence", "media"}),
    "leg": frozenset({"progress", "begin", "ended", "media", "dtmf"}),
    "trunk": frozenset({"registration", "ping"}),
}


@dataclass(frozen=True)
class PartEvent:
    source: str               # "line /dev/ttyUSB2", "leg 13900000001", "trunk"
    kind: str                 # one of KINDS[the source's first word]
    number: str | None = None  # the other party: caller (line), callee (leg)
    digit: str | None = None  # dtmf
    code: int | None = None   # leg, trunk: the SIP status code
    detail: str = ""          # the URC, SIP reason or DTMF method, for the log; sms: the text
    sender_type: str = ""     # sms: the originator's type of number (line/pdu.py)
    index: int | None = None  # leg media, and a switchboard call's line media (its audio
    #                           changed with a re-INVITE): the audio stream's media index
    expires: int | None = None  # trunk registration: seconds it holds
    raw: str = ""             # line caller_id: the presented text refused as no number

    def __post_init__(self) -> None:
        part = self.source.split(" ", 1)[0]
        if self.kind not in KINDS.get(part, ()):
            raise ValueError(f"no {self.kind!r} event from a {part!r} (lawline/events.py)")

    @property
    def part(self) -> str:
        """"line", "leg" or "trunk"."""
        return self.source.split(" ", 1)[0]
