"""The durable outbox: what the box owes upstream, kept in SQLite on the spool partition.

A voicemail, case or call record is committed here before the caller hears "your message has
been recorded" (DESIGN.md, "Data that must never be lost"). The promise is: once `commit`
returns, a power cut at any instant loses nothing. That holds because of the order of writes:

1. the caller has written the media files under the spool directory;
2. `commit` fsyncs each file and every directory from the file up to the spool directory, so
   both the bytes and the names survive (a rename or create is only durable once its
   directory is fsynced);
3. the record JSON is written to a temporary name, fsynced, renamed to `<key>.json` and its
   directory fsynced;
4. only then the item and one delivery per target are inserted in one transaction. The
   database runs in WAL mode with synchronous=FULL, so COMMIT returns after the WAL is fsynced.

A crash before step 4 leaves orphan files and no item; the caller never got an answer, so it
never told anyone the message was safe. A crash after step 4 leaves a complete item.

Deliveries are at-least-once: a delivery is marked done only after the target acknowledged,
and the upstream keys objects by `<key>/<file>`, so sending twice is harmless.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypedDict, TypeVar, TypeVarTuple, Unpack

from lawline.clock import Clock
from lawline.errors import LawlineError
from lawline.sync import sqlitefile
from lawline.sync.durable import Reserve, Transaction
from lawline.sync.durable import fsync_dir as _fsync_dir
from lawline.sync.durable import fsync_file as _fsync_file
from lawline.sync.durable import write_replace as _write_replace

SCHEMA_VERSION = 2
# The version of the record JSON an item carries upstream (`record_format`); a record without
# it is version 1. The prefecture centre reads every version (centre/lawline_centre/records.py).
RECORD_FORMAT = 2
log = logging.getLogger("lawline.sync")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items(
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    created REAL NOT NULL,
    record_json TEXT NOT NULL,
    files_json TEXT NOT NULL,
    day TEXT
);
CREATE TABLE IF NOT EXISTS deliveries(
    item_id INTEGER NOT NULL REFERENCES items(id),
    target TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'done')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL,
    last_error TEXT,
    done_at REAL,
    PRIMARY KEY (item_id, target)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(target, state, next_attempt);
"""
TABLES = ("items", "deliveries")    # without them a database is not an outbox
JSON_COLUMNS = {"items": ("record_json", "files_json")}   # checked row by row at open

# Keys and file names become path segments on the spool and in upstream URLs.
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
RECORD = "record"
_MAX_ERROR = 500

# A record as JSON: each kind (voicemail, case, call, report, ...) has its own fields.
Record = dict[str, Any]
_T = TypeVar("_T")
_Args = TypeVarTuple("_Args")


class OutboxError(LawlineError, IOError):
    """The outbox cannot keep its promise (database not durable, spool unusable)."""


@dataclass(frozen=True)
class DueItem:
    """One pending delivery of one item to one target, as handed to a target's put_item."""

    item_id: int
    key: str
    kind: str
    created: float
    files: dict[str, Path]  # name -> spool file; "record" is the record JSON
    target: str
    attempts: int
    last_error: str | None
    day: str = ""  # local date of the commit, YYYY-MM-DD: upstream folders are by day
    record: Record | None = None  # the record as committed (the spool copy may be damaged)


@dataclass(frozen=True)
class PendingDelivery:
    """A delivery not yet acknowledged, for `lawline outbox` and the status surface."""

    item_id: int
    key: str
    kind: str
    target: str
    attempts: int
    created: float
    age: float  # seconds since commit
    next_attempt: float
    last_error: str | None


class Delivery(TypedDict):
    """The state of one delivery of a StoredItem."""

    state: str  # pending or done
    attempts: int
    next_attempt: float
    last_error: str | None
    done_at: float | None


class Counts(TypedDict):
    pending: int
    done: int


class Stats(TypedDict):
    """Outbox.stats(): items, pending and done deliveries, and the same per target."""

    items: int
    pending: int
    done: int
    targets: dict[str, Counts]


