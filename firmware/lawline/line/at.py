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

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Callable, Iterable

import serial

from ..errors import CommandError, ModemError, ModemTimeout

FINAL_OK = ("OK",)
FINAL_ERROR = ("ERROR", "+CME ERROR:", "+CMS ERROR:", "NO CARRIER", "BUSY", "NO ANSWER",
               "NO DIALTONE")
_LINE_END = re.compile(rb"[\r\n]+")
# The longest line the reader keeps. The longest real one is an AT+CMGR PDU (176 octets as
# 352 hex digits, 27.005 3.4.1); anything past this is noise, dropped whole, wherever the
# reads happen to cut it.
MAX_LINE = 4096
# Bytes that can never be part of an AT response line: control characters and 8-bit noise.
_NOISE = re.compile(r"[\x00-\x1f\x7f-\xff\ufffd]")

# A V.253 data state's handler: each chunk read; returns the bytes that follow the end of the
# data state, or None while it lasts.
DataHandler = Callable[[bytes], "bytes | None"]
# A command's final result line and its information lines.
Reply = tuple[str, list[str]]


def split_one(buffer: bytes) -> tuple[bytes, int, int] | None:
    """The first complete line of `buffer`: (raw line, index where its text ends, index where
    the next line starts), or None while no complete line is there. Empty lines are skipped
    (the raw line is then b"")."""
    match = _LINE_END.search(buffer)
    if not match:
        return None
    raw = buffer[:match.start()]
    # A CR at the very end may be the first half of CR LF: wait for more bytes unless
    # something follows it (a lone CR after an echo is followed by CR LF anyway).
    if match.end() == len(buffer) and buffer.endswith(b"\r") and not raw:
        return None
    return raw, match.start(), match.end()


