"""How full the spool is, and whether another message still fits.

The spool has a budget (`[spool] max_mb`) and lives on a partition that can fill up for
other reasons (`min_free_mb`). The box never deletes an undelivered message to make room:
when the next message would not fit, it stops recording and tells callers so (prompt
service_unavailable), while still answering and bridging. Retention (sync/retention.py)
frees room only by removing what every target already acknowledged.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

MB = 1000 * 1000
OK, WARN, FULL = "ok", "warn", "full"


@dataclass(frozen=True)
class SpoolState:
    level: str          # ok, warn or full
    used: int           # bytes under the spool directory
    limit: int          # [spool] max_mb in bytes
    free: int           # free bytes on the partition (for an unprivileged writer)
    needed: int         # bytes one longest message needs
    reason: str         # plain words, for the log and `lawline check`

    @property
    def percent(self) -> float:
        return 100.0 * self.used / self.limit if self.limit else 0.0


class SpoolGuard:
    def __init__(self, spool_dir: Path, max_mb: float, warn_percent: float = 80.0,
                 min_free_mb: float = 64.0, message_bytes: int = 2 * MB,
                 cache_seconds: float = 2.0) -> None:
        self.dir = Path(spool_dir)
        self.limit = int(max_mb * MB)
        self.warn_percent = warn_percent
        self.min_free = int(min_free_mb * MB)
        self.message_bytes = int(message_bytes)
        self.cache_seconds = cache_seconds
        self._last: SpoolState | None = None
        self._at = 0.0

    def state(self, fresh: bool = False) -> SpoolState:
        now = time.monotonic()
        if fresh or self._last is None or now - self._at > self.cache_seconds:
            self._last = self._measure()
            self._at = now
        return self._last

    def can_record(self) -> bool:
        return self.state(fresh=True).level != FULL

    def _measure(self) -> SpoolState:
        used = _du(self.dir)
        try:
            st = os.statvfs(self.dir)
            free = st.f_bavail * st.f_frsize
        except OSError:
            free = 0
        need = self.message_bytes

        def mb(n: int) -> str:
            return f"{n / MB:.0f} MB" if n >= 10 * MB else f"{n / MB:.1f} MB"

        where = f"spool {self.dir}"
        if used + need > self.limit:
            return SpoolState(FULL, used, self.limit, free, need,
                              f"{where} is full: {mb(used)} of its {mb(self.limit)} budget "
                              f"used, a {mb(need)} message no longer fits")
        if free - need < self.min_free:
            return SpoolState(FULL, used, self.limit, free, need,
                              f"{where}: only {mb(free)} free on its partition, below the "
                              f"{mb(self.min_free)} minimum once a {mb(need)} message is in")
        percent = 100.0 * used / self.limit
        if percent >= self.warn_percent:
            return SpoolState(WARN, used, self.limit, free, need,
                              f"{where} is {percent:.0f}% full ({mb(used)} of "
                              f"{mb(self.limit)}; warning from {self.warn_percent:g}%)")
        if free - need < 2 * self.min_free:
            return SpoolState(WARN, used, self.limit, free, need,
                              f"{where}: partition nearly full, {mb(free)} free")
        return SpoolState(OK, used, self.limit, free, need,
                          f"{where}: {mb(used)} of {mb(self.limit)} used ({percent:.0f}%), "
                          f"{mb(free)} free on the partition")


def _du(root: Path) -> int:
    """Bytes of the files under `root` (allocated blocks, which is what fills a disk)."""
    total = 0
    stack = [str(root)]
    while stack:
        try:
            entries = os.scandir(stack.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        st = entry.stat(follow_symlinks=False)
                        total += max(st.st_size, st.st_blocks * 512)
                except OSError:
                    continue
    return total


UMASK = 0o077   # what the box creates is its own: directories 0700, files 0600


def make_private(root: Path) -> int:
    """Take group and other permissions off the spool and everything under it (recordings,
    records, databases, their logs): callers' voices and case files are for the service
    only. The box also sets its umask to UMASK at start (app.run), so what it creates later
    is private already; this covers what an older firmware or an installer left readable.
    Returns how many entries it changed."""
    changed = 0
    stack = [str(root)]
    while stack:
        top = stack.pop()
        changed += _tighten(top)
        try:
            entries = os.scandir(top)
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        changed += _tighten(entry.path)
                except OSError:
                    continue
    return changed


def _tighten(path: str) -> int:
    try:
        mode = os.lstat(path).st_mode & 0o7777
        if mode & 0o077:
            os.chmod(path, mode & ~0o077)
            return 1
    except OSError:
        pass
    return 0

