"""One call, from the first ring to the call record: greeting, menu, bridge or voicemail.

Everything here runs on the asyncio loop. The caller can hang up at any moment; every wait
races against that (`CallEnded`), and whatever was recorded up to then is kept.
"""

import asyncio
import json
import logging
import os
import secrets
import time
import wave
from pathlib import Path

from ..errors import CallEnded, LawlineError, ModemError, SipError
from ..sip import leg as legs
from .menu import Menu

log = logging.getLogger("lawline.call")

VOICEMAIL_BOXES = {
    # branch: (instruction prompt, what the record calls it)
    "consultation": ("record_message", "consultation"),
    "service_request": ("record_request", "service_request"),
    "complaint": ("record_complaint", "complaint"),
}


def new_call_id(now=None):
    return time.strftime("%y%m%d-%H%M%S", time.localtime(now)) + "-" + secrets.token_hex(2)


class CallSession:
    def __init__(self, box, caller):
        self.box = box
        self.cfg = box.config
        self.core = box.core
        self.modem = box.modem
        self.prompts = box.prompts
        self.caller = caller
        self.id = new_call_id()
        self.ended = asyncio.Event()
        self.keys = asyncio.Queue()
        self.menu = Menu(self.cfg.menu.max_tries)
        self.started = time.time()
        self.record = {
            "call_id": self.id,
            "line": self.cfg.office.number,
            "caller": caller or "",
            "started": _iso(self.started),
            "answered": None,
            "ended": None,
            "duration_s": None,
            "menu_path": self.menu.path,
            "branch": None,
            "outcome": "abandoned",
            "duty_legs": [],
            "case_number": None,
            "voicemail": None,
        }
        self._pump = None
        self._players = []

    # -- plumbing ------------------------------------------------------------------------

    def say(self, message, *args):
        log.info("call %s from %s: " + message, self.id, self.caller or "withheld", *args)

    async def _pump_events(self):
        while True:
            event = await self.modem.events.get()
            if event.kind == "dtmf":
                self.say("key %s", event.digit)
                self.keys.put_nowait(event.digit)
            elif event.kind in ("ended", "missed"):
                self.ended.set()
                return

    async def _race(self, awaitable, timeout=None):
        """Wait for `awaitable`, the caller hanging up, or the timeout (returns None)."""
        task = asyncio.ensure_future(awaitable)
        gone = asyncio.ensure_future(self.ended.wait())
        try:
            done, _ = await asyncio.wait({task, gone}, timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            if not task.done():
                task.cancel()
        if task in done:
            return task.result()
        if gone in done:
            raise CallEnded()
        return None

    async def play(self, *names, interruptible=True):
        """Play prompts in a row to the caller. Returns the key that interrupted them, or
        None when they played to the end."""
        for name in names:
            if self.ended.is_set():
                raise CallEnded()
            if interruptible and not self.keys.empty():
                return self.keys.get_nowait()
            key = await self._play_file(self.prompts.path(name), interruptible)
            if key is not None:
                self.say("prompt %s interrupted by key %s", name, key)
                return key
        return None

    async def _play_file(self, path, interruptible):
        player = self.core.player(path)
        player.startTransmit(self.core.line)
        try:
            if interruptible:
                get = asyncio.ensure_future(self.keys.get())
                try:
                    await self._race(asyncio.wait({get, player.done},
                                                  return_when=asyncio.FIRST_COMPLETED))
                finally:
                    if not get.done():
                        get.cancel()
                if get.done() and not get.cancelled():
                    return get.result()
            else:
                await self._race(player.done)
            return None
        finally:
            self.core.stop_player(player, self.core.line)

    async def wait_key(self, timeout):
        return await self._race(self.keys.get(), timeout)

    # -- the call ------------------------------------------------------------------------

    async def run(self):
        self._pump = asyncio.ensure_future(self._pump_events())
        try:
            await self._answer()
            await self._flow()
        except CallEnded:
            self.say("caller hung up")
        except (ModemError, SipError, LawlineError) as exc:
            self.record["outcome"] = "error"
            self.record["error"] = str(exc)
            log.error("call %s: %s", self.id, exc)
        finally:
            await self._finish()

    async def _answer(self):
        await self.modem.answer()
        await self._race(self._wait_begin(), timeout=10)
        if not self.modem.in_call:
            raise ModemError(f"modem {self.modem.name}: answered but the call never began")
        self.record["answered"] = _iso(time.time())
        self.box.pcm.jitter.clear()
        await self.modem.open_audio()
        self.core.line.source = self.box.pcm
        self.core.line.sink = self.box.pcm
        self.say("answered, call audio open")

    async def _wait_begin(self):
        while not self.modem.in_call:
            await asyncio.sleep(0.02)

    async def _flow(self):
        key = await self.play("greeting", "menu")
        while True:
            if key is None:
                key = await self.wait_key(self.cfg.menu.key_timeout)
            decision = self.menu.key(key) if key is not None else self.menu.timeout()
            if decision.action == "branch":
                self.record["branch"] = decision.branch
                self.say("chose %s (key %s)", decision.branch, decision.key)
                await getattr(self, "_" + decision.branch)()
                return
            if decision.action == "repeat":
                key = await self.play("menu")
            elif decision.action in ("invalid", "no_key"):
                self.say("%s, try %d of %d", "invalid key " + decision.key
                         if decision.key else "no key", self.menu.failures, self.menu.max_tries)
                key = await self.play("invalid_key" if decision.key else "no_key", "menu")
            else:
                self.say("gave up after %d tries without a valid key", self.menu.failures)
                self.record["outcome"] = "no_input"
                await self.play("goodbye", interruptible=False)
                await self.modem.hangup()
                return

    # -- branches ------------------------------------------------------------------------

    async def _consultation(self):
        if await self._hunt():
            return
        await self._voicemail("consultation", intro="duty_unavailable")

    async def _service_request(self):
        await self._voicemail("service_request")

    async def _complaint(self):
        await self._voicemail("complaint")

    async def _hunt(self):
        """Call the duty phones one after the other; bridge the first that accepts.
        Returns True when the caller was bridged (and the bridged call has ended)."""
        numbers = list(self.cfg.duty.numbers)
        if not numbers:
            self.say("no duty numbers configured; straight to voicemail")
            return False
        await self.play("connecting", interruptible=False)
        ringback = self.core.player(self.prompts.path("ringback"), repeat=True)
        ringback.startTransmit(self.core.line)
        accepted = None
        try:
            for number in numbers:
                uri = self.cfg.sip.uri_template.format(number=number)
                result, leg = await legs.confirm_leg(
                    self.core, self.box.account, number, uri, self.prompts.path("whisper"),
                    self.cfg.duty.ring_timeout, self.cfg.duty.confirm_timeout, self.ended)
                self.record["duty_legs"].append(
                    {"number": number, "outcome": result.outcome, "sip_code": result.code,
                     "seconds_to_accept": result.seconds_to_answer})
                if result.outcome == "caller_gone":
                    raise CallEnded()
                if leg is not None:
                    accepted = leg
                    break
        finally:
            self.core.stop_player(ringback, self.core.line)
        if accepted is None:
            self.say("no duty phone accepted")
            return False
        await self._bridge(accepted)
        return True

    async def _bridge(self, leg):
        self.record["outcome"] = "bridged"
        self.record["bridged_to"] = leg.number
        line, audio = self.core.line, leg.audio
        line.startTransmit(audio)
        audio.startTransmit(line)
        self.say("bridged to duty phone %s", leg.number)
        bridged_at = time.time()
        try:
            while not leg.disconnected:
                event = await self._race(leg.events.get())
                leg.take_event(event)
            self.say("duty phone %s hung up after %.0f s", leg.number, time.time() - bridged_at)
        finally:
            self.record["bridged_s"] = round(time.time() - bridged_at, 1)
            for a, b in ((line, audio), (audio, line)):
                try:
                    a.stopTransmit(b)
                except Exception:
                    pass
            await legs.hang_up(self.core, leg)
        if not self.ended.is_set():
            await self.play("goodbye", interruptible=False)
            await self.modem.hangup()

    async def _voicemail(self, box, intro=None):
        instruction, kind = VOICEMAIL_BOXES[box]
        self.record["outcome"] = "voicemail" if box != "complaint" else "complaint"
        names = ([intro] if intro else []) + [instruction]
        await self.play(*names)  # a key skips the instructions
        while not self.keys.empty():
            self.keys.get_nowait()
        await self.play("beep", interruptible=False)
        spool = self.box.incoming_dir
        path = spool / f"{self.id}-{box}.wav"
        recording = self.core.recorder(path, self.core.line)
        reason = "maximum length"
        began = time.time()
        try:
            deadline = began + self.cfg.voicemail.max_seconds
            while True:
                remaining = deadline - time.time()
                if remaining <= 0:
                    break
                key = await self._race(self.keys.get(), remaining)
                if key == "#":
                    reason = "# pressed"
                    break
        except CallEnded:
            reason = "caller hung up"
        finally:
            complete = await recording.finish()
        seconds = wav_seconds(path)
        self.say("voicemail for %s ended (%s), %.1f s%s", box, reason, seconds,
                 "" if complete else " (header repaired)")
        if not complete:
            repair_wav(path)
        await self._commit_voicemail(box, path, seconds, reason, began)

    async def _commit_voicemail(self, box, path, seconds, reason, began):
        case = self.box.cases.next()
        self.record["case_number"] = case
        record = {
            "case_number": case,
            "box": box,
            "caller": self.caller or "",
            "line": self.cfg.office.number,
            "office": self.cfg.office.id,
            "menu_path": list(self.menu.path),
            "call_id": self.id,
            "started": _iso(began),
            "duration_s": round(seconds, 2),
            "ended_by": reason,
            "short": seconds < self.cfg.voicemail.min_seconds,
        }
        try:
            self.box.outbox.commit(case, "voicemail", record, {"voicemail.wav": path})
        except OSError as exc:
            log.error("call %s: voicemail could not be stored (%s); caller told", self.id, exc)
            self.record["outcome"] = "error"
            self.record["error"] = f"spool: {exc}"
            if not self.ended.is_set():
                await self.play("service_unavailable", "goodbye", interruptible=False)
                await self.modem.hangup()
            return
        self.record["voicemail"] = {"case_number": case, "seconds": round(seconds, 2)}
        self.say("voicemail stored as case %s in the outbox", case)
        self.box.kick_upload()
        if self.ended.is_set():
            return
        readback = self.box.tmp_dir / f"{self.id}-case.wav"
        self.prompts.concat(["case_number"] + [f"digit_{d}" for d in case], readback)
        await self.play("recorded", interruptible=False)
        await self._play_file(readback, interruptible=False)
        await self._play_file(readback, interruptible=False)  # twice: callers write it down
        await self.play("goodbye", interruptible=False)
        readback.unlink(missing_ok=True)
        await self.modem.hangup()

    # -- the end -------------------------------------------------------------------------

    async def _finish(self):
        line = self.core.line
        line.source = None
        line.sink = None
        if self.modem.in_call or self.modem.ringing:
            try:
                await self.modem.close_audio()
                await self.modem.hangup()
            except (ModemError, OSError) as exc:
                log.warning("call %s: hang-up failed: %s", self.id, exc)
        if self._pump:
            if not self.ended.is_set():
                try:
                    await asyncio.wait_for(asyncio.shield(self._pump), 5)
                except asyncio.TimeoutError:
                    pass
            self._pump.cancel()
        self.modem.audio_open = False
        now = time.time()
        self.record["ended"] = _iso(now)
        self.record["duration_s"] = round(now - self.started, 1)
        try:
            self.box.outbox.commit(f"call-{self.id}", "call", self.record, {})
        except OSError as exc:
            log.error("call %s: call record could not be stored: %s", self.id, exc)
        self.say("call over: %s, %.0f s", self.record["outcome"], self.record["duration_s"])
        self.box.kick_upload()


def _iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(t))


def wav_seconds(path):
    try:
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / w.getframerate()
    except (OSError, wave.Error, EOFError):
        size = os.path.getsize(path) if os.path.exists(path) else 0
        return max(0, size - 44) / 16000


def repair_wav(path):
    """Rewrite a WAV header so its sizes match the audio actually on disk (a recorder that
    was cut short leaves a header that says 0 bytes)."""
    path = Path(path)
    size = path.stat().st_size
    data = max(0, size - 44)
    data -= data % 2
    with open(path, "r+b") as f:
        head = bytearray(f.read(44))
        if len(head) < 44 or head[:4] != b"RIFF":
            return False
        head[4:8] = (36 + data).to_bytes(4, "little")
        head[40:44] = data.to_bytes(4, "little")
        f.seek(0)
        f.write(head)
        f.flush()
        os.fsync(f.fileno())
    return True
