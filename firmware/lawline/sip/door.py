"""The box's SIP door: which requests reach pjsua at all, and what the box says it allows.

pjsua answers a lot on its own: OPTIONS (200 with the box's capabilities), MESSAGE (200 before
any callback), SUBSCRIBE (presence), REFER inside a call (it would dial the Refer-To: toll
fraud through a duty leg), and an INVITE with Replaces (it would answer the intruder and hang
up the duty leg). pjsua2 has no hook for most of these, so the box registers one small pjsip
module of its own, in front of the transaction layer, through pjsip's C API (the symbols are
exported by the `_pjsua2` extension, and by a pjsua2 built from source: tools/build-pjsua2.sh).

The rules, decided before pjsua sees the request (stateless 403, one log line, source quoted):
- REFER, in a call or not, from anyone: 403. The box never transfers.
- INVITE with a Replaces header, from anyone: 403. No one takes over a duty leg.
- Outside a call (no To tag): only the trunk's addresses may send anything, and only OPTIONS
  (carriers ping their peers); everything else, and everything from anyone else, is 403.
  Without a trunk no one may (the box only dials out; nothing needs to reach it first).
- Inside a call: only the methods in ALLOW (BYE, INFO for DTMF, re-INVITE, ...); pjsip's
  dialog layer then answers 481 to a dialog that does not exist.

The Allow header is the endpoint's own capability list (pjsip_endpt_add_capability only adds:
sip_xfer.c adds REFER, pjsua_pres/evsub SUBSCRIBE and NOTIFY, pjsua_im MESSAGE), so the door
rewrites that list in place to ALLOW, and drops `replaces` and `norefersub` from Supported.

pjsip's request structure (`pjsip_rx_data`) holds a packet buffer whose size is a build option
(PJSIP_MAX_PKT_LEN), so the fields after it are found once, on the first request, and checked
on every one (three pointers must agree); a build whose layout differs is logged as an error and
the door falls back to the method alone (ALLOW passes, anything else is refused), with
pjsua2's own callbacks still refusing INVITE (trunk.py, leg.py), REFER and Replaces (leg.Leg).
"""

from __future__ import annotations

import ctypes
import ipaddress
import logging
import socket
import time
from collections.abc import Collection, Iterable

from .checks import SipConfig

log = logging.getLogger("lawline.sip")

