"""Everything the box needs from sync/, put together from the configuration.

`SyncService` opens the outbox with the configured targets and runs the upload worker and
the outbox watch on the box's loop; the box asks it `can_record()` before a voicemail beep.
Storage and transport only: what a power cut left behind is made whole by the office at
start-up (records/recovery.py), through the ledger.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from lawline.clock import Clock
from lawline.sync.outbox import Outbox
from lawline.sync.settings import Targets, TargetsConfig, build_targets
from lawline.sync.spool import FULL, WARN, SpoolGuard, SpoolState
from lawline.sync.watch import HOUR, OutboxWatch
from lawline.sync.wavfile import BYTES_PER_SECOND
from lawline.sync.worker import UploadWorker
from lawline.status import FAIL, OK, WARN as STATUS_WARN

if TYPE_CHECKING:
    from lawline.settings import (OfficeSection, OutboxSection, RecordingSection, SpoolSection,
                                  VoicemailSection)
    from lawline.status import Status

log = logging.getLogger("lawline.sync")


class SyncConfig(Protocol):
    """What SyncSettings takes of the configuration."""
    @property
    def spool_dir(self) -> Path: ...
    @property
    def office(self) -> OfficeSection: ...
    @property
    def outbox(self) -> OutboxSection: ...
    @property
    def spool(self) -> SpoolSection: ...
    @property
    def voicemail(self) -> VoicemailSection: ...
    @property
    def recording(self) -> RecordingSection: ...


class ServiceConfig(SyncConfig, TargetsConfig, Protocol):
    """What SyncService.from_config reads: its own sections and the targets'."""


@dataclass(frozen=True)
class SyncSettings:
    """The sections sync/ reads; the targets are built apart (sync/settings.build_targets)."""
    spool_dir: Path
    office: OfficeSection           # [office]: id and number
    outbox: OutboxSection           # [outbox]: backoff, alerts, retention
    spool: SpoolSection             # [spool]: the budget before a beep
    voicemail: VoicemailSection     # [voicemail]: the longest and shortest message
    # [recording]: how long a bridged call's recording is kept
    recording: RecordingSection | None = None

    @classmethod
    def of(cls, cfg: SyncConfig) -> SyncSettings:
        return cls(cfg.spool_dir, cfg.office, cfg.outbox, cfg.spool, cfg.voicemail,
                   cfg.recording)


class SyncService:
    def __init__(self, config: SyncSettings, targets: Targets,
                 alert: Callable[[str], object] | None = None, status: Status | None = None,
                 clock: Clock | None = None) -> None:
        """`config`: SyncSettings; `targets`: build_targets' answer; `clock`: the office's
        (an item's day is the office's day: clock.py)."""
        self.status = status
        spool = config.spool_dir
        self.targets = targets
        self.outbox = Outbox(spool / "outbox.db", spool, self.targets.names,
                             kinds=self.targets.kinds, backoff_cap=config.outbox.backoff_cap,
                             damaged_dir=spool / "damaged",
                             clock=clock or Clock(config.office.timezone))
        # One longest message plus its record and some slack must fit before a beep.
        message = int(config.voicemail.max_seconds * BYTES_PER_SECOND) + 64 * 1024
        self.guard = SpoolGuard(spool, config.spool.max_mb, config.spool.warn_percent,
                                config.spool.min_free_mb, message)
        self.worker: UploadWorker | None = None
        if self.targets.sinks:
            self.worker = UploadWorker(self.outbox, self.targets.sinks)
            for name, where in self.targets.where.items():
                log.info("upload target %s: %s", name, where)
        else:
            log.warning("upload: no target configured ([upstream] url, [email] to, [s3] "
                        "endpoint); everything stays in %s", spool)
        self.watch = OutboxWatch(self.outbox, self.guard, alert or (lambda text: None),
                                 alert_after=config.outbox.alert_after_hours * HOUR,
                                 alert_every=config.outbox.alert_every_hours * HOUR,
                                 retention_days=config.outbox.retention_days,
                                 kinds_days={"recording": config.recording.keep_days}
                                 if config.recording is not None else None)
        self.spool_state()

    @classmethod
    def from_config(cls, cfg: ServiceConfig, alert: Callable[[str], object] | None = None,
                    status: Status | None = None, clock: Clock | None = None) -> SyncService:
        """As the shells and tests open it: its sections of `cfg` and the targets it names."""
        return cls(SyncSettings.of(cfg), build_targets(cfg), alert, status, clock)

    def coroutines(self, stop: asyncio.Event) -> list[Coroutine[Any, Any, None]]:
        jobs = [self.watch.run(stop)]
        if self.worker is not None:
            jobs.append(self.worker.run(stop))
        return jobs

    def kick(self) -> None:
        if self.worker is not None:
            self.worker.kick()

    def spool_state(self) -> SpoolState:
        state = self.guard.state(fresh=True)
        if self.status is not None:
            level = {FULL: FAIL, WARN: STATUS_WARN}.get(state.level, OK)
            self.status.set("spool", level, state.reason)
        elif state.level != "ok":
            log.warning("%s", state.reason)
        return state

    def can_record(self) -> bool:
        """True while one more longest message fits in the spool; logs when it does not."""
        state = self.spool_state()
        if state.level == FULL:
            log.error("%s; this caller is told the box cannot take a message", state.reason)
            return False
        return True
