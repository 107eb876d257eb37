"""The hotline as a script: one call, from the answer to its record, as a pure state machine.

Events in (call/steps.py: key, hang-up, timeout, prompt ended, leg accepted or failed,
recording ended, commit done, limit hit), actions out (play, record, ring, bridge, commit,
hang up, ...). The script owns no I/O, no asyncio and no clock: time comes in the events,
what the office knows comes back as the answer to an ASK. `call/driver.py` connects it to the
line, the media core, the dialler and the office; tests/unit/test_call_script.py drives it
with event scripts.

Written as a generator: each `yield` is one action, the value sent back is its event. The
caller can hang up (or the box cut the call: [limits] max_call_seconds) in answer to any
action: `_do` turns that into CallEnded / CallCut, and whatever was recorded is kept.
Whatever goes wrong inside one call ends that call only: the caller hears that the service
is unavailable, the call record says what failed and where.
"""

import traceback
from dataclasses import replace
from typing import Any, Generator, Mapping, Protocol, TypeVar

from ..errors import CallCut, CallEnded, LawlineError
from ..phone import is_mobile
from ..records.cases import NUMBER_DIGITS, PIN_DIGITS
from ..records.outcomes import (Bridged, Call, Callback, CallRecord, CallRecording, Duty,
                                Escalated, LadderStep, Outcome, Rated, Referred, Voicemail)
from ..records.outcomes import ReferralTexted, Told
from .menu import Menu, Tree
from .steps import NO_WAIT, Action, Event, act

T = TypeVar("T")
# a piece of the script: the actions it yields, the events sent back, what it returns
Steps = Generator[Action, Event, T]


# What the script reads of its config sections (settings.py: [menu], [limits], [voicemail],
# [survey], [recording]) and of a transfer (sip/switchboard.Transfer): it imports neither,
# being pure (tests/unit/test_call_script.py).
class MenuOptions(Protocol):
    @property
    def max_tries(self) -> int: ...
    @property
    def key_timeout(self) -> float: ...
    @property
    def tree(self) -> Any: ...


class CallLimits(Protocol):
    @property
    def max_call_seconds(self) -> float: ...
    @property
    def ring_alls_per_number_per_day(self) -> int: ...
    @property
    def cases_per_number_per_day(self) -> int: ...
    @property
    def status_tries_per_call(self) -> int: ...
    @property
    def status_tries_per_number_per_day(self) -> int: ...


class VoicemailOptions(Protocol):
    @property
    def max_seconds(self) -> float: ...
    @property
    def min_seconds(self) -> float: ...


class SurveyOptions(Protocol):
    @property
    def enabled(self) -> bool: ...
    @property
    def key_timeout(self) -> float: ...


class RecordingOptions(Protocol):
    @property
    def enabled(self) -> bool: ...
    @property
    def keep_days(self) -> float: ...


class Transfer(Protocol):
    @property
    def switchboard(self) -> str: ...
    @property
    def caller_from(self) -> str: ...
    @property
    def branch(self) -> str | None: ...
    @property
    def codes(self) -> Mapping[str, str]: ...
    @property
    def code_seconds(self) -> float: ...
    def as_record(self) -> dict[str, str | None]: ...

VOICEMAIL_BOXES = {
    # box: instruction prompt
    "consultation": "record_message",
    "service_request": "record_request",
    "complaint": "record_complaint",
    "urgent": "record_message",
}
# The case a finished call's record calls for, by its branch (voicemails open theirs when
# they are committed; referrals, callbacks and escalations when they happen).
CASE_KINDS = {"consultation": "consultation", "after_hours": "consultation",
              "service_request": "service_request", "urgent": "urgent",
              "complaint": "complaint"}
# The caller hears how long is left this long before the longest message ends (point 7 of
# issue 17; the prompt record_time_left says "ten seconds").
WARN_BEFORE_END = 10.0
STATUS_PROMPTS = {"new": "status_new", "assigned": "status_assigned",
                  "referred": "status_referred", "resolved": "status_resolved",
                  "caller_informed": "status_resolved"}
GRACE = 1.5          # after the last digit: the '#' callers press anyway


def digits_prompts(number: str) -> list[str]:
    return [f"digit_{d}" for d in number if d.isdigit()]


