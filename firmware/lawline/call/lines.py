"""One telephone line of the box: its modem, call audio, supervisor, media port and number,
and the one owner of its events.

While the line is idle its events are the idle handler's (rings, caller ID, SMS, missed
calls); from the answer to the end of a call they go to that call, and only there. Each line
answers on its own task, so several lines take calls at once ([[line]] in the config).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Protocol

from ..events import PartEvent
from ..line.parts import LineModem

if TYPE_CHECKING:
    from ..line.parts import CallAudio
    from ..line.supervisor import LineSupervisor
    from ..settings import LineSection

log = logging.getLogger("lawline.box")


class RingingModem(LineModem, Protocol):
    """A line's modem as the idle line reads it: the rings of the call ringing now; and as
    one call uses it (call/driver.CallModem)."""
    rings: int
    ringing: bool
    can_bridge: bool
    audio_open: bool
    caller_raw: str


# take_call(line, events): one call, from the answer to its end
TakeCall = Callable[["Line", "asyncio.Queue[PartEvent]"], Awaitable[None]]


class Line:
    def __init__(self, number: int, config: LineSection, modem: RingingModem, pcm: CallAudio,
                 supervisor: LineSupervisor, port: Any, phone_number: str) -> None:
        self.number = number          # 1, 2, ...: its place in the config
        self.cfg = config             # its [line] / [[line]] section
        self.modem = modem
        self.pcm = pcm
        self.supervisor = supervisor
        self.port = port              # its AudioMediaPort in the shared media core (pjsua2)
        self.phone_number = phone_number
        # an asyncio.Queue while a call is up
        self.call_events: asyncio.Queue[PartEvent] | None = None
        self.calls = 0
        # when the ringing call's first ring came (time.time)
        self.ringing_since: float | None = None
        self.rang_s: float | None = None    # how long the call being answered rang first
        # why no new call may be answered now (update.py)
        self.calls_held: Callable[[], str | None] = lambda: None
        self._held: str | None = None

    @property
    def name(self) -> str:
        return f"line {self.number} ({self.phone_number})"

    @property
    def busy(self) -> bool:
        return self.call_events is not None

    async def serve(self, stop: asyncio.Event, take_call: TakeCall,
                    on_sms: Callable[[PartEvent], object],
                    on_missed: Callable[[Line, PartEvent, float | None], object] | None = None
                    ) -> None:
        """Route the modem's events until `stop`: to the call when one is up, else answer
        once caller ID is in (it follows each RING, reference/modems.md 1.2), or at the next
        ring if the network sends none. `take_call(line, events)` runs one call;
        `on_missed(line, event, rang_from)`: the caller hung up while it rang (its call
        record, the callback list: issue 17.6)."""
        need = self.cfg.answer_after_rings
        stopping = asyncio.ensure_future(stop.wait())
        call: asyncio.Future[None] | None = None
        get: asyncio.Future[PartEvent] | None = None
        try:
            while True:
                active = call is not None and not call.done()
                if stop.is_set() and not active:
                    break
                # Once stopping, no new call is answered, but a call in progress still gets
                # its events until it ends (its record is committed as always).
                get = get or asyncio.ensure_future(self.modem.events.get())
                other: asyncio.Future[Any] | None = call if stop.is_set() else stopping
                assert other is not None        # stopping without a call left the loop above
                waiting: set[asyncio.Future[Any]] = {get, other}
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if get not in done:
                    continue
                event, get = get.result(), None
                if self.call_events is not None:
                    self.call_events.put_nowait(event)
                    continue
                if stop.is_set():
                    continue
                if event.kind in ("ring", "caller_id") and self.ringing_since is None:
                    self.ringing_since = time.time()
                ready = ((event.kind == "caller_id" and self.modem.rings >= need) or
                         (event.kind == "ring" and self.modem.rings > need))
                held = self.calls_held() if ready else self._held
                if held != self._held:
                    if held:
                        log.warning("box: %s: not answering new calls: %s", self.name, held)
                    else:
                        log.info("box: %s: answering calls again", self.name)
                    self._held = held
                if ready and held:
                    continue    # it rings on (a network forward on no answer still works)
                if ready:
                    self.rang_s = round(time.time() - self.ringing_since, 1) \
                        if self.ringing_since is not None else None
                    self.ringing_since = None
                    self.calls += 1
                    self.call_events = asyncio.Queue()
                    call = asyncio.ensure_future(self._call(take_call))
                elif event.kind == "sms":
                    on_sms(event)
                elif event.kind == "missed":
                    log.info("box: %s: missed call from %s (hung up while ringing)", self.name,
                             event.number or "a withheld number")
                    since, self.ringing_since = self.ringing_since, None
                    if on_missed is not None:
                        on_missed(self, event, since)
                elif event.kind == "ring":
                    log.info("box: %s: ring %d from %s", self.name, self.modem.rings,
                             self.modem.caller or "unknown")
        finally:
            stopping.cancel()
            if get is not None:
                get.cancel()

    async def _call(self, take_call: TakeCall) -> None:
        assert self.call_events is not None     # serve sets it before the call starts
        try:
            await take_call(self, self.call_events)
        finally:
            # What came after the call's end and the call did not take (the next caller's
            # RING, an SMS: the call stops reading at its end, and closes for a while after)
            # is the idle line's again, in order: it was dropped here, and the next caller
            # was answered a ring late and the SMS lost (already deleted from the SIM).
            left, self.call_events = self.call_events, None
            while left is not None and not left.empty():
                self.modem.events.put_nowait(left.get_nowait())
        try:
            await self.supervisor.after_call()   # [line] reset_after_hangup
        except Exception as exc:  # noqa: BLE001 - the supervisor brings the modem back
            log.error("box: %s: after the call: %r", self.name, exc, exc_info=True)


def missed_record(call_id: str, line: str, caller: str | None, rang_from: float | None,
                  now: float, caller_raw: str = "") -> dict[str, Any]:
    """The call record of a caller who hung up while the line rang (records/measures.py:
    offered, missed, abandoned; records/calls.py lists the number for a call back)."""
    rang = round(max(0.0, now - (rang_from or now)), 1)
    record = {"call_id": call_id, "line": line, "caller": caller or "",
              "started": rang_from or now, "answered": None, "ended": now,
              "duration_s": rang, "menu_path": [], "branch": None, "outcome": "missed",
              "duty_legs": [], "case_number": None, "voicemail": None, "rang_s": rang,
              "abandoned_in": "ringing", "abandoned_after_s": rang}
    if caller_raw:
        record["caller_raw"] = caller_raw
    return record
