"""The box: starts every part, answers calls one at a time, stops cleanly.

One asyncio loop owns all call state (DESIGN.md, Runtime). pjsua2 is polled on that loop's
thread; the PCM reader and pjmedia's clock thread only move audio frames.
"""

import asyncio
import logging
import os
import signal
import time
from pathlib import Path

from .call.driver import CallDriver, CallParts, new_call_id
from .call.script import CallScript
from .call.prompts import Prompts
from .errors import ModemError
from . import hat
from .line import from_config as line_from_config
from .line.recovery import LineSupervisor
from .line.modem import Modem
from .duty import clock
from .records.office import Office
from .sdnotify import Notifier, summary as status_summary
from .sip.door import trunk_addresses
from .sip import hunt
from .sip.endpoint import MediaCore
from .sip.leg import LocalAccount
from .sip.trunk import Trunk, configured as trunk_configured
from .sync.service import SyncService
from .sync.spool import UMASK as SPOOL_UMASK, make_private
from .status import FAIL, OK, WARN, BoxLock, Status

log = logging.getLogger("lawline.box")

UPSTREAM = "upstream"


class Box:
    def __init__(self, config):
        self.config = config
        spool = config.spool_dir
        self.incoming_dir = spool / "incoming"
        self.tmp_dir = spool / "tmp"
        self.prompts = Prompts(config.prompts_dir)
        self.core = None
        self.account = None
        self.trunk = None       # sip/trunk.Trunk with a [trunk] registrar; its .state for check
        self.modem = None
        self.pcm = None
        self.supervisor = None
        self.outbox = None
        self.worker = None
        self.sync = None
        self.cases = None
        self.office = None
        self.calls = 0
        self.status = Status(None)
        self.notify = Notifier()    # systemd: READY=1, STATUS=, WATCHDOG=1 (sdnotify.py)
        self.ready = False
        self.lock = None

    def _open_storage(self):
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
        # Cases, duty rota, calendar, SMS queue, reports (records/office.py)
        self.office = Office(self.config, spool, damaged_dir=spool / "damaged")
        self.cases = self.office.cases
        # Targets, outbox, start-up recovery of cut recordings, spool limits (sync/service.py)
        self.sync = SyncService(self.config, self.cases, self.alert, self.status)
        self.outbox = self.sync.outbox
        self.worker = self.sync.worker
        self.office.outbox = self.outbox
        self.office.on_upload = self.kick_upload

    def on_sms(self, event):
        """An incoming SMS (duty staff replying "结案 2611280001"): the office acts on it only
        from a numeric sender it lists (records/office.py); the type of number goes with it."""
        if self.office is not None:
            return self.office.on_sms(event.number, event.detail, event.sender_type)
        return None

    def kick_upload(self):
        if self.sync is not None:
            self.sync.kick()

    def can_record(self):
        """False when the spool cannot take one more longest message (sync/spool.py)."""
        return self.sync is None or self.sync.can_record()

    def alert(self, text):
        """Something the office must act on: the log, and an SMS to [office] head_mobile
        when the modem can send one."""
        log.error("alert: %s", text)
        head = getattr(self.config.office, "head_mobile", "")
        sms = getattr(getattr(self, "office", None), "sms", None)
        if head and sms is not None:  # the office's SMS queue retries until the modem sends
            sms.queue(head, text, "outbox alert")
            return
        send = getattr(self.modem, "send_sms", None)
        if not head or send is None:
            return
        async def deliver():
            try:
                await send(head, text)
                log.info("alert: sent by SMS to the office head %s", head)
            except Exception as exc:  # noqa: BLE001 (an alert must never stop the box)
                log.warning("alert: SMS to %s failed: %s", head, exc)
        try:
            asyncio.get_running_loop().create_task(deliver())
        except RuntimeError:
            log.warning("alert: not sent by SMS (no running loop)")

    def _health(self):
        """Signal, trunk, backlog, disk: to the office daily and on change (records/health)."""
        from .line import profiles as line_profiles
        from .records.health import Health, modem_signal
        gsm = line_profiles.get(self.config.line.profile).kind != "v253"
        self.health = Health(self.config, self.outbox, getattr(self.office, "sms", None),
                             self.status, signal=modem_signal(self.modem) if gsm else None,
                             trunk=self.trunk, mail=self.kick_upload)
        return self.health

    def status_line(self):
        """systemd's STATUS=: waiting for calls or not, then modem, trunk, upstream."""
        return (("waiting for calls" if self.ready else "starting") + "; " +
                status_summary(self.status.parts))

    async def run(self, stop):
        cfg = self.config
        missing = self.prompts.missing()
        if missing:
            log.warning("prompts without audio: %s (run 'make prompts')", ", ".join(missing))
        self._open_storage()
        # With a [trunk] registrar the box registers there (the password file is read, and
        # its mode checked, now); without one it keeps calling duty phones directly.
        self.trunk = Trunk(cfg, self.status) if trunk_configured(cfg) else None
        self.core = MediaCore(cfg.sip.bind, cfg.sip.port, cfg.sip.log_level,
                              transport=cfg.trunk.transport if self.trunk else "udp",
                              ca_file=cfg.trunk.ca_file or None,
                              trusted=trunk_addresses(cfg))   # sip/door.py
        self.core.start()
        # The watchdog is fed from this loop from here on: a hung loop is restarted.
        tasks = [asyncio.ensure_future(self.notify.feed_watchdog(stop))]
        try:
            if self.trunk is not None:
                self.account = self.trunk.start(self.core)
            else:
                self.account = LocalAccount(self.core, f"sip:{cfg.office.number}@{cfg.sip.bind}")
            self.core.add_account(self.account)
            tasks.append(asyncio.ensure_future(self.core.run(stop)))
            tasks += [asyncio.ensure_future(job) for job in self.sync.coroutines(stop)]
            if clock.faked():
                log.warning("box: THE OFFICE CLOCK IS MOVED: office hours and the rota use "
                            "%s as now (the test rig started this box; duty/clock.py)",
                            clock.now().strftime("%Y-%m-%d %H:%M"))
            self.office.render_referral_prompts()
            log.info("office: %s", self.office.desk.why())
            self.modem = line_from_config(cfg.line)
            # Where call audio flows is the modem's business (serial PCM port, V.253 in-band
            # on the AT port, or a sound card): line/__init__.py, line/*.make_audio.
            self.pcm = self.modem.make_audio()
            # The supervisor starts the modem (retrying with backoff while it is missing or
            # silent), checks its health, and brings it back; it sets the "modem" status.
            self.supervisor = LineSupervisor(self.modem, self.pcm, cfg.line, self.status,
                                             *hat.from_config(cfg.hat))
            if not await self.supervisor.start(stop):
                return
            tasks.append(asyncio.ensure_future(self.supervisor.run(stop)))
            self.office.attach_modem(self.modem)
            tasks.append(asyncio.ensure_future(self.office.run(stop)))
            tasks.append(asyncio.ensure_future(self._health().run(stop)))
            log.info("box: %s ready on %s, answering after %d ring(s)", cfg.office.name,
                     cfg.office.number, cfg.line.answer_after_rings)
            self.ready = True   # the modem answered AT (supervisor.start); calls are awaited
            self.notify.ready(self.status_line())
            await self._serve_calls(stop)
        finally:
            self.notify.stopping()
            stop.set()
            for task in tasks:
                try:
                    await asyncio.wait_for(task, 5)
                except (asyncio.TimeoutError, Exception) as exc:  # noqa: BLE001
                    log.warning("box: %r did not stop cleanly: %s", task, exc)
            if self.pcm:
                self.pcm.close()
            if self.modem:
                self.modem.close()
            self.account = None
            self.core.stop()
            if self.lock is not None:
                self.lock.release()
            log.info("box: stopped")

    async def _serve_calls(self, stop):
        need = self.config.line.answer_after_rings
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                get = asyncio.ensure_future(self.modem.events.get())
                done, _ = await asyncio.wait({get, stopping},
                                             return_when=asyncio.FIRST_COMPLETED)
                if get not in done:
                    get.cancel()
                    break
                event = get.result()
                # Answer once caller ID is in (it follows each RING, reference/modems.md
                # 1.2), or at the next ring if the network sends none.
                ready = ((event.kind == "caller_id" and self.modem.rings >= need) or
                         (event.kind == "ring" and self.modem.rings > need))
                if ready:
                    self.calls += 1
                    await self._take_call()
                elif event.kind == "sms":
                    self.on_sms(event)
                elif event.kind == "missed":
                    log.info("box: missed call from %s (hung up while ringing)",
                             event.number or "a withheld number")
                elif event.kind == "ring":
                    log.info("box: ring %d from %s", self.modem.rings,
                             self.modem.caller or "unknown")
        finally:
            stopping.cancel()


    def _script(self, caller):
        cfg = self.config
        return CallScript(caller, new_call_id(), cfg.office.number, cfg.office.id, cfg.menu,
                          cfg.limits, cfg.voicemail, cfg.survey, started=time.time())

    def _call_parts(self):
        cfg = self.config
        return CallParts(
            modem=self.modem, pcm=self.pcm, events=self.modem.events, core=self.core,
            port=self.core.line,
            dialler=hunt.Dialler(self.core, self.account, cfg, self.trunk, self.office.desk),
            trunk=self.trunk, office=self.office, prompts=self.prompts, outbox=self.outbox,
            incoming_dir=self.incoming_dir, tmp_dir=self.tmp_dir, can_record=self.can_record,
            kick_upload=self.kick_upload, on_sms=self.on_sms, duty=cfg.duty,
            limits=cfg.limits, survey=cfg.survey, referrals=list(cfg.referral))

    async def _take_call(self):
        """One call. The call script ends its own call on any error (call/script.py); this is
        the last guard, so nothing one call does stops the box from answering the next."""
        try:
            await CallDriver(self._script(self.modem.caller), self._call_parts()).run()
        except Exception as exc:  # noqa: BLE001 - the next call must be answered
            log.error("box: call %d failed outside its call flow: %r; answering the next "
                      "call", self.calls, exc, exc_info=True)
            try:
                await self.modem.hangup()
            except Exception:  # noqa: BLE001
                pass
        try:
            await self.supervisor.after_call()   # [line] reset_after_hangup
        except Exception as exc:  # noqa: BLE001 - the supervisor brings the modem back
            log.error("box: after the call: %r", exc, exc_info=True)


def run(config):
    """Run the box until SIGTERM or SIGINT. Returns the process exit code."""
    # Recordings, records and databases are the callers': whatever the box creates from here
    # on is readable by the service only (directories 0700, files 0600).
    os.umask(SPOOL_UMASK)
    async def main():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        box = Box(config)
        try:
            await box.run(stop)
        except ModemError as exc:
            log.error("%s", exc)
            return 3
        return 0
    return asyncio.run(main())
