"""The SIP trunk: the box's account at the carrier, its registration, and what it binds.

pjsua2 registers with digest auth and registers again before the registration runs out.
This file adds what a duty line needs on top: an outage is noticed between registrations
(an OPTIONS to the registrar every `keepalive` seconds; no reply within `reply_timeout`
means unregistered), a refused or lost registration is retried with a doubling wait, and
the state is one plain sentence: in the log, in `lawline check` (box.status "trunk") and in
`Trunk.state` / `MediaCore.trunk_state`. pjsua's own retry is off so only one retry policy
runs.

What the box binds (DESIGN.md, Security): one SIP socket on [sip] bind:port (UDP; with
transport = "tls" a TLS listener, as pjsip has no client-only TLS) and, per call, an RTP and
an RTCP UDP port on the same address. Every incoming INVITE is refused with 403, from the
trunk or anywhere else: the box only places calls. A firewall limiting the SIP port to the
trunk's address is the outer guard. The one exception, when [switchboard] is configured: a
call the prefecture's switchboard transfers down through the trunk (`on_incoming`, app.py,
sip/switchboard.py).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import pjsua2 as pj

from ..events import PartEvent
from ..secretfile import read_secret
from .endpoint import MediaCore
from ..status import FAIL, OK
from .registration import TrunkState

if TYPE_CHECKING:
    from ..settings import OfficeSection, SipSection, TrunkSection
    from ..status import Status

log = logging.getLogger("lawline.sip")

SRTP = {"off": pj.PJMEDIA_SRTP_DISABLED, "optional": pj.PJMEDIA_SRTP_OPTIONAL,
        "mandatory": pj.PJMEDIA_SRTP_MANDATORY}
REFRESH_MARGIN = 5      # s: pjsua2 registers again this long before the registration expires


class TrunkConfig(Protocol):
    """What `configured` reads of the configuration: its [trunk] section."""
    @property
    def trunk(self) -> TrunkSection: ...


class ProbeConfig(TrunkConfig, Protocol):
    """What `probe` reads: [sip] (the endpoint), [trunk] and [office] (its number)."""
    @property
    def sip(self) -> SipSection: ...
    @property
    def office(self) -> OfficeSection: ...


def configured(cfg: TrunkConfig) -> bool:
    return bool(cfg.trunk.registrar)


def read_password(path: str) -> str:
    """The trunk password from its file. Refused when group or others may read the file:
    the password is the key to the county's phone bill (secretfile.py, shared by every
    secret the box reads)."""
    return read_secret(path, "trunk", "password_file")


def _host(uri: str) -> str:
    m = re.match(r"sips?:(?:[^@;>]*@)?(\[[^\]]+\]|[^:;>]+)", uri)
    return m.group(1) if m else uri


def _with_tls(uri: str) -> str:
    """pjsip picks the transport from the URI: a TLS trunk's URIs must say so."""
    if not uri or "transport=" in uri.lower() or uri.startswith("sips:"):
        return uri
    return uri + ";transport=tls"


def retry_delay(failures: int, first: float, longest: float) -> float:
    """Wait before registration attempt number `failures` + 1: doubling, capped. The count
    grows for as long as the trunk stays away (every ping that goes unanswered adds one):
    the doubling stops at 2**30, or a day's outage would make a number too large for a
    float (OverflowError in the loop's callback, and no retry armed again)."""
    doublings: int = 2 ** min(30, max(0, failures - 1))
    return min(longest, first * doublings)


def explain(code: int, reason: str, user: str) -> str:
    """A registrar's answer in plain words, naming the account."""
    if code in (401, 407):
        return f"{code} wrong password for user {user}"
    if code == 403:
        return f"403 the trunk refuses user {user} ({reason})"
    if code == 404:
        return f"404 the trunk does not know user {user}"
    if code == 408:
        return "408 no reply from the registrar"
    if code in (502, 503) and reason and reason.lower() not in ("service unavailable",
                                                                "bad gateway"):
        return f"{code} cannot reach the registrar: {reason}"
    return f"{code} {reason}".strip()


# a pjsua2 callback of TrunkAccount: (account, its pjsua2 parameter)
Callback = Callable[["TrunkAccount", Any], None]


