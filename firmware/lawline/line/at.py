"""The AT channel: one reader, one command in flight, a table of URC prefixes.

V.250 framing (reference/modems.md, top): the host ends a command with CR; the modem frames
each response line as CR LF text CR LF and ends the command with a final result code. With
echo on, the command line comes back first (`AT\\r\\r\\nOK\\r\\n`). Unsolicited result codes
(URCs) may arrive at any moment, including between the lines of a reply, and are routed to the
URC handler even then. SIM7600 sometimes frames URCs with two CRs (`\\r\\r\\n`), so any run of
CR/LF ends a line.

The channel lives on the asyncio loop: the serial port's file descriptor is watched with
`loop.add_reader`, so no thread is involved and only the loop touches the state.
"""

import asyncio
import logging
import os
import re

import serial

from ..errors import CommandError, ModemError, ModemTimeout

FINAL_OK = ("OK",)
FINAL_ERROR = ("ERROR", "+CME ERROR:", "+CMS ERROR:", "NO CARRIER", "BUSY", "NO ANSWER",
               "NO DIALTONE")
_LINE_END = re.compile(rb"[\r\n]+")
# Bytes that can never be part of an AT response line: control characters and 8-bit noise.
_NOISE = re.compile(r"[\x00-\x1f\x7f-\xff\ufffd]")


def split_lines(buffer):
    """Cut complete lines out of `buffer` (bytes); return (lines, rest)."""
    lines = []
    while True:
        match = _LINE_END.search(buffer)
        if not match:
            return lines, buffer
        raw = buffer[:match.start()]
        # A CR at the very end may be the first half of CR LF: wait for more bytes unless
        # something follows it (a lone CR after an echo is followed by CR LF anyway).
        if match.end() == len(buffer) and buffer.endswith(b"\r") and not raw:
            return lines, buffer
        buffer = buffer[match.end():]
        if raw:
            lines.append(raw)


def clean(raw):
    """Decode one response line, dropping line noise around the text."""
    text = raw.decode("latin-1")
    cleaned = _NOISE.sub("", text).strip()
    return cleaned, cleaned != text.strip()


def is_final(line):
    if line in FINAL_OK:
        return True
    return any(line == f or (f.endswith(":") and line.startswith(f)) for f in FINAL_ERROR)


class _Pending:
    def __init__(self, command, expect, future):
        self.command = command
        self.expect = expect
        self.future = future
        self.lines = []


class ATChannel:
    """One AT port. `urc_prefixes` lists line prefixes that are unsolicited; `on_urc(line)` is
    called on the loop for each of them."""

    def __init__(self, path, name, urc_prefixes, on_urc, baudrate=115200, log=None):
        self.path = path
        self.name = name
        self.urc_prefixes = tuple(urc_prefixes)
        self.on_urc = on_urc
        self.baudrate = baudrate
        self.log = log or logging.getLogger("lawline.line")
        self.wire = logging.getLogger("lawline.wire")
        self._serial = None
        self._buffer = b""
        self._pending = None
        self._lock = asyncio.Lock()
        self._loop = None
        self.on_lost = None  # called when the port disappears (USB re-enumeration)

    @property
    def is_open(self):
        return self._serial is not None

    def open(self):
        self._loop = asyncio.get_running_loop()
        try:
            self._serial = serial.Serial(self.path, self.baudrate, timeout=0, write_timeout=2)
        except (serial.SerialException, OSError) as exc:
            raise ModemError(f"modem {self.name}: cannot open AT port {self.path}: {exc}") from exc
        self._buffer = b""
        self._loop.add_reader(self._serial.fileno(), self._on_readable)

    def close(self):
        if self._serial is None:
            return
        try:
            self._loop.remove_reader(self._serial.fileno())
        except (ValueError, OSError):
            pass
        try:
            self._serial.close()
        except (serial.SerialException, OSError):
            pass
        self._serial = None
        if self._pending and not self._pending.future.done():
            self._pending.future.set_exception(
                ModemError(f"modem {self.name}: AT port {self.path} closed"))

    # -- reading -------------------------------------------------------------------------

    def _on_readable(self):
        try:
            data = os.read(self._serial.fileno(), 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            data = b""
            self.log.error("modem %s: AT port %s lost: %s", self.name, self.path, exc)
        if not data:
            self.close()
            if self.on_lost:
                self.on_lost()
            return
        self._buffer += data
        lines, self._buffer = split_lines(self._buffer)
        if len(self._buffer) > 4096:  # a line that never ends is noise
            self.log.warning("modem %s: dropped %d bytes without a line end", self.name,
                             len(self._buffer))
            self._buffer = b""
        for raw in lines:
            line, noisy = clean(raw)
            if noisy:
                # Keep what noise was stuck to only if it is a result code or a URC we know;
                # anything else is not worth mistaking for a reply line.
                keep = line and (is_final(line) or self._is_urc(line))
                self.log.warning("modem %s: noise on the AT port %r, %s", self.name, raw[:40],
                                 f"kept {line!r}" if keep else "dropped")
                if not keep:
                    continue
            if line:
                self.wire.debug("%s <<< %s", self.name, line)
                self._route(line)

    def _route(self, line):
        pending = self._pending
        if pending and not pending.future.done():
            if line == pending.command:  # echo (ATE1)
                return
            if pending.expect and line.startswith(pending.expect):
                pending.lines.append(line)
                return
            if line in ("NO CARRIER", "BUSY", "NO ANSWER") and \
                    pending.command.startswith(("ATD", "ATA")):
                # The final result of a dial or answer that failed; the call is over too.
                self._pending = None
                pending.future.set_result((line, pending.lines))
                self.on_urc(line)
                return
            if not self._is_urc(line):
                if is_final(line):
                    self._pending = None
                    pending.future.set_result((line, pending.lines))
                else:
                    pending.lines.append(line)
                return
        if self._is_urc(line):
            self.on_urc(line)
        else:
            self.log.info("modem %s: unexpected line %r ignored", self.name, line)

    def _is_urc(self, line):
        return line.startswith(self.urc_prefixes)

    # -- commands ------------------------------------------------------------------------

    async def command(self, command, timeout=5.0, expect=None, retries=0):
        """Send one command and return its information lines. Raises CommandError on ERROR
        (and on NO CARRIER/BUSY, which end dial and answer commands), ModemTimeout when the
        modem stays silent; a timeout is retried `retries` times."""
        attempt = 0
        while True:
            try:
                return await self._command_once(command, timeout, expect)
            except ModemTimeout:
                if attempt >= retries:
                    raise
                attempt += 1
                self.log.warning("modem %s: no reply to %s, retrying (%d of %d)", self.name,
                                 command, attempt, retries)

    async def _command_once(self, command, timeout, expect):
        async with self._lock:
            if self._serial is None:
                raise ModemError(f"modem {self.name}: AT port {self.path} is not open")
            future = self._loop.create_future()
            self._pending = _Pending(command, expect, future)
            self.wire.debug("%s >>> %s", self.name, command)
            try:
                self._serial.write(command.encode("ascii") + b"\r")
            except (serial.SerialException, OSError) as exc:
                self._pending = None
                raise ModemError(f"modem {self.name}: cannot write to {self.path}: {exc}") from exc
            try:
                final, lines = await asyncio.wait_for(future, timeout)
            except asyncio.TimeoutError:
                partial = self._pending.lines if self._pending else []
                self._pending = None
                raise ModemTimeout(f"modem {self.name}: no reply to {command} within "
                                   f"{timeout:g} s", partial) from None
            if final != "OK":
                raise CommandError(command, final, lines)
            return lines