class CallScript:
    """One call. `start(at)` gives the first actions; `send(event)` the next ones, up to and
    including the next action that waits for an event (or END)."""

    def __init__(self, caller: str | None, call_id: str, line: str, office_id: str,
                 menu: MenuOptions, limits: CallLimits, voicemail: VoicemailOptions,
                 survey: SurveyOptions, tree: Tree | None = None, started: float = 0.0,
                 transfer: Transfer | None = None,
                 recording: RecordingOptions | None = None) -> None:
        self.caller = caller or ""
        self.id = call_id
        self.cfg_menu, self.limits, self.vm, self.survey = menu, limits, voicemail, survey
        self.menu = Menu(menu.max_tries, tree or menu.tree)
        self.started = self.now = started
        self.ended = False      # the caller hung up (or the line failed)
        self.record: dict[str, Any] = {
            "call_id": call_id, "line": line, "caller": self.caller, "started": started,
            "answered": None, "ended": None, "duration_s": None,
            "menu_path": self.menu.path, "branch": None, "outcome": "abandoned",
            "duty_legs": [], "case_number": None, "voicemail": None,
        }
        self.office_id = office_id
        self.call = Call(call_id, self.caller, line)
        self.named: Duty | None = None     # complaint: the staff member it names (a Duty)
        self.case_opened = False   # by the branch itself (referral, urgent nobody took)
        # issue 17: a call the prefecture's switchboard transferred down (sip/switchboard.
        # Transfer), and [recording] (bridged calls recorded, the caller told first)
        self.transfer = transfer
        self.recording = recording
        self.noticed = False
        # when the box first rang a duty phone for this caller
        self.hunt_began: float | None = None
        self._gen = self._script()
        self.done = False

    # -- the machine -----------------------------------------------------------------------

    def start(self) -> list[Action]:
        return self._collect(next(self._gen))

    def send(self, event: Event) -> list[Action]:
        self.now = event.at or self.now
        return self._collect(self._gen.send(event))

    def throw(self, exc: BaseException) -> list[Action]:
        """The driver could not do the last action: `exc` is raised where the script is."""
        return self._collect(self._gen.throw(exc))

    def _collect(self, action: Action) -> list[Action]:
        out = [action]
        while action.kind in NO_WAIT:
            action = self._gen.send(Event("done", at=self.now))
            out.append(action)
        if action.kind == "end":
            self.done = True
        return out

    def _do(self, action: Action, event: Event | None = None) -> Steps[Event]:
        """One action; its event back. Hang-up and cut raise here, wherever the script is.
        With `event`, the action already happened and that is how it ended."""
        if event is None:
            event = yield action
        for key, value in (event.record or {}).items():
            if isinstance(value, list):
                self.record.setdefault(key, []).extend(value)
            else:
                self.record[key] = value
        if event.kind in ("hangup", "failed"):
            self.ended = True
            if event.kind == "failed":   # the line supervisor gave up on the modem
                self.record["outcome"] = "error"
                self.record["error"] = event.value
                yield act("say", f"line failed: {event.value}", level="error")
            raise CallEnded()
        if event.kind == "cut":
            raise CallCut(event.value)
        return event

    def say(self, text: str, level: str = "info") -> Action:
        return act("say", text, level=level)

    def play(self, *names: str, interruptible: bool = True) -> Steps[str | None]:
        """The key that interrupted the prompts, or None when they played to the end."""
        event = yield from self._do(act("play", *names, interruptible=interruptible))
        return event.value if event.kind == "key" else None

    def wait_key(self, timeout: float) -> Steps[str | None]:
        event = yield from self._do(act("wait_key", timeout=timeout))
        return event.value if event.kind == "key" else None

    def ask(self, question: str, *args: object) -> Steps[Any]:
        event = yield from self._do(act("ask", question, *args))
        return event.value

    def hang_up(self) -> Steps[None]:
        yield from self._do(act("hang_up"))

    def goodbye(self, *before: str) -> Steps[None]:
        yield from self.play(*before, "goodbye", interruptible=False)
        yield from self.hang_up()

    def limit_hit(self, what: str, detail: str) -> Steps[None]:
        self.record.setdefault("limits_hit", []).append(what)
        yield act("limit", what, detail=detail)

    # -- the call --------------------------------------------------------------------------

    def _script(self) -> Steps[None]:
        try:
            yield from self._do(act("answer"))
            self.record["answered"] = self.now
            yield self.say("answered, call audio open")
            yield from (self._transferred() if self.transfer is not None else self._flow())
        except CallCut as cut:
            self.record["cut"] = cut.reason   # the outcome stays what it was (bridged, ...)
            yield from self.limit_hit(cut.reason, f"call cut after {self.now - self.started:.0f}"
                                      f" s (max_call_seconds {self.limits.max_call_seconds:g})")
            yield act("last_words", "goodbye")
        except CallEnded:
            self._gave_up()
            yield self.say("caller hung up" + (f" ({self.record['abandoned_in']}, after "
                                               f"{self.record['abandoned_after_s']:.0f} s)"
                                               if self.record.get("abandoned_in") else ""))
        except Exception as exc:  # noqa: BLE001 - one call must never stop the box
            self._failed(exc)
            yield act("say", self.record["error"], level="error",
                      unexpected=not isinstance(exc, LawlineError), exc=exc)
            yield act("last_words", "service_unavailable", "goodbye")
        yield from self._finish()

    def _failed(self, exc: BaseException) -> None:
        self.record["outcome"] = "error"
        self.record["error"] = f"{type(exc).__name__}: {exc}"
        frames = traceback.extract_tb(exc.__traceback__)
        if frames:
            last = frames[-1]
            self.record["error_at"] = f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno} " \
                                      f"in {last.name}"

    def _gave_up(self) -> None:
        """The caller hung up before anything was done for them: the call is abandoned,
        with where they gave up and after how long they had waited there (records/
        measures.py counts it; records/calls.py lists the number for a call back)."""
        r = self.record
        if r.get("voicemail") or r.get("case_number") or \
                r.get("outcome") not in ("abandoned", "voicemail", "complaint"):
            return          # something was done for them: a message, a case
        if r["outcome"] != "abandoned":
            where = "voicemail"          # hung up before the recording began
        elif r.get("queued"):
            where = "queue"
        elif self.hunt_began is not None:
            where = "hunt"
        else:
            where = "menu"
        since = self.hunt_began if where in ("hunt", "queue") else self.started
        assert since is not None            # a caller in the queue was hunted for first
        r["outcome"] = "abandoned"
        r["abandoned_in"] = where
        r["abandoned_after_s"] = round(max(0.0, self.now - since), 1)

    def _chose_topic(self, topic: str) -> None:
        """The caller's topic ([topics]) from a menu key: on the call record and on every
        case this call opens."""
        if topic:
            self.record["topic"] = topic
            self.call = replace(self.call, topic=topic)

    def _finish(self) -> Steps[None]:
        """The call's last outcomes in one durable step: the case of a bridged call (the duty
        person owns it), its rating, and the call record itself."""
        event = yield act("finish")
        self.now = event.at or self.now
        self.record["ended"] = self.now
        self.record["duration_s"] = round(self.now - self.started, 1)
        items: list[Outcome] = []
        kind = CASE_KINDS.get(self.record.get("branch") or "")
        if kind and self.record.get("outcome") == "bridged" and not self.case_opened:
            case = yield from self._new_case()
            items.append(Bridged(self.call, kind, case, "", Duty(self.record["bridged_to"])))
        items += self._recording_items()
        case = self.record.get("case_number")
        if case and self.record.get("rating"):
            owner = Duty(self.record.get("bridged_to") or "")
            items.append(Rated(self.call, case, self.record["rating"], owner))
        items.append(CallRecord(self.id, dict(self.record)))
        event = yield act("commit", *items)
        if event.kind == "commit_failed":
            yield self.say(f"call record not stored: {event.value}", level="error")
        yield self.say(f"call over: {self.record['outcome']}, {self.record['duration_s']:.0f} s")
        yield act("end")

    def _new_case(self) -> Steps[Any]:
        """A case number drawn for this call (the record keeps it)."""
        case = yield from self.ask("new_case")
        self.record["case_number"] = case
        return case

    def _flow(self) -> Steps[None]:
        opened, why = yield from self.ask("office_open")
        if not opened:
            yield from self._after_hours(why)
            return
        key = yield from self.play("greeting", *self._notice(), self.menu.prompt)
        while True:
            if key is None:
                key = yield from self.wait_key(self.cfg_menu.key_timeout)
            decision = self.menu.key(key) if key is not None else self.menu.timeout()
            self._chose_topic(decision.topic)
            if decision.action == "branch":
                self.record["branch"] = decision.branch
                yield self.say(f"chose {decision.branch} (key {decision.key})")
                if decision.branch != "case_status" and (yield from self._told_cases_limit()):
                    return
                if decision.prompt:
                    yield from self.play(decision.prompt, interruptible=False)
                assert decision.branch is not None      # a "branch" decision names it
                yield from getattr(self, "_" + decision.branch)()
                return
            if decision.action in ("repeat", "submenu"):
                if decision.action == "submenu":
                    yield self.say(f"sub-menu {decision.menu} (key {decision.key})")
                names = ([decision.prompt] if decision.prompt else []) + [self.menu.prompt]
                key = yield from self.play(*names)
            elif decision.action in ("invalid", "no_key"):
                yield self.say(("invalid key " + decision.key if decision.key else "no key") +
                               f", try {self.menu.failures} of {self.menu.max_tries}")
                key = yield from self.play("invalid_key" if decision.key else "no_key",
                                           self.menu.prompt)
            else:
                yield self.say(f"gave up after {self.menu.failures} tries without a valid key")
                self.record["outcome"] = "no_input"
                yield from self.limit_hit("menu_tries", f"{self.menu.failures} tries without a "
                                          f"choice ([menu] max_tries {self.menu.max_tries}): "
                                          f"{' '.join(self.menu.path)}")
                yield from self.goodbye()
                return

    def _after_hours(self, why: str) -> Steps[None]:
        """Outside office hours: the after-hours greeting, then whoever the rota has on duty
        now, else voicemail."""
        self.record["branch"] = "after_hours"
        yield self.say(f"after hours: {why}")
        key = yield from self.play("after_hours", *self._notice())
        if key == "9":
            self.record["branch"] = "case_status"
            self.menu.path.append("9")
            yield from self._case_status()
            return
        if (yield from self._told_cases_limit()):
            return
        numbers = yield from self.ask("numbers", "after_hours")
        yield self.say(f"after hours: ringing night duty {', '.join(numbers)}" if numbers
                       else "after hours: nobody on duty in the rota; voicemail")
        if numbers and (yield from self._hunt(numbers)):
            return
        if (yield from self._handover("after_hours")):    # up to the prefecture (17.9a)
            return
        yield from self._voicemail("consultation", intro="duty_unavailable" if numbers else None)

    # -- branches --------------------------------------------------------------------------

    def _consultation(self) -> Steps[None]:
        if (yield from self._trunk_down()):
            yield from self._voicemail("consultation", intro="trunk_down")
            return
        if (yield from self._hunt()):
            return
        yield from self._voicemail("consultation", intro="duty_unavailable")

    def _urgent(self) -> Steps[None]:
        """Ring every mediator on duty at once; the first to press 1 is bridged."""
        if (yield from self._trunk_down()):
            yield from self._voicemail("urgent", intro="trunk_down")
            return
        numbers = yield from self.ask("numbers", "mediator")
        used = yield from self.ask("take", "ring_alls")
        if used > self.limits.ring_alls_per_number_per_day:
            self.record["ring_all"] = "limited"
            cap = self.limits.ring_alls_per_number_per_day
            yield from self.limit_hit("ring_alls_per_day",
                                      f"{cap} ring-alls today; straight to voicemail")
            yield from self._voicemail("urgent", intro="mediator_unavailable")
            return
        began = self.now
        if (yield from self._hunt(numbers, category="urgent", ring_all=True)):
            return
        # nobody accepted: the case now, SMS to every mediator and the office head
        case = yield from self._new_case()
        yield from self._commit(Escalated(self.call, case, "", tuple(numbers),
                                          self.now - began))
        self.case_opened = True
        if (yield from self._ladder(case, numbers)):     # the head, the prefecture (17.2)
            return
        yield from self._voicemail("urgent", intro="mediator_unavailable")

    def _service_request(self) -> Steps[None]:
        yield from self._voicemail("service_request")

    def _complaint(self) -> Steps[None]:
        if (yield from self._told_spool_full()):
            return   # before the staff-number question: no point asking it
        yield from self._ask_staff_number()
        yield from self._voicemail("complaint")

    def _trunk_down(self) -> Steps[bool]:
        sentence = yield from self.ask("trunk_down")
        if not sentence:
            return False
        self.record["trunk"] = "unregistered"
        yield self.say(f"{sentence}; straight to voicemail")
        return True

    def _told_spool_full(self) -> Steps[bool]:
        if (yield from self.ask("can_record")):
            return False
        self.record["outcome"] = "spool_full"
        yield from self.goodbye("service_unavailable")
        return True

    def _told_cases_limit(self) -> Steps[bool]:
        """This number already opened its day's cases ([limits] cases_per_number_per_day)."""
        if (yield from self.ask("cases_left")) > 0:
            return False
        self.record["outcome"] = "limited"
        yield from self.limit_hit("cases_per_day", f"{self.limits.cases_per_number_per_day} "
                                  "cases opened today; no new case")
        yield from self.goodbye("limit_reached")
        return True

    def _hunt(self, numbers: list[str] | None = None, category: str = "consultation",
              ring_all: bool = False) -> Steps[bool]:
        """Ring the duty phones (one after the other, or all at once); bridge the first that
        accepts with 1. True when the caller was bridged (and the bridge has ended)."""
        if numbers is None:
            numbers = yield from self.ask("numbers", "lawyer")
        if not numbers:
            yield self.say("no duty numbers configured; straight to voicemail")
            return False
        if (yield from self._trunk_down()):
            return False
        if not (yield from self.ask("can_bridge")):
            yield self.say("bridging unavailable on this modem: no AT+VTR; straight to "
                           "voicemail")
            self.record["bridging_unavailable"] = True
            return False
        yield from self.play("connecting_urgent" if ring_all else "connecting",
                             interruptible=False)
        self.record["wanted_person"] = True
        if self.hunt_began is None:
            self.hunt_began = self.now
            self.record["ring_started"] = self.now    # the wait's start (records/measures.py)
        event = yield from self._do(act("ring", *numbers, category=category,
                                        ring_all=ring_all))
        if event.value == "all_busy":
            return (yield from self._queue(numbers, category, ring_all))
        if event.kind != "leg_accepted":
            yield self.say("no duty phone accepted")
            return False
        yield from self._bridge(event)
        return True

    def _queue(self, numbers: list[str], category: str, ring_all: bool) -> Steps[bool]:
        """Every duty phone is in a call from this box: the caller hears their place in the
        queue and may press 1 to be called back; else the box rings again. True when the
        caller was bridged or booked a callback; False: voicemail."""
        self.record["queued"] = True
        for _ in range(self.cfg_menu.max_tries):
            place = yield from self.ask("queue_place")
            self.record.setdefault("queue_place", place)
            yield self.say(f"every duty phone is busy; place {place} in the queue")
            key = yield from self.play("queue_place", *digits_prompts(str(place)),
                                       "queue_callback")
            if key is None:
                key = yield from self.wait_key(self.cfg_menu.key_timeout)
            if key == "1":
                yield from self.ask("queue_leave")
                yield from self._callback(numbers)
                return True
            event = yield from self._do(act("ring", *numbers, category=category,
                                            ring_all=ring_all))
            if event.kind == "leg_accepted":
                yield from self.ask("queue_leave")
                yield from self._bridge(event)
                return True
            if event.value != "all_busy":
                break
        yield from self.ask("queue_leave")
        yield self.say("left the queue without a duty phone; voicemail")
        return False

    def _callback(self, numbers: list[str]) -> Steps[None]:
        """The callback request is a case with the caller's number; the duty person gets
        it by SMS, the office sees it in the case book."""
        case = yield from self._new_case()
        yield from self._commit(Callback(self.call, case, "",
                                         Duty(numbers[0]) if numbers else None,
                                         self.record.get("queue_place")))
        self.record["outcome"] = "callback"
        self.case_opened = True
        yield self.say(f"callback requested: case {case}")
        yield from self.goodbye("callback_booked")

    def _commit(self, *items: Outcome) -> Steps[Event]:
        """Outcomes in one durable step (records/ledger.py); raises when nothing could be
        stored: the call ends with the caller told the service is unavailable."""
        event = yield from self._do(act("commit", *items))
        if event.kind == "commit_failed":
            raise LawlineError(f"outcome not stored: {event.value}")
        return event

    def _bridge(self, event: Event) -> Steps[None]:
        self.record["outcome"] = "bridged"
        self.record["bridged_to"] = event.value
        self.record["seconds_to_person"] = round(self.now - self.started, 1)
        if self.hunt_began is not None:       # time to answer (records/measures.py)
            self.record["wait_s"] = round(self.now - self.hunt_began, 1)
        yield from self._before_bridge(event)
        yield self.say(f"bridged to duty phone {event.value}")
        yield from self._do(act("bridge", event.value, record=self._records()))
        yield self.say(f"duty phone {event.value} hung up after "
                       f"{self.record.get('bridged_s', 0):.0f} s")
        yield from self._after_bridge()

    def _after_bridge(self) -> Steps[None]:
        """The duty person hung up first and the caller is still there: ask for a rating."""
        if self.survey.enabled:
            key = yield from self.play("rate_call")
            if key is None:
                key = yield from self.wait_key(self.survey.key_timeout)
            if key in ("1", "2", "3", "4", "5"):
                self.record["rating"] = int(key)
                yield self.say(f"rated the call {key} of 5")
                yield from self.play("rate_thanks", interruptible=False)
            else:
                yield self.say("no rating given")
        yield from self.goodbye()

    # -- voicemail ---------------------------------------------------------------------------

    def _voicemail(self, box: str, intro: str | None = None) -> Steps[None]:
        self.record["outcome"] = "voicemail" if box != "complaint" else "complaint"
        if (yield from self._told_spool_full()):
            return
        yield from self.play(*([intro] if intro else []), VOICEMAIL_BOXES[box])  # a key skips
        # keys pressed so far are dropped, the beep, then the recording to '#' or its end
        ended = yield act("record", box, max_seconds=self.vm.max_seconds,
                          silence_seconds=getattr(self.vm, "silence_seconds", 0.0),
                          silence_level=getattr(self.vm, "silence_level", -45.0),
                          warn_before=WARN_BEFORE_END)
        if ended.value is None:   # gone before the recording began (during the beep)
            yield from self._do(act("stopped"), ended)
        info = ended.value   # reason, seconds, complete, began, path
        gone = {"failed": "hangup"}.get(ended.kind, ended.kind)  # recording_ended hangup cut
        if gone == "hangup":
            self.ended = True
        yield self.say(f"voicemail for {box} ended ({info['reason']}), {info['seconds']:.1f} s"
                       + ("" if info["complete"] else " (header repaired)"))
        opened = bool(self.record["case_number"])     # urgent: opened when nobody accepted
        case = self.record["case_number"] or (yield from self.ask("new_case"))
        # the voice in it: up to the last frame above the silence level (the whole length
        # when the line cannot tell); a message with less than [voicemail] min_seconds of it
        # is kept and flagged short, never dropped
        voice = info.get("voice_s", info["seconds"])
        short = min(info["seconds"], voice) < self.vm.min_seconds
        event = yield act("commit", Voicemail(
            self.call, box, case, "", info["path"], info["seconds"], info["reason"],
            started=info["began"], menu_path=tuple(self.menu.path),
            short=short, voice_s=info.get("voice_s"),
            after_hours=self.record.get("branch") == "after_hours",
            named=self.named, case_open=opened))
        if event.kind == "commit_failed":
            yield self.say(f"voicemail could not be stored ({event.value}); caller told",
                           level="error")
            self.record["outcome"] = "error"
            self.record["error"] = f"spool: {event.value}"
            if gone == "hangup":
                raise CallEnded()
            yield from self.goodbye("service_unavailable")
            return
        self.record["case_number"] = case
        self.record["voicemail"] = {"case_number": case, "seconds": round(info["seconds"], 2)}
        if info["reason"] == "silence" or short or info.get("warned"):
            self.record["voicemail"].update(ended_by=info["reason"], short=short,
                                            warned=bool(info.get("warned")))
        yield self.say(f"voicemail stored as case {case} in the outbox")
        if gone == "hangup":
            raise CallEnded()
        if gone == "cut":
            raise CallCut(info["reason"])
        # first: the message is safe (after silence ended it, the caller is told why)
        yield from self.play(*(["record_silence"] if info["reason"] == "silence" else []),
                             "recorded", interruptible=False)
        readback = ["case_number"] + digits_prompts(case)
        yield from self._do(act("play", *readback, interruptible=False, joined=True))
        yield from self._do(act("play", *readback, interruptible=False, joined=True))  # twice
        yield from self.goodbye()

    # -- keys ------------------------------------------------------------------------------

    def read_digits(self, most: int, timeout: float, first: str | None = None) -> Steps[str]:
        """Keys until '#' or `timeout` of silence. After `most` digits it waits GRACE more
        for the '#' callers press anyway; a digit then makes the answer too long, which
        matches no case or PIN (never a shorter one)."""
        digits = first or ""
        while len(digits) <= most:
            key = yield from self.wait_key(timeout if len(digits) < most else GRACE)
            if key is None or key == "#":
                break
            if key.isdigit():
                digits += key
        return digits

    # -- case status -------------------------------------------------------------------------

    def _case_status(self) -> Steps[None]:
        """A case's status only to its caller: on the phone that opened it, or with the PIN
        from the case SMS. Whether the number exists is never told. Tries are bounded per
        call and per number per day ([limits]); a lookup never changes the case."""
        limits, timeout = self.limits, self.cfg_menu.key_timeout
        queries = self.record.setdefault("status_queries", [])
        self.record["outcome"] = "status_unknown"
        for attempt in range(limits.status_tries_per_call):
            if (yield from self.ask("used", "status_tries")) >= \
                    limits.status_tries_per_number_per_day:
                cap = limits.status_tries_per_number_per_day
                yield from self.limit_hit("status_tries_day", f"{cap} wrong case status tries "
                                          "today; nothing told")
                yield from self.play("case_not_found", interruptible=False)
                break
            key = yield from self.play("enter_case")
            digits = yield from self.read_digits(NUMBER_DIGITS, timeout,
                                                 first=key if key and key.isdigit() else None)
            queries.append(digits)
            case = yield from self.ask("find_case", digits)   # {number, state, mine} or None
            if case is not None and case["mine"]:
                yield from self._tell_status(case, "the caller's own phone")
                break
            if digits:
                key = yield from self.play("enter_pin")
                pin = yield from self.read_digits(PIN_DIGITS, timeout,
                                                  first=key if key and key.isdigit() else None)
                if case is not None and (yield from self.ask("pin_matches", case["number"],
                                                             pin)):
                    self.record["status_by_pin"] = True
                    yield from self._tell_status(case, "the case's PIN")
                    break
                yield from self.ask("take", "status_tries")
            yield self.say(f"case status: {digits!r} is no case of this caller, or the PIN is "
                           f"wrong; nothing told (try {attempt + 1} of "
                           f"{limits.status_tries_per_call})")
            yield from self.play("case_not_found", interruptible=False)
        else:
            yield from self.limit_hit("status_tries_call", f"{limits.status_tries_per_call} "
                                      "case status tries in this call")
        yield from self.goodbye()

    def _tell_status(self, case: Mapping[str, Any], how: str) -> Steps[None]:
        yield self.say(f"case status {case['number']}: {case['state']}, told ({how})")
        yield from self._do(act("play", "case_number", *digits_prompts(case["number"]),
                                STATUS_PROMPTS[case["state"]], interruptible=False,
                                joined=True))
        self.record["outcome"] = "status_told"
        if case.get("result"):
            yield from self._tell_result(case)

    def _tell_result(self, case: Mapping[str, Any]) -> Steps[None]:
        """On the phone that opened a resolved case: the result the office wrote (issue
        17.4), spoken; a caller not told yet (no mobile to text) is told now, and the case
        records it."""
        prompt = yield from self.ask("result_prompt", case["number"])
        if not prompt:
            return
        yield from self.play("case_result", prompt, interruptible=False)
        self.record["result_told"] = case["number"]
        if case["state"] != "resolved":
            return
        event = yield from self._do(act("commit", Told(self.call, case["number"])))
        if event.kind == "commit_failed":
            yield self.say(f"case {case['number']}: the result was told but not recorded: "
                           f"{event.value}", level="error")
        else:
            yield self.say(f"case {case['number']}: the caller was told the result on the phone")

    # -- referrals -------------------------------------------------------------------------

    def _referral(self) -> Steps[None]:
        count = yield from self.ask("referrals")
        self.record["outcome"] = "referral_none"
        if not count:
            yield self.say("no referral departments configured")
            yield from self.goodbye("referral_none")
            return
        chosen = None
        for _ in range(self.cfg_menu.max_tries):
            key = yield from self.play("referral_intro")
            for i in range(count):
                if key is not None:
                    break
                event = yield from self._do(act("play", f"referral:{i}", interruptible=True))
                key = event.value if event.kind == "key" else None
            if key is None:
                key = yield from self.wait_key(self.cfg_menu.key_timeout)
            if key and key.isdigit() and 1 <= int(key) <= count:
                chosen = int(key) - 1
                break
            yield self.say("referral menu: " + (f"key {key} is not a department" if key
                                                else "no key"))
        if chosen is None:
            yield from self.goodbye()
            return
        department = yield from self.ask("referral", chosen)
        case = yield from self._new_case()
        yield from self._commit(Referred(self.call, case, "", department))
        yield self.say(f"referred to {department.name}")
        self.record.update(referral=department.name, outcome="referred")
        self.case_opened = True
        yield from self._referral_details(chosen, case, department)
        yield from self.goodbye(*(["referral_sent"] if is_mobile(self.caller) else []))

    def _referral_details(self, index: int, case: str, department: Any) -> Steps[None]:
        """The department's phone digit by digit and its address (a prompt rendered from the
        config, records/duties.py); 1 hears them again, 2 keys a mobile to have them texted
        there (checked against the dial plan's rules for mobiles, never dialled). Issue 17.3"""
        details = []
        if department.phone:
            details += ["referral_phone", *digits_prompts(department.phone)]
        if (yield from self.ask("has_address", index)):
            details += ["referral_address", f"referral_address:{index}"]
        if not details:
            return
        for _ in range(self.cfg_menu.max_tries):
            key = yield from self.play(*details, "referral_options")
            if key is None:
                key = yield from self.wait_key(self.cfg_menu.key_timeout)
            if key == "1":
                yield self.say("referral details again")
                continue
            if key == "2" and (yield from self._text_details(case, department)):
                return
            if key != "2":
                return

    def _text_details(self, case: str, department: Any) -> Steps[bool]:
        """The caller keys a mobile; the department's details are texted there. True when
        it was sent (or no more may be: the call goes on to goodbye)."""
        if not (yield from self.ask("texts_left")):
            yield self.say("referral details by SMS: no more in this call ([handoff] "
                           "mobiles_per_call)")
            return True
        key = yield from self.play("referral_enter_mobile")
        digits = yield from self.read_digits(11, self.cfg_menu.key_timeout,
                                             first=key if key and key.isdigit() else None)
        refusal = yield from self.ask("may_text", digits)
        texted = self.record.setdefault("referral_texted", [])
        if refusal:
            yield self.say(f"referral details not texted to {digits!r}: {refusal}")
            texted.append({"number": digits[:3] + "****" + digits[-4:] if len(digits) > 7
                           else "", "sent": False})
            yield from self.play("referral_not_mobile", interruptible=False)
            return False
        yield from self._commit(ReferralTexted(self.call, case, digits, department))
        texted.append({"number": digits[:3] + "****" + digits[-4:], "sent": True})
        yield self.say(f"referral details texted to {digits}")
        yield from self.play("referral_texted", interruptible=False)
        return True

    # -- complaint: who it is about --------------------------------------------------------

    def _ask_staff_number(self) -> Steps[None]:
        """The caller may key the staff number of the person complained about; that person
        is kept out of everything about this complaint (reference/field.md (b) 7)."""
        key = yield from self.play("complaint_staff")
        if key == "#":
            return
        digits = yield from self.read_digits(4, self.cfg_menu.key_timeout,
                                             first=key if key and key.isdigit() else None)
        if digits:
            person = yield from self.ask("staff", digits)     # a Duty, or None
            self.named = person
            self.record["named_staff"] = {"staff_no": digits,
                                          "name": person.name if person else None}
            yield self.say(f"complaint names staff number {digits} "
                           f"({person.name if person else 'not in the rota'})")

    # -- the telephone's duties (issue 17) ---------------------------------------------------
    # 2: the urgent ladder; 9: the prefecture's switchboard, up (a hand-over) and down (a
    # transfer straight to its branch); 10: bridged calls recorded with the caller's consent.

    def _ladder(self, case: str, mediators: list[str]) -> Steps[bool]:
        """No mediator accepted an urgent dispute (its case is open, everyone texted): call
        the next step of [ladder] steps (the office head, the prefecture's number), each with
        the urgent whisper and "press 1", or hand the call up to the switchboard. Every step
        is on the case as it happens (records/outcomes.LadderStep) and in the call record.
        True when someone took the call (and the bridge has ended) or the switchboard has it."""
        ladder = self.record.setdefault("ladder", [])
        ladder.append({"step": "mediators", "numbers": list(mediators), "outcome": "no_answer",
                       "after_s": round(self.now - self.started, 1)})
        if self.record.get("bridging_unavailable") or self.record.get("trunk"):
            return False        # nothing can be put through: the ladder has no one to call
        steps = yield from self.ask("ladder")       # [(step, number, name)]
        rung, told = list(mediators), False
        for step, number, name in steps:
            if step == "switchboard":
                if self.transfer is None and (yield from self._handover("ladder", case)):
                    return True
                continue
            yield self.say(f"urgent ladder: nobody accepted yet; calling the {step} "
                           f"({number})")
            if not told:
                yield from self.play("urgent_ladder", interruptible=False)
                told = True
            event = yield from self._do(act("ring", number, category="urgent", ring_all=False,
                                            step=step))
            outcome = self._leg_outcome(event)
            after = round(self.now - self.started, 1)
            ladder.append({"step": step, "number": number, "outcome": outcome,
                           "after_s": after})
            if outcome == "accepted":
                self.record["taken_by"] = {"step": step, "number": number, "name": name}
                yield from self._commit(LadderStep(self.call, case, "", step, number, outcome,
                                                   after, Duty(number, name), tuple(rung)))
                yield from self._bridge(event)
                return True
            yield from self._commit(LadderStep(self.call, case, "", step, number, outcome,
                                               after))
            rung.append(number)
        return False

    def _leg_outcome(self, event: Event) -> str:
        """How one ring ended, as the ladder and the call record say it."""
        if event.kind == "leg_accepted":
            return "accepted"
        if event.value == "all_busy":
            return "busy"
        legs = (event.record or {}).get("duty_legs") or []
        return legs[-1]["outcome"] if legs else "failed"

    def _before_bridge(self, event: Event) -> Steps[None]:
        """A mediator accepted an urgent dispute: its case opens now, theirs, and everyone
        else rung is told who took it while the caller is put through (the notice asks for a
        fast response: nobody should call the caller back twice)."""
        if self.record.get("branch") != "urgent" or self.case_opened:
            return
        taker = event.value
        rung = [leg["number"] for leg in self.record.get("duty_legs") or []]
        others = tuple(n for n in dict.fromkeys(rung) if n != taker)
        after = round(self.now - self.started, 1)
        self.record.setdefault("ladder", []).append(
            {"step": "mediators", "numbers": list(dict.fromkeys(rung)), "number": taker,
             "outcome": "accepted", "after_s": after})
        self.record["taken_by"] = {"step": "mediators", "number": taker, "name": ""}
        case = yield from self._new_case()
        yield from self._commit(LadderStep(self.call, case, "", "mediators", taker,
                                           "accepted", after, Duty(taker), others,
                                           opens=True))
        self.case_opened = True

    def _handover(self, reason: str, case: str | None = None) -> Steps[bool]:
        """Hand the call up to the prefecture's switchboard (1600148) over the trunk, with
        a whisper naming the county and the caller: nobody here accepted and the office is
        closed (`reason` after_hours), or the urgent ladder reached it (ladder, with its
        `case`). Never a call the switchboard itself transferred down. True when the
        switchboard took the call (and the bridge has ended)."""
        if self.transfer is not None:
            return False
        board = yield from self.ask("switchboard", reason)    # its number, or None
        if not board:
            return False
        yield self.say(f"handing the call up to the prefecture switchboard {board} ({reason})")
        yield from self.play("switchboard_transfer", interruptible=False)
        event = yield from self._do(act("handover", board, reason=reason))
        after = round(self.now - self.started, 1)
        took = event.kind == "leg_accepted"
        self.record["overflow"] = {"to": board, "reason": reason, "after_s": after,
                                   "outcome": "handed_over" if took else "failed"}
        if case:
            ladder = self.record.setdefault("ladder", [])
            ladder.append({"step": "switchboard", "number": board,
                           "outcome": "handed_over" if took else self._leg_outcome(event),
                           "after_s": after})
            yield from self._commit(LadderStep(self.call, case, "", "switchboard", board,
                                               ladder[-1]["outcome"], after))
        if not took:
            yield self.say(f"the switchboard {board} did not take the call")
            return False
        # the prefecture has the caller now: no case of the county's own, no rating here
        self.record.update(outcome="overflow", bridged_to=board,
                           seconds_to_person=round(self.now - self.started, 1))
        yield self.say(f"handed over to the switchboard {board}")
        yield from self._do(act("bridge", board, record=self._records()))
        yield self.say(f"the switchboard hung up after {self.record.get('bridged_s', 0):.0f} s")
        yield from self.goodbye()
        return True

    def _transferred(self) -> Steps[None]:
        """A call the switchboard transferred down: its original caller is this call's
        caller; with a reason (the header, or a DTMF code keyed just after the answer) the
        call goes straight to that branch without the menu, otherwise the menu plays."""
        t = self.transfer
        assert t is not None                    # _script calls this for a transfer only
        self.record["transferred"] = t.as_record()
        yield self.say(f"transferred down by the switchboard {t.switchboard}; caller "
                       f"{self.caller or 'withheld'}" + (f" (from {t.caller_from})"
                                                         if t.caller_from else ""))
        branch = t.branch
        if branch is None and t.code_seconds:
            code = yield from self._reason_code(t.code_seconds)
            if code:
                branch = t.codes.get(code)
                self.record["transferred"].update(said=code, how="dtmf", reason=branch)
                yield self.say(f"the switchboard keyed reason code {code!r}: "
                               f"{branch or 'no such reason'}")
        if branch is None:
            yield self.say("the switchboard gave no reason: the menu")
            yield from self._flow()
            return
        self.record["branch"] = branch
        self.menu.path.append(f"transfer:{branch}")
        yield self.say(f"straight to {branch}, as the switchboard asked")
        if branch != "case_status" and (yield from self._told_cases_limit()):
            return
        notice = self._notice()
        if notice:
            yield from self.play(*notice, interruptible=False)
        yield from getattr(self, "_" + branch)()

    def _reason_code(self, seconds: float) -> Steps[str]:
        """Digits the switchboard keys just after the answer, up to '#' (or a pause)."""
        digits = ""
        key = yield from self.wait_key(seconds)
        while key is not None and key != "#" and len(digits) <= 4:
            if key.isdigit():
                digits += key
            key = yield from self.wait_key(GRACE)
        return digits

    def _notice(self) -> list[str]:
        """The recording notice, once per call, before anything that may be recorded."""
        if self.recording is None or not self.recording.enabled or self.noticed:
            return []
        self.noticed = True
        self.record["recording_notice"] = True
        return ["recording_notice"]

    def _records(self) -> bool:
        """Whether this bridge is recorded: [recording] on, and the caller was told."""
        return bool(self.recording is not None and self.recording.enabled and self.noticed)

    def _recording_items(self) -> list[CallRecording]:
        """The bridged call's recording (driver: bridge), an item like a voicemail's."""
        made = self.record.get("recording")
        if not isinstance(made, dict) or "path" not in made:
            return []
        assert self.recording is not None       # a bridge is recorded with [recording] only
        key = f"recording-{self.id}"
        self.record["recording"] = {"key": key, "seconds": made["seconds"]}
        return [CallRecording(self.call, made["path"], made["seconds"], made.get("started"),
                              self.record.get("case_number"), made.get("other", ""),
                              self.recording.keep_days)]
