"""The box: starts every part, answers calls one at a time, stops cleanly.

One asyncio loop owns all call state (DESIGN.md, Runtime). pjsua2 is polled on that loop's
thread; the PCM reader and pjmedia's clock thread only move audio frames.
"""

import asyncio
import logging
import os
import signal
import time
from typing import TYPE_CHECKING, Any, cast

from .clock import Clock
from .config import Config
from .call.driver import CallDriver, CallParts, new_call_id
from .call.lines import Line, RingingModem, missed_record
from .call.script import CallScript
from .prompts import Prompts
from .errors import ModemError
from .events import PartEvent
from . import build, hat, update
from .hat import PowerKey, StatusLed
from .records.recovery import start_up
from .line import from_config as line_from_config
from .line.supervisor import LineSupervisor
from .sdnotify import Notifier, summary as status_summary
from .sip.door import trunk_addresses
from .sip import hunt
from .sip import switchboard as boards
from .sip.dialplan import DialPlan
from .sip.endpoint import MediaCore
from .sip import inbound
from .sip.leg import LocalAccount
from .sip.trunk import Trunk, TrunkAccount, configured as trunk_configured
from .settings import LineSection
from .sync.outbox import Outbox
from .sync.service import SyncService
from .sync.worker import UploadWorker
from .sync.spool import UMASK as SPOOL_UMASK, make_private
from .status import FAIL, OK, BoxLock, Status
from .line import profiles as line_profiles
from .records.health import Health, modem_signal
from .records.cases import Cases
from .records.office import Office
from .records.outcomes import CallRecord

if TYPE_CHECKING:     # the V.253 driver loads numpy: only a voice modem's box imports it
    from .line.modem import Modem
    from .line.v253 import V253Modem

log = logging.getLogger("lawline.box")

# the line a call runs on: a modem's, or a call the switchboard transferred down
CallLine = Line | inbound.SipLine

UPSTREAM = "upstream"


