"""A GSM voice modem driven over AT (SIM7600 today; the profile holds the differences).

The driver turns URCs into `LineEvent`s on one asyncio queue, and offers the few actions the
box needs: answer, hang up, dial, send DTMF, open and close call audio. The same class drives
the caller's modem in tests and on a hardware-in-loop rig, which is why it can dial too.
"""

import asyncio
import logging
import re
from dataclasses import dataclass

from ..errors import CommandError, ModemError, ModemTimeout
from .at import ATChannel
from . import profiles

_CLIP = re.compile(r'^\+CLIP:\s*"([^"]*)"(?:,(\d+))?')
_MISSED = re.compile(r"^MISSED_CALL:\s*(\S+)\s*(\S*)")
_CALL_END = re.compile(r"^VOICE CALL: END(?::\s*(\d+))?")


@dataclass
class LineEvent:
    kind: str            # ring, caller_id, begin, ended, dtmf, missed
    number: str = None   # caller_id / missed: the caller's number ("" when withheld)
    digit: str = None    # dtmf
    detail: str = ""     # the URC as received, for the log


def parse_clip(line):
    """`+CLIP: "<number>",<type>[,...]` -> (number, type). Trailing fields vary by firmware
    (reference/modems.md 1.2); a withheld number is an empty string."""
    match = _CLIP.match(line)
    if not match:
        return None, None
    number = match.group(1)
    kind = int(match.group(2)) if match.group(2) else None
    if kind == 145 and number and not number.startswith("+"):
        number = "+" + number
    return number, kind


def parse_dtmf(line, profile):
    value = line[len(profile.dtmf_prefix):].strip()
    if profile.dtmf_is_ascii_code:
        if not value.isdigit():
            return None
        value = chr(int(value))
    value = value[:1]
    return value if value and value in "0123456789*#ABCD" else None


