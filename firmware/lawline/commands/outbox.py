"""`lawline outbox`, and the upload rows of `lawline check`: what waits to go where, how
long and why (sync/backlog.describe writes it)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

from ..errors import ConfigError
from ..sync.backlog import describe
from ..sync.outbox import Outbox
from ..sync.settings import build_targets, configured, insecure
from ..sync.spool import SpoolGuard
from ..sync.sqlitefile import StorageDamaged
from ..sync.watch import plain_age
from ..sync.wavfile import BYTES_PER_SECOND

if TYPE_CHECKING:
    from ..config import Config


class Report(Protocol):
    """Where `lawline check` collects its rows (check.Report)."""
    def add(self, state: str, part: str, message: str) -> None: ...


def main(config: Config) -> int:
    """Print the report for the configured box. Exit 1 when something has waited longer
    than [outbox] alert_after_hours, so scripts can act on it."""
    spool = config.spool_dir
    if not (spool / "outbox.db").exists():
        print(f"outbox: {spool / 'outbox.db'} does not exist yet (no call so far)")
        return 0
    names = configured(config)
    try:
        outbox = Outbox(spool / "outbox.db", spool, names)
    except StorageDamaged as exc:
        print(f"outbox: {exc}")
        return 1
    with outbox:
        print(describe(outbox, names, _guard(config).state()))
        oldest = outbox.oldest_pending()
    late = oldest is not None and time.time() - oldest > config.outbox.alert_after_hours * 3600
    return 1 if late else 0


def _guard(config: Config) -> SpoolGuard:
    return SpoolGuard(config.spool_dir, config.spool.max_mb, config.spool.warn_percent,
                      config.spool.min_free_mb,
                      int(config.voicemail.max_seconds * BYTES_PER_SECOND))


def check(config: Config, report: Report) -> None:
    """Rows for `lawline check`: the spool against its budget, each configured target
    (secrets readable, CA file usable), and deliveries older than the alert limit."""
    spool = config.spool_dir
    if spool.exists():
        state = _guard(config).state()
        level = {"full": "fail", "warn": "warn"}.get(state.level, "ok")
        extra = "; callers cannot leave messages" if state.level == "full" else ""
        report.add(level, "spool budget", state.reason + extra)
    try:
        targets = build_targets(config)
    except ConfigError as exc:
        report.add("fail", "upload targets", str(exc))
        return
    for name, where in targets.where.items():
        report.add("ok", f"target {name}", where)
    for name, sentence in insecure(config).items():
        report.add("warn", f"target {name}", sentence + "; anyone on the path can read it")
    db = spool / "outbox.db"
    if not db.exists():
        return
    limit = config.outbox.alert_after_hours * 3600
    try:
        outbox = Outbox(db, spool, configured(config))
    except StorageDamaged:
        return      # check.py's storage row says so
    with outbox:
        for name in targets.names:
            oldest = outbox.oldest_pending(name)
            if oldest is not None and time.time() - oldest > limit:
                rows = outbox.pending(name)
                report.add("warn", f"target {name}",
                           f"{len(rows)} waiting, the oldest for "
                           f"{plain_age(time.time() - oldest)}; last error: "
                           f"{next((r.last_error for r in rows if r.last_error), 'none')} "
                           "(lawline outbox lists them)")
