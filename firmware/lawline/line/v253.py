"""An ITU-T V.253 voice modem on an analog (FXO) line (reference/modems.md section 4).

Same outside as the GSM driver (modem.Modem): start, close, events, answer, hangup,
open_audio, close_audio, make_audio, in_call. Inside, everything differs:

- one serial port carries AT commands and, in a data state, the samples (DLE-shielded);
- no caller-ID URC: after the first RING the modem prints a block (DATE/TIME/NMBR/NAME, with
  or without spaces around '=') once AT+VCID=1 was sent (4.1; resent at every start because
  some units forget it); AT+GCI=26 sets China's line parameters (4.6);
- answering is going off-hook (AT+VLS=1, answered OK or VCON);
- call audio: AT+VTR (full duplex) when the modem has it; otherwise AT+VTX (play) and AT+VRX
  (record) in turn, switching to play while the box has something to say and back to record
  when it falls silent, so prompts, menus and voicemail work but bridging does not;
- the far end hanging up is heard, not signalled: DLE b (busy tone), DLE d (dial tone) or
  DLE l (loop current break). DLE h/H are the local handset, never the caller (4.3).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Protocol

from ..errors import CommandError, ModemError, ModemTimeout
from . import profiles, voice
from .at import ATChannel
from .callerid import V253_MARKS, described, read_caller_id
from ..events import PartEvent
from .v253audio import V253Audio

if TYPE_CHECKING:
    from ..settings import LineSection
    from .profiles import Profile

_CID = re.compile(r"^(DATE|TIME|NMBR|NAME|MESG|DDN_NMBR)\s*=\s*(.*)$")
HANGUP_CUES = {"b": "busy tone", "d": "dial tone", "l": "loop current break",
               "K": "busy tone", "i": "dial tone"}
DTMF_KEYS = "0123456789*#ABCD"
SWITCH_TO_RECORD = 0.5    # half duplex: this long without sound from the box -> listen
RING_GONE_AFTER = 8.0     # no RING for this long while ringing: the caller gave up


class Report(Protocol):
    """`lawline check`'s rows (check.Report), as probe adds to them."""
    def add(self, state: str, part: str, message: str) -> None: ...


