"""Retention: the spool files of old items that every target acknowledged are removed.

Nothing else ever removes a message from the spool. The order is files first, then the item:
a cut in between leaves an item whose files are gone but whose deliveries are all done, so
nothing tries to send it again, and the next pass forgets it. (The other order would leave
recordings no item refers to, which start-up recovery would deliver a second time.)
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from lawline.sync.durable import fsync_dir

if TYPE_CHECKING:
    from lawline.sync.outbox import Outbox

log = logging.getLogger("lawline.sync")
DAY = 86400.0


def purge(outbox: Outbox, retention_days: float, now: float | None = None,
          kinds_days: dict[str, float] | None = None) -> tuple[int, int]:
    """Remove settled items older than `retention_days`; return (items, bytes) removed.
    `kinds_days`: kinds kept for their own number of days instead (a bridged call's
    recording, [recording] keep_days): shorter or longer, still only once settled."""
    now = time.time() if now is None else now
    kinds_days = kinds_days or {}
    items = removed = 0
    for kind, days in [(None, retention_days), *kinds_days.items()]:
        only, but = ((kind,), ()) if kind is not None else ((), tuple(kinds_days))
        done, size = _purge(outbox, now - days * DAY, only, but)
        items += done
        removed += size
    if items:
        log.info("retention: removed %d item%s delivered to every target more than %g days "
                 "ago%s (%.1f MB freed)", items, "" if items == 1 else "s", retention_days,
                 "".join(f", {k}s {d:g} days" for k, d in kinds_days.items()), removed / 1e6)
    return items, removed


def _purge(outbox: Outbox, before: float, only: tuple[str, ...],
           but: tuple[str, ...]) -> tuple[int, int]:
    items = removed = 0
    while True:
        batch = outbox.settled(before, limit=100, kinds=only, except_kinds=but)
        if not batch:
            break
        for item_id, key, files in batch:
            dirs: set[Path] = set()
            for path in files.values():
                try:
                    removed += path.stat().st_size
                    path.unlink()
                    dirs.add(path.parent)
                except FileNotFoundError:
                    pass
            for directory in dirs:
                try:
                    if directory != outbox.spool_dir and not any(directory.iterdir()) \
                            and directory.parent != outbox.spool_dir:
                        directory.rmdir()  # a per-item folder, now empty
                        dirs.add(directory.parent)
                    fsync_dir(directory if directory.exists() else directory.parent)
                except OSError:
                    pass
            outbox.forget(item_id)
            items += 1
    return items, removed