# What the box's Allow header says and what the door lets through inside a call. INFO carries
# DTMF from phones without RFC 4733; UPDATE and PRACK belong to call set-up; OPTIONS may be
# sent inside a dialog as a keepalive.
ALLOW = ("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "INFO", "UPDATE", "PRACK")
NOT_SUPPORTED = ("replaces", "norefersub")
PJSIP_MAX_PKT_LEN = 4000
PRIORITY = 15           # below PJSIP_MOD_PRIORITY_TSX_LAYER (16): seen before any transaction


# -- pjsip's C structures (only what the door reads) --------------------------------------

class PjStr(ctypes.Structure):
    _fields_ = [("ptr", ctypes.c_void_p), ("slen", ctypes.c_ssize_t)]

    def text(self) -> str:
        if not self.ptr or self.slen <= 0:
            return ""
        return ctypes.string_at(self.ptr, min(self.slen, 4096)).decode("latin-1")


def _pj_str(data: bytes) -> tuple[PjStr, ctypes.Array[ctypes.c_char]]:
    """A pj_str_t over bytes kept alive by the returned pair."""
    buf = ctypes.create_string_buffer(data)
    return PjStr(ctypes.cast(buf, ctypes.c_void_p), len(data)), buf


_HDR_MEMBERS: list[tuple[str, type[ctypes.c_void_p] | type[ctypes.c_int] | type[PjStr]]] = [
    ("prev", ctypes.c_void_p), ("next", ctypes.c_void_p), ("type", ctypes.c_int),
                ("name", PjStr), ("sname", PjStr), ("vptr", ctypes.c_void_p)]


class ArrayHdr(ctypes.Structure):       # pjsip_generic_array_hdr (Allow, Supported)
    _fields_ = [*_HDR_MEMBERS, ("count", ctypes.c_uint), ("values", PjStr * 32)]


class FromToHdr(ctypes.Structure):      # pjsip_fromto_hdr (To)
    _fields_ = [*_HDR_MEMBERS, ("uri", ctypes.c_void_p), ("tag", PjStr)]


class Method(ctypes.Structure):
    _fields_ = [("id", ctypes.c_int), ("name", PjStr)]


class Msg(ctypes.Structure):            # pjsip_msg, request line only
    _fields_ = [("type", ctypes.c_int), ("method", Method), ("uri", ctypes.c_void_p)]


class TpInfo(ctypes.Structure):         # pjsip_rx_data.tp_info
    _fields_ = [("pool", ctypes.c_void_p), ("transport", ctypes.c_void_p),
                ("tp_data", ctypes.c_void_p), ("ioqueue_key", ctypes.c_void_p * 34),
                ("rdata", ctypes.c_void_p)]


class MsgInfoHead(ctypes.Structure):    # the start of pjsip_rx_data.msg_info
    _fields_ = [("msg_buf", ctypes.c_void_p), ("len", ctypes.c_int), ("msg", ctypes.c_void_p),
                ("info", ctypes.c_void_p), ("cid", ctypes.c_void_p), ("from_", ctypes.c_void_p),
                ("to", ctypes.c_void_p)]


class SockAddr(ctypes.Union):           # pj_sockaddr (pj_sockaddr_in6 is the largest)
    _fields_ = [("raw", ctypes.c_uint8 * 28), ("align", ctypes.c_uint32)]


def _pkt_info(size: int) -> type[ctypes.Structure]:
    class PktInfo(ctypes.Structure):    # pjsip_rx_data.pkt_info, packet[PJSIP_MAX_PKT_LEN]
        _fields_ = [("tv_sec", ctypes.c_long), ("tv_msec", ctypes.c_long),
                    ("packet", ctypes.c_char * size), ("zero", ctypes.c_uint32),
                    ("len", ctypes.c_ssize_t), ("src_addr", SockAddr),
                    ("src_addr_len", ctypes.c_int), ("src_name", ctypes.c_char * 46),
                    ("src_port", ctypes.c_int)]
    return PktInfo


ON_RX = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


class Module(ctypes.Structure):         # pjsip_module
    _fields_ = [("prev", ctypes.c_void_p), ("next", ctypes.c_void_p), ("name", PjStr),
                ("id", ctypes.c_int), ("priority", ctypes.c_int),
                ("load", ctypes.c_void_p), ("start", ctypes.c_void_p),
                ("stop", ctypes.c_void_p), ("unload", ctypes.c_void_p),
                ("on_rx_request", ON_RX), ("on_rx_response", ctypes.c_void_p),
                ("on_tx_request", ctypes.c_void_p), ("on_tx_response", ctypes.c_void_p),
                ("on_tsx_state", ctypes.c_void_p)]


def _library() -> ctypes.CDLL:
    import pjsua2 as pj     # here, not at the top: `lawline check` reads this file's rules
    lib = ctypes.CDLL(pj._pjsua2.__file__)
    lib.pjsua_get_pjsip_endpt.restype = ctypes.c_void_p
    lib.pjsip_endpt_get_capability.restype = ctypes.c_void_p
    lib.pjsip_endpt_get_capability.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    lib.pjsip_endpt_register_module.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.pjsip_endpt_unregister_module.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.pjsip_endpt_respond_stateless.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                                  ctypes.c_int, ctypes.c_void_p,
                                                  ctypes.c_void_p, ctypes.c_void_p]
    lib.pjsip_rx_data_get_info.restype = ctypes.c_void_p
    lib.pjsip_rx_data_get_info.argtypes = [ctypes.c_void_p]
    lib.pjsip_msg_find_hdr_by_name.restype = ctypes.c_void_p
    lib.pjsip_msg_find_hdr_by_name.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                               ctypes.c_void_p]
    return lib


