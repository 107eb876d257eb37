"""Outbound legs to duty phones, confirmed by the callee pressing 1.

A mobile's voicemail or a carrier announcement "answers" a forwarded call like a person does
(reference/field.md, complaint 1), so answering is not accepting: the callee hears a whisper
and only the DTMF digit 1 accepts (RFC 4733, or SIP INFO from phones without it: pjsua2
reports both through onDtmfDigit). Early media and anything said before the key are
ignored; no key within the confirm timeout counts as not answered.

A leg reports on `leg.events` in the box's one event type (lawline/events.py): progress,
begin (answered), ended, media (audio active) and dtmf.

Legs are only ever created by a `hunt.Dialler`, which refuses numbers outside the duty
lists (toll fraud, DESIGN.md Security).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import pjsua2 as pj

from ..errors import SipError
from ..events import PartEvent

if TYPE_CHECKING:
    from .endpoint import Player

log = logging.getLogger("lawline.sip")

DTMF_METHODS: dict[int, str] = {pj.PJSUA_DTMF_METHOD_RFC2833: "RFC 4733",
                                 pj.PJSUA_DTMF_METHOD_SIP_INFO: "SIP INFO"}


class AccountCore(Protocol):
    """The media core, as the local account reads it (sip/endpoint.MediaCore)."""
    @property
    def transport_id(self) -> int | None: ...
    @property
    def bind(self) -> str: ...


class LegCore(Protocol):
    """The media core, as a leg uses it (sip/endpoint.MediaCore): it plays the whisper to the
    leg and lets the leg go once hung up. The dialler's core also keeps each new leg alive
    (sip/hunt.LegKeeper)."""
    def release(self, obj: object) -> None: ...
    def player(self, path: str | os.PathLike[str], repeat: bool = False) -> Player: ...
    def stop_player(self, player: Player, *targets: pj.AudioMedia) -> None: ...


# pjsua2 has no type information: subclassing its classes (Any) is the boundary
class LocalAccount(pj.Account):  # type: ignore[misc]
    """The box's SIP identity without a trunk: nothing registers, duty phones are called
    directly, and every incoming request is refused: the box needs no open door for callers
    from the SIP side."""

    def __init__(self, core: AccountCore, uri: str) -> None:
        super().__init__()
        cfg = pj.AccountConfig()
        cfg.idUri = uri
        cfg.regConfig.registerOnAdd = False
        if core.transport_id is not None:
            cfg.sipConfig.transportId = core.transport_id
        cfg.mediaConfig.transportConfig.boundAddress = core.bind   # RTP not on 0.0.0.0
        self.create(cfg)
        self.core = core

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        try:
            source = prm.rdata.srcAddress
            call = pj.Call(self, prm.callId)
            op = pj.CallOpParam()
            op.statusCode = 403
            call.hangup(op)
            log.warning("SIP: refused an incoming call from %s: the box only places calls",
                        source)
        except Exception:
            pass


# pjsua2 has no type information: subclassing its classes (Any) is the boundary
class Leg(pj.Call):  # type: ignore[misc]
    """One call to one duty phone. Every pjsua2 callback only posts to the loop."""

    def __init__(self, account: pj.Account, core: LegCore, number: str, uri: str,
                 headers: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(account)
        self.core = core
        self.number = number
        self.uri = uri
        self.headers = list(headers)
        self.loop = asyncio.get_running_loop()
        self.events: asyncio.Queue[PartEvent] = asyncio.Queue()
        self.audio: pj.AudioMedia | None = None
        self.confirmed = False
        self.disconnected = False
        self.last_code: int | None = None
        self.dialled_at: float | None = None    # loop time of makeCall
        self.confirmed_at: float | None = None  # loop time the 200 OK was acknowledged
        self.dtmf_method: str | None = None

    def _post(self, kind: str, *, code: int | None = None, detail: str = "",
              digit: str | None = None, index: int | None = None) -> None:
        event = PartEvent(f"leg {self.uri}", kind, number=self.number, digit=digit, code=code,
                          detail=detail, index=index)
        try:
            self.loop.call_soon_threadsafe(self.events.put_nowait, event)
        except RuntimeError:
            pass

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        try:
            info = self.getInfo()
            kind = {pj.PJSIP_INV_STATE_CONFIRMED: "begin",
                    pj.PJSIP_INV_STATE_DISCONNECTED: "ended"}.get(info.state, "progress")
            self._post(kind, code=info.lastStatusCode, detail=info.lastReason)
        except Exception:
            pass

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        try:
            info = self.getInfo()
            for media in info.media:
                if media.type == pj.PJMEDIA_TYPE_AUDIO and \
                        media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                    self._post("media", index=media.index)
        except Exception:
            pass

    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:
        try:
            self._post("dtmf", digit=prm.digit,
                       detail=DTMF_METHODS.get(prm.method, str(prm.method)))
        except Exception:
            pass

    # A far end that tries to move the call elsewhere. The door (sip/door.py) refuses both
    # before pjsua sees them; these refuse them again should a request ever get past it.
    def onCallTransferRequest(self, prm: pj.OnCallTransferRequestParam) -> None:
        try:
            prm.statusCode = 403        # never dial the Refer-To: toll fraud
            log.warning("duty %s: refused a transfer (REFER) to %r with 403", self.number,
                        prm.dstUri)
        except Exception:
            pass

    def onCallReplaceRequest(self, prm: pj.OnCallReplaceRequestParam) -> None:
        try:
            prm.statusCode = 403        # no one takes over a duty leg
            log.warning("duty %s: refused an INVITE with Replaces from %r with 403",
                        self.number, prm.rdata.srcAddress)
        except Exception:
            pass

    def dial(self) -> None:
        op = pj.CallOpParam(True)
        for name, value in self.headers:
            header = pj.SipHeader()
            header.hName = name
            header.hValue = value
            op.txOption.headers.append(header)
        try:
            self.makeCall(self.uri, op)
        except pj.Error as exc:
            raise SipError(f"SIP: cannot call {self.uri}: {exc.info()}") from None
        self.dialled_at = self.loop.time()

    def cancel(self) -> None:
        """CANCEL while it rings, BYE once answered (pjsua2 picks by the call's state)."""
        if self.disconnected:
            return
        try:
            op = pj.CallOpParam()
            op.statusCode = 603 if self.confirmed else 487
            self.hangup(op)
        except pj.Error:
            pass

    def take_event(self, event: PartEvent) -> PartEvent:
        """Update own state from one of its events; returns the event."""
        if event.kind in ("progress", "begin", "ended"):
            self.last_code = event.code
        if event.kind == "begin" and not self.confirmed:
            self.confirmed = True
            self.confirmed_at = self.loop.time()
        elif event.kind == "ended":
            self.disconnected = True
        elif event.kind == "media":
            try:
                self.audio = self.getAudioMedia(event.index)
            except pj.Error:
                self.audio = None
        return event

    @property
    def setup_s(self) -> float | None:
        """INVITE sent to call CONFIRMED, seconds (None if never answered)."""
        if self.dialled_at is None or self.confirmed_at is None:
            return None
        return round(self.confirmed_at - self.dialled_at, 4)


@dataclass
class LegResult:
    number: str
    # accepted, busy, no_answer, declined, no_key, failed, caller_gone, cancelled, refused
    outcome: str
    code: int | None = None
    seconds_to_answer: float | None = None  # from dialling to the accepting key
    setup_s: float | None = None            # INVITE to CONFIRMED

    def as_record(self) -> dict[str, str | int | float | None]:
        return {"number": self.number, "outcome": self.outcome, "sip_code": self.code,
                "seconds_to_accept": self.seconds_to_answer, "setup_s": self.setup_s}


class Placer(Protocol):
    """What rings a duty phone (confirm_leg): the Dialler, or the Handover to the
    prefecture's switchboard (sip/hunt.py)."""
    @property
    def core(self) -> LegCore: ...
    def place(self, number: str) -> Leg | None: ...
    def leg_failed(self, result: LegResult) -> None: ...


def _outcome(code: int | None) -> str:
    if code in (486, 600):
        return "busy"
    if code == 603:
        return "declined"
    if code in (408, 480, 487):
        return "no_answer"
    return "failed"


async def confirm_leg(dialler: Placer, number: str, whisper_path: str | os.PathLike[str],
                      ring_timeout: float, confirm_timeout: float, caller_gone: asyncio.Event,
                      stop: asyncio.Event | None = None,
                      confirm: bool = True) -> tuple[LegResult, Leg | None]:
    """Call one duty phone and wait for it to accept. Returns (LegResult, leg or None); the
    leg is returned only when accepted, with its audio ready to bridge. `caller_gone` is an
    asyncio.Event: when it is set, the leg is cancelled at once; so it is when `stop` is
    set (another leg of a ring-all accepted first). `confirm` False (the prefecture's
    switchboard, an ACD with nobody to press 1): answering accepts once the whisper has
    played to its end, keys are ignored."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    leg = dialler.place(number)
    if leg is None:
        return LegResult(number, "refused"), None
    core = dialler.core
    whisper: Player | None = None
    heard: asyncio.Future[bool] | None = None   # confirm False: the whisper's end accepts
    result: LegResult | None = None
    answered = False
    waits = [asyncio.ensure_future(caller_gone.wait())]
    if stop is not None:
        waits.append(asyncio.ensure_future(stop.wait()))
    try:
        leg.dial()
        log.info("duty %s: calling %s", number, leg.uri)
        deadline = started + ring_timeout
        while result is None:
            now = loop.time()
            if now >= deadline:
                outcome = "no_key" if leg.confirmed else "no_answer"
                result = LegResult(number, outcome, leg.last_code)
                break
            get = asyncio.ensure_future(leg.events.get())
            watched: set[asyncio.Future[Any]] = {get, *waits, *([heard] if heard else [])}
            done, _ = await asyncio.wait(watched, timeout=deadline - now,
                                         return_when=asyncio.FIRST_COMPLETED)
            if get not in done:
                get.cancel()
                if waits[0] in done:
                    result = LegResult(number, "caller_gone", leg.last_code)
                elif len(waits) > 1 and waits[1] in done:
                    result = LegResult(number, "cancelled", leg.last_code)
                elif heard is not None and heard in done:
                    result = LegResult(number, "accepted", leg.last_code,
                                       round(loop.time() - started, 3))
                    leg.dtmf_method = "answer"
                continue
            event = leg.take_event(get.result())
            if event.kind == "ended":
                result = LegResult(number, _outcome(leg.last_code), leg.last_code)
            elif event.kind == "begin" and not answered:
                answered = True
                # Answered: from now on the confirm timeout runs, not the ring timeout.
                deadline = loop.time() + confirm_timeout
                log.info("duty %s: answered after %.1f s (set-up %.0f ms); whisper played, "
                         "waiting for 1", number, loop.time() - started,
                         1000 * (leg.setup_s or 0))
            if leg.confirmed and leg.audio is not None and whisper is None:
                whisper = core.player(whisper_path, repeat=confirm)
                whisper.startTransmit(leg.audio)
                if not confirm:
                    heard = whisper.done
            if event.kind == "dtmf" and leg.confirmed and result is None and confirm:
                digit, method = event.digit, event.detail
                if digit == "1":
                    result = LegResult(number, "accepted", leg.last_code,
                                       round(loop.time() - started, 3))
                    leg.dtmf_method = method
                elif digit == "2":
                    result = LegResult(number, "declined", leg.last_code)
                else:
                    log.info("duty %s: pressed %s (%s), waiting for 1", number, digit, method)
    except SipError as exc:
        log.error("duty %s: %s", number, exc)
        result = LegResult(number, "failed")
        leg.disconnected = leg.dialled_at is None   # never sent: nothing to wait for
    except BaseException:
        leg.cancel()        # cancelled from outside (the box stopping): leave nothing ringing
        raise
    finally:
        for wait in waits:
            wait.cancel()
        if whisper is not None:
            core.stop_player(whisper, *([leg.audio] if leg.audio is not None else []))
            whisper = None
    result.setup_s = leg.setup_s
    if result.outcome == "accepted":
        log.info("duty %s: accepted after %.1f s (1 by %s)", number,
                 result.seconds_to_answer, leg.dtmf_method)
        return result, leg
    log.info("duty %s: %s%s", number, result.outcome.replace("_", " "),
             f" (SIP {result.code})" if result.code else "")
    dialler.leg_failed(result)
    await hang_up(core, leg)
    return result, None


async def hang_up(core: LegCore, leg: Leg, timeout: float = 2.0) -> None:
    """End a leg and wait until pjsua2 reports it gone, then let it be deleted."""
    leg.cancel()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not leg.disconnected and loop.time() < deadline:
        try:
            event = await asyncio.wait_for(leg.events.get(), deadline - loop.time())
            leg.take_event(event)
        except asyncio.TimeoutError:
            break
    leg.audio = None
    core.release(leg)
