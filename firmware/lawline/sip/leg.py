"""Outbound legs to duty phones, confirmed by the callee pressing 1.

A mobile's voicemail or a carrier announcement "answers" a forwarded call like a person does
(reference/field.md, complaint 1), so answering is not accepting: the callee hears a whisper
and only the DTMF digit 1 (RFC 4733) accepts. Early media and anything said before the key
are ignored; no key within the confirm timeout counts as not answered.
"""

import asyncio
import logging
from dataclasses import dataclass

import pjsua2 as pj

from ..errors import SipError

log = logging.getLogger("lawline.sip")


class LocalAccount(pj.Account):
    """The box's SIP identity. Without a trunk (issue 2) nothing registers, and every incoming
    request is refused: the box needs no open door for callers from the SIP side."""

    def __init__(self, core, uri):
        super().__init__()
        cfg = pj.AccountConfig()
        cfg.idUri = uri
        cfg.regConfig.registerOnAdd = False
        self.create(cfg)
        self.core = core

    def onIncomingCall(self, prm):
        try:
            call = pj.Call(self, prm.callId)
            op = pj.CallOpParam()
            op.statusCode = 403
            call.hangup(op)
            log.warning("SIP: refused an incoming call: the box only places calls")
        except Exception:
            pass


class Leg(pj.Call):
    """One call to one duty phone. Every pjsua2 callback only posts to the loop."""

    def __init__(self, account, core, number, uri):
        super().__init__(account)
        self.core = core
        self.number = number
        self.uri = uri
        self.loop = asyncio.get_running_loop()
        self.events = asyncio.Queue()
        self.audio = None
        self.confirmed = False
        self.disconnected = False
        self.last_code = None

    def _post(self, *event):
        try:
            self.loop.call_soon_threadsafe(self.events.put_nowait, event)
        except RuntimeError:
            pass

    def onCallState(self, prm):
        try:
            info = self.getInfo()
            self._post("state", info.state, info.lastStatusCode, info.lastReason)
        except Exception:
            pass

    def onCallMediaState(self, prm):
        try:
            info = self.getInfo()
            for media in info.media:
                if media.type == pj.PJMEDIA_TYPE_AUDIO and \
                        media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                    self._post("media", media.index)
        except Exception:
            pass

    def onDtmfDigit(self, prm):
        try:
            self._post("dtmf", prm.digit)
        except Exception:
            pass

    def dial(self):
        op = pj.CallOpParam(True)
        try:
            self.makeCall(self.uri, op)
        except pj.Error as exc:
            raise SipError(f"SIP: cannot call {self.uri}: {exc.info()}") from None

    def cancel(self):
        if self.disconnected:
            return
        try:
            op = pj.CallOpParam()
            op.statusCode = 603 if self.confirmed else 487
            self.hangup(op)
        except pj.Error:
            pass

    def take_event(self, event):
        """Update own state from an event; returns the event."""
        kind = event[0]
        if kind == "state":
            _, state, code, _reason = event
            self.last_code = code
            if state == pj.PJSIP_INV_STATE_CONFIRMED:
                self.confirmed = True
            elif state == pj.PJSIP_INV_STATE_DISCONNECTED:
                self.disconnected = True
        elif kind == "media":
            try:
                self.audio = self.getAudioMedia(event[1])
            except pj.Error:
                self.audio = None
        return event


@dataclass
class LegResult:
    number: str
    outcome: str         # accepted, busy, no_answer, declined, no_key, failed, caller_gone
    code: int = None
    seconds_to_answer: float = None


async def confirm_leg(core, account, number, uri, whisper_path, ring_timeout,
                      confirm_timeout, caller_gone):
    """Call one duty phone and wait for it to accept. Returns (LegResult, leg or None); the
    leg is returned only when accepted, with its audio ready to bridge. `caller_gone` is an
    asyncio.Event: when it is set, the leg is cancelled at once."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    leg = Leg(account, core, number, uri)
    core.keep(leg)
    whisper = None
    result = None
    try:
        leg.dial()
        log.info("duty %s: calling %s", number, uri)
        deadline = started + ring_timeout
        gone = asyncio.ensure_future(caller_gone.wait())
        try:
            while result is None:
                now = loop.time()
                if now >= deadline:
                    outcome = "no_key" if leg.confirmed else "no_answer"
                    result = LegResult(number, outcome, leg.last_code)
                    break
                get = asyncio.ensure_future(leg.events.get())
                done, _ = await asyncio.wait({get, gone}, timeout=deadline - now,
                                             return_when=asyncio.FIRST_COMPLETED)
                if gone in done:
                    get.cancel()
                    result = LegResult(number, "caller_gone", leg.last_code)
                    break
                if get not in done:
                    get.cancel()
                    continue
                event = leg.take_event(get.result())
                kind = event[0]
                if kind == "state" and leg.disconnected:
                    code = leg.last_code
                    outcome = ("busy" if code in (486, 600) else
                               "declined" if code in (603,) else
                               "no_answer" if code in (408, 480, 487) else "failed")
                    result = LegResult(number, outcome, code)
                elif kind == "state" and leg.confirmed and whisper is None:
                    # Answered: from now on the confirm timeout runs, not the ring timeout.
                    deadline = loop.time() + confirm_timeout
                    log.info("duty %s: answered after %.1f s; whisper played, waiting for 1",
                             number, loop.time() - started)
                if leg.confirmed and leg.audio is not None and whisper is None:
                    whisper = core.player(whisper_path, repeat=True)
                    whisper.startTransmit(leg.audio)
                elif kind == "dtmf" and leg.confirmed:
                    digit = event[1]
                    if digit == "1":
                        result = LegResult(number, "accepted", leg.last_code,
                                           round(loop.time() - started, 3))
                    elif digit == "2":
                        result = LegResult(number, "declined", leg.last_code)
                    else:
                        log.info("duty %s: pressed %s, waiting for 1", number, digit)
        finally:
            gone.cancel()
    finally:
        if whisper is not None:
            core.stop_player(whisper, *( [leg.audio] if leg.audio is not None else []))
            whisper = None
    if result.outcome == "accepted":
        log.info("duty %s: accepted after %.1f s", number, result.seconds_to_answer)
        return result, leg
    log.info("duty %s: %s%s", number, result.outcome.replace("_", " "),
             f" (SIP {result.code})" if result.code else "")
    await hang_up(core, leg)
    return result, None


async def hang_up(core, leg, timeout=2.0):
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
