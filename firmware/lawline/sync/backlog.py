"""`lawline outbox`: what is waiting to go where, how long, and why, in plain words."""

from __future__ import annotations

import time

from lawline.sync.watch import plain_age


def describe(outbox, configured: list, spool_state=None, now: float | None = None,
             limit: int = 20) -> str:
    """The report: per target, the pending count, then the oldest items (up to `limit`)
    with their age, attempts and last error."""
    now = time.time() if now is None else now
    pending = outbox.pending(now=now)
    lines = []
    if spool_state is not None:
        lines.append(spool_state.reason)
    targets = list(configured) + sorted({p.target for p in pending} - set(configured))
    if not targets:
        lines.append("outbox: no target is configured; everything stays in the spool")
    for target in targets:
        rows = [p for p in pending if p.target == target]
        note = "" if target in configured else " (no longer configured: it waits until it is)"
        if not rows:
            lines.append(f"{target}: nothing waiting{note}")
            continue
        lines.append(f"{target}: {len(rows)} waiting, oldest {plain_age(rows[0].age)}{note}")
        for row in rows[:limit]:
            if row.attempts == 0:
                state = "not tried yet"
            else:
                when = row.next_attempt - now
                retry = "now" if when <= 0 else f"in {plain_age(when)}"
                state = (f"{row.attempts} attempt{'s' if row.attempts != 1 else ''}, "
                         f"next {retry}; last error: {row.last_error or 'none'}")
            lines.append(f"  {row.key:<24} {row.kind:<10} waiting {plain_age(row.age):<12} "
                         f"{state}")
        if len(rows) > limit:
            lines.append(f"  ... and {len(rows) - limit} more")
    return "\n".join(lines)


def main(config) -> int:
    """`lawline outbox`: print the report for the configured box. Exit 1 when something has
    waited longer than [outbox] alert_after_hours, so scripts can act on it."""
    from lawline.sync.outbox import Outbox
    from lawline.sync.settings import configured
    from lawline.sync.spool import SpoolGuard
    from lawline.sync.wavfile import BYTES_PER_SECOND
    spool = config.spool_dir
    if not (spool / "outbox.db").exists():
        print(f"outbox: {spool / 'outbox.db'} does not exist yet (no call so far)")
        return 0
    names = configured(config)
    guard = SpoolGuard(spool, config.spool.max_mb, config.spool.warn_percent,
                       config.spool.min_free_mb,
                       int(config.voicemail.max_seconds * BYTES_PER_SECOND))
    from lawline.sync.sqlitefile import StorageDamaged
    try:
        outbox = Outbox(spool / "outbox.db", spool, names)
    except StorageDamaged as exc:
        print(f"outbox: {exc}")
        return 1
    with outbox:
        print(describe(outbox, names, guard.state()))
        oldest = outbox.oldest_pending()
    late = oldest is not None and time.time() - oldest > config.outbox.alert_after_hours * 3600
    return 1 if late else 0


def check(config, report) -> None:
    """Rows for `lawline check`: the spool against its budget, each configured target
    (secrets readable, CA file usable), and deliveries older than the alert limit."""
    from lawline.errors import ConfigError
    from lawline.sync.outbox import Outbox
    from lawline.sync.settings import build_targets, configured
    from lawline.sync.spool import SpoolGuard
    from lawline.sync.wavfile import BYTES_PER_SECOND
    spool = config.spool_dir
    if spool.exists():
        state = SpoolGuard(spool, config.spool.max_mb, config.spool.warn_percent,
                           config.spool.min_free_mb,
                           int(config.voicemail.max_seconds * BYTES_PER_SECOND)).state()
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
    from lawline.sync.settings import insecure
    for name, sentence in insecure(config).items():
        report.add("warn", f"target {name}", sentence + "; anyone on the path can read it")
    db = spool / "outbox.db"
    if not db.exists():
        return
    limit = config.outbox.alert_after_hours * 3600
    from lawline.sync.sqlitefile import StorageDamaged
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
