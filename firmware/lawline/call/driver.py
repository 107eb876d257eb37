"""The thin driver of one call: does what the call script (call/script.py) asks, on the line,
the media core, the dialler and the office, and tells it how each step ended.

Everything here runs on the asyncio loop. Every wait races against the caller hanging up
and the box cutting the call ([limits] max_call_seconds); an exception while doing a step is
thrown into the script, which ends that call only. The call receives what it uses
(`CallParts`), never the box.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..clock import Clock
from ..errors import CallCut, CallEnded, ModemError
from ..phone import is_mobile
from ..records.cases import CaseError, is_case_number, same_number
from ..records.outcomes import Department, Duty, Escalated, Outcome
from ..sip import hunt
from ..sip import leg as legs
from ..sip import switchboard as boards
from ..sync.recovery import recording_name
from ..sync.wavfile import repair_wav, wav_seconds
from ..prompts import PromptMissing
from .script import CallScript
from .steps import Action, Event

if TYPE_CHECKING:    # the media core and the trunk load pjsua2
    from ..duty.desk import NumberPlan
    from ..events import PartEvent
    from ..line.parts import Jitter
    from ..prompts import Prompts
    from ..records.office import Office
    from ..settings import (DutySection, LadderSection, LimitsSection, ReferralTable,
                            SwitchboardSection)
    from ..sip.endpoint import MediaCore, Player, Recording
    from ..sip.trunk import Trunk

log = logging.getLogger("lawline.call")

T = TypeVar("T")


class CallModem(Protocol):
    """A line's modem as one call uses it: line/modem.Modem, line/v253.V253Modem, or a
    switchboard call's sip/inbound.SipCallModem."""
    audio_open: bool

    @property
    def name(self) -> str: ...
    @property
    def caller_raw(self) -> str: ...
    @property
    def in_call(self) -> bool: ...
    @property
    def ringing(self) -> bool: ...
    @property
    def can_bridge(self) -> bool: ...
    async def answer(self) -> None: ...
    async def open_audio(self) -> None: ...
    async def close_audio(self) -> None: ...
    async def hangup(self) -> None: ...


class CallPcm(Protocol):
    """A line's call audio as one call uses it (line/parts.CallAudio, sip/inbound.NoPcm)."""
    @property
    def jitter(self) -> Jitter: ...


def phones_for(call_id: str, numbers: Sequence[str], busy: set[str], queue: list[str],
               urgent: bool = False) -> tuple[list[str], int]:
    """(the duty phones this call may ring now, how many callers wait ahead of it).

    A phone already rung or in a call from this box is not free. A freed phone goes to the
    caller who has waited longest: a call behind others in the queue, or a new call while
    anyone waits, rings nobody yet and is told its place instead. An urgent dispute (rung
    on every phone at once) waits behind nobody: the notice asks for a fast response."""
    free = [n for n in numbers if n not in busy]
    if urgent:
        return free, 0
    ahead = queue.index(call_id) if call_id in queue else len(queue)
    return free, ahead


@dataclass
class CallParts:
    """What one call uses: its line, the shared media core and dialler, the office (whose
    ledger commits what the call leaves), the spool, and its config sections."""
    modem: CallModem       # line/modem.Modem or line/v253.V253Modem
    pcm: CallPcm           # the line's call audio (line/*.make_audio)
    events: asyncio.Queue[PartEvent]  # the line's events while the call is up (call/lines.py)
    core: MediaCore
    port: Any              # the line's AudioMediaPort in the core (pjsua2)
    dialler: hunt.Dialler
    trunk: Trunk | None
    office: Office         # its rules, ledger, limits, desk
    prompts: Prompts
    incoming_dir: Path
    tmp_dir: Path
    can_record: Callable[[], bool]   # sync/spool.py
    on_sms: Callable[[PartEvent], object]  # a duty reply during a call is acted on
    duty: DutySection
    limits: LimitsSection
    referrals: list[ReferralTable]   # [[referral]] tables
    duty_busy: set[str]    # duty phones this box is ringing or has in a call (any line)
    queue: list[str]       # call ids waiting for a duty phone, first first (any line)
    # issue 17: the urgent ladder, the prefecture's switchboard, call recording
    ladder: LadderSection | None = None
    switchboard: SwitchboardSection | None = None
    recordings_dir: Path | None = None  # where bridged calls are recorded ([recording] on)
    # a switchboard call's line: its audio now, after a re-INVITE moved it (sip/inbound.py)
    line_audio: Callable[[], Any] | None = None