class Layout:
    """Where msg_info and the source address sit in this build's pjsip_rx_data."""

    def __init__(self, pkt_cls: type[ctypes.Structure]) -> None:
        self.pkt_cls = pkt_cls
        self.pkt_off = ctypes.sizeof(TpInfo)
        self.msg_off = self.pkt_off + ctypes.sizeof(pkt_cls)

    @classmethod
    def find(cls, lib: ctypes.CDLL, rdata: int) -> Layout | None:
        """The layout of pjsip's default PJSIP_MAX_PKT_LEN (4000: the wheel, and
        tools/build-pjsua2.sh, which does not change it), if this request agrees with it:
        msg_info.info must be the pointer pjsip_rx_data_get_info() returns and msg_buf must
        point into the packet buffer. Other sizes are not guessed: reading past the end of
        the structure could crash the box."""
        layout = cls(_pkt_info(PJSIP_MAX_PKT_LEN))
        return layout if layout.valid(lib, rdata) else None

    def valid(self, lib: ctypes.CDLL, rdata: int, info: int | None = None) -> bool:
        tp = TpInfo.from_address(rdata)
        if tp.rdata != rdata:
            return False
        head = MsgInfoHead.from_address(rdata + self.msg_off)
        if info is None:
            info = lib.pjsip_rx_data_get_info(rdata)
        packet = rdata + self.pkt_off + self.pkt_cls.packet.offset
        size = self.pkt_cls.packet.size
        return bool(head.info == info and head.msg and
                    packet <= (head.msg_buf or 0) < packet + size)

    def read(self, rdata: int) -> tuple[str, str, int, bool, MsgInfoHead]:
        """(method, source host, source port, in dialog, MsgInfoHead) of one request."""
        pkt = self.pkt_cls.from_address(rdata + self.pkt_off)
        head = MsgInfoHead.from_address(rdata + self.msg_off)
        msg = Msg.from_address(head.msg)
        in_dialog = bool(head.to) and FromToHdr.from_address(head.to).tag.slen > 0
        host = pkt.src_name.split(b"\0", 1)[0].decode("ascii", "replace")
        return msg.method.name.text(), host, pkt.src_port, in_dialog, head


def trunk_addresses(cfg: SipConfig) -> frozenset[tuple[str, int | None]]:
    """The (IP, port or None) pairs the trunk sends from: its registrar and outbound proxy,
    resolved once at start. TLS: the IP only (a connection the trunk opens to the box comes
    from any port)."""
    if not cfg.trunk.registrar:
        return frozenset()
    tls = cfg.trunk.transport == "tls"
    out: set[tuple[str, int | None]] = set()
    for uri in (cfg.trunk.registrar, cfg.trunk.outbound_proxy):
        if not uri:
            continue
        host, port = split_host_port(uri, 5061 if tls else 5060)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        except OSError as exc:
            log.warning("SIP door: cannot resolve trunk host %r (%s): its requests will be "
                        "refused until the box restarts", host, exc)
            continue
        for info in infos:
            out.add((str(info[4][0]), None if tls else port))
    return frozenset(out)


WILDCARDS = ("", "0.0.0.0", "::", "[::]")


def exposure(cfg: SipConfig) -> tuple[str, str]:
    """(state, sentence) for `lawline check` and the log: where SIP listens, who may send
    requests outside a call. Listening on every interface is an error without a trunk
    (config.py) and a warning with one: a Pi with a mobile data link may have a public
    address, and the RTP ports of a call are opened on the same address."""
    where = f"{cfg.sip.bind or '*'}:{cfg.sip.port}"
    if cfg.trunk.registrar:
        peers = ", ".join(f"{h}:{p}" if p else h for h, p in sorted(trunk_addresses(cfg),
                                                                    key=str)) or "nobody"
        who = f"outside a call only the trunk ({peers}) may send, and only OPTIONS"
        board = getattr(cfg, "switchboard", None)
        if board is not None and board.number and board.accept_transfers:
            who += f", and calls the switchboard {board.number} transfers down (issue 17)"
    else:
        who = "no trunk: nothing outside a call is answered"
    text = f"listens on {where} ({cfg.trunk.transport.upper() if cfg.trunk.registrar else 'UDP'}); " \
           f"{who}; REFER and Replaces refused"
    if cfg.sip.bind in WILDCARDS:
        return "warn", (f"listens on every interface ({where}): set [sip] bind to the "
                        f"address facing the trunk; {who}")
    return "ok", text


