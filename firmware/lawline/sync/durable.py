"""Writes that survive a power cut: fsync of files and directories, atomic replace.

A rename or a create is durable only once its directory is fsynced; bytes only once the file
is. Every module that writes the spool uses these, so the order of writes is the same
everywhere (sync/outbox.py explains why it matters). Also the outbox's SQLite transaction
and the reserve file that keeps a full disk from stopping acknowledgements.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import tempfile
from pathlib import Path


def fsync_file(path: str | os.PathLike[str]) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str | os.PathLike[str]) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_replace(path: Path, data: bytes) -> None:
    """Write and fsync `data` under a temporary name, then rename it to `path`, so `path` is
    never half-written. The caller fsyncs the directory to make the rename durable."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


class Reserve:
    """A file of zeros kept on the spool partition so that, when something fills the disk,
    the outbox can still record acknowledgements (SQLite needs room in its WAL even to mark
    a delivery done): without it a full disk would stop uploads, and so the retention that
    would free the disk. `release()` when a write fails for lack of space; `ensure()` puts it
    back once there is room again."""

    def __init__(self, path: str | os.PathLike[str], size: int) -> None:
        self.path = Path(path)
        self.size = int(size)

    @property
    def held(self) -> bool:
        try:
            return self.path.stat().st_size >= self.size
        except OSError:
            return False

    def ensure(self) -> bool:
        if self.size <= 0 or self.held:
            return self.held
        try:
            with open(self.path, "wb") as f:
                f.write(b"\0" * self.size)
                f.flush()
                os.fsync(f.fileno())
            fsync_dir(self.path.parent)
            return True
        except OSError:
            try:
                self.path.unlink()
            except OSError:
                pass
            return False

    def release(self) -> bool:
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        fsync_dir(self.path.parent)
        return True


class Transaction:
    """BEGIN IMMEDIATE ... COMMIT under the outbox lock; ROLLBACK on any exception."""

    def __init__(self, conn: sqlite3.Connection,
                 lock: threading.Lock | threading.RLock) -> None:
        self._conn = conn
        self._lock = lock

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        return self._conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self._conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self._lock.release()
