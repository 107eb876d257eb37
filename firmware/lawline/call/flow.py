"""One call, from the first ring to the call record: greeting, menu, bridge or voicemail.

Everything here runs on the asyncio loop. The caller can hang up at any moment; every wait
races against that (`CallEnded`), and whatever was recorded up to then is kept. The box can
end a call too (`CallCut`: [limits] max_call_seconds): the same waits stop, the caller hears
goodbye. Whatever goes wrong inside one call ends that call only (`run`): the caller hears
that the service is unavailable, the call record says what failed and where, and the box
answers the next call.
"""

import asyncio
import json
import logging
import secrets
import time
import traceback

from ..errors import CallCut, CallEnded, LawlineError, ModemError, SipError
from ..sip import hunt
from ..sip import leg as legs
from ..sync.recovery import recording_name
from ..sync.wavfile import repair_wav, wav_seconds  # noqa: F401 (moved to sync/, kept here)
from .hotline import HotlineBranches
from .menu import Menu

log = logging.getLogger("lawline.call")

VOICEMAIL_BOXES = {
    # branch: (instruction prompt, what the record calls it)
    "consultation": ("record_message", "consultation"),
    "service_request": ("record_request", "service_request"),
    "complaint": ("record_complaint", "complaint"),
    "urgent": ("record_message", "urgent"),
}


def new_call_id(now=None):
    return time.strftime("%y%m%d-%H%M%S", time.localtime(now)) + "-" + secrets.token_hex(2)


