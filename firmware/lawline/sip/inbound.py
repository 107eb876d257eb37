"""A call the prefecture's switchboard transfers down, as a line for the call script.

The call script and its driver (call/script.py, call/driver.py) run a call on a line: a
modem to answer and hang up, its events (keys, the end), and the line's port in the media
core. A SIP call from the switchboard (sip/switchboard.py decides which INVITE is one) is
such a line too: `SipLine` gives the driver what a modem line gives it, with the call's own
audio in the conference bridge as the port (prompts play to it, the recorder listens to it,
the bridge joins it to a duty leg). Each such call has its own line, so several may be up
at once beside the modem lines ([switchboard] max_calls).

pjsua2's callbacks only post to the loop (STYLE.md 6); they run inside libHandleEvents on
the loop's thread (sip/endpoint.py), so the objects here are only touched there.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

import pjsua2 as pj

from ..events import PartEvent
from .switchboard import Transfer

log = logging.getLogger("lawline.sip")

ANSWER_TIMEOUT = 10.0       # 200 OK to ACK and audio: a switchboard that never ACKs is gone
HANGUP_TIMEOUT = 2.0


def _guard(method: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    def wrapper(self: Any, prm: Any) -> None:
        try:
            method(self, prm)
        except Exception:  # noqa: BLE001 - a director callback must never raise (pjsua2.md)
            log.exception("SIP: error in %s of a switchboard call", method.__name__)
    wrapper.__name__ = method.__name__
    return wrapper


class InboundCall(pj.Call):  # type: ignore[misc]
    """One call from the switchboard. Create it inside onIncomingCall (pjsua2 needs the Call
    before the callback returns)."""

    def __init__(self, account: Any, call_id: int, name: str) -> None:
        super().__init__(account, call_id)
        self.loop = asyncio.get_running_loop()
        self.name = name
        self.events: asyncio.Queue[PartEvent] = asyncio.Queue()   # begin, dtmf, ended
        self.audio: Any = None
        self.confirmed = False
        self.disconnected = False
        self.media_ready: asyncio.Future[Any] = self.loop.create_future()
        self.up = asyncio.Event()               # CONFIRMED: the switchboard's ACK came
        self.gone = asyncio.Event()

    def _post(self, kind: str, **fields: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(self.events.put_nowait,
                                           PartEvent(f"line {self.name}", kind, **fields))
        except RuntimeError:
            pass

    @_guard
    def onCallState(self, prm: Any) -> None:
        info = self.getInfo()
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED and not self.confirmed:
            self.confirmed = True
            self._post("begin")
            self.loop.call_soon_threadsafe(self.up.set)
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED and not self.disconnected:
            self.disconnected = True
            self._post("ended", detail=f"SIP {info.lastStatusCode} {info.lastReason}")
            self.loop.call_soon_threadsafe(self.gone.set)

    @_guard
    def onCallMediaState(self, prm: Any) -> None:
        info = self.getInfo()
        for media in info.media:
            if media.type == pj.PJMEDIA_TYPE_AUDIO and \
                    media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                self.audio = self.getAudioMedia(media.index)
                if not self.media_ready.done():
                    self.media_ready.set_result(self.audio)
                else:
                    # a re-INVITE (the switchboard held the call and took it back): pjsua
                    # gave the audio a new bridge slot; the call follows it (call/driver.py)
                    self._post("media", index=media.index)

    @_guard
    def onDtmfDigit(self, prm: Any) -> None:
        self._post("dtmf", digit=prm.digit)

    # The switchboard moves no call elsewhere through the box (sip/door.py refuses both
    # before pjsua sees them; these refuse them again).
    @_guard
    def onCallTransferRequest(self, prm: Any) -> None:
        prm.statusCode = 403
        log.warning("%s: refused a transfer (REFER) to %r with 403", self.name, prm.dstUri)

    @_guard
    def onCallReplaceRequest(self, prm: Any) -> None:
        prm.statusCode = 403
        log.warning("%s: refused an INVITE with Replaces with 403", self.name)

    def reply(self, code: int) -> None:
        op = pj.CallOpParam()
        op.statusCode = code
        self.answer(op)

    async def take(self, timeout: float = ANSWER_TIMEOUT) -> Any:
        """Answer 200 and wait for the ACK and the audio; returns the call's AudioMedia."""
        self.reply(200)
        up = asyncio.ensure_future(self.up.wait())
        gone = asyncio.ensure_future(self.gone.wait())
        try:
            await asyncio.wait({up, gone}, timeout=timeout,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            up.cancel()
            gone.cancel()
        if not self.confirmed or self.disconnected:
            raise TimeoutError(f"{self.name}: no ACK within {timeout:g} s")
        await asyncio.wait_for(self.media_ready, timeout)
        return self.audio

    async def end(self, timeout: float = HANGUP_TIMEOUT) -> None:
        """BYE (or a final answer while it still rings), and wait until it is gone."""
        if self.disconnected:
            return
        try:
            op = pj.CallOpParam()
            op.statusCode = 603 if not self.confirmed else 200
            self.hangup(op)
        except pj.Error:
            pass
        try:
            await asyncio.wait_for(self.gone.wait(), timeout)
        except asyncio.TimeoutError:
            pass


class _NoJitter:
    def clear(self) -> None:
        pass


class NoPcm:
    """A SIP line has no serial PCM: its audio is the call's own media in the bridge."""
    jitter = _NoJitter()

    def close(self) -> None:
        pass


class SipCallModem:
    """What call/driver.py uses of a line's modem, for one call from the switchboard: the
    caller (the original caller the switchboard named), its state, hanging up. The call is
    answered before the script starts (the box needs its audio as the line's port)."""

    def __init__(self, call: InboundCall, transfer: Transfer) -> None:
        self.call = call
        self.transfer = transfer            # sip/switchboard.Transfer: the script reads it
        self.caller = transfer.caller.number
        self.caller_raw = transfer.caller.raw
        self.name = call.name
        self.events = call.events
        self.rings = 1
        self.ringing = False
        self.can_bridge = True
        self.audio_open = False

    @property
    def in_call(self) -> bool:
        return self.call.confirmed and not self.call.disconnected

    async def answer(self) -> None:
        """Answered already (SipLine.take): nothing to do."""

    async def open_audio(self) -> None:
        self.audio_open = True

    async def close_audio(self) -> None:
        self.audio_open = False

    async def hangup(self) -> None:
        await self.call.end()


class SipLine:
    """The line a switchboard call runs on: what call/lines.Line gives the box for a modem."""

    def __init__(self, number: int, call: InboundCall, transfer: Transfer, port: Any,
                 phone_number: str) -> None:
        self.number = number
        self.modem = SipCallModem(call, transfer)
        self.pcm = NoPcm()
        self.port = port                   # the call's AudioMedia in the bridge
        self.phone_number = phone_number   # the county's line the switchboard called
        self.rang_s: float | None = None   # the box answers a switchboard call at once

    @property
    def name(self) -> str:
        return f"switchboard call {self.number} ({self.modem.name})"

    def audio_now(self) -> Any:
        """The call's audio in the bridge now (InboundCall keeps it as each re-INVITE moves
        it; the line's "media" event says it moved), or None once the call is over."""
        return self.modem.call.audio