class V253Modem:
    def __init__(self, profile: str | Profile, at_port: str, audio_port: str | None = None,
                 name: str = "box", log: logging.Logger | None = None,
                 command_timeout: float = 5.0, audio_retry_delay: float | None = None,
                 audio_backend: str | None = None, sound_device: str | None = None) -> None:
        self.profile = profiles.get(profile) if isinstance(profile, str) else profile
        self.name = name
        self.at_port = at_port
        self.audio_port = at_port
        self.log = log or logging.getLogger("lawline.line")
        if audio_port and audio_port != at_port:
            self.log.warning("modem %s: audio_port %s ignored: a V.253 modem carries call "
                             "audio on its AT port %s", name, audio_port, at_port)
        if audio_backend not in (None, "v253", "serial"):
            self.log.warning("modem %s: audio_backend %s ignored: a V.253 modem's audio is "
                             "in-band on %s", name, audio_backend, at_port)
        self.command_timeout = command_timeout
        self.events: asyncio.Queue[PartEvent] = asyncio.Queue()
        self.at = ATChannel(at_port, name, self.profile.urc_prefixes, self._on_urc, log=self.log)
        self.audio = V253Audio(name, self.log)
        self.in_call = False
        self.ringing = False
        self.dialling = False
        self.rings = 0
        self.caller: str | None = None
        self.caller_raw = ""           # an NMBR refused as no number (callerid.py), as it came
        self.caller_name: str | None = None
        self.audio_open = False
        self.can_bridge = False        # AT+VTR works (full duplex)
        self.can_sms = False
        self.notes: list[str] = []     # plain sentences for `lawline check`
        # [voicemail] silence_seconds, set by the box before start: the modem's own silence
        # detector (AT+VSD) reports DLE s / DLE q after that long without voice
        self.voice_silence = 0.0
        self.mode = "command"          # command, play (VTX), record (VRX), duplex (VTR)
        self.audio_backend = "v253"
        self._decoder = voice.DleDecoder()
        self._play_dle = False
        self._host_ended = False
        self._mode_lock = asyncio.Lock()
        self._ring_timer: asyncio.TimerHandle | None = None
        self._steer_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle -----------------------------------------------------------------------

    def make_audio(self) -> V253Audio:
        return self.audio

    def _spawn(self, coroutine: Coroutine[object, object, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _setting(self, command: str, why: str,
                       required: bool = False) -> list[str] | None:
        try:
            return await self.at.command(command, timeout=self.command_timeout, retries=1)
        except CommandError as exc:
            if required:
                raise ModemError(f"modem {self.name}: {command} refused ({exc.final}): {why}")
            self.log.warning("modem %s: %s refused (%s); %s", self.name, command, exc.final, why)
            return None

    async def wake(self) -> None:
        """Right after the port opens: end a voice state a killed box left running (DLE !
        ends a receive, DLE ^ a duplex, DLE ETX a transmit; V.253 4.3)."""
        await self.at.clear_leftovers(b"\x10!\x10^\x10\x03")

    async def start(self) -> None:
        self.at.open()
        fd = self.at.fileno()
        assert fd is not None   # open() raised if the port did not open
        self.audio.writer.attach(fd)
        await self.wake()
        await self.at.command("AT", timeout=self.command_timeout, retries=2)
        await self._setting("ATE0", "echo stays on")
        await self._setting("AT+FCLASS=8", "this is not a V.253 voice modem", required=True)
        await self._setting("AT+VCID=1", "no caller ID: calls are answered at the 2nd ring")
        await self._setting("AT+GCI=26", "the line keeps the modem's own country setting; "
                            "caller ID may fail (reference/modems.md 4.6)")
        lines = await self._setting("AT+VSM=?", "the modem lists no sample formats") or []
        chosen = voice.choose_format(voice.parse_vsm(lines))
        if chosen is None:
            raise ModemError(f"modem {self.name}: no usable 8 kHz sample format in AT+VSM=? "
                             f"({'; '.join(lines) or 'no answer'})")
        await self._setting(f"AT+VSM={chosen.cml},8000,0,0", "sample format", required=True)
        self.audio.format = chosen
        await self._setting("AT+VIT=0", "the modem may drop voice mode when idle")
        # its silence detector: 128 nominal sensitivity, the period in 0.1 s, at most 25.5 s
        # (reference/modems.md 4.4); 0 turns it off. The box's own level meter on the samples
        # (line/audio.VoiceMeter) ends a message on silence too, this is the modem's view.
        tenths = min(255, max(0, round(self.voice_silence * 10)))
        await self._setting(f"AT+VSD=128,{tenths}", "the modem's silence detector is not "
                            "set; the box's level meter still ends a message on silence")
        await self._setting("AT+VLS=0", "line state unknown")
        try:
            await self.at.command("AT+VTR=?", timeout=self.command_timeout)
            self.can_bridge = True
        except CommandError:
            self.can_bridge = False
        self.notes = [f"call audio in-band as {chosen.name} ({chosen.codec}), 8000/s"]
        if self.can_bridge:
            self.notes.append("full duplex (AT+VTR): bridging to duty phones works")
        else:
            self.notes.append("bridging unavailable on this modem: no AT+VTR; prompts and "
                              "voicemail use AT+VTX/AT+VRX")
            self.log.warning("modem %s: bridging unavailable on this modem: no AT+VTR "
                             "(prompts and voicemail still work)", self.name)
        self.log.info("modem %s: ready on %s (%s), %s", self.name, self.at_port,
                      self.profile.description, "; ".join(self.notes))

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._ring_timer is not None:
            self._ring_timer.cancel()
        self.audio.writer.detach()
        self.at.close()

    def fail_call(self, why: str) -> None:
        """The supervisor gave up on the modem: end the call with a `failed` event."""
        if self.in_call or self.ringing:
            self.log.error("modem %s: the call from %s ends: %s", self.name,
                           self.caller or "a withheld number", why)
            self.in_call = self.ringing = self.audio_open = False
            self.caller = None
            self.caller_raw = ""
            self.rings = 0
            self.mode = "command"
            self.audio.sending = False
            self.at.end_data_state()
            self._emit("failed", detail=why)

    async def ping(self, timeout: float) -> bool:
        if self.at.in_data_state or self.at.busy:
            return True  # samples are flowing, or a command is in flight: leave it alone
        try:
            await self.at.command("AT", timeout=timeout)
            return True
        except (ModemTimeout, CommandError):
            return False

    async def send_sms(self, number: str, text: str) -> list[int]:
        raise ModemError(f"modem {self.name}: a V.253 voice modem on an analog line cannot "
                         "send SMS")

    # -- lines from the modem ------------------------------------------------------------

    def _emit(self, kind: str, number: str | None = None, digit: str | None = None,
              detail: str = "", raw: str = "") -> None:
        self.events.put_nowait(PartEvent(f"line {self.name}", kind, number=number, digit=digit,
                                         detail=detail, raw=raw))

    def _on_urc(self, line: str) -> None:
        if line == "RING":
            if self.in_call:
                return
            self.ringing = True
            self.rings += 1
            self._arm_ring_timer()
            self._emit("ring", number=self.caller, detail=line)
            return
        match = _CID.match(line)
        if match:
            self._caller_id(match.group(1), match.group(2).strip(), line)
        elif line == "NO CARRIER":
            self._call_over(line)
        else:
            self.log.debug("modem %s: %s", self.name, line)

    def _caller_id(self, tag: str, value: str, line: str) -> None:
        if self.in_call:
            return
        if tag == "NMBR":
            # P: private (withheld), O: out of area / unavailable (4.1); any other text that
            # is no number is withheld too, and kept as it came (callerid.py)
            caller = read_caller_id(value, marks=V253_MARKS)
            self.ringing = True
            if (caller.number, caller.raw) != (self.caller, self.caller_raw):
                self.caller, self.caller_raw = caller.number, caller.raw
                if caller.raw:
                    self.log.warning("modem %s: incoming call from a withheld number: caller "
                                     "ID %r (in %r) is not a phone number", self.name,
                                     caller.raw, line)
                else:
                    self.log.info("modem %s: incoming call from %s", self.name,
                                  described(caller))
            self._emit("caller_id", number=caller.number, detail=line, raw=caller.raw)
        elif tag == "NAME":
            self.caller_name = value
            self.log.info("modem %s: caller's name %r", self.name, value)
        else:
            self.log.debug("modem %s: caller-ID %s", self.name, line)

    def _arm_ring_timer(self) -> None:
        if self._ring_timer is not None:
            self._ring_timer.cancel()
        self._ring_timer = asyncio.get_running_loop().call_later(RING_GONE_AFTER,
                                                                 self._rings_stopped)

    def _rings_stopped(self) -> None:
        self._ring_timer = None
        if self.ringing and not self.in_call:
            # An analog line says nothing when the caller gives up: the rings just stop.
            self._call_over(f"no RING for {RING_GONE_AFTER:g} s")

    def _call_over(self, why: str) -> None:
        if not (self.in_call or self.ringing):
            return
        missed = self.ringing and not self.in_call
        number = self.caller
        self.log.info("modem %s: call %s (%s)", self.name, "missed" if missed else "ended", why)
        was_in_call = self.in_call
        self.in_call = self.ringing = False
        self.rings = 0
        self.caller = self.caller_name = None
        self.caller_raw = ""
        self.audio_open = False
        if self._ring_timer is not None:
            self._ring_timer.cancel()
            self._ring_timer = None
        self._emit("missed" if missed else "ended", number=number, detail=why)
        if was_in_call:
            self._spawn(self._on_hook())

    # -- the data state --------------------------------------------------------------------

    def _on_data(self, chunk: bytes) -> bytes | None:
        """Bytes read in a data state (ATChannel hands them over after CONNECT). Returns what
        follows the end of the data state, or None while it lasts."""
        if self.mode == "play":
            # In VTX the modem sends only DLE events; after the host's DLE ETX its next
            # non-DLE byte starts the final result (OK) (4.3).
            for i, b in enumerate(chunk):
                if self._play_dle:
                    self._play_dle = False
                    if b == voice.ETX:
                        return chunk[i + 1:]
                    if b != voice.DLE:
                        self._dle_event(chr(b))
                elif b == voice.DLE:
                    self._play_dle = True
                elif self._host_ended:
                    return chunk[i:]
            return None
        data, events, end = self._decoder.feed(chunk)
        self.audio.from_modem(data)
        for code in events:
            self._dle_event(code)
        return None if end is None else chunk[end:]

    def _dle_event(self, code: str) -> None:
        if code in DTMF_KEYS:
            if self.in_call:
                self._emit("dtmf", digit=code, detail=f"DLE {code}")
        elif code in HANGUP_CUES:
            if self.in_call:
                self._call_over(f"DLE {code}: {HANGUP_CUES[code]}, the caller hung up")
        elif code in "hH":
            self.log.info("modem %s: DLE %s: the local handset went %s-hook (not the caller)",
                          self.name, code, "on" if code == "h" else "off")
        elif code in "sq":
            self.log.info("modem %s: DLE %s: %s", self.name, code,
                          "no voice at all" if code == "s" else "quiet after speech")
            if self.in_call:
                self._emit("silence", detail=f"DLE {code}")
        elif code in "ou":
            self.log.debug("modem %s: DLE %s: %s", self.name, code,
                           "receive overrun" if code == "o" else "transmit underrun")
        elif code in "/~":
            pass  # IS-101 digit framing: the digit itself was reported
        else:
            self.log.debug("modem %s: DLE event %r", self.name, code)

    async def _enter(self, mode: str) -> None:
        command = {"play": "AT+VTX", "record": "AT+VRX", "duplex": "AT+VTR"}[mode]
        self._decoder.reset()
        self.audio.stream_start()
        self._play_dle = False
        self._host_ended = False
        self.mode = mode
        try:
            await self.at.command(command, timeout=self.command_timeout, data=self._on_data)
        except BaseException:
            self.mode = "command"
            raise
        self.audio.sending = mode in ("play", "duplex")

    async def _leave(self) -> None:
        mode = self.mode
        if mode == "command":
            return
        self.audio.sending = False
        # VTX ends with DLE ETX (DLE CAN first would flush), VRX with DLE !, VTR with DLE ^
        # (4.3); the modem then ends its stream with DLE ETX (not in VTX) and says OK.
        codes = {"play": b"\x10\x03", "record": b"\x10!", "duplex": b"\x10^"}[mode]
        self._host_ended = True
        try:
            if self.at.in_data_state:
                await self.at.leave_data_state(codes, f"<DLE {codes[1:]!r}>",
                                               self.command_timeout, self.audio.writer.control)
        finally:
            self.mode = "command"

    async def _set_mode(self, mode: str) -> None:
        async with self._mode_lock:
            if self.mode == mode or not self.in_call:
                return
            try:
                await self._leave()
                await self._enter(mode)
                self.log.debug("modem %s: voice %s", self.name, mode)
            except (ModemError, CommandError) as exc:
                self.log.warning("modem %s: switching to %s failed: %s", self.name, mode, exc)

    async def _steer(self) -> None:
        """Half duplex: play while the box speaks, record while it is silent."""
        audio = self.audio
        while self.in_call and self.audio_open:
            now = time.monotonic()
            if self.mode == "play" and not audio.backlog and \
                    now - audio.last_sound > SWITCH_TO_RECORD:
                await self._set_mode("record")
            elif self.mode == "record" and audio.backlog:
                await self._set_mode("play")
            await asyncio.sleep(0.02)

    # -- actions -------------------------------------------------------------------------

    async def answer(self) -> None:
        """Off-hook (AT+VLS=1): the call is up at once; an analog line has no 'begin'."""
        await self.at.command("AT+VLS=1", timeout=self.command_timeout, ok=("VCON",))
        if self._ring_timer is not None:
            self._ring_timer.cancel()
            self._ring_timer = None
        self.in_call = True
        self.ringing = False
        self.log.info("modem %s: answered the call from %s", self.name,
                      self.caller or "a withheld number")
        self._emit("begin", number=self.caller, detail="AT+VLS=1")

    async def open_audio(self) -> None:
        if not self.in_call:
            raise ModemError(f"modem {self.name}: call ended before audio could open")
        self.audio.backlog.clear()
        self.audio._loud_held = 0
        self.audio.last_sound = time.monotonic()
        async with self._mode_lock:
            await self._enter("duplex" if self.can_bridge else "play")
        self.audio_open = True
        if not self.can_bridge:
            self._steer_task = self._spawn(self._steer())

    async def close_audio(self) -> None:
        self.audio_open = False
        if self._steer_task is not None:
            self._steer_task.cancel()
            self._steer_task = None
        async with self._mode_lock:
            try:
                await self._leave()
            except (ModemError, CommandError) as exc:
                self.log.info("modem %s: leaving the voice data state: %s", self.name, exc)
                self.at.end_data_state()

    async def _on_hook(self) -> None:
        await self.close_audio()
        try:
            await self.at.command(self.profile.hangup_command, timeout=self.command_timeout,
                                  retries=1)
        except (CommandError, ModemError) as exc:
            self.log.warning("modem %s: hang-up not confirmed (%s)", self.name, exc)

    async def hangup(self) -> None:
        if self.in_call:
            self.in_call = False  # from here on, DLE events of this call are not the caller's
            await self._on_hook()
            self.log.info("modem %s: hung up", self.name)
            self.ringing = self.audio_open = False
            self.caller = self.caller_name = None
            self.caller_raw = ""
            self.rings = 0
            self._emit("ended", detail="hung up by the box")
        elif self.ringing:
            # Refusing a call on an analog line: pick up and put down again.
            try:
                await self.at.command("AT+VLS=1", timeout=self.command_timeout, ok=("VCON",))
            except CommandError as exc:
                self.log.info("modem %s: AT+VLS=1 refused (%s)", self.name, exc.final)
            await self._on_hook()
            self._call_over("the box refused the call")

    async def dial(self, number: str) -> None:
        raise ModemError(f"modem {self.name}: dialling out on the analog line is not "
                         "implemented")

    async def send_dtmf(self, digits: str) -> None:
        for digit in digits:
            await self.at.command(f"AT+VTS={digit}", timeout=self.command_timeout)

    async def next_event(self, timeout: float | None = None) -> PartEvent:
        return await asyncio.wait_for(self.events.get(), timeout)


async def probe(line: LineSection, report: Report) -> None:
    """`lawline check` for a V.253 modem: does it answer, which sample format, full duplex?
    `report.add(state, part, message)` as in check.py."""
    modem = V253Modem("v253", line.at_port, line.audio_port, name=line.at_port,
                      command_timeout=line.command_timeout)
    try:
        await modem.start()
    except (ModemError, OSError) as exc:
        report.add("fail", "modem", str(exc))
        return
    finally:
        modem.close()
    report.add("ok", "modem", f"answers on {line.at_port} (V.253 voice modem); "
                              f"{modem.notes[0]}")
    report.add("ok" if modem.can_bridge else "warn", "bridging", modem.notes[1])
