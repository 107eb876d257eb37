"""A GSM voice modem driven over AT (SIM7600, EC25; the profile holds the differences).

The driver turns URCs into line `PartEvent`s (lawline/events.py) on one asyncio queue, and
offers the few actions the box needs: answer, hang up, dial, send DTMF, open and close call
audio, send SMS. The same class drives the caller's modem in tests and on a hardware-in-loop
rig, which is why it can dial too. The V.253 voice modem has the same outside (v253.V253Modem).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Coroutine

from ..errors import CommandError, ModemError, ModemTimeout, SmsError
from ..events import PartEvent
from .at import ATChannel
from . import pdu as codec, profiles
from .callerid import WITHHELD, CallerId, described, read_caller_id
from .parts import CallAudio
from .profiles import Profile

_CLIP = re.compile(r'^\+CLIP:\s*"([^"]*)"(?:,(\d+))?')
_MISSED = re.compile(r"^MISSED_CALL:\s*(\S+)\s*(\S*)")
_CALL_END = re.compile(r"^VOICE CALL: END(?::\s*(\d+))?")
# 27.007 +CLCC: <id>,<dir>,<stat>,<mode>,<mpty>[,"<number>",<type>[,...]] (modems.md 1.3)
_CLCC = re.compile(r'^\+CLCC:\s*(\d+),(\d),(\d+),(\d+),(\d+)(?:,"([^"]*)"(?:,(\d+))?)?')
# +QIND: "ccinfo",<idx>,<dir>,<state>,<mode>,<mpty>,"<number>",<type> (2.1); state -1 = gone
_CCINFO = re.compile(r'^\+QIND:\s*"ccinfo",(\d+),(\d),(-?\d+),(\d+),(\d+)'
                     r'(?:,"([^"]*)"(?:,(\d+))?)?')
_CMTI = re.compile(r'^\+CMTI:\s*"([^"]*)",\s*(\d+)')
_CMGS = re.compile(r"^\+CMGS:\s*(\d+)")
# Parts of a long SMS that stop coming are handed on as they are after this long.
PARTIAL_SMS_SECONDS = 3600.0


def _type(text: str | None) -> int | None:
    return int(text) if text and len(text) <= 3 else None


def parse_call_state(line: str) -> tuple[int, int, CallerId | None] | None:
    """(dir, stat, caller) of a +CLCC or +QIND "ccinfo" line, or None. dir 0 = outgoing,
    1 = incoming; stat 0 active, 2 dialling, 3 alerting, 4 incoming, 5 waiting, 6 or -1
    released (SIMCom's stat 6 and Quectel's -1, modems.md 1.3 and 2.1); caller a
    callerid.CallerId, or None when the line names no number."""
    match = _CLCC.match(line) or _CCINFO.match(line)
    if not match or match.group(4) != "0":  # mode 0 = voice
        return None
    number = match.group(6)
    caller = None if number is None else read_caller_id(number, _type(match.group(7)))
    return int(match.group(2)), int(match.group(3)), caller


def parse_clip(line: str) -> tuple[CallerId, int | None] | tuple[None, None]:
    """`+CLIP: "<number>",<type>[,...]` -> (callerid.CallerId, type), or (None, None) when
    the line is no +CLIP. Trailing fields vary by firmware (reference/modems.md 1.2); a
    withheld number is an empty string; text that is no number is withheld too (callerid)."""
    match = _CLIP.match(line)
    if not match:
        return None, None
    kind = _type(match.group(2))
    return read_caller_id(match.group(1), kind), kind


def parse_dtmf(line: str, profile: Profile) -> str | None:
    value = line[len(profile.dtmf_prefix):].strip()
    if profile.dtmf_is_ascii_code:
        # a decimal ASCII code (EC25 "+QTONEDET: 53" is '5'); anything else is line noise
        if not (value.isascii() and value.isdigit() and len(value) <= 3):
            return None
        value = chr(int(value))
    value = value[:1]
    return value if value and value in "0123456789*#ABCD" else None


class Modem:
    def __init__(self, profile: str | Profile, at_port: str, audio_port: str,
                 name: str = "box", log: logging.Logger | None = None,
                 command_timeout: float = 5.0, audio_retry_delay: float | None = None,
                 audio_backend: str | None = None, sound_device: str | None = None) -> None:
        self.profile = profiles.get(profile) if isinstance(profile, str) else profile
        self.name = name
        self.at_port = at_port
        self.audio_port = audio_port
        self.log = log or logging.getLogger("lawline.line")
        self.command_timeout = command_timeout
        self.audio_retry_delay = (self.profile.audio_retry_delay if audio_retry_delay is None
                                  else audio_retry_delay)
        self.audio_backend = audio_backend or self.profile.audio_backend
        self.sound_device = sound_device
        self.events: asyncio.Queue[PartEvent] = asyncio.Queue()
        self.at = ATChannel(at_port, name, self.profile.urc_prefixes, self._on_urc, log=self.log)
        self.in_call = False       # a call is up (answered or connected)
        self.ringing = False       # an incoming call is alerting
        self.dialling = False      # the ringing call is one this modem placed
        self.rings = 0
        self.caller: str | None = None
        self.caller_raw = ""       # a caller ID refused as no number (callerid.py), as it came
        self.audio_open = False
        self.can_bridge = True     # full-duplex call audio (V.253 without +VTR: False)
        self.can_sms = self.profile.sms
        self.inband_dtmf = False   # keys come from the audio (sound card), not from URCs
        self._tasks: set[asyncio.Task[None]] = set()
        self._sms_parts = codec.Reassembler(on_undecoded=self._sms_undecoded)
        self._sms_ref = random.randrange(256)
        # SIM index -> Event set once it is read and deleted. A +CMTI during the start-up
        # sweep (AT+CMGL) may name a message the sweep also lists: it waits for the sweep to
        # finish that index, then finds it gone (or a newer message there), so each message
        # is handed on once.
        self._sms_taking: dict[int, asyncio.Event] = {}

    # -- lifecycle -----------------------------------------------------------------------

    def make_audio(self) -> CallAudio:
        """The call-audio object the media bridge reads and writes (read_frame, write, open,
        close, jitter): where the audio is depends on the modem and its profile."""
        if self.audio_backend == "soundcard":
            from .soundcard import SoundCardPcm
            card = SoundCardPcm(self.sound_device or self.audio_port, name=self.name,
                                 log=self.log)
            # DTMF comes from where the audio is (DESIGN.md): detected in-band on the card's
            # audio; the modem's own reports are then ignored so no key counts twice.
            loop = asyncio.get_running_loop()
            card.on_digit = lambda key: loop.call_soon_threadsafe(self._inband_digit, key)
            self.inband_dtmf = True
            return card
        from .audio import SerialPcm
        port: CallAudio = SerialPcm(self.audio_port, name=self.name, log=self.log)
        return port

    @property
    def _audio_on(self) -> str:
        p = self.profile
        return p.audio_on_soundcard if self.audio_backend == "soundcard" and \
            p.audio_on_soundcard else p.audio_on

    def _spawn(self, coroutine: Coroutine[object, object, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def ping(self, timeout: float) -> bool:
        """One `AT`: True when the modem answered OK within `timeout` (the health check). A
        command in flight has its own timeout: the modem is not disturbed then."""
        if self.at.busy:
            return True
        try:
            await self.at.command("AT", timeout=timeout)
            return True
        except (ModemTimeout, CommandError):
            return False

    async def wake(self) -> None:
        """Right after the port opens: cancel a message body a killed box left half-typed."""
        await self.at.clear_leftovers(b"\x1b")

    async def start(self) -> None:
        self.at.open()
        await self.wake()
        # The first command after open may meet half a line of boot noise: allow one retry.
        await self.at.command("AT", timeout=self.command_timeout, retries=2)
        for command in self.profile.init_commands:
            try:
                await self.at.command(command, timeout=self.command_timeout, retries=1)
            except CommandError as exc:
                self.log.warning("modem %s: %s refused (%s); going on without it", self.name,
                                 command, exc.final)
        self.log.info("modem %s: ready on %s (%s), audio on %s", self.name, self.at_port,
                      self.profile.description,
                      self.sound_device if self.audio_backend == "soundcard" else
                      self.audio_port)
        if self.profile.sms:
            # Texts that arrived while the box was down are still on the SIM.
            self._spawn(self._sweep_stored_sms())

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self.at.close()

    # -- URCs ----------------------------------------------------------------------------

    def _emit(self, kind: str, number: str | None = None, digit: str | None = None,
              detail: str = "", sender_type: str = "", raw: str = "") -> None:
        self.events.put_nowait(PartEvent(f"line {self.name}", kind, number=number, digit=digit,
                                         detail=detail, sender_type=sender_type, raw=raw))

    def _on_urc(self, line: str) -> None:
        p = self.profile
        if line == "RING" or line.startswith("+CRING:"):
            if not self.in_call:
                self.ringing = True
                self.rings += 1
                self._emit("ring", number=self.caller, detail=line)
        elif line.startswith("+CLIP:"):
            caller, _ = parse_clip(line)
            if caller is not None and not self.in_call:
                self.ringing = True
                self._set_caller(caller, line)
                self._emit("caller_id", number=caller.number, detail=line, raw=caller.raw)
        elif line.startswith(p.dtmf_prefix) and self.inband_dtmf:
            self.log.debug("modem %s: %s ignored: DTMF is detected in-band", self.name, line)
        elif line.startswith(p.dtmf_prefix):
            digit = parse_dtmf(line, p)
            if digit is None:
                self.log.warning("modem %s: unreadable DTMF report %r ignored", self.name, line)
            elif self.in_call:
                self._emit("dtmf", digit=digit, detail=line)
        elif p.call_begin and line.startswith(p.call_begin):
            self._begin(line)
        elif line.startswith(p.call_end):
            self._call_over(line)
        elif (line.startswith("+CLCC:") and p.call_state_from_clcc) or \
                (line.startswith("+QIND:") and p.call_state_from_ccinfo):
            self._call_state(line)
        elif line.startswith("+CMTI:"):
            match = _CMTI.match(line)
            if match:
                self._spawn(self._take_sms(int(match.group(2)), match.group(1)))
        elif line.startswith("+SMS FULL"):
            self.log.warning("modem %s: SIM message store full; reading and clearing it",
                             self.name)
            self._spawn(self._sweep_stored_sms())
        elif line.startswith("MISSED_CALL:"):
            match = _MISSED.match(line)
            caller = read_caller_id(match.group(2)) if match else WITHHELD
            number = caller.number
            self.log.info("modem %s: missed call from %s", self.name, described(caller))
            was_ringing = self.ringing
            self._reset_call()
            if was_ringing:
                self._emit("missed", number=number, detail=line)
        else:
            self.log.debug("modem %s: %s", self.name, line)

    def _set_caller(self, caller: CallerId, line: str) -> None:
        """The caller of the ringing call: logged once per change (a +CLIP follows every
        RING); a caller ID that is no number is logged quoted and kept as caller_raw."""
        if (self.caller, self.caller_raw) == (caller.number, caller.raw):
            return
        self.caller, self.caller_raw = caller.number, caller.raw
        if caller.raw:
            self.log.warning("modem %s: incoming call from a withheld number: caller ID %r "
                             "(in %r) is not a phone number", self.name, caller.raw, line)
        else:
            self.log.info("modem %s: incoming call from %s", self.name, described(caller))

    def _inband_digit(self, key: str) -> None:
        if self.in_call:
            self._emit("dtmf", digit=key, detail="in-band")

    def _begin(self, line: str) -> None:
        if not self.in_call:
            self.in_call = True
            self.ringing = False
            self._emit("begin", number=self.caller, detail=line)

    def _call_state(self, line: str) -> None:
        state = parse_call_state(line)
        if state is None:
            return
        direction, stat, caller = state
        if stat == 0:
            self._begin(line)
        elif stat in (6, -1):
            self._call_over(line)
        elif stat in (4, 5) and not self.in_call:
            self.ringing = True
            if caller is not None and self.caller is None:
                self._set_caller(caller, line)

    def _call_over(self, line: str) -> None:
        if self.in_call or self.ringing:
            missed = self.ringing and not self.in_call and not self.dialling
            number = self.caller
            self.log.info("modem %s: call %s (%s)", self.name,
                          "missed" if missed else "ended", line)
            self._reset_call()
            if line != "NO CARRIER":
                self.at.no_carrier_expected_until = asyncio.get_running_loop().time() + 2.0
            # A modem without MISSED_CALL (EC25) ends an unanswered incoming call with
            # NO CARRIER or a released call state: that is a missed call too.
            self._emit("missed" if missed else "ended", number=number, detail=line)

    def fail_call(self, why: str) -> None:
        """The supervisor gave up on the modem (line/supervisor.py): end the call in progress
        with a `failed` event, so the call flow records why."""
        if self.in_call or self.ringing:
            self.log.error("modem %s: the call from %s ends: %s", self.name,
                           self.caller or "a withheld number", why)
            self._reset_call()
            self._emit("failed", detail=why)

    def _reset_call(self) -> None:
        self.in_call = False
        self.ringing = False
        self.dialling = False
        self.rings = 0
        self.caller = None
        self.caller_raw = ""
        self.audio_open = False

    # -- actions -------------------------------------------------------------------------

    async def answer(self) -> None:
        """ATA; the call is up when the profile's call_begin URC arrives (SIM7600: `VOICE
        CALL: BEGIN` after OK, reference/modems.md 1.2 item 4)."""
        await self.at.command("ATA", timeout=self.command_timeout)
        self.log.info("modem %s: answered the call from %s", self.name,
                      self.caller or "a withheld number")

    async def hangup(self) -> None:
        if not (self.in_call or self.ringing):
            return
        try:
            await self.at.command(self.profile.hangup_command, timeout=self.command_timeout,
                                  retries=1)
        except (CommandError, ModemTimeout) as exc:
            self.log.warning("modem %s: hang-up not confirmed (%s)", self.name, exc)
        self.log.info("modem %s: hung up", self.name)

    async def dial(self, number: str) -> None:
        """ATD<number>; (the `;` makes it a voice call, 1.3). Returns when the modem accepted
        the dial; the far end answering arrives as a `begin` event."""
        if not re.fullmatch(r"\+?[0-9*#]{1,32}", number):
            raise ValueError(f"not a dialable number: {number!r}")
        await self.at.command(f"ATD{number};", timeout=self.command_timeout)
        self.ringing = True
        self.dialling = True
        self.log.info("modem %s: dialling %s", self.name, number)

    async def send_dtmf(self, digits: str) -> None:
        for digit in digits:
            await self.at.command(f"AT+VTS={digit}", timeout=self.command_timeout)

    async def open_audio(self) -> None:
        """Start call audio on the audio port, retrying while the module refuses."""
        p = self.profile
        audio_on = self._audio_on
        for attempt in range(p.audio_retries + 1):
            if not self.in_call:
                raise ModemError(f"modem {self.name}: call ended before audio could open")
            try:
                await self.at.command(audio_on, timeout=self.command_timeout)
                self.audio_open = True
                if attempt:
                    self.log.info("modem %s: call audio open after %d refusals", self.name,
                                  attempt)
                return
            except CommandError as exc:
                if attempt == p.audio_retries:
                    raise ModemError(f"modem {self.name}: {audio_on} refused "
                                     f"{attempt + 1} times ({exc.final}); no call audio")
                self.log.warning("modem %s: %s refused (%s), retrying in %g s", self.name,
                                 audio_on, exc.final, self.audio_retry_delay)
                await asyncio.sleep(self.audio_retry_delay)

    async def close_audio(self) -> None:
        if not self.audio_open:
            return
        self.audio_open = False
        try:
            await self.at.command(self.profile.audio_off, timeout=self.command_timeout)
        except (CommandError, ModemTimeout) as exc:
            # Idle modules may answer ERROR to CPCMREG=0 (1.5): the call is gone anyway.
            self.log.info("modem %s: %s not accepted (%s)", self.name, self.profile.audio_off,
                          exc)

    async def next_event(self, timeout: float | None = None) -> PartEvent:
        return await asyncio.wait_for(self.events.get(), timeout)

    # -- SMS (modems.md section 3) ----------------------------------------------------------

    async def send_sms(self, number: str, text: str) -> list[int]:
        """Send `text` to `number` in PDU mode: UCS-2 unless every character is GSM-7, split
        into concatenated parts when long. Returns the +CMGS message reference of each part.
        SmsError (with the +CMS ERROR code) when the modem or network refuses a part."""
        if not self.profile.sms:
            raise ModemError(f"modem {self.name}: {self.profile.description} cannot send SMS")
        pdus = codec.encode_submit(number, text, ref=self._sms_ref)
        self._sms_ref = (self._sms_ref + 1) % 256
        refs: list[int] = []
        for i, pdu in enumerate(pdus, 1):
            command = f"AT+CMGS={pdu.tpdu_length}"
            try:
                lines = await self.at.command_with_prompt(
                    command, pdu.hex, timeout=self.profile.sms_timeout,
                    prompt_timeout=self.command_timeout, expect="+CMGS:")
            except CommandError as exc:
                error = SmsError(command, exc.final, exc.lines)
                self.log.warning("modem %s: SMS to %s: part %d of %d refused: %s", self.name,
                                 number, i, len(pdus), error)
                raise error from None
            match = next((m for m in map(_CMGS.match, lines) if m), None)
            if match is None:
                raise SmsError(command, "no +CMGS reference in the reply", lines)
            refs.append(int(match.group(1)))
        self.log.info("modem %s: SMS to %s sent: %d characters in %d part(s), references %s",
                      self.name, number, len(text), len(pdus),
                      ",".join(map(str, refs)))
        return refs

    async def _take_sms(self, index: int, memory: str = "SM") -> None:
        """+CMTI: read the message, hand on its text once all its parts are in, delete it."""
        while index in self._sms_taking:
            await self._sms_taking[index].wait()
        self._sms_taking[index] = done = asyncio.Event()
        try:
            try:
                lines = await self.at.command(f"AT+CMGR={index}", timeout=self.command_timeout,
                                              expect="+CMGR:")
            except (CommandError, ModemTimeout) as exc:
                self.log.warning("modem %s: cannot read SMS %s in %s: %s", self.name, index,
                                 memory, exc)
                return
            pdu = next((x for x in lines if not x.startswith("+CMGR:")), "")
            self._received_pdu(index, pdu)
            await self._delete_sms(index)
        finally:
            del self._sms_taking[index]
            done.set()

    def _received_pdu(self, index: int, pdu: str) -> None:
        try:
            message = codec.decode_pdu(pdu)
        except codec.PduError as exc:
            # Keep the raw PDU in the log: nothing else is left of it once deleted.
            self.log.error("modem %s: SMS %s unreadable (%s): %r", self.name, index, exc, pdu)
            return
        if message.kind != "deliver":
            self.log.info("modem %s: stored message %s is not an incoming SMS; deleted",
                          self.name, index)
            return
        text = self._sms_parts.add(message)
        c = message.concat
        if text is None:
            assert c is not None    # add() waits for more only for a concatenated message
            self.log.info("modem %s: SMS part %d of %d from %r (%s) in; waiting for the rest",
                          self.name, c.seq, c.total, message.number, message.sender_type)
        else:
            self.log.info("modem %s: SMS from %r (%s): %d characters%s", self.name,
                          message.number, message.sender_type, len(text),
                          f" in {c.total} parts" if c else "")
            self._emit("sms", number=message.number, detail=text,
                       sender_type=message.sender_type)
        for number, partial, missing, kind in self._sms_parts.expire_parts(PARTIAL_SMS_SECONDS):
            self.log.warning("modem %s: SMS from %r (%s) incomplete (parts %s did not come "
                             "within %g s, or too many messages were waiting for parts); "
                             "handing on what arrived", self.name, number, kind,
                             ",".join(map(str, missing)), PARTIAL_SMS_SECONDS)
            self._emit("sms", number=number, detail=partial, sender_type=kind)

    def _sms_undecoded(self, number: str, kind: str, kept: list[codec.Undecoded]) -> None:
        """Once per message: what of it could not be decoded and is in its text as hex."""
        self.log.warning("modem %s: SMS from %r (%s): %d stretch%s could not be decoded and "
                         "%s kept in the text as hex: %s", self.name, number, kind, len(kept),
                         "" if len(kept) == 1 else "es", "is" if len(kept) == 1 else "are",
                         "; ".join(repr(str(k)) for k in kept))

    async def _delete_sms(self, index: int) -> None:
        try:
            await self.at.command(f"AT+CMGD={index}", timeout=self.command_timeout)
        except (CommandError, ModemTimeout) as exc:
            self.log.warning("modem %s: SMS %s not deleted: %s", self.name, index, exc)

    async def _sweep_stored_sms(self) -> None:
        """Read every message on the SIM (AT+CMGL=4: all, PDU mode), then delete each."""
        try:
            lines = await self.at.command("AT+CMGL=4", timeout=self.command_timeout * 2)
        except (CommandError, ModemTimeout, ModemError) as exc:
            self.log.info("modem %s: stored SMS not listed: %s", self.name, exc)
            return
        stored: list[tuple[int, str]] = []
        for i, line in enumerate(lines):
            match = re.match(r"^\+CMGL:\s*(\d+),", line)
            if match and i + 1 < len(lines):
                stored.append((int(match.group(1)), lines[i + 1]))
        stored = [(i, pdu) for i, pdu in stored if i not in self._sms_taking]
        if stored:
            self.log.info("modem %s: %d stored SMS on the SIM", self.name, len(stored))
        for index, _ in stored:
            self._sms_taking[index] = asyncio.Event()
        try:
            for index, pdu in stored:
                self._received_pdu(index, pdu)
                await self._delete_sms(index)
                self._sms_taking.pop(index).set()
        finally:
            for index, _ in stored:
                if index in self._sms_taking:
                    self._sms_taking.pop(index).set()
