"""Everything the box needs from sync/, put together from the configuration.

`SyncService` opens the outbox with the configured targets, delivers what a power cut left
uncommitted (sync/recovery.py), and runs the upload worker and the outbox watch on the
box's loop. The box asks it `can_record()` before a voicemail beep.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from lawline.sync.outbox import Outbox
from lawline.sync.message import apply_pending
from lawline.sync.recovery import numbers_given_out, recover_spool, restore_cases
from lawline.sync.settings import build_targets
from lawline.sync.spool import FULL, WARN, SpoolGuard
from lawline.sync.watch import HOUR, OutboxWatch
from lawline.sync.wavfile import BYTES_PER_SECOND
from lawline.sync.worker import UploadWorker

log = logging.getLogger("lawline.sync")


def storage_damage(outbox, cases, spool, alert=None, status=None) -> list:
    """After the outbox and the case book are open: keep the case counter above every
    number still on disk (always: a log SQLite dropped loses the counter's last moves too),
    and for each database that was set aside as damaged (sync/sqlitefile.py) one log line, an
    alert to the office and a "storage" state for `lawline check`. The spool re-scan that
    follows (recover_spool) makes every message on disk owed again."""
    from lawline.records.cases import format_number, parse_number
    damage = [d for d in (getattr(cases, "damage", None), outbox.damage) if d is not None]
    keep_above = getattr(cases, "keep_above", None)
    if keep_above is not None:
        raised = keep_above({(day, seq) for day, seq in
                             numbers_given_out(spool, outbox, parse_number) if _a_day(day)})
        for day, last in sorted(raised.items()):
            log.warning("cases: the counter of %s is raised to %s, the highest number on "
                        "the spool, so no number is given twice", day, format_number(day, last))
    if getattr(cases, "damage", None) is not None:
        restore_cases(spool / "incoming", cases)    # the open cases come back from the spool
    for d in damage:
        log.error("storage: %s; every recording on the spool is owed upstream again and no "
                  "case number on disk is given twice", d.sentence())
        if alert is not None:
            alert(f"【0148】设备存储 {d.path.name} 已损坏，已移至 damaged/ 保存并重建；"
                  "录音均已重新排队上传，请联系技术人员检查存储卡。")
    if status is not None:
        from lawline.status import OK, WARN as STATUS_WARN
        if damage:
            status.set("storage", STATUS_WARN, "; ".join(d.sentence() for d in damage))
        else:
            status.set("storage", OK, "outbox.db and cases.db pass SQLite's integrity check")
    return damage


def _a_day(day):
    # a digit run read from a damaged file's raw bytes may be a phone number, not a case
    try:
        time.strptime(day, "%y%m%d")
        return True
    except ValueError:
        return False


@dataclass(frozen=True)
class SyncSettings:
    """The sections sync/ reads; the targets are built apart (sync/settings.build_targets)."""
    spool_dir: Path
    office: object       # [office]: id and number, for records cut recordings get
    outbox: object       # [outbox]: backoff, alerts, retention
    spool: object        # [spool]: the budget before a beep
    voicemail: object    # [voicemail]: the longest and shortest message

    @classmethod
    def of(cls, cfg):
        return cls(cfg.spool_dir, cfg.office, cfg.outbox, cfg.spool, cfg.voicemail)


class SyncService:
    def __init__(self, config, targets, cases, alert=None, status=None, office=None):
        """`config`: SyncSettings; `targets`: build_targets' answer; `office`: the box's
        records/office.Office (for the SMS a recovered message still owes)."""
        self.status = status
        spool = config.spool_dir
        self.targets = targets
        self.outbox = Outbox(spool / "outbox.db", spool, self.targets.names,
                             kinds=self.targets.kinds, backoff_cap=config.outbox.backoff_cap,
                             damaged_dir=spool / "damaged")
        try:
            self.damage = storage_damage(self.outbox, cases, spool, alert, status)
        except Exception as exc:  # noqa: BLE001 - recovery never stops start-up
            self.damage = []
            log.error("recovery: the storage check at start-up failed: %r; the box starts "
                      "anyway", exc, exc_info=True)
        try:
            # messages whose journal entry was durable but not wholly applied (sync/message.py)
            # first: their recordings are not cut ones
            applied = apply_pending(self.outbox, cases, office.sms if office else None)
        except Exception as exc:  # noqa: BLE001 - recovery never stops start-up
            applied = []
            log.error("recovery: applying the message journal failed: %r; the box starts "
                      "anyway", exc, exc_info=True)
        try:
            recovered = applied + recover_spool(self.outbox, cases, spool / "incoming",
                                                office_id=config.office.id,
                                                line_number=config.office.number,
                                                min_seconds=config.voicemail.min_seconds,
                                                office=office)
        except Exception as exc:  # noqa: BLE001 - recovery never stops start-up
            # What it could not deliver stays on disk and is tried again at the next start.
            recovered = []
            log.error("recovery: start-up recovery of %s failed: %r; the box starts anyway "
                      "and tries again at its next start", spool / "incoming", exc,
                      exc_info=True)
            if alert is not None:
                alert(f"【0148】设备启动时恢复录音失败（{type(exc).__name__}），请检查存储。")
        if recovered:
            log.warning("recovery: %d item(s) the box had not committed before it stopped are "
                        "now in the outbox: %s", len(recovered), ", ".join(recovered))
        # One longest message plus its record and some slack must fit before a beep.
        message = int(config.voicemail.max_seconds * BYTES_PER_SECOND) + 64 * 1024
        self.guard = SpoolGuard(spool, config.spool.max_mb, config.spool.warn_percent,
                                config.spool.min_free_mb, message)
        self.worker = None
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
                                 retention_days=config.outbox.retention_days)
        self.spool_state()

    @classmethod
    def from_config(cls, cfg, cases, alert=None, status=None, office=None):
        """As the shells and tests open it: its sections of `cfg` and the targets it names."""
        return cls(SyncSettings.of(cfg), build_targets(cfg), cases, alert, status, office)

    def coroutines(self, stop: asyncio.Event) -> list:
        jobs = [self.watch.run(stop)]
        if self.worker is not None:
            jobs.append(self.worker.run(stop))
        return jobs

    def kick(self) -> None:
        if self.worker is not None:
            self.worker.kick()

    def spool_state(self):
        state = self.guard.state(fresh=True)
        if self.status is not None:
            from lawline.status import FAIL, OK
            from lawline.status import WARN as STATUS_WARN
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