def mobile_refusal(digits: str, plan: NumberPlan) -> str | None:
    """Why `digits` (keyed by a caller) cannot receive a referral's details by SMS, or None:
    an 11-digit mobile the dial plan allows (its barred blocks and [dialplan] deny too)."""
    if not digits or not is_mobile(digits) or len(digits) != 11:
        return "not an 11-digit mobile"
    why = plan.refusal(digits)
    return f"refused by the dial plan: {why}" if why else None


def _first(*awaitables: Awaitable[object]) -> Coroutine[Any, Any, object]:
    """The result of whichever of `awaitables` ends first (the others are cancelled)."""
    async def race() -> object:
        tasks = [asyncio.ensure_future(a) for a in awaitables]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            return next(iter(done)).result()
        finally:
            for t in tasks:
                if not t.done():
                    t.cancel()
    return race()


def _unlink(a: Any, b: Any) -> None:
    """Stop both directions between two ports of the bridge; a side already gone (the leg
    hung up, a re-INVITE dropped its old slot) is no error."""
    for source, sink in ((a, b), (b, a)):
        try:
            source.stopTransmit(sink)
        except Exception:  # noqa: BLE001 - pjsua2's Error, or a port already deleted
            pass


# The call ids this process gave last: two lines' calls in the same second once drew the same
# four digits in a thousand-call soak (1 in 65,536 a pair), and the second call's record was
# lost, the outbox keeping one item per key. The newest 256 cover any second's calls.
_GIVEN: collections.deque[str] = collections.deque(maxlen=256)


def new_call_id(clock: Clock, now: float | None = None) -> str:
    """YYMMDD-HHMMSS (the office's time, `clock`) and four hex digits, never an id this
    process gave lately."""
    stamp = clock.local(now).strftime("%y%m%d-%H%M%S")
    while True:
        call_id = stamp + "-" + secrets.token_hex(2)
        if call_id not in _GIVEN:
            _GIVEN.append(call_id)
            return call_id


