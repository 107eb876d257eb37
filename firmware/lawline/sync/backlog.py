"""What is waiting to go where, how long, and why, in plain words (`lawline outbox`:
commands/outbox.py)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from lawline.sync.watch import plain_age

if TYPE_CHECKING:
    from lawline.sync.outbox import Outbox
    from lawline.sync.spool import SpoolState


def describe(outbox: Outbox, configured: list[str], spool_state: SpoolState | None = None,
             now: float | None = None, limit: int = 20) -> str:
    """The report: per target, the pending count, then the oldest items (up to `limit`)
    with their age, attempts and last error."""
    now = time.time() if now is None else now
    pending = outbox.pending(now=now)
    lines: list[str] = []
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