def _guard(fn: Callback) -> Callback:
    def wrapper(self: TrunkAccount, prm: Any) -> None:
        try:
            fn(self, prm)
        except Exception:  # noqa: BLE001 - a director callback must never raise (pjsua2.md)
            log.exception("SIP trunk: error in %s", fn.__name__)
    wrapper.__name__ = fn.__name__
    return wrapper


# pjsua2 has no type information: subclassing its classes (Any) is the boundary
class TrunkAccount(pj.Account):  # type: ignore[misc]
    """pjsua2 callbacks only post to the loop (STYLE.md 6)."""

    def __init__(self, trunk: Trunk) -> None:
        super().__init__()
        self.trunk = trunk

    @_guard
    def onRegState(self, prm: pj.OnRegStateParam) -> None:
        self.trunk.post(PartEvent("trunk", "registration", code=prm.code, detail=prm.reason,
                                  expires=prm.expiration))

    @_guard
    def onSendRequest(self, prm: pj.OnSendRequestParam) -> None:
        self.trunk.post(PartEvent("trunk", "ping", code=prm.e.body.tsxState.tsx.statusCode))

    @_guard
    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        source = prm.rdata.srcAddress
        # the prefecture's switchboard transferring a caller down (issue 17.9b, app.py):
        # taken there; everything else is refused as before
        if self.trunk.on_incoming is not None and self.trunk.on_incoming(self, prm):
            return
        call = pj.Call(self, prm.callId)
        op = pj.CallOpParam()
        op.statusCode = 403
        call.hangup(op)
        log.warning("SIP: refused an incoming call from %s: the box only places calls", source)