class Modem:
    def __init__(self, profile, at_port, audio_port, name="box", log=None,
                 command_timeout=5.0, audio_retry_delay=None):
        self.profile = profiles.get(profile) if isinstance(profile, str) else profile
        self.name = name
        self.at_port = at_port
        self.audio_port = audio_port
        self.log = log or logging.getLogger("lawline.line")
        self.command_timeout = command_timeout
        self.audio_retry_delay = (self.profile.audio_retry_delay if audio_retry_delay is None
                                  else audio_retry_delay)
        self.events = asyncio.Queue()
        self.at = ATChannel(at_port, name, self.profile.urc_prefixes, self._on_urc, log=self.log)
        self.in_call = False       # a call is up (answered or connected)
        self.ringing = False       # an incoming call is alerting
        self.rings = 0
        self.caller = None
        self.audio_open = False

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self):
        self.at.open()
        # The first command after open may meet half a line of boot noise: allow one retry.
        await self.at.command("AT", timeout=self.command_timeout, retries=2)
        for command in self.profile.init_commands:
            try:
                await self.at.command(command, timeout=self.command_timeout, retries=1)
            except CommandError as exc:
                self.log.warning("modem %s: %s refused (%s); going on without it", self.name,
                                 command, exc.final)
        self.log.info("modem %s: ready on %s (%s), audio on %s", self.name, self.at_port,
                      self.profile.description, self.audio_port)

    def close(self):
        self.at.close()

    # -- URCs ----------------------------------------------------------------------------

    def _emit(self, kind, **fields):
        self.events.put_nowait(LineEvent(kind, **fields))

    def _on_urc(self, line):
        p = self.profile
        if line == "RING" or line.startswith("+CRING:"):
            if not self.in_call:
                self.ringing = True
                self.rings += 1
                self._emit("ring", number=self.caller, detail=line)
        elif line.startswith("+CLIP:"):
            number, _ = parse_clip(line)
            if number is not None and not self.in_call:
                self.ringing = True
                if self.caller != number:
                    self.caller = number
                    self.log.info("modem %s: incoming call from %s", self.name,
                                  number or "a withheld number")
                self._emit("caller_id", number=number, detail=line)
        elif line.startswith(p.dtmf_prefix):
            digit = parse_dtmf(line, p)
            if digit is None:
                self.log.warning("modem %s: unreadable DTMF report %r ignored", self.name, line)
            elif self.in_call:
                self._emit("dtmf", digit=digit, detail=line)
        elif line.startswith(p.call_begin):
            if not self.in_call:
                self.in_call = True
                self.ringing = False
                self._emit("begin", number=self.caller, detail=line)
        elif line.startswith(p.call_end):
            self._call_over(line)
        elif line.startswith("MISSED_CALL:"):
            match = _MISSED.match(line)
            number = match.group(2) if match else ""
            self.log.info("modem %s: missed call from %s", self.name, number or "unknown")
            was_ringing = self.ringing
            self._reset_call()
            if was_ringing:
                self._emit("missed", number=number, detail=line)
        else:
            self.log.debug("modem %s: %s", self.name, line)

    def _call_over(self, line):
        if self.in_call or self.ringing:
            self.log.info("modem %s: call ended (%s)", self.name, line)
            self._reset_call()
            self._emit("ended", detail=line)

    def _reset_call(self):
        self.in_call = False
        self.ringing = False
        self.rings = 0
        self.caller = None
        self.audio_open = False

    # -- actions -------------------------------------------------------------------------

    async def answer(self):
        """ATA; the call is up when the profile's call_begin URC arrives (SIM7600: `VOICE
        CALL: BEGIN` after OK, reference/modems.md 1.2 item 4)."""
        await self.at.command("ATA", timeout=self.command_timeout)
        self.log.info("modem %s: answered the call from %s", self.name,
                      self.caller or "a withheld number")

    async def hangup(self):
        if not (self.in_call or self.ringing):
            return
        try:
            await self.at.command("AT+CHUP", timeout=self.command_timeout, retries=1)
        except (CommandError, ModemTimeout) as exc:
            self.log.warning("modem %s: hang-up not confirmed (%s)", self.name, exc)
        self.log.info("modem %s: hung up", self.name)

    async def dial(self, number):
        """ATD<number>; (the `;` makes it a voice call, 1.3). Returns when the modem accepted
        the dial; the far end answering arrives as a `begin` event."""
        if not re.fullmatch(r"\+?[0-9*#]{1,32}", number):
            raise ValueError(f"not a dialable number: {number!r}")
        await self.at.command(f"ATD{number};", timeout=self.command_timeout)
        self.ringing = True
        self.log.info("modem %s: dialling %s", self.name, number)

    async def send_dtmf(self, digits):
        for digit in digits:
            await self.at.command(f"AT+VTS={digit}", timeout=self.command_timeout)

    async def open_audio(self):
        """Start call audio on the audio port, retrying while the module refuses."""
        p = self.profile
        for attempt in range(p.audio_retries + 1):
            if not self.in_call:
                raise ModemError(f"modem {self.name}: call ended before audio could open")
            try:
                await self.at.command(p.audio_on, timeout=self.command_timeout)
                self.audio_open = True
                if attempt:
                    self.log.info("modem %s: call audio open after %d refusals", self.name,
                                  attempt)
                return
            except CommandError as exc:
                if attempt == p.audio_retries:
                    raise ModemError(f"modem {self.name}: {p.audio_on} refused "
                                     f"{attempt + 1} times ({exc.final}); no call audio")
                self.log.warning("modem %s: %s refused (%s), retrying in %g s", self.name,
                                 p.audio_on, exc.final, self.audio_retry_delay)
                await asyncio.sleep(self.audio_retry_delay)

    async def close_audio(self):
        if not self.audio_open:
            return
        self.audio_open = False
        try:
            await self.at.command(self.profile.audio_off, timeout=self.command_timeout)
        except (CommandError, ModemTimeout) as exc:
            # Idle modules may answer ERROR to CPCMREG=0 (1.5): the call is gone anyway.
            self.log.info("modem %s: %s not accepted (%s)", self.name, self.profile.audio_off,
                          exc)

    async def next_event(self, timeout=None):
        return await asyncio.wait_for(self.events.get(), timeout)
