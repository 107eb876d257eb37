"""The office's book of calls and its callback list, in the case book (spool/cases.db).

The call book: every call record the ledger commits (the `call` step of an entry, records/
ledger.py) is kept here as well as in the outbox. The outbox is transport: retention forgets
an item once every target has it ([outbox] retention_days, 30 days by default), and a monthly
report compared with the month before needs calls up to two months old. The book keeps a
call's record as it went upstream, keyed by its call id (a step applied twice after a cut
writes it once), for CALL_BOOK_DAYS.

The callback list: a caller who hung up with no result (while it rang, in the menu, while
the duty phones rang, before the recording) and showed a number is owed a call back. One
entry per number and office day (`callbacks`), whatever number of calls it missed that day
(`callback_calls`, keyed by call id: applied twice, counted once). The office texts the duty
person once per entry, in office hours (records/office.py callbacks_due), and the entry is
done when a duty person says so (SMS `回拨 <number>`, or the office page), or when the caller
got through on a later call that day. Nothing here decides who is told: the office does.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from typing import Any, Callable, TypeVar

from ..phone import national
from ..sync.durable import Transaction

CALL_BOOK_DAYS = 400        # a year's comparisons and a month's margin

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS call_book(
    call_id TEXT PRIMARY KEY,
    started REAL NOT NULL,
    caller TEXT NOT NULL DEFAULT '',
    record_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS call_book_started ON call_book(started);
CREATE TABLE IF NOT EXISTS callbacks(
    number TEXT NOT NULL,
    day TEXT NOT NULL,
    first_at REAL NOT NULL,
    last_at REAL NOT NULL,
    calls INTEGER NOT NULL DEFAULT 0,
    call_ids TEXT NOT NULL DEFAULT '[]',
    texted_at REAL,
    texted_to TEXT,
    done_at REAL,
    done_by TEXT,
    done_how TEXT,
    note TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (number, day)
);
CREATE TABLE IF NOT EXISTS callback_calls(
    call_id TEXT PRIMARY KEY,
    number TEXT NOT NULL,
    day TEXT NOT NULL
);
"""
_ENTRY = ("number, day, first_at, last_at, calls, call_ids, texted_at, texted_to, done_at, "
          "done_by, done_how, note")


def _entry(row: tuple[Any, ...]) -> dict[str, Any]:
    out: dict[str, Any] = dict(zip([c.strip() for c in _ENTRY.split(",")], row))
    out["call_ids"] = json.loads(out["call_ids"] or "[]")
    return out


class CallBook:
    def __init__(self, db: sqlite3.Connection, lock: threading.Lock | None = None) -> None:
        """`db`: the case book's sqlite3 connection (autocommit), `lock` its lock."""
        self._db = db
        self._lock = lock or threading.Lock()
        with self._lock:
            self._db.executescript(_SCHEMA)

    def _tx(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with Transaction(self._db, self._lock) as db:
            result: T = fn(db)
            return result

    # -- the call book ---------------------------------------------------------------------

    def add_call(self, call_id: str, started: float, caller: str, record: dict[str, Any]) -> bool:
        """Keep a call's record (the ledger's `call` step). True when it was new."""
        text = json.dumps(record, ensure_ascii=False)
        return self._tx(lambda db: db.execute(
            "INSERT OR IGNORE INTO call_book (call_id, started, caller, record_json) "
            "VALUES (?,?,?,?)", (call_id, float(started or 0), caller or "", text)).rowcount == 1)

    def calls(self, since: float, until: float) -> list[dict[str, Any]]:
        """Call records whose call started in [since, until)."""
        with self._lock:
            rows = self._db.execute("SELECT record_json FROM call_book WHERE started >= ? AND "
                                    "started < ? ORDER BY started", (since, until)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def calls_from(self, number: str, since: float) -> list[dict[str, Any]]:
        """Call records of `number` (national form) since `since`, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT caller, record_json FROM call_book WHERE "
                                    "started >= ? ORDER BY started", (since,)).fetchall()
        return [json.loads(r) for c, r in rows if national(c) == number]

    def forget_before(self, before: float) -> int:
        """Drop call records older than `before` (CALL_BOOK_DAYS); returns how many."""
        return self._tx(lambda db: db.execute("DELETE FROM call_book WHERE started < ?",
                                              (before,)).rowcount)

    # -- the callback list -------------------------------------------------------------------

    def list_call(self, number: str, day: str, call_id: str, at: float) -> bool:
        """A missed or abandoned call of `number` (national form) on office day `day` (the
        ledger's `callback` step). True when this call was new to the list. A number already
        done today is listed again (a new call it missed), but not texted again today."""
        def write(db: sqlite3.Connection) -> bool:
            if db.execute("INSERT OR IGNORE INTO callback_calls (call_id, number, day) "
                          "VALUES (?,?,?)", (call_id, number, day)).rowcount != 1:
                return False
            row = db.execute("SELECT call_ids, first_at, last_at FROM callbacks WHERE "
                             "number = ? AND day = ?", (number, day)).fetchone()
            if row is None:
                db.execute("INSERT INTO callbacks (number, day, first_at, last_at, calls, "
                           "call_ids) VALUES (?,?,?,?,1,?)",
                           (number, day, at, at, json.dumps([call_id])))
            else:
                ids = json.loads(row[0] or "[]") + [call_id]
                db.execute("UPDATE callbacks SET calls = ?, call_ids = ?, first_at = ?, "
                           "last_at = ?, done_at = NULL, done_by = NULL, done_how = NULL "
                           "WHERE number = ? AND day = ?",
                           (len(ids), json.dumps(ids), min(row[1], at), max(row[2], at),
                            number, day))
            return True
        return self._tx(write)

    def entries(self, open_only: bool = False, since: float | None = None,
                number: str | None = None) -> list[dict[str, Any]]:
        """Callback entries (dicts), newest day first."""
        sql = f"SELECT {_ENTRY} FROM callbacks WHERE 1=1"
        args: list[Any] = []
        if open_only:
            sql += " AND done_at IS NULL"
        if since is not None:
            sql += " AND last_at >= ?"
            args.append(since)
        if number is not None:
            sql += " AND number = ?"
            args.append(number)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY day DESC, first_at", args).fetchall()
        return [_entry(r) for r in rows]

    def get(self, number: str, day: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_ENTRY} FROM callbacks WHERE number = ? AND "
                                   "day = ?", (number, day)).fetchone()
        return _entry(row) if row else None

    def mark_texted(self, number: str, day: str, to: str, now: float | None = None) -> bool:
        """The duty person was texted about this entry (once per entry). True the first
        time."""
        return self._tx(lambda db: db.execute(
            "UPDATE callbacks SET texted_at = ?, texted_to = ? WHERE number = ? AND day = ? "
            "AND texted_at IS NULL", (now or time.time(), to, number, day)).rowcount == 1)

    def mark_done(self, number: str, day: str, at: float, by: str, how: str,
                  note: str = "") -> bool:
        """The entry is done (the ledger's `callback_done` step): idempotent, an entry done
        already keeps its first answer. True when it changed."""
        return self._tx(lambda db: db.execute(
            "UPDATE callbacks SET done_at = ?, done_by = ?, done_how = ?, note = ? WHERE "
            "number = ? AND day = ? AND done_at IS NULL",
            (at, by, how, note or "", number, day)).rowcount == 1)