@dataclass(frozen=True)
class StoredItem:
    """An item as committed, with the state of each of its deliveries."""

    item_id: int
    key: str
    kind: str
    created: float
    record: Record
    files: dict[str, Path]  # name -> spool file
    deliveries: dict[str, Delivery]  # target -> its delivery


class Retry(NamedTuple):
    """What mark_failed decided: the attempt count so far and when to try again."""

    attempts: int
    delay: float
    next_attempt: float


class Outbox:
    """Items committed for upload and their per-target deliveries.

    One SQLite connection shared by the event loop and worker threads, guarded by a lock.
    An item is only ever dropped by retention (sync/retention.py), through `settled` and
    `forget`, once every target it was owed to acknowledged it.
    Deliveries are created for the targets configured when the item is committed: a target
    added later does not receive older items, and a target removed from the configuration
    keeps its pending rows (visible in `pending()`), so nothing is dropped silently.
    """

    TABLES = TABLES
    JSON_COLUMNS = JSON_COLUMNS

    def __init__(self, db_path: Path, spool_dir: Path, targets: list[str], *,
                 backoff_base: float = 2.0, backoff_cap: float = 600.0,
                 rng: random.Random | None = None,
                 kinds: Mapping[str, Iterable[str]] | None = None,
                 reserve_bytes: int = 1_000_000, damaged_dir: Path | None = None,
                 clock: Clock | None = None) -> None:
        """`clock`: the office's (clock.py): an item's day, the date in its upstream path, is
        the office's day it was committed on."""
        if backoff_base <= 0 or backoff_cap < backoff_base:
            raise ValueError("backoff_base must be above 0 and backoff_cap at least backoff_base")
        targets = list(targets)
        for name in targets:
            if not isinstance(name, str) or not name:
                raise ValueError(f"outbox target names must be non-empty strings, not {name!r}")
        if len(set(targets)) != len(targets):
            raise ValueError(f"outbox targets repeat a name: {targets}")
        self.db_path = Path(db_path)
        self.spool_dir = Path(spool_dir)
        self.targets = targets
        # target -> the kinds it takes (e-mail takes voicemails only); absent: every kind
        self.kinds = {name: frozenset(k) for name, k in (kinds or {}).items()}
        self.backoff_base = float(backoff_base)
        self.backoff_cap = float(backoff_cap)
        self._rng = rng or random.Random()
        self._lock = threading.RLock()
        self._commit_lock = threading.Lock()
        self.damaged_dir = None if damaged_dir is None else Path(damaged_dir)
        self.clock = clock or Clock()

        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self._spool_root = self.spool_dir.resolve()
        # A damaged database is set aside (with damaged_dir: the box) or refused; the box then
        # re-scans the spool so every message on disk is owed again (sync/sqlitefile.py).
        self.damage = sqlitefile.open_checked(self.db_path, TABLES, damaged_dir, JSON_COLUMNS)
        self._open()
        # The database file's own name must survive a power cut too.
        _fsync_dir(self.db_path.parent)
        self.reserve = Reserve(self.spool_dir / "outbox.reserve", reserve_bytes)
        self.reserve.ensure()

    def _open(self) -> None:
        self._conn = sqlite3.connect(str(self.db_path), timeout=10.0, isolation_level=None,
                                     check_same_thread=False)
        try:
            self._setup()
        except sqlite3.DatabaseError as error:
            self._conn.close()
            if self.damaged_dir is None or isinstance(error, sqlite3.OperationalError):
                raise OutboxError(f"outbox database {self.db_path} cannot be opened: "
                                  f"{error}") from error
            kept = sqlitefile.set_aside(self.db_path, self.damaged_dir)
            log.error("storage: %s failed while opening (%s); set aside as %s (nothing "
                      "deleted); a fresh one is started", self.db_path, error,
                      ", ".join(map(str, kept)))
            self.damage = sqlitefile.Damage(self.db_path, str(error), kept)
            self._conn = sqlite3.connect(str(self.db_path), timeout=10.0,
                                         isolation_level=None, check_same_thread=False)
            self._setup()
        except BaseException:
            self._conn.close()
            raise

    def _setup(self) -> None:
        mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise OutboxError(f"outbox database {self.db_path} cannot use WAL mode "
                              f"(got {mode!r}); is the spool partition writable?")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        sqlitefile.small_page_cache(self._conn)
        with self._transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise OutboxError(f"outbox database {self.db_path} has schema {version}, newer "
                                  f"than this firmware's {SCHEMA_VERSION}")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            columns = {row[1] for row in db.execute("PRAGMA table_info(items)")}
            if "day" not in columns:  # schema 1: items kept no day; derive it from created
                db.execute("ALTER TABLE items ADD COLUMN day TEXT")
                db.execute("UPDATE items SET day = date(created, 'unixepoch', 'localtime')")
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- committing -------------------------------------------------------------------------

    def commit(self, key: str, kind: str, record: Record, files: dict[str, Path]) -> int:
        """Make an item durable and owed to every target; return its id.

        `files` maps a name (e.g. "voicemail") to a file the caller already wrote under the
        spool directory. The record is written as `<key>.json` next to the first file and
        becomes the item's "record" file. Committing a key that exists returns the existing
        id and changes nothing.
        """
        _check_name("key", key)
        if not isinstance(kind, str) or not kind:
            raise ValueError(f"outbox item {key}: kind must be a non-empty string")
        if not isinstance(record, dict):
            raise TypeError(f"outbox item {key}: record must be a dict")
        # Encode before touching the disk, so a record that is not JSON fails cleanly.
        text = json.dumps(dict(record, record_format=RECORD_FORMAT), ensure_ascii=False,
                          indent=2) + "\n"
        for name in files:
            _check_name("file name", name)
            if name == RECORD:
                raise ValueError(f"outbox item {key}: file name {RECORD!r} is the record itself")

        with self._commit_lock:
            try:
                return self._commit_locked(key, kind, text, files)
            except sqlite3.Error as error:
                # Callers catch OSError around a commit (a full or failing spool partition);
                # a database error is the same fault, so it must reach them as one.
                raise OutboxError(f"outbox item {key} not stored: {error}") from error

    def _commit_locked(self, key: str, kind: str, text: str, files: dict[str, Path]) -> int:
        existing = self._item_id(key)
        if existing is not None:
            return existing  # before looking at the files: they may have moved on since

        paths = {name: self._in_spool(key, Path(path)) for name, path in files.items()}
        for path in paths.values():
            _fsync_file(path)
        if paths:
            record_dir = next(iter(paths.values())).parent
        else:
            record_dir = self._spool_root / "incoming"
            record_dir.mkdir(exist_ok=True)
        record_path = record_dir / f"{key}.json"
        _write_replace(record_path, text.encode("utf-8"))
        synced: set[Path] = set()
        for path in [*paths.values(), record_path]:
            self._fsync_dirs_up_to_spool(path.parent, synced)

        stored = {name: self._relative(path) for name, path in paths.items()}
        stored[RECORD] = self._relative(record_path)
        created = time.time()
        day = self.clock.day(created)
        owed = [t for t in self.targets if t not in self.kinds or kind in self.kinds[t]]
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO items(key, kind, created, record_json, files_json, day) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (key, kind, created, text, json.dumps(stored, ensure_ascii=False), day))
            item_id = cursor.lastrowid
            assert item_id is not None      # an INSERT sets it
            db.executemany(
                "INSERT INTO deliveries(item_id, target, state, attempts, next_attempt) "
                "VALUES (?, ?, 'pending', 0, ?)",
                [(item_id, target, created) for target in owed])
        return item_id

    def _in_spool(self, key: str, path: Path) -> Path:
        resolved = path.resolve()
        if self._spool_root != resolved and self._spool_root not in resolved.parents:
            raise ValueError(f"outbox item {key}: {path} is not under the spool {self.spool_dir}")
        if not resolved.is_file():
            raise FileNotFoundError(f"outbox item {key}: {path} is not a file")
        return resolved

    def _relative(self, path: Path) -> str:
        # Stored relative to the spool, so the partition can be mounted elsewhere.
        return path.relative_to(self._spool_root).as_posix()

    def relative(self, path: str | os.PathLike[str]) -> str:
        """`path` (a file under the spool) as the outbox and the ledger store it."""
        return self._relative(Path(path).resolve())

    def _fsync_dirs_up_to_spool(self, directory: Path, synced: set[Path]) -> None:
        directory = directory.resolve()
        while True:
            if directory not in synced:
                _fsync_dir(directory)
                synced.add(directory)
            if directory == self._spool_root or directory == directory.parent:
                return
            directory = directory.parent

    # -- deliveries -------------------------------------------------------------------------

    def due(self, target: str, now: float | None = None, limit: int = 20) -> list[DueItem]:
        """Pending deliveries to `target` whose time has come, oldest item first."""
        now = time.time() if now is None else now
        with self._lock:
            rows = self._conn.execute(
                "SELECT i.id, i.key, i.kind, i.created, i.files_json, d.attempts, d.last_error, "
                "i.day, i.record_json FROM deliveries d JOIN items i ON i.id = d.item_id "
                "WHERE d.target = ? AND d.state = 'pending' "
                "AND (d.next_attempt <= ? OR d.next_attempt > ?) "
                "ORDER BY i.id LIMIT ?",
                (target, now, self._clock_jump_limit(now), limit)).fetchall()
        return [DueItem(item_id=row[0], key=row[1], kind=row[2], created=row[3],
                        files=self._files(row[4]), target=target, attempts=row[5],
                        last_error=row[6], day=row[7] or self.clock.day(row[3]),
                        record=json.loads(row[8]))
                for row in rows]

    def _clock_jump_limit(self, now: float) -> float:
        # No backoff exceeds the cap, so a next_attempt further away than that means the wall
        # clock went backwards (a Pi has no RTC; fake-hwclock and NTP move it). Treat such
        # deliveries as due rather than stranding them until the clock catches up.
        return now + self.backoff_cap + 1.0

    def next_due(self, target: str | None = None, now: float | None = None) -> float | None:
        """The earliest next_attempt among pending deliveries (of `target`), or None."""
        now = time.time() if now is None else now
        query = "SELECT MIN(next_attempt) FROM deliveries WHERE state = 'pending'"
        args: list[str] = []
        if target is not None:
            query += " AND target = ?"
            args.append(target)
        with self._lock:
            earliest: float | None = self._conn.execute(query, args).fetchone()[0]
        if earliest is not None and earliest > self._clock_jump_limit(now):
            return now
        return earliest

    def mark_done(self, item_id: int, target: str, now: float | None = None) -> None:
        """The target acknowledged the item; the delivery is finished."""
        now = time.time() if now is None else now
        self._with_room(self._mark_done, item_id, target, now)

    def _with_room(self, write: Callable[[Unpack[_Args]], _T], *args: Unpack[_Args]) -> _T:
        """Run a delivery write; when the disk is full, give up the reserve and try once
        more, so a full disk never stops acknowledgements (sync/durable.py, Reserve)."""
        try:
            return write(*args)
        except sqlite3.OperationalError as error:
            if "full" not in str(error) or not self.reserve.release():
                raise
            log.error(
                "outbox: spool partition %s is full; released the %d kB reserve so "
                "deliveries can still be recorded", self.spool_dir, self.reserve.size // 1000)
            return write(*args)

    def _mark_done(self, item_id: int, target: str, now: float) -> None:
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE deliveries SET state = 'done', done_at = ? "
                "WHERE item_id = ? AND target = ? AND state = 'pending'",
                (now, item_id, target))
            if cursor.rowcount == 0:
                self._require_delivery(db, item_id, target)

    def mark_failed(self, item_id: int, target: str, error: str,
                    now: float | None = None) -> Retry | None:
        """Count a failed attempt and schedule the next one with capped, jittered backoff.

        Returns the decision, or None when the delivery was already done (an acknowledgement
        is never undone by a late failure).
        """
        now = time.time() if now is None else now
        return self._with_room(self._mark_failed, item_id, target, str(error)[:_MAX_ERROR],
                               now)

    def _mark_failed(self, item_id: int, target: str, error: str,
                     now: float) -> Retry | None:
        with self._transaction() as db:
            row = db.execute("SELECT state, attempts FROM deliveries "
                             "WHERE item_id = ? AND target = ?", (item_id, target)).fetchone()
            if row is None:
                raise KeyError(f"outbox has no delivery of item {item_id} to {target!r}")
            state, attempts = row
            if state == "done":
                return None
            delay = self.backoff(attempts)
            db.execute("UPDATE deliveries SET attempts = ?, last_error = ?, next_attempt = ? "
                       "WHERE item_id = ? AND target = ?",
                       (attempts + 1, error, now + delay, item_id, target))
        return Retry(attempts + 1, delay, now + delay)

    def backoff(self, attempts: int) -> float:
        """Delay after a failure when `attempts` earlier attempts had failed: min(cap,
        base * 2**attempts), with full jitter between 50% and 100% so many boxes coming back
        after an upstream outage do not retry in step."""
        ceiling: float = min(self.backoff_cap, self.backoff_base * 2 ** min(attempts, 32))
        return ceiling * self._rng.uniform(0.5, 1.0)

    @staticmethod
    def _require_delivery(db: sqlite3.Connection, item_id: int, target: str) -> None:
        if db.execute("SELECT 1 FROM deliveries WHERE item_id = ? AND target = ?",
                      (item_id, target)).fetchone() is None:
            raise KeyError(f"outbox has no delivery of item {item_id} to {target!r}")

    # -- reading ----------------------------------------------------------------------------

    def pending(self, target: str | None = None,
                now: float | None = None) -> list[PendingDelivery]:
        """Every unacknowledged delivery, oldest item first."""
        now = time.time() if now is None else now
        query = ("SELECT i.id, i.key, i.kind, d.target, d.attempts, i.created, d.next_attempt, "
                 "d.last_error FROM deliveries d JOIN items i ON i.id = d.item_id "
                 "WHERE d.state = 'pending'")
        args: list[str] = []
        if target is not None:
            query += " AND d.target = ?"
            args.append(target)
        with self._lock:
            rows = self._conn.execute(query + " ORDER BY i.id, d.target", args).fetchall()
        return [PendingDelivery(item_id=r[0], key=r[1], kind=r[2], target=r[3], attempts=r[4],
                                created=r[5], age=max(0.0, now - r[5]), next_attempt=r[6],
                                last_error=r[7])
                for r in rows]

    def stats(self) -> Stats:
        """Counts: items, pending and done deliveries, and the same per target."""
        with self._lock:
            items = self._conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]
            rows = self._conn.execute(
                "SELECT target, state, COUNT(*) FROM deliveries GROUP BY target, state").fetchall()
        result: Stats = {"items": items, "pending": 0, "done": 0,
                  "targets": {name: {"pending": 0, "done": 0} for name in self.targets}}
        state: Literal["pending", "done"]   # all the table's CHECK allows
        for target, state, count in rows:
            result[state] += count
            result["targets"].setdefault(target, {"pending": 0, "done": 0})[state] = count
        return result

    def get(self, key: str) -> StoredItem | None:
        """The item committed under `key` with its deliveries, or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT id, key, kind, created, record_json, files_json FROM items WHERE key = ?",
                (key,)).fetchone()
            if row is None:
                return None
            deliveries = self._conn.execute(
                "SELECT target, state, attempts, next_attempt, last_error, done_at "
                "FROM deliveries WHERE item_id = ? ORDER BY target", (row[0],)).fetchall()
        return StoredItem(
            item_id=row[0], key=row[1], kind=row[2], created=row[3],
            record=json.loads(row[4]), files=self._files(row[5]),
            deliveries={d[0]: {"state": d[1], "attempts": d[2], "next_attempt": d[3],
                               "last_error": d[4], "done_at": d[5]} for d in deliveries})

    def oldest_pending(self, target: str | None = None) -> float | None:
        """When the oldest unacknowledged item was committed (of `target`), or None."""
        query = ("SELECT MIN(i.created) FROM deliveries d JOIN items i ON i.id = d.item_id "
                 "WHERE d.state = 'pending'")
        args: list[str] = []
        if target is not None:
            query += " AND d.target = ?"
            args.append(target)
        with self._lock:
            oldest: float | None = self._conn.execute(query, args).fetchone()[0]
        return oldest

    def spool_files(self) -> set[Path]:
        """Every spool file some item refers to, as a resolved Path (start-up recovery
        treats any other recording under incoming/ as never committed)."""
        with self._lock:
            rows = self._conn.execute("SELECT files_json FROM items").fetchall()
        return {(self.spool_dir / rel).resolve()
                for (files,) in rows for rel in json.loads(files).values()}

    def keys(self) -> list[str]:
        """Every item key (case numbers are in them: the counter is kept above these)."""
        with self._lock:
            return [row[0] for row in self._conn.execute("SELECT key FROM items")]

    def settled(self, before: float, limit: int = 100, kinds: tuple[str, ...] = (),
                except_kinds: tuple[str, ...] = ()) -> list[tuple[int, str, dict[str, Path]]]:
        """Items committed before `before` that every target they were owed to has
        acknowledged, oldest first, as (item_id, key, files). An item owed to no target
        (none was configured) never settles: nobody has a copy of it. `kinds`: only these
        kinds; `except_kinds`: not these (retention keeps recordings their own days)."""
        where = ""
        args: list[float | str] = [before]
        if kinds:
            where += f" AND i.kind IN ({','.join('?' * len(kinds))})"
            args += list(kinds)
        if except_kinds:
            where += f" AND i.kind NOT IN ({','.join('?' * len(except_kinds))})"
            args += list(except_kinds)
        with self._lock:
            rows = self._conn.execute(
                "SELECT i.id, i.key, i.files_json FROM items i WHERE i.created < ?" + where +
                " AND EXISTS (SELECT 1 FROM deliveries d WHERE d.item_id = i.id) "
                "AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.item_id = i.id "
                "AND d.state != 'done') ORDER BY i.id LIMIT ?", (*args, limit)).fetchall()
        return [(r[0], r[1], self._files(r[2])) for r in rows]

    def forget(self, item_id: int) -> None:
        """Drop a settled item (retention removed its files first). Refuses an item that
        still owes a delivery."""
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM deliveries WHERE item_id = ? AND state != 'done'",
                          (item_id,)).fetchone():
                raise OutboxError(f"outbox item {item_id} still owes a delivery; kept")
            db.execute("DELETE FROM deliveries WHERE item_id = ?", (item_id,))
            db.execute("DELETE FROM items WHERE id = ?", (item_id,))

    def _item_id(self, key: str) -> int | None:
        with self._lock:
            row = self._conn.execute("SELECT id FROM items WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def _files(self, files_json: str) -> dict[str, Path]:
        return {name: self.spool_dir / rel for name, rel in json.loads(files_json).items()}

    def _transaction(self) -> Transaction:
        return Transaction(self._conn, self._lock)


def _check_name(what: str, value: str) -> None:
    if not isinstance(value, str) or not _SAFE_NAME.fullmatch(value):
        raise ValueError(f"outbox {what} {value!r} must be 1-128 letters, digits, '.', '_' or "
                         "'-', starting with a letter or digit")
