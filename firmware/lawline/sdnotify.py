"""Telling systemd how the box is: READY=1, STATUS=..., WATCHDOG=1, STOPPING=1 (sd_notify(3)).

systemd/lawline.service is `Type=notify` with `WatchdogSec=`: systemd counts the box as
started only once it says READY=1 (the modem answered AT and the box waits for calls), shows
the last STATUS= line in `systemctl status lawline`, and kills and restarts the box when
WATCHDOG=1 stops coming. The pings come from a task on the box's asyncio loop, so a loop that
hangs (SIGSTOP, a blocking call in a callback) stops them and is restarted.

Why our own few lines and not a library: the protocol is one datagram of `KEY=value` lines to
the AF_UNIX socket named in $NOTIFY_SOCKET. `systemd-python` (sd_notify through libsystemd)
needs a C build on the Pi; PyPI's `sdnotify` has had no release since 2017 and ignores the
watchdog variables. Outside systemd (no $NOTIFY_SOCKET: tests, `lawline run` by hand) every
call does nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Any, Mapping

log = logging.getLogger("lawline.systemd")

# Parts the STATUS= line names first, in this order (then any other part that is not ok).
STATUS_PARTS = ("modem", "trunk", "upstream")


class Notifier:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        # "@name" is a socket in the abstract namespace: its name starts with a NUL byte.
        if address.startswith("@"):
            address = "\0" + address[1:]
        self.address = address if address[:1] in ("/", "\0") else ""
        self.watchdog = _watchdog_seconds(env)
        self._sock: socket.socket | None = None
        self._warned = False
        self._last_status: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def send(self, *lines: str) -> bool:
        """One datagram of KEY=value lines. Never raises: a box that cannot tell systemd
        still answers calls (and the watchdog, if any, restarts it)."""
        if not self.address:
            return False
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto("\n".join(lines).encode("utf-8"), self.address)
            return True
        except OSError as exc:
            if not self._warned:
                log.warning("systemd: cannot notify %r: %s", self.address.replace("\0", "@"),
                            exc)
                self._warned = True
            return False

    def ready(self, status: str) -> bool:
        log.info("systemd: ready (%s)", status)
        self._last_status = status
        return self.send("READY=1", f"STATUS={_one_line(status)}")

    def status(self, text: str) -> bool:
        text = _one_line(text)
        if text == self._last_status:
            return False
        self._last_status = text
        return self.send(f"STATUS={text}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1", "STATUS=stopping")

    async def feed_watchdog(self, stop: asyncio.Event) -> None:
        """WATCHDOG=1 at half the interval systemd asked for, from the event loop itself."""
        if not self.enabled or not self.watchdog:
            return
        every = self.watchdog / 2
        log.info("systemd: watchdog every %g s (WatchdogSec=%g)", every, self.watchdog)
        while not stop.is_set():
            self.send("WATCHDOG=1")
            try:
                await asyncio.wait_for(stop.wait(), every)
            except asyncio.TimeoutError:
                pass

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _watchdog_seconds(env: Mapping[str, str]) -> float:
    """WatchdogSec= as seconds, when it is meant for this process (WATCHDOG_PID)."""
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return 0.0
    if pid and pid != str(os.getpid()):
        return 0.0
    return int(usec) / 1e6


def _one_line(text: object) -> str:
    return " ".join(str(text).split())[:400]


def summary(parts: dict[str, dict[str, Any]]) -> str:
    """The STATUS= line from the box's part states (status.Status.parts): modem, trunk and
    upstream first, then any other part that is not ok."""
    order = [p for p in STATUS_PARTS if p in parts]
    order += sorted(p for p, st in parts.items()
                    if p not in STATUS_PARTS and st["state"] != "ok")
    out = []
    for part in order:
        st = parts[part]
        mark = "" if st["state"] == "ok" else f"{st['state'].upper()} "
        out.append(f"{part}: {mark}{st['message']}")
    return "; ".join(out) or "starting"
