"""What the running box says about itself: one state per part, for `lawline check`.

Each part (modem, trunk, upstream, spool, ...) sets its state with a plain sentence; the box
writes them to `spool/state.json` (atomically) so `lawline check` can read them while the
service owns the modem. Failures are states, not crashes (STYLE.md 8).

Whether a box is running is told by `spool/box.lock`: the box holds an exclusive flock(2) on
it while it runs (the kernel drops it when the process dies, even by SIGKILL), so a check
never guesses from a PID that may since belong to another process or user.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable

from .errors import LawlineError

log = logging.getLogger("lawline.status")

OK, WARN, FAIL = "ok", "warn", "fail"


class Status:
    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self.parts: dict[str, dict[str, Any]] = {}
        self.facts: dict[str, Any] = {}   # figures beside the states (the media census)
        # called with the parts after each change (systemd STATUS=)
        self.on_change: Callable[[dict[str, dict[str, Any]]], object] | None = None
        self.calls = 0          # calls in progress: an update restarts the box only at 0

    def set(self, part: str, state: str, message: str) -> None:
        """Record a part's state; logs only when it changes (one line per decision)."""
        old = self.parts.get(part)
        self.parts[part] = {"state": state, "message": message, "since": time.time()}
        if old is None or (old["state"], old["message"]) != (state, message):
            level = {OK: logging.INFO, WARN: logging.WARNING, FAIL: logging.ERROR}[state]
            log.log(level, "%s: %s", part, message)
        else:
            self.parts[part]["since"] = old["since"]
        self.save()
        if self.on_change is not None and (old is None or
                                           (old["state"], old["message"]) != (state, message)):
            self.on_change(self.parts)

    def get(self, part: str) -> dict[str, Any] | None:
        return self.parts.get(part)

    def note(self, name: str, value: Any) -> None:
        """Keep a figure in state.json beside the states, without a log line (the media
        core's census after each call: what a soak test watches for leaks)."""
        self.facts[name] = value
        self.save()

    def save(self) -> None:
        if not self.path:
            return
        data = {"pid": os.getpid(), "written": time.time(), "parts": self.parts,
                "calls": self.calls, **({"facts": self.facts} if self.facts else {})}
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("status: cannot write %s: %s", self.path, exc)


LOCK_NAME = "box.lock"


class BoxLock:
    """Held by the running box: an exclusive lock on spool/box.lock. A second box on the same
    spool is refused (it would answer the same modem and write the same outbox)."""

    def __init__(self, spool: str | Path) -> None:
        self.path = Path(spool) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LawlineError(f"another box is already running on the spool {self.path.parent} "
                               f"(it holds {self.path})") from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def running(spool: str | Path) -> bool:
    """True while a box holds spool/box.lock (needs only read access to the file)."""
    try:
        fd = os.open(Path(spool) / LOCK_NAME, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
    return False


def read(path: str | Path) -> Any:
    """The state file of a running box, or None when no box is running on that spool."""
    path = Path(path)
    if not running(path.parent):
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