class Trunk:
    """The trunk from its config sections: [trunk], and [office] for the number it shows
    when [trunk] caller_id is empty."""

    def __init__(self, trunk: TrunkSection, office: OfficeSection,
                 status: Status | None = None) -> None:
        t = self.settings = trunk
        self.tls = t.transport == "tls"
        self.registrar = _with_tls(t.registrar) if self.tls else t.registrar
        self.proxy = (_with_tls(t.outbound_proxy) if self.tls else t.outbound_proxy) or None
        self.user = t.username
        self.domain = t.domain or _host(t.registrar)
        self.caller_id = t.caller_id or office.number
        self.aor = f"{self.caller_id}@{self.domain}"
        self.password = read_password(t.password_file)
        self.status = status            # app Status: the "trunk" part for lawline check
        self.state = TrunkState(t.registrar, self.user, self.aor)
        self.account: TrunkAccount | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        # (account, prm) -> True when a call was taken
        self.on_incoming: Callable[[TrunkAccount, pj.OnIncomingCallParam], bool] | None = None
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._ping_out: float | None = None     # loop time an unanswered OPTIONS was sent
        self._reg_out: float | None = None      # loop time a REGISTER we asked for was sent
        self._stopped = False

    # -- what the rest of the box uses -------------------------------------------------

    @property
    def registered(self) -> bool:
        return self.state.registered

    def uri_for(self, number: str) -> str:
        uri = self.settings.dial_template.format(number=number, domain=self.domain)
        return _with_tls(uri) if self.tls and not self.proxy else uri

    def call_headers(self) -> list[tuple[str, str]]:
        """Extra headers of every outbound INVITE: the hotline number is what the duty
        phone sees, never the caller's (reference/field.md (b) 14)."""
        return [("P-Asserted-Identity", f"<sip:{self.aor}>")]

    def suspect(self, code: int) -> None:
        """A call through the trunk failed in a way that smells of an outage (408, 503):
        ask the registrar now instead of at the next keepalive."""
        log.info("SIP trunk %s: call failed with %s; checking the trunk now",
                 self.state.registrar, code)
        self._ping()

    # -- start and stop ------------------------------------------------------------------

    def account_config(self, core: MediaCore) -> pj.AccountConfig:
        t = self.settings
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:{self.aor}"
        acfg.regConfig.registrarUri = self.registrar
        acfg.regConfig.timeoutSec = t.expiry
        acfg.regConfig.delayBeforeRefreshSec = REFRESH_MARGIN
        acfg.regConfig.retryIntervalSec = 0        # our retry with backoff, not pjsua's
        acfg.regConfig.firstRetryIntervalSec = 0
        acfg.regConfig.dropCallsOnFail = False
        acfg.regConfig.unregWaitMsec = 1500         # at shutdown, towards a dead trunk too
        acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", self.user, 0,
                                                        self.password))
        if self.proxy:
            acfg.sipConfig.proxies.append(self.proxy)
        acfg.sipConfig.transportId = core.transport_id
        # RTP on the SIP address only, never on every interface
        acfg.mediaConfig.transportConfig.boundAddress = core.bind
        acfg.mediaConfig.srtpUse = SRTP[t.srtp]
        # SDES keys travel in the SDP: with TLS require it on the first hop; over UDP allow
        # SRTP anyway (warned about at start)
        acfg.mediaConfig.srtpSecureSignaling = 1 if (self.tls and t.srtp != "off") else 0
        return acfg

    def start(self, core: MediaCore) -> TrunkAccount:
        """Create the account (it registers at once). Call on the running loop's thread."""
        self.loop = asyncio.get_running_loop()
        t = self.settings
        if t.srtp != "off" and not self.tls:
            log.warning("SIP trunk %s: srtp = %s over UDP: the SRTP keys cross the network "
                        "in clear SDP; use transport = \"tls\"", t.registrar, t.srtp)
        self.account = TrunkAccount(self)
        self.account.create(self.account_config(core), True)
        core.trunk = self
        self._reg_out = self.loop.time()
        self._later("reply", t.reply_timeout, self._no_reply, "REGISTER")
        log.info("SIP trunk %s: registering as %s (user %s, %s%s%s)", t.registrar, self.aor,
                 self.user, t.transport.upper(), f", outbound proxy {self.proxy}"
                 if self.proxy else "", f", SRTP {t.srtp}" if t.srtp != "off" else "")
        if t.keepalive:
            self._later("ping", t.keepalive, self._ping)
        return self.account

    def stop(self) -> None:
        self._stopped = True
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

    # -- events (on the loop) -----------------------------------------------------------

    def post(self, event: PartEvent) -> None:
        """A trunk PartEvent from a pjsua2 callback: handled on the loop (STYLE.md 6)."""
        if self.loop is None or self._stopped:
            return
        try:
            self.loop.call_soon_threadsafe(self._event, event)
        except RuntimeError:
            pass

    def _event(self, event: PartEvent) -> None:
        if self._stopped:
            return
        if event.kind == "registration":
            # TrunkAccount's events: pjsua2 always gives the code and the expiry
            assert event.code is not None and event.expires is not None
            self._on_reg(event.code, event.detail, event.expires)
        elif event.kind == "ping":
            assert event.code is not None
            self._on_ping(event.code)

    def _on_reg(self, code: int, reason: str, expiration: int) -> None:
        self._reg_out = None
        self._cancel("reply")
        if 200 <= code < 300 and expiration > 0:
            self.state.failures = 0
            self._cancel("retry")
            self._set(True, code, "", expiration)
            # the next refresh is due REFRESH_MARGIN s before expiry; silence past that
            # plus reply_timeout means the registrar is gone
            self._later("reply", max(1, expiration - REFRESH_MARGIN)
                        + self.settings.reply_timeout, self._no_reply, "REGISTER")
        elif 200 <= code < 300:
            self._set(False, code, "unregistered on request")
        else:
            self._failed(code, explain(code, reason, self.user))

    def _on_ping(self, code: int) -> None:
        self._ping_out = None
        in_time = "pingwait" in self._timers
        self._cancel("pingwait")
        if code in (408, 503) or code < 100:
            # pjsip's own 408/503: the request timed out or could not be sent (already
            # counted if our shorter reply_timeout ran out first)
            if in_time:
                self._failed(code, f"{code} no reply from the trunk to OPTIONS")
        elif not self.state.registered and "retry" not in self._timers \
                and self._reg_out is None:
            # the trunk answers again: register now rather than at the next retry
            self._register()

    def _no_reply(self, what: str) -> None:
        self._timers.pop("reply", None)
        self._failed(None, f"no reply from the registrar to {what} within "
                     f"{self.settings.reply_timeout:g} s")

    def _ping_timeout(self) -> None:
        self._timers.pop("pingwait", None)
        self._failed(None, f"no reply from the trunk to OPTIONS within "
                     f"{self.settings.reply_timeout:g} s")

    def _failed(self, code: int | None, why: str) -> None:
        self.state.failures += 1
        self._set(False, code, why)
        if "retry" not in self._timers:
            t = self.settings
            delay = retry_delay(self.state.failures, t.retry_min, t.retry_max)
            log.info("SIP trunk %s: registering again in %g s", t.registrar, delay)
            self._later("retry", delay, self._retry)

    # -- actions -------------------------------------------------------------------------

    def _retry(self) -> None:
        self._timers.pop("retry", None)
        if not self._register():
            self._failed(self.state.code, self.state.why)

    def _register(self) -> bool:
        """Send a REGISTER now. False while pjsip still waits for an earlier one (it has no
        way to abandon it; its retransmissions may still reach a trunk that came back)."""
        assert self.account is not None and self.loop is not None   # start() ran
        try:
            self.account.setRegistration(True)
        except pj.Error as exc:
            log.debug("SIP trunk: REGISTER not sent: %s", exc.info())
            return False
        self._reg_out = self.loop.time()
        self._later("reply", self.settings.reply_timeout, self._no_reply, "REGISTER")
        return True

    def _ping(self) -> None:
        t = self.settings
        if t.keepalive and not self._stopped:
            self._later("ping", t.keepalive, self._ping)
        if self._ping_out is not None or self.account is None:
            return      # the last one is still unanswered: its timeout decides
        prm = pj.SendRequestParam()
        prm.method = "OPTIONS"
        prm.txOption.targetUri = self.registrar
        try:
            self.account.sendRequest(prm)
        except pj.Error as exc:
            self._failed(None, f"cannot send OPTIONS to the trunk: {exc.info()}")
            return
        assert self.loop is not None    # start() set it with the account
        self._ping_out = self.loop.time()
        self._later("pingwait", t.reply_timeout, self._ping_timeout)

    # -- plumbing ------------------------------------------------------------------------

    def _set(self, registered: bool, code: int | None, why: str,
             expires: int | None = None) -> None:
        s = self.state
        if registered != s.registered:
            s.since = time.time()
        s.registered, s.code, s.why, s.expires = registered, code, why, expires
        if self.status is not None:
            self.status.set("trunk", OK if registered else FAIL, s.sentence())
        elif (registered, why) != getattr(self, "_logged", None):
            (log.info if registered else log.error)("%s", s.sentence())
        self._logged = (registered, why)

    def _later(self, name: str, delay: float, fn: Callable[..., None], *args: object) -> None:
        assert self.loop is not None    # start() set it; every timer comes after
        self._cancel(name)
        self._timers[name] = self.loop.call_later(delay, fn, *args)

    def _cancel(self, name: str) -> None:
        handle = self._timers.pop(name, None)
        if handle is not None:
            handle.cancel()


# -- a one-shot probe, for `lawline check` and the tests ---------------------------------

def probe(cfg: ProbeConfig, timeout: float | None = None, port: int = 0) -> TrunkState:
    """Register once with the configured trunk from a fresh endpoint on a free port, and
    return the TrunkState. One pjsua2 endpoint per process: do not call this inside the
    running box (read its state file instead)."""
    async def run() -> TrunkState:
        core = MediaCore(cfg.sip.bind, port, cfg.sip.log_level, transport=cfg.trunk.transport,
                         ca_file=cfg.trunk.ca_file or None)
        trunk = Trunk(cfg.trunk, cfg.office)
        core.start()
        try:
            core.add_account(trunk.start(core))
            deadline = time.monotonic() + (timeout or cfg.trunk.reply_timeout + 1)
            while time.monotonic() < deadline:
                core.handle_events()
                if trunk.state.registered or trunk.state.failures:
                    break
                await asyncio.sleep(0.02)
            else:
                trunk._set(False, None, "no answer from the registrar in time")
            return trunk.state
        finally:
            core.stop()
    return asyncio.run(run())