def split_lines(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Cut complete lines out of `buffer` (bytes); return (lines, rest)."""
    lines: list[bytes] = []
    while True:
        cut = split_one(buffer)
        if cut is None:
            return lines, buffer
        raw, _, after = cut
        buffer = buffer[after:]
        if raw:
            lines.append(raw)


def clean(raw: bytes) -> tuple[str, bool]:
    """Decode one response line, dropping line noise around the text."""
    text = raw.decode("latin-1")
    cleaned = _NOISE.sub("", text).strip()
    return cleaned, cleaned != text.strip()


def is_final(line: str) -> bool:
    if line in FINAL_OK:
        return True
    return any(line == f or (f.endswith(":") and line.startswith(f)) for f in FINAL_ERROR)


class _Pending:
    def __init__(self, command: str, expect: str | None, future: asyncio.Future[Reply],
                 prompt: asyncio.Future[bool] | None = None, ok: tuple[str, ...] = FINAL_OK,
                 data: DataHandler | None = None) -> None:
        self.command = command
        self.expect = expect
        self.future = future
        self.lines: list[str] = []
        self.prompt = prompt    # future set when the `> ` prompt arrives (AT+CMGS)
        self.ok = ok            # lines that end the command successfully
        self.data = data        # V.253: on CONNECT the port carries data; bytes go here


class ATChannel:
    """One AT port. `urc_prefixes` lists line prefixes that are unsolicited; `on_urc(line)` is
    called on the loop for each of them."""

    def __init__(self, path: str, name: str, urc_prefixes: Iterable[str],
                 on_urc: Callable[[str], None], baudrate: int = 115200,
                 log: logging.Logger | None = None) -> None:
        self.path = path
        self.name = name
        self.urc_prefixes = tuple(urc_prefixes)
        self.on_urc = on_urc
        self.baudrate = baudrate
        self.log = log or logging.getLogger("lawline.line")
        self.wire = logging.getLogger("lawline.wire")
        self._serial: serial.Serial | None = None
        self._buffer = b""
        self._discard = False  # the rest of an over-long line is still coming: drop it
        self._lf_of_connect = False  # a read ended between CONNECT's CR and its LF
        self._pending: _Pending | None = None
        # V.253 data-state handler while the port carries samples
        self._data: DataHandler | None = None
        # clear_leftovers: what the modem says to the clearing codes
        self._clearing: bytearray | None = None
        self._lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        # called when the port disappears (USB re-enumeration)
        self.on_lost: Callable[[], None] | None = None
        # Until this loop time, a NO CARRIER belongs to a call that already ended.
        self.no_carrier_expected_until = 0.0

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            self._serial = serial.Serial(self.path, self.baudrate, timeout=0, write_timeout=2)
        except (serial.SerialException, OSError) as exc:
            raise ModemError(f"modem {self.name}: cannot open AT port {self.path}: {exc}") from exc
        self._buffer = b""
        self._discard = self._lf_of_connect = False
        self._data = None
        self._clearing = None
        self._loop.add_reader(self._serial.fileno(), self._on_readable)

    def fileno(self) -> int | None:
        return self._serial.fileno() if self._serial is not None else None

    @property
    def busy(self) -> bool:
        """A command is in flight (or waiting for its turn)."""
        return self._lock.locked()

    @property
    def in_data_state(self) -> bool:
        return self._data is not None

    def close(self) -> None:
        if self._serial is None:
            return
        try:
            self._running().remove_reader(self._serial.fileno())
        except (ValueError, OSError):
            pass
        try:
            self._serial.close()
        except (serial.SerialException, OSError):
            pass
        self._serial = None
        self._data = None
        if self._pending and not self._pending.future.done():
            self._pending.future.set_exception(
                ModemError(f"modem {self.name}: AT port {self.path} closed"))

    # -- reading -------------------------------------------------------------------------

    def _running(self) -> asyncio.AbstractEventLoop:
        """The loop the port was opened on (open() sets it before anything reads or sends)."""
        if self._loop is None:
            raise ModemError(f"modem {self.name}: AT port {self.path} is not open")
        return self._loop

    def _on_readable(self) -> None:
        if self._serial is None:   # close() removes this reader: nothing is open to read
            return
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
        self._feed(data)

    def _feed(self, data: bytes) -> None:
        if self._clearing is not None:   # clear_leftovers: the answers to the clearing codes
            self._clearing += data
            return
        if self._data is not None:
            if self._lf_of_connect:
                self._lf_of_connect = False
                data = data[1:] if data.startswith(b"\n") else data
                if not data:
                    return
            # A V.253 data state (after CONNECT): the bytes are samples and DLE codes. The
            # handler returns what follows the end of the data state, or None while it lasts.
            rest = self._data(data)
            if rest is None:
                return
            self._data = None
            data = rest
        self._buffer += data
        while True:
            if self._prompt_waits():
                break
            cut = split_one(self._buffer)
            if cut is None:
                break
            raw, text_end, after = cut
            whole, self._buffer = self._buffer, self._buffer[after:]
            if self._discard:
                self._discard = False  # the tail of a line already dropped as too long
            elif len(raw) > MAX_LINE:
                self.log.warning("modem %s: dropped a %d-byte line %r...", self.name, len(raw),
                                 raw[:40])
            elif raw:
                self._line(raw)
            if self._data is not None:
                # CONNECT: one CR LF belongs to it; everything after it is data, even bytes
                # that look like line ends (a sample may be 0x0D).
                end = text_end + (2 if whole[text_end:text_end + 2] == b"\r\n" else 1)
                self._buffer = b""
                rest = whole[end:]
                # V.250 ends a result with CR LF: a read that stopped after the CR leaves the
                # LF for the next read, and it is not a sample.
                self._lf_of_connect = whole[text_end:] == b"\r"
                if rest:
                    self._feed(rest)
                return
        if len(self._buffer) > MAX_LINE:  # a line that never ends is noise
            self.log.warning("modem %s: dropped %d bytes without a line end", self.name,
                             len(self._buffer))
            self._buffer = b""
            self._discard = True

    def _prompt_waits(self) -> bool:
        """AT+CMGS is waiting for its `> ` prompt (27.005 3.5.1: CR LF '>' space, with no
        line end and no OK; a URC may follow it in the same read). Takes the prompt off the
        buffer when it is there; True while the buffer may be its first half."""
        pending = self._pending
        if not (pending and pending.prompt and not pending.prompt.done()):
            return False
        rest = self._buffer.lstrip(b"\r\n")
        if rest == b">":
            return True
        if not rest.startswith(b"> "):
            return False
        self._buffer = rest[2:]
        self._discard = False
        self.wire.debug("%s <<< > (prompt)", self.name)
        pending.prompt.set_result(True)
        return False

    def _line(self, raw: bytes) -> None:
        line, noisy = clean(raw)
        if noisy:
            # Keep what noise was stuck to only if it is a result code or a URC we know;
            # anything else is not worth mistaking for a reply line.
            keep = line and (is_final(line) or self._is_urc(line))
            self.log.warning("modem %s: noise on the AT port %r, %s", self.name, raw[:40],
                             f"kept {line!r}" if keep else "dropped")
            if not keep:
                return
        if line:
            self.wire.debug("%s <<< %s", self.name, line)
            self._route(line)

    def _route(self, line: str) -> None:
        pending = self._pending
        if pending and not pending.future.done():
            if line == pending.command:  # echo (ATE1)
                return
            if pending.data is not None and line.startswith("CONNECT"):
                # V.253 +VTX/+VRX/+VTR: the data state begins right after this line.
                self._pending = None
                self._data = pending.data
                pending.future.set_result((line, pending.lines))
                return
            if line in pending.ok:
                self._pending = None
                pending.future.set_result(("OK", pending.lines))
                return
            if pending.expect and line.startswith(pending.expect):
                pending.lines.append(line)
                return
            if line == "NO CARRIER" and self._running().time() < self.no_carrier_expected_until:
                # The tail of a call that already ended (EC25: +QIND "ccinfo" -1, then
                # NO CARRIER), not the result of the dial now in flight.
                self.no_carrier_expected_until = 0.0
                self.on_urc(line)
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

    def _is_urc(self, line: str) -> bool:
        return line.startswith(self.urc_prefixes)

    # -- commands ------------------------------------------------------------------------

    async def command(self, command: str, timeout: float = 5.0, expect: str | None = None,
                      retries: int = 0, ok: Iterable[str] = (),
                      data: DataHandler | None = None) -> list[str]:
        """Send one command and return its information lines. Raises CommandError on ERROR
        (and on NO CARRIER/BUSY, which end dial and answer commands), ModemTimeout when the
        modem stays silent; a timeout is retried `retries` times.

        `ok` names extra lines that mean success (V.253 `VCON`). With `data` (a callable) the
        command opens a V.253 data state: `CONNECT` is its success, and from the byte after
        it every byte read goes to `data(chunk)` until that returns the bytes that follow the
        end of the data state."""
        attempt = 0
        while True:
            try:
                return await self._command_once(command, timeout, expect, ok, data)
            except ModemTimeout:
                if attempt >= retries:
                    raise
                attempt += 1
                self.log.warning("modem %s: no reply to %s, retrying (%d of %d)", self.name,
                                 command, attempt, retries)

    def _start(self, command: str, expect: str | None, ok: Iterable[str] = (),
               data: DataHandler | None = None,
               prompt: asyncio.Future[bool] | None = None) -> _Pending:
        if self._serial is None:
            raise ModemError(f"modem {self.name}: AT port {self.path} is not open")
        if self._data is not None:
            raise ModemError(f"modem {self.name}: {command} not sent: the port is in a voice "
                             "data state")
        loop = self._running()
        future: asyncio.Future[Reply] = loop.create_future()
        pending = _Pending(command, expect, future, prompt,
                           FINAL_OK + tuple(ok), data)
        self._pending = pending
        self.wire.debug("%s >>> %s", self.name, command)
        self._write(command.encode("ascii") + b"\r", command)
        return pending

    def _write(self, data: bytes, what: str) -> None:
        if self._serial is None:
            raise ModemError(f"modem {self.name}: AT port {self.path} is not open")
        try:
            self._serial.write(data)
        except (serial.SerialException, OSError) as exc:
            self._pending = None
            raise ModemError(f"modem {self.name}: cannot write {what} to {self.path}: "
                             f"{exc}") from exc

    async def _finish(self, pending: _Pending, timeout: float) -> list[str]:
        try:
            final, lines = await asyncio.wait_for(asyncio.shield(pending.future), timeout)
        except asyncio.TimeoutError:
            raise ModemTimeout(f"modem {self.name}: no reply to {pending.command} within "
                               f"{timeout:g} s", pending.lines) from None
        finally:
            if self._pending is pending:
                self._pending = None
        if final != "OK" and not (pending.data is not None and final.startswith("CONNECT")):
            raise CommandError(pending.command, final, lines)
        return lines

    async def _command_once(self, command: str, timeout: float, expect: str | None,
                            ok: Iterable[str] = (),
                            data: DataHandler | None = None) -> list[str]:
        async with self._lock:
            pending = self._start(command, expect, ok, data)
            return await self._finish(pending, timeout)

    async def leave_data_state(self, codes: bytes, label: str, timeout: float,
                               write: Callable[[bytes], object],
                               ok: Iterable[str] = ("VCON",)) -> list[str]:
        """End a V.253 data state: send the DLE `codes` with `write` (the writer shared with
        the audio thread) and wait for the final result that follows the data stream (the
        data handler passes the bytes after DLE ETX back to the line reader)."""
        async with self._lock:
            if self._serial is None:
                raise ModemError(f"modem {self.name}: AT port {self.path} is not open")
            future: asyncio.Future[Reply] = self._running().create_future()
            pending = _Pending(label, None, future, ok=FINAL_OK + tuple(ok))
            self._pending = pending
            self.wire.debug("%s >>> %s", self.name, label)
            try:
                write(codes)
            except OSError as exc:
                self._pending = None
                raise ModemError(f"modem {self.name}: cannot write {label} to {self.path}: "
                                 f"{exc}") from exc
            return await self._finish(pending, timeout)

    def end_data_state(self) -> None:
        """Forget the data state (the port was closed or reset under it)."""
        self._data = None

    async def clear_leftovers(self, codes: bytes, settle: float = 0.2) -> None:
        """Undo what a process that died mid-command left the modem in, before our first AT.

        A box killed between AT+CMGS's `> ` and its Ctrl-Z leaves a modem that takes every byte
        as message text (ESC cancels it, 27.005 3.5.1); one killed in a V.253 voice state
        leaves it taking bytes as samples (DLE ! / DLE ^ / DLE ETX end it, V.253 4.3). A modem
        in command state ignores these bytes (V.250: nothing counts before "AT"). What the
        modem answers to them (an OK, DLE ETX) is read and dropped here, so it can never be
        taken as the reply to our next command."""
        if self._pending is not None:
            return
        self._clearing = bytearray()
        try:
            # then CR: a modem in command state takes the codes as a line without "AT" and
            # ignores it, and its echo (ATE1 after a reset) comes back now, not stuck to the
            # front of our first AT's echo, where it read as noise
            self._write(codes + b"\r", "the clearing codes")
            self.wire.debug("%s >>> %r (clear what a previous process left)", self.name, codes)
            await asyncio.sleep(settle)
        finally:
            dropped, self._clearing = bytes(self._clearing), None
        if dropped:
            self.log.info("modem %s: dropped %d bytes left over from before we opened %s: %r",
                          self.name, len(dropped), self.path, dropped[:60])
        self._buffer = b""
        self._discard = self._lf_of_connect = False
        self._data = None

    async def command_with_prompt(self, command: str, body: str, timeout: float = 60.0,
                                  prompt_timeout: float = 5.0,
                                  expect: str | None = None) -> list[str]:
        """A two-phase command (27.005 AT+CMGS): send `command`, wait for the `> ` prompt,
        send `body` ended by Ctrl-Z, and return the information lines of the final result.
        If the modem answers ERROR instead of the prompt, CommandError; if no prompt comes,
        ESC cancels the input and ModemTimeout is raised. Sending may take seconds (the
        manual allows up to 120 s, modems.md 3.3), hence the long `timeout`."""
        async with self._lock:
            prompt: asyncio.Future[bool] = self._running().create_future()
            pending = self._start(command, expect, prompt=prompt)
            either: set[asyncio.Future[Reply] | asyncio.Future[bool]] = {pending.future, prompt}
            try:
                await asyncio.wait(either, timeout=prompt_timeout,
                                   return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                if self._pending is pending:
                    self._pending = None
                raise
            if pending.future.done():
                # A final result instead of the prompt (e.g. +CMS ERROR: 304)
                return await self._finish(pending, timeout)
            if not prompt.done():
                self._write(b"\x1b", "ESC")
                if self._pending is pending:
                    self._pending = None
                raise ModemTimeout(f"modem {self.name}: no '> ' prompt after {command} "
                                   f"within {prompt_timeout:g} s; input cancelled with ESC",
                                   pending.lines)
            self.wire.debug("%s >>> %s<Ctrl-Z>", self.name, body)
            self._write(body.encode("ascii") + b"\x1a", "the message body")
            return await self._finish(pending, timeout)