class CallDriver:
    def __init__(self, script: CallScript, parts: CallParts) -> None:
        self.s = script
        self.p = parts
        self.id = script.id
        self.caller = script.caller
        if getattr(parts.modem, "caller_raw", ""):   # a caller ID refused as no number
            script.record["caller_raw"] = parts.modem.caller_raw
        self.keys: asyncio.Queue[str | None] = asyncio.Queue()
        self.ended = asyncio.Event()     # the caller hung up (or the line failed)
        self.stopped = asyncio.Event()   # ended, or the box cut the call (self.cut says why)
        self.begun = asyncio.Event()
        self.failed: str | None = None
        self.cut: str | None = None
        self.leg: legs.Leg | None = None   # the accepted duty leg, between ring and bridge
        self._pump: asyncio.Future[None] | None = None
        # what is joined to the line's port now (the bridge, a recorder): each is told
        # (old, new) when a switchboard call's audio moves to a new bridge slot
        self._port_followers: list[Callable[[Any, Any], None]] = []
        self.texted = 0                  # mobiles keyed for a referral's details (issue 17)
        # when the modem last said "no voice" (V.253 DLE s/q)
        self.modem_silence: float | None = None
        self._silence = asyncio.Event()

    def say(self, message: str, *args: object, level: int = logging.INFO) -> None:
        log.log(level, "call %s from %s: " + message, self.id, self.caller or "withheld", *args)

    # -- the line's events -----------------------------------------------------------------

    async def _pump_events(self) -> None:
        while True:
            event = await self.p.events.get()
            if event.kind == "dtmf":
                self.say("key %s", event.digit)
                self.keys.put_nowait(event.digit)
            elif event.kind == "begin":
                self.begun.set()
            elif event.kind == "sms":
                self.p.on_sms(event)
            elif event.kind == "silence":
                self.modem_silence = time.monotonic()
                self._silence.set()
            elif event.kind == "media":
                self._line_moved()
            elif event.kind in ("ended", "missed", "failed"):
                if event.kind == "failed":
                    self.failed = event.detail
                self.ended.set()
                self.stopped.set()
                return

    def _line_moved(self) -> None:
        """A switchboard call's audio after a re-INVITE (the switchboard held the call and
        took it back): pjsua gave it a new bridge slot and dropped every link of the old
        one. What plays or records from now on uses the new slot; what is joined now (the
        bridge, a recorder) joins it again. A prompt playing in that moment is not heard
        to its end."""
        now = self.p.line_audio
        new = now() if now is not None else None
        if new is None:
            return
        old, self.p.port = self.p.port, new
        for follow in list(self._port_followers):
            follow(old, new)
        self.say("the line's audio changed (re-INVITE): %d joined again",
                 len(self._port_followers))

    def _stop_error(self) -> CallEnded:
        return CallEnded() if self.ended.is_set() or self.cut is None else CallCut(self.cut)

    def _stop_event(self, record: dict[str, Any] | None = None) -> Event:
        if self.failed is not None:
            return Event("failed", self.failed, time.time(), record or {})
        if self.ended.is_set() or self.cut is None:
            return Event("hangup", None, time.time(), record or {})
        return Event("cut", self.cut, time.time(), record or {})

    def _cut(self, reason: str) -> None:
        if not self.stopped.is_set():
            self.cut = reason
            self.stopped.set()

    async def _race(self, awaitable: Awaitable[T], timeout: float | None = None) -> T | None:
        """`awaitable`'s result, None at the timeout; raises when the call stops."""
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

    # -- the loop --------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        self._pump = asyncio.ensure_future(self._pump_events())
        deadline = None
        actions = self.s.start()
        try:
            while True:
                for quick in actions[:-1]:
                    self._quick(quick)
                action = actions[-1]
                if action.kind == "end":
                    return self.s.record
                try:
                    event = await self._perform(action)
                except (CallEnded, CallCut):
                    event = self._stop_event()
                except Exception as exc:  # noqa: BLE001 - the script ends this call
                    actions = self.s.throw(exc)
                    continue
                if action.kind == "answer":
                    deadline = asyncio.get_running_loop().call_later(
                        self.p.limits.max_call_seconds, self._cut, "call_length")
                actions = self.s.send(event)
        finally:
            if deadline is not None:
                deadline.cancel()
            if self._pump is not None:
                self._pump.cancel()
            # whatever ended the call, it waits no more: a freed phone goes to the first in
            # the queue (phones_for), so a place left behind would hold every caller back
            self._q_queue_leave()

    async def _perform(self, action: Action) -> Event:
        do = getattr(self, "_" + action.kind)
        result = await do(*action.names, **action.options)
        if isinstance(result, Event):
            return result
        return Event("done", result, time.time())

    def _quick(self, action: Action) -> None:
        try:
            if action.kind == "say":
                self._say_action(action)
            elif action.kind == "limit":
                what, = action.names
                assert isinstance(what, str)    # the script's limit names one
                self.p.office.limits.hit(what, self.caller,
                                         f"call {self.id}: {action.options['detail']}",
                                         call_id=self.id)
        except Exception as exc:  # noqa: BLE001 - a log line or a count must not end the call
            log.error("call %s: %s not done: %s", self.id, action.kind, exc, exc_info=True)

    def _say_action(self, action: Action) -> None:
        text, = action.names
        opts = action.options
        if "exc" in opts:
            if opts.get("unexpected"):
                log.error("call %s: unexpected %s; the call ends, the box goes on", self.id,
                          text, exc_info=opts["exc"])
            else:
                log.error("call %s: %s", self.id, opts["exc"])
            return
        self.say("%s", text, level=logging.ERROR if opts.get("level") == "error"
                 else logging.INFO)

    # -- the steps -------------------------------------------------------------------------

    async def _answer(self) -> Event:
        modem = self.p.modem
        await modem.answer()
        if not modem.in_call:
            await self._race(self.begun.wait(), timeout=10)
        if not modem.in_call:
            raise ModemError(f"modem {modem.name}: answered but the call never began")
        self.p.pcm.jitter.clear()
        await modem.open_audio()
        self.p.port.source = self.p.pcm
        self.p.port.sink = self.p.pcm
        return Event("answered", None, time.time())

    def _path(self, name: str) -> Path:
        if name.startswith("referral:"):
            return self.p.office.referral_prompt(int(name.split(":", 1)[1]))
        if name.startswith(("result:", "referral_address:")):   # rendered (issue 17)
            return self.p.office.duties.prompt_path(name)
        return self.p.prompts.path(name)

    async def _play(self, *names: str, interruptible: bool = True,
                    joined: bool = False) -> Event:
        if joined:
            out = self.p.tmp_dir / f"{self.id}-{secrets.token_hex(2)}.wav"
            self.p.prompts.concat(list(names), out)
            try:
                key = await self._play_file(out, interruptible)
            finally:
                out.unlink(missing_ok=True)
            return self._key_event(key)
        for name in names:
            if self.stopped.is_set():
                raise self._stop_error()
            if interruptible and not self.keys.empty():
                return self._key_event(self.keys.get_nowait())
            try:
                path = self._path(name)
            except PromptMissing as exc:
                if not name.startswith("referral:"):
                    raise
                log.warning("call %s: %s", self.id, exc)
                continue
            key = await self._play_file(path, interruptible)
            if key is not None:
                self.say("prompt %s interrupted by key %s", name, key)
                return self._key_event(key)
        return self._key_event(None)

    def _key_event(self, key: str | None) -> Event:
        return Event("key" if key is not None else "prompt_ended", key, time.time())

    async def _play_file(self, path: Path, interruptible: bool) -> str | None:
        core, port = self.p.core, self.p.port
        player = core.player(path)
        player.startTransmit(port)
        try:
            if interruptible:
                get = asyncio.ensure_future(self.keys.get())
                either: set[asyncio.Future[Any]] = {get, player.done}
                try:
                    await self._race(asyncio.wait(either,
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
            core.stop_player(player, port)

    async def _wait_key(self, timeout: float) -> Event:
        key = await self._race(self.keys.get(), timeout)
        return Event("key" if key is not None else "timeout", key, time.time())

    async def _hang_up(self) -> None:
        if not self.ended.is_set():     # once this call ended, the modem's call is the next
            await self.p.modem.hangup()

    async def _last_words(self, *names: str) -> None:
        """Say `names` and hang up if the caller is still there; never raises (the line
        itself may be what failed)."""
        if self.ended.is_set() or not self.p.modem.in_call:
            return
        self.stopped.clear()
        self.cut = None
        try:
            await asyncio.wait_for(self._play(*names, interruptible=False), 30)
        except (CallEnded, asyncio.TimeoutError):
            pass
        except Exception as exc:  # noqa: BLE001 - e.g. the prompt itself is what failed
            log.warning("call %s: could not say %s: %s", self.id, ", ".join(names), exc)
        try:
            await self.p.modem.hangup()
        except Exception as exc:  # noqa: BLE001 - finish tries again
            log.warning("call %s: hang-up failed: %s", self.id, exc)

    async def _finish(self) -> Event:
        modem, port = self.p.modem, self.p.port
        port.source = None
        port.sink = None
        # Once this call ended (the caller hung up), a call ringing now is the next caller:
        # hanging it up would refuse them (a RING came 6 ms after the last call's end).
        if (modem.in_call or modem.ringing) and not self.ended.is_set():
            try:
                await modem.close_audio()
                await modem.hangup()
            except (ModemError, OSError) as exc:
                log.warning("call %s: hang-up failed: %s", self.id, exc)
        if self._pump is not None and not self.ended.is_set():
            try:
                await asyncio.wait_for(asyncio.shield(self._pump), 5)
            except asyncio.TimeoutError:
                pass
        modem.audio_open = False
        self._q_queue_leave()
        return Event("done", None, time.time())

    # -- questions to the office and the line ------------------------------------------------

    async def _ask(self, question: str, *args: object) -> Event:
        answer = getattr(self, "_q_" + question)(*args)
        if asyncio.iscoroutine(answer):      # one that writes (a case number): off the loop
            answer = await answer
        return Event("answer", answer, time.time())

    async def _q_new_case(self) -> str:
        """A case number for this call: the counter is a durable write, so off the loop."""
        return await asyncio.to_thread(self.p.office.cases.next)

    def _q_office_open(self) -> tuple[bool, str]:
        desk = self.p.office.desk
        return desk.is_open(), desk.why()

    def _q_cases_left(self) -> int:
        return self.p.office.limits.cases_left(self.p.office.cases, self.caller,
                                               call_id=self.id)

    def _q_trunk_down(self) -> str | None:
        trunk = self.p.trunk
        return None if trunk is None or trunk.registered else trunk.state.sentence()

    def _q_can_bridge(self) -> bool:
        return self.p.modem.can_bridge

    def _q_can_record(self) -> bool:
        return self.p.can_record()

    def _q_numbers(self, role: str) -> list[str]:
        if role == "after_hours":
            return self.p.office.desk.after_hours_numbers()
        return self.p.office.on_duty(role)

    def _q_take(self, what: str) -> int:
        return self.p.office.limits.take(what, self.caller, call_id=self.id)

    def _q_used(self, what: str) -> int:
        return self.p.office.limits.used(what, self.caller, call_id=self.id)

    def _q_find_case(self, digits: str) -> dict[str, Any] | None:
        case = self.p.office.cases.get(digits) if is_case_number(digits) else None
        if case is None:
            return None
        mine = same_number(case.caller, self.caller)
        duties = self.p.office.duties
        return {"number": case.number, "state": case.state, "mine": mine,
                # the result is spoken on the phone that opened the case only (issue 17.4)
                "result": mine and duties.results.tell_by_phone and
                bool(duties.result_words(case.number))}

    def _q_pin_matches(self, number: str, pin: str | None) -> bool:
        """The PIN of the case SMS, within the office's bounds (records/office.try_pin)."""
        return self.p.office.try_pin(number, pin, self.caller, self.id)

    def _q_queue_place(self) -> int:
        """This call's place among the callers waiting for a duty phone (1: next)."""
        queue = self.p.queue
        if self.id not in queue:
            queue.append(self.id)
        return queue.index(self.id) + 1

    def _q_queue_leave(self) -> None:
        if self.id in self.p.queue:
            self.p.queue.remove(self.id)

    def _q_referrals(self) -> int:
        return len(self.p.referrals)

    def _q_referral(self, index: int) -> Department:
        chosen = self.p.referrals[index]
        return Department(chosen.name, chosen.phone, chosen.address, chosen.hours,
                          chosen.sms, chosen.email)

    # -- issue 17: the office's duties -------------------------------------------------------

    async def _q_result_prompt(self, number: str) -> str | None:
        """The result of case `number` rendered for the phone (espeak-ng: off the loop)."""
        return await asyncio.to_thread(self.p.office.duties.result_prompt, number)

    def _q_has_address(self, index: int) -> bool:
        return self.p.office.duties.has_address(index)

    def _q_texts_left(self) -> int:
        per_call: int = self.p.office.duties.handoff.mobiles_per_call
        return max(0, per_call - self.texted)

    def _q_may_text(self, digits: str) -> str | None:
        """None when a referral's details may be texted to the mobile the caller keyed
        (a mobile by the dial plan's rules; it is never dialled), else why not."""
        why = mobile_refusal(digits, self.p.office.desk.dialplan)
        if why is None:
            self.texted += 1
        return why

    def _q_staff(self, digits: str) -> Duty | None:
        """The rota's person with this staff number (records/outcomes.Duty), or None."""
        person = self.p.office.desk.staff(digits)
        return self.p.office.duty_person(person.mobile) if person else None

    # -- duty phones -------------------------------------------------------------------------

    async def _ring(self, *numbers: str, category: str, ring_all: bool,
                    step: str | None = None) -> Event:
        """`step`: a step of the urgent ladder ([ladder] ring_timeout; waits behind nobody)."""
        core, port, prompts = self.p.core, self.p.port, self.p.prompts
        busy = self.p.duty_busy
        ring_timeout = self.p.ladder.ring_timeout if step and self.p.ladder is not None \
            else self.p.duty.ring_timeout
        free, ahead = phones_for(self.id, numbers, busy, self.p.queue,
                                 urgent=ring_all or bool(step))
        if len(free) < len(numbers):
            self.say("duty phone(s) %s already rung or in a call from this box; not rung",
                     ", ".join(n for n in numbers if n in busy))
        if free and ahead:
            self.say("a duty phone is free, but %d caller(s) waited first; they have it",
                     ahead)
            free = []
        if not free:
            return Event("leg_failed", "all_busy", time.time())
        numbers = tuple(free)
        busy.update(numbers)   # being rung by this call: no other line rings them meanwhile
        whisper = hunt.build_whisper(prompts, category, self.caller,
                                     self.p.tmp_dir / f"{self.id}-whisper.wav")
        ringback = core.player(prompts.path("ringback"), repeat=True)
        ringback.startTransmit(port)
        results: list[legs.LegResult] = []
        accepted: legs.Leg | None = None
        try:
            ring = hunt.ring_all if ring_all else hunt.sequential
            results, accepted = await ring(self.p.dialler, list(numbers), whisper,
                                           ring_timeout, self.p.duty.confirm_timeout,
                                           self.stopped)
        finally:
            core.stop_player(ringback, port)
            if whisper.parent == self.p.tmp_dir:
                whisper.unlink(missing_ok=True)
            busy.difference_update(n for n in numbers
                                   if accepted is None or n != accepted.number)
        record = {"duty_legs": [r.as_record() for r in results]}
        if any(r.outcome == "caller_gone" for r in results) or self.stopped.is_set():
            if accepted is not None:
                busy.discard(accepted.number)
                await legs.hang_up(core, accepted)
            return self._stop_event(record)
        if accepted is None:
            return Event("leg_failed", None, time.time(), record)
        self.leg = accepted         # its number stays busy until the bridge ends (_bridge)
        return Event("leg_accepted", accepted.number, time.time(), record)

    async def _bridge(self, number: str, record: bool = False) -> Event:
        """Caller and far end both ways until one hangs up; `record`: the call is recorded
        both ways ([recording], the caller was told), its WAV named in the event's record."""
        leg, self.leg = self.leg, None
        assert leg is not None      # the script bridges only a leg it was told was accepted
        port = self.p.port
        audio: Any = leg.audio
        assert audio is not None    # confirm_leg returns a leg only with its audio (sip/leg.py)
        port.startTransmit(audio)
        audio.startTransmit(port)
        began = time.time()
        recording = self._start_recording(number, audio) if record else None

        def line_moved(old: Any, new: Any) -> None:
            nonlocal port
            port = self._follow("the caller's audio", audio, old, new, recording)
        self._port_followers.append(line_moved)
        facts: dict[str, Any]
        facts, gone = {}, False
        try:
            while not leg.disconnected:
                event = await self._race(leg.events.get())
                assert event is not None    # no timeout: only the call's stop ends it (raises)
                leg.take_event(event)
                if event.kind == "media" and leg.audio is not None:
                    audio = self._follow(f"the audio of {number}", port, audio, leg.audio,
                                         recording)
        except CallEnded:
            gone = True
        finally:
            self._port_followers.remove(line_moved)
            _unlink(port, audio)
            facts["bridged_s"] = round(time.time() - began, 1)
            if recording is not None:
                facts["recording"] = await self._finish_recording(recording, number, began)
            await legs.hang_up(self.p.core, leg)
            self.p.duty_busy.discard(leg.number)
        if gone:
            return self._stop_event(facts)
        return Event("bridge_ended", None, time.time(), facts)

    def _follow(self, what: str, kept: Any, old: Any, new: Any,
                recording: Recording | None) -> Any:
        """One end of the bridge after a re-INVITE (the lawyer's phone, or the switchboard
        for its call, holds the call and takes it back, or changes codec): pjsua gave
        `what` a new bridge slot `new` and dropped every link of `old`, so the bridge with
        `kept` and the recorder join the new one. Always rejoined, even on the same slot
        number: the bridge reuses a freed number, and joining twice is harmless. Returns
        the port now bridged."""
        _unlink(kept, old)
        try:
            kept.startTransmit(new)
            new.startTransmit(kept)
        except Exception as exc:  # noqa: BLE001 - the call goes on; the far end may hang up
            log.error("call %s: %s changed and the bridge could not follow it: %s", self.id,
                      what, exc)
            return new
        if recording is not None:
            recording.follow(old, new)
        self.say("%s changed (re-INVITE): bridged again", what)
        return new

    # -- issue 17: recording, the ladder, the switchboard ----------------------------------

    def _start_recording(self, number: str, audio: Any) -> Recording | None:
        """Record the bridged call both ways (the caller's side and the far end's, mixed) to
        spool/recordings; a recorder that cannot start leaves the call unrecorded, never
        ends it."""
        folder = self.p.recordings_dir
        if folder is None:
            return None
        path = folder / recording_name(self.id, "bridged", self.caller)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            recording = self.p.core.recorder(path, self.p.port, audio)
        except Exception as exc:  # noqa: BLE001 - the call goes on unrecorded
            log.error("call %s: the bridge with %s is not recorded: %s", self.id, number, exc)
            return None
        self.say("recording the call with %s to %s", number, path.name)
        return recording

    async def _finish_recording(self, recording: Recording, number: str,
                                began: float) -> dict[str, Any]:
        path = recording.path
        assert isinstance(path, Path)   # _start_recording named it
        complete = await recording.finish()
        if not complete:
            try:
                repair_wav(path)
            except (ValueError, OSError) as exc:
                log.error("call %s: recording %s unusable: %s", self.id, path.name, exc)
        return {"path": str(path), "seconds": round(wav_seconds(path), 2),
                "started": began, "other": number}

    def _q_ladder(self) -> list[tuple[str, str, str]]:
        """[ladder] steps as (step, number, name): the office head, the prefecture's number,
        the switchboard; a step without a number is skipped (and said so)."""
        ladder, board = self.p.ladder, self.p.switchboard
        if ladder is None:
            return []
        numbers = {"head": (self.p.office.head or "", "负责人"),
                   "prefecture": (ladder.prefecture_number, "市级值班"),
                   "switchboard": (board.number if board is not None else "", "1600148")}
        out = []
        for step in ladder.steps:
            number, name = numbers[step]
            if number:
                out.append((step, number, name))
            else:
                self.say("urgent ladder: no number for the %s step; skipped", step)
        return out

    def _q_switchboard(self, reason: str) -> str | None:
        """The switchboard's number when this call may be handed up to it, else None."""
        board = self.p.switchboard
        if board is None or not board.number:
            return None
        if reason == "after_hours" and not board.overflow_after_hours:
            return None
        if getattr(self.p.modem, "transfer", None) is not None:
            return None             # it came down from there: never back up (no loops)
        return board.number

    async def _handover(self, number: str, reason: str) -> Event:
        """Call the switchboard over the trunk with the overflow headers; it accepts by
        answering (an ACD has nobody to press 1): the whisper naming the county and the
        caller plays to its agent, then the caller is put through (the script's bridge)."""
        core, port, prompts, board = self.p.core, self.p.port, self.p.prompts, \
            self.p.switchboard
        trunk = self.p.trunk
        if trunk is not None and not trunk.registered:
            self.say("switchboard: not called, %s", trunk.state.sentence())
            return Event("leg_failed", "trunk_down", time.time())
        assert board is not None    # the script hands over to the number _q_switchboard gave
        whisper = hunt.build_switchboard_whisper(
            prompts, self.p.office.prompts_dir, self.caller,
            self.p.tmp_dir / f"{self.id}-switchboard.wav")
        headers = boards.overflow_headers(board, self.s.record.get("line") or "",
                                          self.p.office.cfg.office.id, self.caller, reason,
                                          trunk.domain if trunk is not None else "localhost")
        ringback = core.player(prompts.path("ringback"), repeat=True)
        ringback.startTransmit(port)
        # answered, it takes the whisper to its end: the county and eleven digits are longer
        # than a duty phone's confirm time
        heard_in = max(self.p.duty.confirm_timeout, wav_seconds(whisper) + 5.0)
        try:
            result, leg = await legs.confirm_leg(hunt.Handover(self.p.dialler, headers),
                                                 number, whisper, board.ring_timeout,
                                                 heard_in, self.stopped, confirm=False)
        finally:
            core.stop_player(ringback, port)
            if whisper.parent == self.p.tmp_dir:
                whisper.unlink(missing_ok=True)
        record = {"duty_legs": [result.as_record()]}
        if result.outcome == "caller_gone" or self.stopped.is_set():
            if leg is not None:
                await legs.hang_up(core, leg)
            return self._stop_event(record)
        if leg is None:
            return Event("leg_failed", None, time.time(), record)
        self.leg = leg
        return Event("leg_accepted", number, time.time(), record)

    # -- voicemail ---------------------------------------------------------------------------

    async def _record(self, box: str, max_seconds: float, silence_seconds: float = 0.0,
                      silence_level: float = -45.0, warn_before: float = 0.0) -> Event:
        """The beep, then the caller's message until # , the longest message, or
        `silence_seconds` without the caller's voice (the line's level meter on every kind
        of line; on a V.253 modem its own DLE s / DLE q too). `warn_before` seconds before
        the longest message ends the caller hears how long is left (record_time_left)."""
        while not self.keys.empty():
            self.keys.get_nowait()
        await self._play("beep", interruptible=False)
        # The caller's number is in the name: a recording cut short by a power cut is
        # delivered at start-up with it (sync/recovery.py).
        path = self.p.incoming_dir / recording_name(self.id, box, self.caller)
        recording = self.p.core.recorder(path, self.p.port)
        self._port_followers.append(recording.follow)
        meter = getattr(getattr(self.p.pcm, "jitter", None), "meter", None) \
            if silence_seconds else None
        if meter is not None:
            meter.listen(silence_level)
        reason, kind = "maximum length", "recording_ended"
        began = time.time()
        since = time.monotonic()
        listening = since                # the silence is counted from here (after a warning)
        warning = None                   # the time-left prompt's player while it plays
        warned = False
        self._silence.clear()
        try:
            deadline = since + max_seconds
            warn_at = deadline - warn_before if warn_before and \
                max_seconds > warn_before + 5 else None
            while True:
                now = time.monotonic()
                if warning is not None and warning.done.done():
                    self.p.core.stop_player(warning, self.p.port)
                    warning, listening = None, now
                if now >= deadline:
                    break
                # silence first: a caller already silent that long when the time-left
                # warning is due is gone, not warned
                if meter is not None and warning is None and \
                        now - max(listening, meter.voice_at or listening) >= silence_seconds:
                    reason = "silence"
                    break
                if warn_at is not None and now >= warn_at and not warned:
                    warned = True
                    warning, extra = self._time_left()
                    deadline += extra
                    continue
                if self._silence.is_set():
                    self._silence.clear()
                    assert self.modem_silence is not None   # set before _silence (_pump_events)
                    # the modem's detector runs from the answer: a report that lands in the
                    # first silence_seconds of the message is about the menu, not the message
                    if silence_seconds and warning is None and \
                            self.modem_silence - listening >= silence_seconds:
                        reason = "silence"
                        break
                wake = [deadline]
                if warn_at is not None and not warned:
                    wake.append(warn_at)
                if meter is not None:
                    wake.append(max(listening, meter.voice_at or listening) + silence_seconds)
                if warning is not None:
                    wake.append(now + 0.1)
                timeout = max(0.02, min(wake) - now)
                got = await self._race(_first(self.keys.get(), self._silence.wait()), timeout)
                if got == "#":
                    reason = "# pressed"
                    break
        except CallEnded as exc:
            reason = exc.reason if isinstance(exc, CallCut) else "caller hung up"
            kind = "cut" if isinstance(exc, CallCut) else "hangup"
        finally:
            if warning is not None:
                self.p.core.stop_player(warning, self.p.port)
            voice_at = meter.voice_at if meter is not None else None
            if meter is not None:
                meter.stop()
            self._port_followers.remove(recording.follow)
            complete = await recording.finish()
        seconds = wav_seconds(path)
        if not complete:
            try:
                repair_wav(path)
            except (ValueError, OSError) as exc:
                log.error("call %s: recording %s unusable: %s", self.id, path.name, exc)
        info = {"reason": reason, "seconds": seconds, "complete": complete, "began": began,
                "path": str(path), "warned": warned}
        if meter is not None:
            # the voice in it: up to the last voiced frame (0: none at all)
            info["voice_s"] = round(min(seconds, max(0.0, voice_at - since)), 2) \
                if voice_at is not None else 0.0
        return Event(kind, info, time.time())

    def _time_left(self) -> tuple[Player | None, float]:
        """Start the time-left prompt over the recording: (player, seconds it adds).

        Where the line is full duplex (serial PCM, a sound card, V.253 with AT+VTR), the
        prompt plays into the caller's ear while the recorder goes on recording the caller
        (it records the line's port source, never what the box plays): a caller who keeps
        talking loses nothing and the prompt is not in the message. A half-duplex V.253
        modem cannot listen while it plays: the prompt's length is added to the message's,
        so the caller still has the whole time left once it ends."""
        try:
            path = self.p.prompts.path("record_time_left")
        except PromptMissing as exc:
            log.warning("call %s: %s; no time-left warning", self.id, exc)
            return None, 0.0
        player = self.p.core.player(path)
        player.startTransmit(self.p.port)
        self.say("voicemail: told the caller how long is left")
        extra = 0.0 if self.p.modem.can_bridge else wav_seconds(path)
        return player, extra

    # -- outcomes ----------------------------------------------------------------------------

    async def _commit(self, *items: Outcome) -> Event:
        """The script's outcomes (records/outcomes.py) in one durable step through the
        office's ledger, off the loop; then the SMS sender and the uploader are woken."""
        office = self.p.office
        try:
            entry = await asyncio.to_thread(office.commit, list(items), None, None, False)
        except (OSError, CaseError) as exc:
            return Event("commit_failed", str(exc), time.time())
        office.kick()
        record = {}
        if any(isinstance(item, Escalated) for item in items):
            record["escalated_to"] = [s["number"] for s in entry.steps if s["op"] == "sms"
                                      and s["purpose"] == "urgent escalation"]
        cases = entry.cases()
        return Event("committed", cases[0] if cases else None, time.time(), record)
