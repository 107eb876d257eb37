"""The box: starts every part, answers calls one at a time, stops cleanly.

One asyncio loop owns all call state (DESIGN.md, Runtime). pjsua2 is polled on that loop's
thread; the PCM reader and pjmedia's clock thread only move audio frames.
"""

import asyncio
import logging
import signal
from pathlib import Path

from .call.flow import CallSession
from .call.prompts import Prompts
from .errors import ModemError
from .line.audio import SerialPcm
from .line.modem import Modem
from .records.cases import CaseNumbers
from .sip.endpoint import MediaCore
from .sip.leg import LocalAccount
from .sync.http import HttpPutTarget
from .sync.outbox import Outbox
from .sync.worker import UploadWorker
from .status import FAIL, OK, WARN, Status

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
        self.modem = None
        self.pcm = None
        self.outbox = None
        self.worker = None
        self.cases = None
        self.calls = 0
        self.status = Status(None)

    def _open_storage(self):
        spool = self.config.spool_dir
        for d in (spool, self.incoming_dir, self.tmp_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.status = Status(spool / "state.json")
        targets = [UPSTREAM] if self.config.upstream.url else []
        self.outbox = Outbox(spool / "outbox.db", spool, targets)
        self.cases = CaseNumbers(spool / "cases.db")
        if targets:
            base = self.config.upstream.url.rstrip("/") + "/" + self.config.office.id
            target = HttpPutTarget(UPSTREAM, base, self.config.upstream_token(),
                                   self.config.upstream.timeout)
            self.worker = UploadWorker(self.outbox, {UPSTREAM: target})
            log.info("upstream: voicemails and call records go to %s", base)
        else:
            log.warning("upstream: no [upstream] url configured; everything stays in %s", spool)

    def kick_upload(self):
        if self.worker is not None:
            self.worker.kick()

    async def run(self, stop):
        cfg = self.config
        missing = self.prompts.missing()
        if missing:
            log.warning("prompts without audio: %s (run 'make prompts')", ", ".join(missing))
        self._open_storage()
        self.core = MediaCore(cfg.sip.bind, cfg.sip.port, cfg.sip.log_level)
        self.core.start()
        tasks = []
        try:
            self.account = LocalAccount(self.core, f"sip:{cfg.office.number}@{cfg.sip.bind}")
            self.core.add_account(self.account)
            tasks.append(asyncio.ensure_future(self.core.run(stop)))
            if self.worker is not None:
                tasks.append(asyncio.ensure_future(self.worker.run(stop)))
            self.modem = Modem(cfg.line.profile, cfg.line.at_port, cfg.line.audio_port,
                               name=cfg.line.at_port, command_timeout=cfg.line.command_timeout,
                               audio_retry_delay=cfg.line.audio_retry_delay)
            try:
                await self.modem.start()
            except ModemError as exc:
                self.status.set("modem", FAIL, str(exc))
                raise
            self.status.set("modem", OK, f"ready on {cfg.line.at_port} ({cfg.line.profile})")
            self.pcm = SerialPcm(cfg.line.audio_port, name=cfg.line.at_port)
            self.pcm.open()
            log.info("box: %s ready on %s, answering after %d ring(s)", cfg.office.name,
                     cfg.office.number, cfg.line.answer_after_rings)
            await self._serve_calls(stop)
        finally:
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
                    session = CallSession(self, self.modem.caller)
                    await session.run()
                elif event.kind == "missed":
                    log.info("box: missed call from %s (hung up while ringing)",
                             event.number or "a withheld number")
                elif event.kind == "ring":
                    log.info("box: ring %d from %s", self.modem.rings,
                             self.modem.caller or "unknown")
        finally:
            stopping.cancel()


def run(config):
    """Run the box until SIGTERM or SIGINT. Returns the process exit code."""
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