def split_host_port(uri: str, default_port: int) -> tuple[str, int]:
    """Host and port of a SIP URI like sip:user@host:5080;lr or sip:[::1]:5060."""
    rest = uri.split(":", 1)[1] if ":" in uri else uri
    rest = rest.split("@", 1)[-1].split(";", 1)[0].split("?", 1)[0].strip("<>")
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        port = tail[1:] if tail.startswith(":") else ""
    else:
        host, _, port = rest.partition(":")
    return host, int(port) if port.isdigit() else default_port


class SipDoor:
    """The pjsip module in front of pjsua. Create after libInit, on the loop's thread;
    keep it until after libDestroy (pjsip holds pointers into it)."""

    def __init__(self, trusted: Iterable[tuple[str, int | None]] = frozenset()) -> None:
        self.trusted = frozenset(trusted)
        self.lib = _library()
        self.endpt: int | None = self.lib.pjsua_get_pjsip_endpt()
        self.layout: Layout | None = None
        self.unreadable = False
        # (method, "host:port", why), most recent last
        self.refused: list[tuple[str, str, str]] = []
        # source -> [window start, lines logged, not logged]
        self._log_window: dict[str, list[float]] = {}
        self._keep: list[ctypes.Array[ctypes.c_char]] = []
        self.module: Module | None = None
        self.allow: list[str] = []
        self.supported: list[str] = []

    # -- start ----------------------------------------------------------------------------

    def install(self) -> SipDoor:
        import pjsua2 as pj
        self.allow = self.rewrite(pj.PJSIP_H_ALLOW, keep=ALLOW)
        self.supported = self.rewrite(pj.PJSIP_H_SUPPORTED, drop=NOT_SUPPORTED)
        name, buf = _pj_str(b"mod-lawline-door")
        self._keep += [buf]
        self._callback = ON_RX(self._on_rx_request)
        module = Module()
        module.name = name
        module.id = -1
        module.priority = PRIORITY
        module.on_rx_request = self._callback
        status = self.lib.pjsip_endpt_register_module(self.endpt, ctypes.byref(module))
        if status != 0:
            raise OSError(f"pjsip_endpt_register_module failed ({status})")
        self.module = module
        self._forbidden = _pj_str(b"Forbidden")
        log.info("SIP door: Allow: %s; Supported: %s; requests outside a call only from %s",
                 ", ".join(self.allow), ", ".join(self.supported) or "(none)",
                 ", ".join(f"{h}:{p}" if p else h for h, p in sorted(
                     self.trusted, key=str)) or "nobody (no trunk)")
        return self

    def rewrite(self, htype: int, keep: Collection[str] | None = None,
                drop: Collection[str] = ()) -> list[str]:
        """Edit one of the endpoint's capability headers in place; returns its new values."""
        ptr = self.lib.pjsip_endpt_get_capability(self.endpt, htype, None)
        if not ptr:
            return []
        hdr = ArrayHdr.from_address(ptr)
        # copies, not views: the array is rewritten below
        values = [(v.text(), v.ptr, v.slen) for v in hdr.values[:min(hdr.count, 32)]]
        kept = [v for v in values
                if (keep is None or v[0] in keep) and v[0].lower() not in drop]
        for i, (_, text_ptr, slen) in enumerate(kept):
            hdr.values[i] = PjStr(text_ptr, slen)
        hdr.count = len(kept)
        return [text for text, _, _ in kept]

    def uninstall(self) -> None:
        """Before libDestroy is fine too; after it the endpoint is gone already."""
        if self.module is not None and self.endpt:
            self.lib.pjsip_endpt_unregister_module(self.endpt, ctypes.byref(self.module))

    # -- each request ---------------------------------------------------------------------

    def _on_rx_request(self, rdata: int) -> int:
        try:
            return self.decide(rdata)
        except Exception:  # noqa: BLE001 - a C callback must never raise
            log.exception("SIP door: error reading a request; passed to pjsua's own guards")
            return 0

    def decide(self, rdata: int) -> int:
        if self.layout is None and not self.unreadable:
            self.layout = Layout.find(self.lib, rdata)
            if self.layout is None:
                self.unreadable = True
                log.error("SIP door: this pjsip's request structure is not the one the door "
                          "knows (PJSIP_MAX_PKT_LEN other than %d?): only the method is "
                          "checked; OPTIONS from anyone gets pjsua's 200", PJSIP_MAX_PKT_LEN)
        if self.layout is None or not self.layout.valid(self.lib, rdata):
            # Degraded: the method alone, from pjsip's own summary "Request msg BYE/cseq=..".
            info = ctypes.string_at(self.lib.pjsip_rx_data_get_info(rdata)).decode(
                "latin-1", "replace")
            method = info.split(" ")[2].split("/")[0] if info.count(" ") >= 2 else "?"
            if method in ALLOW:
                return 0        # INVITE, Replaces and REFER are refused by pjsua2 callbacks
            return self.refuse(rdata, method, "?", "not an allowed method")
        method, host, port, in_dialog, head = self.layout.read(rdata)
        source = f"{host}:{port}"
        if method == "ACK":
            return 0            # never answered; pjsip drops one for no transaction
        if method == "REFER":
            return self.refuse(rdata, method, source, "the box never transfers a call")
        if method == "INVITE" and self._has(head.msg, b"Replaces"):
            return self.refuse(rdata, method, source, "no one may take over a call (Replaces)")
        if in_dialog:
            if method not in ALLOW:
                return self.refuse(rdata, method, source, "not allowed in a call")
            return 0
        if not self.is_trunk(host, port):
            return self.refuse(rdata, method, source, "not from the trunk")
        if method == "OPTIONS":
            return 0
        if method == "INVITE":
            return 0            # the account refuses it with 403 and says so (trunk.py)
        return self.refuse(rdata, method, source, "the trunk may only send OPTIONS outside "
                                                  "a call")

    def is_trunk(self, host: str, port: int) -> bool:
        try:
            address = str(ipaddress.ip_address(host))
        except ValueError:
            return False
        return (address, port) in self.trusted or (address, None) in self.trusted

    def _has(self, msg: int, name: bytes) -> bool:
        pjname, buf = _pj_str(name)
        return bool(self.lib.pjsip_msg_find_hdr_by_name(msg, ctypes.byref(pjname), None))

    # A SIP scanner on a public address sends thousands of requests a minute: each source
    # gets this many log lines a minute, then one line that counts the rest.
    LOG_PER_SOURCE_PER_MINUTE = 20

    def _should_log(self, source: str, now: float) -> bool:
        window = self._log_window.get(source)
        if window is None or now - window[0] >= 60:
            if window is not None and window[2]:
                log.warning("SIP door: %d more requests from %r refused with 403 in the last "
                            "minute (not logged one by one)", window[2], source)
            if len(self._log_window) > 1000:        # many sources: forget the quiet ones
                self._log_window = {k: w for k, w in self._log_window.items()
                                    if now - w[0] < 60}
            window = self._log_window[source] = [now, 0, 0]
        if window[1] < self.LOG_PER_SOURCE_PER_MINUTE:
            window[1] += 1
            return True
        window[2] += 1
        return False

    def refuse(self, rdata: int, method: str, source: str, why: str) -> int:
        # logged before the answer leaves: whoever has the 403 can read the line
        if self._should_log(source, time.monotonic()):
            log.warning("SIP door: refused %r from %r with 403: %s", method, source, why)
        self.refused.append((method, source, why))
        del self.refused[:-50]
        self.lib.pjsip_endpt_respond_stateless(self.endpt, rdata, 403,
                                               ctypes.byref(self._forbidden[0]), None, None)
        return 1