class CallSession(HotlineBranches):
    def __init__(self, box, caller):
        self.box = box
        self.cfg = box.config
        self.core = box.core
        self.modem = box.modem
        self.prompts = box.prompts
        self.caller = caller
        self.id = new_call_id()
        self.ended = asyncio.Event()     # the caller hung up (or the line failed)
        self.stopped = asyncio.Event()   # ended, or the box cut the call (self.cut says why)
        self.cut = None
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
            elif event.kind == "sms" and hasattr(self.box, "on_sms"):
                self.box.on_sms(event)   # a duty reply during a call is still acted on
            elif event.kind in ("ended", "missed"):
                self.ended.set()
                self.stopped.set()
                return
            elif event.kind == "failed":
                # The line supervisor gave up on the modem (line/recovery.py): the call is
                # over; the record says why.
                self.record["outcome"] = "error"
                self.record["error"] = event.detail
                log.error("call %s: %s", self.id, event.detail)
                self.ended.set()
                self.stopped.set()
                return

    def _stop_error(self):
        return CallEnded() if self.ended.is_set() or self.cut is None else CallCut(self.cut)

    def _cut(self, reason):
        """End the call from the box's side: every wait raises CallCut (run says goodbye)."""
        if self.stopped.is_set():
            return
        self.cut = reason
        self.stopped.set()

    async def _race(self, awaitable, timeout=None):
        """Wait for `awaitable`, the caller hanging up (or the box cutting the call), or the
        timeout (returns None)."""
        task = asyncio.ensure_future(awaitable)
        gone = asyncio.ensure_future(self.stopped.wait())
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
            raise self._stop_error()
        return None

    async def play(self, *names, interruptible=True):
        """Play prompts in a row to the caller. Returns the key that interrupted them, or
        None when they played to the end."""
        for name in names:
            if self.stopped.is_set():
                raise self._stop_error()
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
        deadline = None
        try:
            await self._answer()
            limit = self.cfg.limits.max_call_seconds
            deadline = asyncio.get_running_loop().call_later(limit, self._cut, "call_length")
            await self._flow()
        except CallCut as cut:
            self.record["cut"] = cut.reason    # the outcome stays what it was (bridged, ...)
            self._limit_hit(cut.reason, f"call cut after {time.time() - self.started:.0f} s "
                            f"(max_call_seconds {self.cfg.limits.max_call_seconds:g})")
            await self._last_words("goodbye")
        except CallEnded:
            self.say("caller hung up")
        except Exception as exc:  # noqa: BLE001 - one call must never stop the box
            self._failed(exc)
            await self._last_words("service_unavailable", "goodbye")
        finally:
            if deadline is not None:
                deadline.cancel()
            await self._finish()

    def _failed(self, exc):
        """Whatever failed inside the call goes into its record: what, and where."""
        self.record["outcome"] = "error"
        self.record["error"] = f"{type(exc).__name__}: {exc}"
        frames = traceback.extract_tb(exc.__traceback__)
        if frames:
            last = frames[-1]
            self.record["error_at"] = f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno} " \
                                      f"in {last.name}"
        if isinstance(exc, LawlineError):   # ModemError, SipError, ...: said plainly
            log.error("call %s: %s", self.id, exc)
        else:
            log.error("call %s: unexpected %s; the call ends, the box goes on", self.id,
                      self.record["error"], exc_info=exc)

    async def _last_words(self, *names):
        """Say `names` and hang up, if the caller is still on the line; never raises (the
        line itself may be what failed)."""
        if self.ended.is_set() or not self.modem.in_call:
            return
        self.stopped.clear()
        self.cut = None
        try:
            await asyncio.wait_for(self.play(*names, interruptible=False), 30)
        except (CallEnded, asyncio.TimeoutError):
            pass
        except Exception as exc:  # noqa: BLE001 - e.g. the prompt itself is what failed
            log.warning("call %s: could not say %s: %s", self.id, ", ".join(names), exc)
        try:
            await self.modem.hangup()
        except Exception as exc:  # noqa: BLE001 - _finish tries again
            log.warning("call %s: hang-up failed: %s", self.id, exc)

    def _limit_hit(self, what, detail):
        """A [limits] limit ended something: the call record, the log, the report."""
        self.record.setdefault("limits_hit", []).append(what)
        office = getattr(self.box, "office", None)
        if office is not None and getattr(office, "limits", None) is not None:
            office.limits.hit(what, self.caller, f"call {self.id}: {detail}")
        else:
            log.warning("limit hit: %s by %s: call %s: %s", what, self.caller or "withheld",
                        self.id, detail)

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
        if await self._office_closed():   # after hours: night duty or voicemail (hotline.py)
            return
        key = await self.play("greeting", "menu")
        while True:
            if key is None:
                key = await self.wait_key(self.cfg.menu.key_timeout)
            decision = self.menu.key(key) if key is not None else self.menu.timeout()
            if decision.action == "branch":
                self.record["branch"] = decision.branch
                self.say("chose %s (key %s)", decision.branch, decision.key)
                if decision.branch != "case_status" and await self._told_cases_limit():
                    return   # this number opened its day's cases ([limits], hotline.py)
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
                self._limit_hit("menu_tries", f"{self.menu.failures} tries without a choice "
                                f"([menu] max_tries {self.menu.max_tries}): "
                                f"{' '.join(self.menu.path)}")
                await self.play("goodbye", interruptible=False)
                await self.modem.hangup()
                return

    # -- branches ------------------------------------------------------------------------

    async def _consultation(self):
        if self._trunk_down():
            await self._voicemail("consultation", intro="trunk_down")
            return
        if await self._hunt():
            return
        await self._voicemail("consultation", intro="duty_unavailable")

    async def _urgent(self):
        """Key 3: ring every mediator on duty at once; the first to press 1 is bridged."""
        if self._trunk_down():
            await self._voicemail("urgent", intro="trunk_down")
            return
        office = getattr(self.box, "office", None)
        rota = office is not None and office.desk.roster.configured
        numbers = office.desk.numbers("mediator") if rota else list(self.cfg.duty.mediators)
        if not self._ring_all_allowed():   # [limits] ring_alls_per_number_per_day
            await self._voicemail("urgent", intro="mediator_unavailable")
            return
        began = time.time()
        if await self._hunt(numbers, category="urgent", ring_all=True):
            return
        await self._urgent_unanswered(numbers, time.time() - began)   # SMS ladder (hotline.py)
        await self._voicemail("urgent", intro="mediator_unavailable")

    def _trunk_down(self):
        """True when the SIP trunk is configured but not registered: nobody can be rung."""
        trunk = getattr(self.box, "trunk", None)
        if trunk is None or trunk.registered:
            return False
        self.record["trunk"] = "unregistered"
        self.say("%s; straight to voicemail", trunk.state.sentence())
        return True

    async def _service_request(self):
        await self._voicemail("service_request")

    async def _complaint(self):
        if await self._told_spool_full("complaint"):
            return   # before the staff-number question: no point asking it
        await self._ask_staff_number()   # kept away from whoever the caller names (hotline.py)
        await self._voicemail("complaint")

    async def _told_spool_full(self, box):
        """When the spool cannot take another message, tell the caller and hang up (nothing
        undelivered is ever deleted to make room, sync/spool.py). Returns True if so."""
        can_record = getattr(self.box, "can_record", None)
        if can_record is None or can_record():
            return False
        self.record["outcome"] = "spool_full"
        await self.play("service_unavailable", "goodbye", interruptible=False)
        await self.modem.hangup()
        return True

    async def _hunt(self, numbers=None, category="consultation", ring_all=False):
        """Call the duty phones one after the other (or, for urgent disputes, all at once);
        bridge the first that accepts with 1. Returns True when the caller was bridged (and
        the bridged call has ended). Only numbers the Dialler allows are ever called."""
        office = getattr(self.box, "office", None)
        if numbers is None:   # key 1: the lawyers on duty now, from the rota ([duty] numbers
            numbers = office.desk.numbers("lawyer") if office else list(self.cfg.duty.numbers)
        numbers = list(numbers)
        if not numbers:
            self.say("no duty numbers configured; straight to voicemail")
            return False
        if self._trunk_down():
            return False
        if not getattr(self.modem, "can_bridge", True):
            # A V.253 modem without AT+VTR carries one direction at a time (line/v253.py).
            self.say("bridging unavailable on this modem: no AT+VTR; straight to voicemail")
            self.record["bridging_unavailable"] = True
            return False
        await self.play("connecting_urgent" if ring_all else "connecting", interruptible=False)
        dialler = hunt.Dialler(self.core, self.box.account, self.cfg,
                               getattr(self.box, "trunk", None),
                               office.desk if office else None)
        whisper = hunt.build_whisper(self.prompts, category, self.caller,
                                     self.box.tmp_dir / f"{self.id}-whisper.wav")
        ringback = self.core.player(self.prompts.path("ringback"), repeat=True)
        ringback.startTransmit(self.core.line)
        results = []
        try:
            ring = hunt.ring_all if ring_all else hunt.sequential
            results, accepted = await ring(dialler, numbers, whisper, self.cfg.duty.ring_timeout,
                                           self.cfg.duty.confirm_timeout, self.stopped)
        finally:
            self.core.stop_player(ringback, self.core.line)
            self.record["duty_legs"] += [r.as_record() for r in results]
            if whisper.parent == self.box.tmp_dir:
                whisper.unlink(missing_ok=True)
        if any(r.outcome == "caller_gone" for r in results):
            if accepted is not None:
                await legs.hang_up(self.core, accepted)
            raise self._stop_error()
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
        self.record["seconds_to_person"] = round(bridged_at - self.started, 1)
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
            await self._after_bridge(leg)   # the duty person hung up first: rating, goodbye

    async def _voicemail(self, box, intro=None):
        instruction, kind = VOICEMAIL_BOXES[box]
        self.record["outcome"] = "voicemail" if box != "complaint" else "complaint"
        if await self._told_spool_full(box):
            return
        names = ([intro] if intro else []) + [instruction]
        await self.play(*names)  # a key skips the instructions
        while not self.keys.empty():
            self.keys.get_nowait()
        await self.play("beep", interruptible=False)
        spool = self.box.incoming_dir
        # The caller's number is in the name: a recording cut short by a power cut is
        # delivered at start-up with it (sync/recovery.py).
        path = spool / recording_name(self.id, box, self.caller)
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
        except CallEnded as exc:
            reason = exc.reason if isinstance(exc, CallCut) else "caller hung up"
        finally:
            complete = await recording.finish()
        seconds = wav_seconds(path)
        self.say("voicemail for %s ended (%s), %.1f s%s", box, reason, seconds,
                 "" if complete else " (header repaired)")
        if not complete:
            try:
                repair_wav(path)
            except (ValueError, OSError) as exc:
                log.error("call %s: recording %s unusable: %s", self.id, path.name, exc)
        await self._commit_voicemail(box, path, seconds, reason, began)

    async def _commit_voicemail(self, box, path, seconds, reason, began):
        # an urgent dispute already has its case from the SMS ladder (hotline.py)
        case = self.record.get("case_number") or self.box.cases.next()
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
        await self.play("recorded", interruptible=False)   # first: the message is safe
        readback = self.box.tmp_dir / f"{self.id}-case.wav"
        self.prompts.concat(["case_number"] + [f"digit_{d}" for d in case], readback)
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
            self._casework()   # the call's case, the caller's and the duty SMS (hotline.py)
        except Exception as exc:  # noqa: BLE001 - the call record must be kept whatever
            log.error("call %s: case and SMS not done: %s", self.id, exc, exc_info=True)
        try:
            self.box.outbox.commit(f"call-{self.id}", "call", self.record, {})
        except OSError as exc:
            log.error("call %s: call record could not be stored: %s", self.id, exc)
        self.say("call over: %s, %.0f s", self.record["outcome"], self.record["duration_s"])
        self.box.kick_upload()


def _iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(t))