class Box:
    def __init__(self, config: Config, clock: Clock | None = None) -> None:
        """The box on `config`; `clock`: the office's (the test rig moves one: clock.py)."""
        self.config = config
        self.clock = clock or build.clock(config)
        spool = config.spool_dir
        self.incoming_dir = spool / "incoming"
        self.tmp_dir = spool / "tmp"
        self.prompts = Prompts(config.prompts_dir)
        self.core: MediaCore | None = None
        self.account: TrunkAccount | LocalAccount | None = None
        self.trunk: Trunk | None = None   # with a [trunk] registrar; its .state for check
        self.lines: list[Line] = []       # one per modem ([line] or [[line]])
        self.modem: RingingModem | None = None   # line 1's: SMS out, signal for the health report
        self.duty_busy: set[str] = set()  # duty phones this box is ringing or has in a call
        self.queue: list[str] = []        # call ids waiting for a duty phone, any line, first first
        # calls the switchboard transferred down, up now
        self.switchboard_calls: set[asyncio.Task[None]] = set()
        self.switchboard_count = 0
        self.outbox: Outbox | None = None
        self.worker: UploadWorker | None = None
        self.sync: SyncService | None = None
        self.cases: Cases | None = None
        self.office: Office | None = None
        self.calls = 0
        self.status = Status(None)
        self.notify = Notifier()    # systemd: READY=1, STATUS=, WATCHDOG=1 (sdnotify.py)
        self.ready = False
        self.lock: BoxLock | None = None

    def _open_storage(self) -> None:
        spool = self.config.spool_dir
        for d in (spool, self.incoming_dir, self.tmp_dir):
            d.mkdir(parents=True, exist_ok=True)
        tightened = make_private(spool)     # private at rest (sync/spool.py)
        if tightened:
            log.warning("spool: %d file(s) and folder(s) under %s were readable by others; "
                        "now the service's only (0600/0700)", tightened, spool)
        self.lock = BoxLock(spool)      # how `lawline check` knows a box runs on this spool
        self.lock.acquire()
        self.status = Status(spool / "state.json")
        self.status.on_change = lambda parts: self.notify.status(self.status_line())
        # Targets, outbox, upload worker (sync/service.py); the office on that outbox: cases,
        # duty desk, SMS queue, ledger (records/office.py); then what a power cut or a
        # damaged card left, made whole before the first call (records/recovery.py)
        self.sync = build.sync(self.config, self.clock, self.alert, self.status)
        self.office = build.office(self.config, self.clock, self.sync.outbox, box=True)
        self.outbox = self.sync.outbox
        self.worker = self.sync.worker
        if self.worker is not None:   # an outbox that fails to read: state, check, systemd
            self.worker.on_outbox_error = self._outbox_error
        self.cases = self.office.cases
        self.office.on_upload = self.kick_upload
        # what a power cut or a damaged card left, made whole before the first call; the
        # office exists by now, so its alerts go out by SMS (self.alert)
        start_up(self.office, self.outbox, spool, line_number=self.config.office.number,
                 min_seconds=self.config.voicemail.min_seconds, alert=self.alert,
                 status=self.status)

    def on_sms(self, event: PartEvent) -> bool | None:
        """An incoming SMS (duty staff replying "结案 2611280001"): the office acts on it only
        from a numeric sender it lists (records/office.py); the type of number goes with it."""
        if self.office is not None:
            assert event.number is not None     # a modem's SMS event names its sender
            return self.office.on_sms(event.number, event.detail, event.sender_type)
        return None

    def kick_upload(self) -> None:
        if self.sync is not None:
            self.sync.kick()

    def can_record(self) -> bool:
        """False when the spool cannot take one more longest message (sync/spool.py)."""
        return self.sync is None or self.sync.can_record()

    def alert(self, text: str) -> None:
        """Something the office must act on: the log, and an SMS to [office] head_mobile
        when the modem can send one."""
        log.error("alert: %s", text)
        head = self.config.office.head_mobile
        sms = self.office.sms if self.office is not None else None
        if head and sms is not None:  # the office's SMS queue retries until the modem sends
            sms.queue(head, text, "outbox alert")
            return
        send = getattr(self.modem, "send_sms", None)
        if not head or send is None:
            return
        async def deliver() -> None:
            try:
                await send(head, text)
                log.info("alert: sent by SMS to the office head %s", head)
            except Exception as exc:  # noqa: BLE001 (an alert must never stop the box)
                log.warning("alert: SMS to %s failed: %s", head, exc)
        try:
            asyncio.get_running_loop().create_task(deliver())
        except RuntimeError:
            log.warning("alert: not sent by SMS (no running loop)")

    def _health(self) -> Health:
        """Signal, trunk, backlog, disk: to the office daily and on change (records/health)."""
        assert self.office is not None     # _open_storage made it
        gsm = line_profiles.get(self.config.line.profile).kind != "v253"
        cfg = self.config
        self.health = Health(health=cfg.health, office=cfg.office, outbox_cfg=cfg.outbox,
                             spool_dir=cfg.spool_dir, outbox=self.outbox, sms=self.office.sms,
                             status=self.status,
                             signal=modem_signal(self.modem) if gsm else None,
                             trunk=self.trunk, mail=self.kick_upload, clock=self.clock)
        return self.health

    def _sip_lost(self, why: str | None) -> None:
        """pjsua2's event poller fails (why) or works again (None): the box's state says so,
        `lawline check` and systemd's STATUS show it (sip/endpoint.py)."""
        if why is None:
            self.status.set("sip", OK, "SIP events handled again")
        else:
            self.status.set("sip", FAIL, why)

    def _outbox_error(self, target: str, why: str | None) -> None:
        """The outbox cannot be read for `target` (why), or can again (None): the upload
        worker retries less often meanwhile (sync/worker.py); the state says so."""
        if why is None:
            self.status.set("outbox", OK, f"the outbox is read again for {target}")
        else:
            self.status.set("outbox", FAIL, f"the outbox cannot be read for {target}: {why}")

    def status_line(self) -> str:
        """systemd's STATUS=: waiting for calls or not, then modem, trunk, upstream."""
        return (("waiting for calls" if self.ready else "starting") + "; " +
                status_summary(self.status.parts))

    async def run(self, stop: asyncio.Event) -> None:
        cfg = self.config
        missing = self.prompts.missing()
        if missing:
            log.warning("prompts without audio: %s (run 'make prompts')", ", ".join(missing))
        self._open_storage()
        assert self.sync is not None and self.office is not None   # _open_storage made them
        # With a [trunk] registrar the box registers there (the password file is read, and
        # its mode checked, now); without one it keeps calling duty phones directly.
        self.trunk = Trunk(cfg.trunk, cfg.office, self.status) \
            if trunk_configured(cfg) else None
        self.core = MediaCore(cfg.sip.bind, cfg.sip.port, cfg.sip.log_level,
                              transport=cfg.trunk.transport if self.trunk else "udp",
                              ca_file=cfg.trunk.ca_file or None,
                              trusted=trunk_addresses(cfg))   # sip/door.py
        self.core.on_lost = self._sip_lost       # the SIP poller failing for seconds
        self.core.start()
        # The watchdog is fed from this loop from here on: a hung loop is restarted.
        tasks = [asyncio.ensure_future(self.notify.feed_watchdog(stop))]
        try:
            if self.trunk is not None:
                self.account = self.trunk.start(self.core)
                self._switchboard_door()
            else:
                self.account = LocalAccount(self.core, f"sip:{cfg.office.number}@{cfg.sip.bind}")
            self.core.add_account(self.account)
            tasks.append(asyncio.ensure_future(self.core.run(stop)))
            tasks += [asyncio.ensure_future(job) for job in self.sync.coroutines(stop)]
            if self.clock.faked:
                log.warning("box: THE OFFICE CLOCK IS MOVED: office hours and the rota use "
                            "%s as now (the test rig started this box; clock.py)",
                            self.clock.now().strftime("%Y-%m-%d %H:%M"))
            self.office.render_referral_prompts()
            self._switchboard_prompt()
            log.info("office: %s", self.office.desk.why())
            # the HAT's power key (line 1's modem) and one status LED per line, one pin factory
            key, leds = hat.parts(cfg.hat, cfg.lines)
            self.lines = [self._line(k, section, key if k == 1 else None, leds[k - 1])
                          for k, section in enumerate(cfg.lines, start=1)]
            first = self.lines[0]
            self.modem = first.modem
            if not await first.supervisor.start(stop):
                return
            self.office.attach_modem(self.modem)
            tasks.append(asyncio.ensure_future(self.office.run(stop)))
            tasks.append(asyncio.ensure_future(self._health().run(stop)))
            # field updates: the "update" part, and the office told of a failed one (update.py)
            tasks.append(asyncio.ensure_future(update.watch(
                self.status, self.office, cfg.update, cfg.office.head_mobile, stop)))
            serving = [asyncio.ensure_future(self._serve_line(line, stop, started=k == 0))
                       for k, line in enumerate(self.lines)]
            log.info("box: %s ready on %s, answering after %d ring(s)", cfg.office.name,
                     ", ".join(line.phone_number for line in self.lines),
                     cfg.line.answer_after_rings)
            self.ready = True   # line 1's modem answered AT (supervisor.start)
            self.notify.ready(self.status_line())
            await asyncio.gather(*serving)
        finally:
            self.notify.stopping()
            stop.set()
            for task in tasks:
                try:
                    await asyncio.wait_for(task, 5)
                except (asyncio.TimeoutError, Exception) as exc:  # noqa: BLE001
                    log.warning("box: %r did not stop cleanly: %s", task, exc)
            for line in self.lines:
                line.pcm.close()
                line.modem.close()
            self.account = None
            self.core.stop()
            if self.lock is not None:
                self.lock.release()
            log.info("box: stopped")

    def _line(self, number: int, section: LineSection, key: PowerKey | None,
              led: StatusLed | None) -> Line:
        """One line: its modem, call audio, supervisor and port in the shared media core.
        Where call audio flows is the modem's business (serial PCM port, V.253 in-band on
        the AT port, or a sound card): line/__init__.py, line/*.make_audio. The supervisor
        starts the modem (retrying with backoff while it is missing or silent), checks its
        health and brings it back; it sets the line's status ("modem", "modem 2", ...) and
        its status LED (`led`, None without one)."""
        assert self.core is not None       # run() starts it before the lines
        # the two drivers line.create_modem makes
        modem = cast("Modem | V253Modem", line_from_config(section))
        # a V.253 modem's own silence detector (AT+VSD) ends messages too ([voicemail])
        if modem.profile.kind == "v253":
            from .line.v253 import V253Modem as VoiceModem   # numpy: a voice modem's box only
            assert isinstance(modem, VoiceModem)
            modem.voice_silence = self.config.voicemail.silence_seconds
        pcm = modem.make_audio()
        part = "modem" if number == 1 else f"modem {number}"
        supervisor = LineSupervisor(modem, pcm, section, self.status, key, led, part)
        port = self.core.line if number == 1 else self.core.line_port(number)
        line = Line(number, section, modem, pcm, supervisor, port, section.number)
        line.calls_held = lambda: update.calls_held(self.config.spool_dir)   # update.py
        return line

    async def _serve_line(self, line: Line, stop: asyncio.Event, started: bool) -> None:
        """Start the line (line 1 already is), supervise it and take its calls until stop."""
        if not started and not await line.supervisor.start(stop):
            return
        if len(self.lines) > 1:
            log.info("box: %s answering", line.name)
        health = asyncio.ensure_future(line.supervisor.run(stop))
        try:
            await line.serve(stop, self._take_call, self.on_sms, self._missed)
        finally:
            try:
                await asyncio.wait_for(health, 5)
            except (asyncio.TimeoutError, Exception) as exc:  # noqa: BLE001
                log.warning("box: %s: health check did not stop cleanly: %s", line.name, exc)

    def _script(self, line: CallLine) -> CallScript:
        cfg = self.config
        script = CallScript(line.modem.caller, new_call_id(self.clock), line.phone_number,
                            cfg.office.id, cfg.menu, cfg.limits, cfg.voicemail, cfg.survey,
                            started=time.time(),
                            transfer=getattr(line.modem, "transfer", None),
                            recording=cfg.recording)
        if line.rang_s is not None:
            script.record["rang_s"] = line.rang_s     # before the box answered
        return script

    def _missed(self, line: Line, event: PartEvent, rang_from: float | None) -> None:
        """The caller hung up while `line` rang: its call record through the ledger, off the
        loop (the callback list, the report: issue 17.6)."""
        now = time.time()
        record = missed_record(new_call_id(self.clock, rang_from or now), line.phone_number,
                               event.number, rang_from, now)
        asyncio.ensure_future(self._commit_missed(line, record))

    async def _commit_missed(self, line: Line, record: dict[str, Any]) -> None:
        assert self.office is not None     # _open_storage made it before any line
        try:
            await asyncio.to_thread(self.office.commit,
                                    [CallRecord(record["call_id"], record)], None, None, False)
        except Exception as exc:  # noqa: BLE001 - a record must never stop the line
            log.error("box: %s: the missed call from %s was not stored: %r", line.name,
                      record["caller"] or "a withheld number", exc)
            return
        self.office.kick()
        log.info("box: %s: missed call %s from %s stored (rang %.0f s)", line.name,
                 record["call_id"], record["caller"] or "a withheld number", record["rang_s"])

    def _call_parts(self, line: CallLine, events: asyncio.Queue[PartEvent]) -> CallParts:
        assert self.core is not None and self.office is not None   # run() made them
        cfg = self.config
        core = self.core
        return CallParts(
            modem=line.modem, pcm=line.pcm, events=events, core=self.core, port=line.port,
            dialler=hunt.Dialler(core, self.account, duty=cfg.duty, sip=cfg.sip,
                                 plan=DialPlan.from_config(cfg), trunk=self.trunk,
                                 desk=self.office.desk,
                                 extra=boards.destinations(cfg.office, cfg.ladder,
                                                           cfg.switchboard)),
            trunk=self.trunk, office=self.office, prompts=self.prompts,
            incoming_dir=self.incoming_dir, tmp_dir=self.tmp_dir, can_record=self.can_record,
            on_sms=self.on_sms, duty=cfg.duty, limits=cfg.limits,
            referrals=list(cfg.referral), duty_busy=self.duty_busy, queue=self.queue,
            line_audio=line.audio_now if isinstance(line, inbound.SipLine) else None,
            ladder=cfg.ladder, switchboard=cfg.switchboard,
            recordings_dir=cfg.spool_dir / "recordings" if cfg.recording.enabled else None)

    async def _take_call(self, line: CallLine, events: asyncio.Queue[PartEvent]) -> None:
        """One call on `line`. The call script ends its own call on any error
        (call/script.py); this is the last guard, so nothing one call does stops the box
        from answering the next."""
        assert self.core is not None       # run() starts it before any call
        self.calls += 1
        self.status.calls += 1        # state.json: an update restarts the box only at 0
        self.status.save()
        try:
            await CallDriver(self._script(line), self._call_parts(line, events)).run()
        except Exception as exc:  # noqa: BLE001 - the next call must be answered
            log.error("box: call %d on %s failed outside its call flow: %r; answering the "
                      "next call", self.calls, line.name, exc, exc_info=True)
            try:
                await line.modem.hangup()
            except Exception:  # noqa: BLE001
                pass
        finally:
            self.status.calls -= 1
            # what the media core holds once a call is over (a soak watches it not grow);
            # note() saves state.json with the call count
            self.status.note("media", {"calls": self.calls, **self.core.census()})


    # -- the prefecture's switchboard (issue 17.9) ------------------------------------------

    def _switchboard_prompt(self) -> None:
        """The first words of the hand-over whisper name the county: rendered from [office]
        name into the spool's prompts (sip/hunt.render_county_prompt)."""
        if not self.config.switchboard.number:
            return
        assert self.office is not None     # _open_storage made it
        try:
            hunt.render_county_prompt(self.office.prompts_dir, self.config.office.name)
        except Exception as exc:  # noqa: BLE001 - the whisper then goes without the county
            log.warning("switchboard: the whisper naming the county is not rendered (%s); "
                        "the switchboard hears the caller's number only", exc)

    def _switchboard_door(self) -> None:
        """Calls the switchboard transfers down arrive through the trunk: taken here
        (sip/switchboard.check_invite), everything else still refused by the account."""
        board = self.config.switchboard
        if board.number and board.accept_transfers:
            assert self.trunk is not None  # run() opens the door only with a [trunk]
            self.trunk.on_incoming = self._switchboard_incoming
            log.info("switchboard: calls the prefecture's switchboard %s transfers down "
                     "through the trunk are answered (at most %d at once); every other "
                     "incoming call is refused", board.number, board.max_calls)

    def _switchboard_incoming(self, account: TrunkAccount, prm: Any) -> bool:
        """An INVITE from the trunk's address (sip/door.py). True when it is the
        switchboard's and was taken: 180 now, answered on the loop (or 486 when [switchboard]
        max_calls are up already); False: the account refuses it with 403."""
        assert self.core is not None       # the trunk's account lives in it
        board = self.config.switchboard
        transfer, why = boards.check_invite(prm.rdata.wholeMsg, board)
        if transfer is None or not self.ready:
            log.warning("SIP: an incoming call from %s is no switchboard transfer: %s",
                        prm.rdata.srcAddress, why or "the box is not answering yet")
            return False
        busy = len(self.switchboard_calls) >= board.max_calls
        self.switchboard_count += 1
        call = inbound.InboundCall(account, prm.callId,
                                   f"sip switchboard-{self.switchboard_count}")
        if busy:
            call.reply(486)
            log.warning("switchboard: a transfer from %s refused with 486: %d call(s) from "
                        "it are up ([switchboard] max_calls)", board.number, board.max_calls)
            return True
        self.core.keep(call)
        call.reply(180)
        task = asyncio.ensure_future(self._switchboard_call(call, transfer))
        self.switchboard_calls.add(task)
        task.add_done_callback(self.switchboard_calls.discard)
        return True

    async def _switchboard_call(self, call: inbound.InboundCall,
                                transfer: boards.Transfer) -> None:
        """One call the switchboard transferred down, on a line of its own (sip/inbound.py):
        answered, then the call script as on any line."""
        assert self.core is not None       # the call came through it
        caller = transfer.caller.number or "a withheld number"
        log.info("switchboard: %s transfers a call from %s (%s)", transfer.switchboard,
                 caller, f"reason {transfer.branch!r} in the header" if transfer.branch
                 else "no reason in the header")
        try:
            port = await call.take()
        except Exception as exc:  # noqa: BLE001 - that call is gone; the box goes on
            log.warning("switchboard: the call from %s was not taken: %s", caller, exc)
            await call.end()
            self.core.release(call)
            return
        line = inbound.SipLine(self.switchboard_count, call, transfer, port,
                               self.config.office.number)
        try:
            await self._take_call(line, call.events)
        finally:
            await call.end()
            line.port = None
            call.audio = None
            self.core.release(call)


def run(config: Config, clock: Clock | None = None) -> int:
    """Run the box until SIGTERM or SIGINT. Returns the process exit code. `clock`: the
    office's, moved by the test rig (rig/lawline_rig/probe/boxclock.py); else [office]
    timezone's."""
    # Recordings, records and databases are the callers': whatever the box creates from here
    # on is readable by the service only (directories 0700, files 0600).
    os.umask(SPOOL_UMASK)
    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        box = Box(config, clock)
        try:
            await box.run(stop)
        except ModemError as exc:
            log.error("%s", exc)
            return 3
        return 0
    return asyncio.run(main())
