"""Case numbers: what the caller writes down and keys in later.

Ten digits, `YYMMDD` then a four-digit sequence of the day (2601120007 = the seventh case
of 12 January 2026): short enough to read back and key in, unique on this line, and it tells
staff the day at a glance. Upstream paths are prefixed by the office id, so two counties
never collide. The counter lives in SQLite so a restart never reuses a number. Boxes before
2026-12 gave nine digits (YYMMDD + three); those numbers stay valid (format_number).

Every request is tracked to a result (件件有回音, reference/field.md (b) 1): a case moves
new -> assigned -> referred -> resolved -> caller_informed, each move kept in a history table
with who made it, in the same database (spool/cases.db, WAL, synchronous=FULL).
"""

from __future__ import annotations

import builtins     # Cases.list hides the builtin in its class body's annotations
import json
import os
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Collection, Iterable, Mapping, Sequence, TypeGuard, TypeVar

from ..clock import Clock
from ..duty.roster import normal_mobile
from ..sync import sqlitefile
from ..sync.durable import Transaction

T = TypeVar("T")


# Why ten digits (YYMMDD + NNNN). The old three-digit sequence ran out at the 1000th case of
# a day and then stopped the call that asked for a number. One line answers one call at a
# time: even 20-second calls around the clock are 4320 a day, so four digits (9999) hold any
# day one box can have, with room for the start-up recovery's own numbers and for a
# prefecture that points several trunks at one busy box. Ten digits are still read back in
# one breath and keyed like a phone number (an 11-digit mobile is what callers know), and a
# fixed width means a caller's "#" is optional and a digit too many or too few is never
# another number of the same format. Past 9999 the sequence simply grows a digit (never runs
# out), a day no single line can reach. Nine-digit numbers (YYMMDD + NNN) of older boxes stay
# in the database and are looked up and accepted by SMS as they are.
SEQUENCE_DIGITS = 4
OLD_SEQUENCE_DIGITS = 3
NUMBER_DIGITS = 6 + SEQUENCE_DIGITS            # what callers are asked to key
NUMBER_PATTERN = r"\d{6}(?:\d{3}|\d{4,6})"      # old (9) and new (10, and more past 9999)


def format_number(day: str, seq: int) -> str:
    """The case number of the `seq`th case of `day` (YYMMDD)."""
    return f"{day}{seq:0{SEQUENCE_DIGITS}d}"


def parse_number(number: object) -> tuple[str, int] | None:
    """(YYMMDD, sequence) of a case number of either format, or None when it is not one."""
    if not is_case_number(number):
        return None
    return number[:6], int(number[6:])


def is_case_number(number: object) -> TypeGuard[str]:
    return isinstance(number, str) and number.isascii() and \
        re.fullmatch(NUMBER_PATTERN, number) is not None


class CaseNumbers:
    TABLES = ("case_counter",)      # without it a database is not a case book

    def __init__(self, db_path: str | os.PathLike[str], damaged_dir: Path | None = None,
                 clock: Clock | None = None) -> None:
        """Open the case book (`clock`: the office's; a case number's day is the office's
        day, clock.py). A damaged file is set aside into `damaged_dir` and a fresh
        one started (the box: `damage` says what happened; the box then keeps the counter
        above every number on disk, keep_above), or refused with StorageDamaged when no
        `damaged_dir` is given (`lawline case`, `lawline check`)."""
        self.db_path = Path(db_path)
        self.clock = clock or Clock()
        self._lock = threading.Lock()
        self.damage = sqlitefile.open_checked(self.db_path, self.TABLES, damaged_dir)
        self._db = sqlite3.connect(str(self.db_path), check_same_thread=False,
                                   isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        sqlitefile.small_page_cache(self._db)
        self._db.execute("CREATE TABLE IF NOT EXISTS case_counter "
                         "(day TEXT PRIMARY KEY, last INTEGER NOT NULL)")

    def keep_above(self, drawn: Iterable[tuple[str, int]]) -> dict[str, int]:
        """Raise each day's counter to at least the highest sequence in `drawn`, (YYMMDD,
        sequence) pairs of numbers already given out (parse_number): after a case book was
        lost or set aside, next() never gives a number a recording, journal or upload
        already carries. Returns {day: new last} for the days it raised."""
        highest: dict[str, int] = {}
        for day, seq in drawn:
            highest[day] = max(seq, highest.get(day, 0))
        raised: dict[str, int] = {}
        with Transaction(self._db, self._lock) as db:
            for day, seq in sorted(highest.items()):
                row = db.execute("SELECT last FROM case_counter WHERE day = ?",
                                 (day,)).fetchone()
                if row is None or row[0] < seq:
                    db.execute("INSERT OR REPLACE INTO case_counter (day, last) "
                               "VALUES (?, ?)", (day, seq))
                    raised[day] = seq
        return raised

    def next(self, now: float | None = None) -> str:
        day = self.clock.local(now).strftime("%y%m%d")
        with Transaction(self._db, self._lock) as db:
            row = db.execute("SELECT last FROM case_counter WHERE day = ?", (day,)).fetchone()
            seq = (row[0] if row else 0) + 1   # never runs out (format_number)
            db.execute("INSERT OR REPLACE INTO case_counter (day, last) VALUES (?, ?)",
                       (day, seq))
        return format_number(day, seq)

    def close(self) -> None:
        self._db.close()


# -- the lifecycle ---------------------------------------------------------------------------

KINDS = ("consultation", "service_request", "urgent", "referral", "complaint")
STATES = ("new", "assigned", "referred", "resolved", "caller_informed")
OPEN_STATES = ("new", "assigned", "referred")
# Which state may follow which. Reassigning and referring back are allowed; a resolved case
# only moves on to "caller informed".
MOVES = {
    "new": {"assigned", "referred", "resolved"},
    "assigned": {"assigned", "referred", "resolved"},
    "referred": {"assigned", "resolved"},
    "resolved": {"caller_informed"},
    "caller_informed": set(),
}

_CASE_SCHEMA = """
CREATE TABLE IF NOT EXISTS cases(
    number TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    caller TEXT NOT NULL DEFAULT '',
    owner TEXT NOT NULL DEFAULT '',
    owner_name TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '',
    call_id TEXT,
    opened REAL NOT NULL,
    updated REAL NOT NULL,
    due REAL,
    resolved REAL,
    owner_alerted REAL,
    head_alerted REAL,
    rating INTEGER,
    pin TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS case_history(
    id INTEGER PRIMARY KEY,
    number TEXT NOT NULL REFERENCES cases(number),
    at REAL NOT NULL,
    state TEXT NOT NULL,
    by TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS case_history_number ON case_history(number);
CREATE TABLE IF NOT EXISTS notices(key TEXT PRIMARY KEY, at REAL NOT NULL);
"""


class CaseError(ValueError):
    """A case that does not exist, or a move its state does not allow."""


class CaseChanged(CaseError):
    """The case moved on after the actor last saw it: nothing was written."""


@dataclass(frozen=True)
class Case:
    number: str
    kind: str
    state: str
    caller: str
    owner: str
    owner_name: str
    detail: str
    call_id: str | None
    opened: float
    updated: float
    due: float | None
    resolved: float | None
    owner_alerted: float | None
    head_alerted: float | None
    rating: int | None
    pin: str = ""    # told to the caller in the case SMS: key 9 from another phone (PIN_DIGITS)
    topic: str = ""  # [topics]: chosen by the caller, or set by SMS or the page

    @property
    def open(self) -> bool:
        return self.state in OPEN_STATES

    def overdue(self, now: float | None = None) -> bool:
        return self.open and self.due is not None and (now or time.time()) > self.due


# -- issue 17: the office's duties to a result (records/duties.py) ----------------------------
# What each case keeps of them, in columns of its own: set through the ledger's `set` steps
# and read back into every later journal item upstream (outcomes.CaseNow.facts), so the
# prefecture's centre sees the dispatch, the appointment, the hand-off and its reply, when
# and how the caller was told the result, and the survey's score.
DUTY_COLUMNS = {
    "dispatch": "TEXT",          # JSON: provider, kind, mobile, area, date, time, place, by
    "appointment": "REAL",       # the appointment's instant
    "arrived": "REAL",           # when 到场 was reported
    "missed_alerted": "REAL",    # when a missed appointment was alerted
    "handoff": "TEXT",           # JSON: department, phone, sms, email
    "reply_code": "TEXT",        # what the department replies with
    "reply_due": "REAL",         # the working-day deadline of its reply
    "reply_at": "REAL",
    "reply_result": "TEXT",
    "reply_alerted": "REAL",     # when a late reply was alerted
    "result": "TEXT",            # the result the office wrote when it resolved the case
    "told_at": "REAL",           # when the caller was told it ...
    "told_how": "TEXT",          # ... and how: sms, phone
    "survey_sent": "REAL",       # the satisfaction survey SMS
    "survey_score": "INTEGER",
    "survey_at": "REAL",
}


class DutyColumns:
    """The case book's side of the duty columns (a part of Cases, on its database)."""
    _db: sqlite3.Connection             # set by CaseNumbers.__init__ (Cases is both)
    _lock: threading.Lock

    def _add_duty_columns(self) -> None:
        """Case books before issue 17 get the duty columns (empty for old cases)."""
        with self._lock:
            columns = {r[1] for r in self._db.execute("PRAGMA table_info(cases)")}
            for name, kind in DUTY_COLUMNS.items():
                if name not in columns:
                    self._db.execute(f"ALTER TABLE cases ADD COLUMN {name} {kind}")
            self._db.execute("CREATE INDEX IF NOT EXISTS cases_reply_code ON "
                             "cases(reply_code) WHERE reply_code IS NOT NULL")

    def duties(self, number: str) -> dict[str, Any]:
        """A case's duty columns that are set, as a dict ({} for none, or no such case)."""
        names = ", ".join(DUTY_COLUMNS)
        with self._lock:
            row = self._db.execute(f"SELECT {names} FROM cases WHERE number = ?",
                                   (number,)).fetchone()
        return {k: v for k, v in zip(DUTY_COLUMNS, row or ()) if v is not None}

    def with_duty(self, where: str, args: Sequence[object] = (),
                  states: Iterable[str] | None = None) -> list[tuple[str, dict[str, Any]]]:
        """[(number, {its duty columns set})] of the cases in `states` (default: open)
        matching `where` (SQL on the duty columns), oldest first."""
        names = ", ".join(DUTY_COLUMNS)
        states = tuple(states or OPEN_STATES)
        marks = ",".join("?" * len(states))
        with self._lock:
            rows = self._db.execute(f"SELECT number, {names} FROM cases WHERE state IN "
                                    f"({marks}) AND {where} ORDER BY opened",
                                    (*states, *args)).fetchall()
        return [(r[0], {k: v for k, v in zip(DUTY_COLUMNS, r[1:]) if v is not None})
                for r in rows]

    def by_reply_code(self, code: str) -> str | None:
        """The number of the case a department was handed with reply code `code`, or None."""
        with self._lock:
            row = self._db.execute("SELECT number FROM cases WHERE reply_code = ?",
                                   (code,)).fetchone()
        return row[0] if row else None

    def _restore_duties(self, db: sqlite3.Connection, number: str,
                        record: Mapping[str, Any]) -> None:
        """The duty columns a journal item carried (restore: a case book set aside)."""
        values: dict[str, Any] = {}
        for name, kind in DUTY_COLUMNS.items():
            value = record.get(name)
            if isinstance(value, dict):
                value = json.dumps(value, ensure_ascii=False)
            if value is None or isinstance(value, (list, bool)) or \
                    (kind == "TEXT") != isinstance(value, str):
                continue
            values[name] = value
        if values:
            db.execute(f"UPDATE cases SET {', '.join(f'{k} = ?' for k in values)} "
                       "WHERE number = ?", (*values.values(), number))

    def surveyed(self, since: float) -> list[tuple[str, str]]:
        """[(number, caller)] of cases whose survey SMS went at or after `since` and that
        have no score yet, the newest survey first."""
        with self._lock:
            rows: list[tuple[str, str]] = self._db.execute(
                "SELECT number, caller FROM cases WHERE survey_sent >= ? AND survey_score IS "
                "NULL ORDER BY survey_sent DESC, number DESC", (since,)).fetchall()
        return rows


class Cases(DutyColumns, CaseNumbers):
    """Case numbers plus each case's state and history, in the same SQLite file (WAL)."""

    def __init__(self, db_path: str | os.PathLike[str], damaged_dir: Path | None = None,
                 clock: Clock | None = None) -> None:
        super().__init__(db_path, damaged_dir, clock)
        with self._lock:
            self._db.executescript(_CASE_SCHEMA)
        self._add_pin_column()
        self._add_duty_columns()        # issue 17 (DutyColumns)
        self._add_topic_column()

    def _add_pin_column(self) -> None:
        """Case books written before the status PIN existed get the column (empty PINs: those
        cases answer key 9 only on the caller's own phone); before the ledger, the history's
        step ids (records/ledger.py: a move applied twice after a cut is written once)."""
        with self._lock:
            columns = [r[1] for r in self._db.execute("PRAGMA table_info(cases)")]
            if "pin" not in columns:
                self._db.execute("ALTER TABLE cases ADD COLUMN pin TEXT NOT NULL DEFAULT ''")
            columns = [r[1] for r in self._db.execute("PRAGMA table_info(case_history)")]
            if "step" not in columns:
                self._db.execute("ALTER TABLE case_history ADD COLUMN step TEXT")
            self._db.execute("CREATE UNIQUE INDEX IF NOT EXISTS case_history_step "
                             "ON case_history(step) WHERE step IS NOT NULL")

    def _add_topic_column(self) -> None:
        """Case books written before topics ([topics]) get the column: their cases are
        unsorted (未分类) until someone sets one."""
        with self._lock:
            columns = [r[1] for r in self._db.execute("PRAGMA table_info(cases)")]
            if "topic" not in columns:
                self._db.execute("ALTER TABLE cases ADD COLUMN topic TEXT NOT NULL DEFAULT ''")

    def _tx(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with Transaction(self._db, self._lock) as db:
            return fn(db)

    def open_case(self, number: str, kind: str, caller: str | None = "", owner: str | None = "",
                  owner_name: str | None = "", detail: str | None = "",
                  call_id: str | None = None, state: str = "new", due_hours: float = 72.0,
                  by: str = "box", note: str = "", now: float | None = None,
                  pin: str | None = None, topic: str = "") -> Case | None:
        """Record a new case (the number comes from next()). Opening a number twice returns
        the existing case unchanged. `pin`: decided beforehand (sync/message.py: the caller's
        SMS already carries it), else a new one."""
        if kind not in KINDS:
            raise CaseError(f"unknown case kind {kind!r}")
        if state not in STATES:
            raise CaseError(f"unknown case state {state!r}")
        now = now or time.time()
        due = now + due_hours * 3600 if due_hours else None

        def write(db: sqlite3.Connection) -> None:
            if db.execute("SELECT 1 FROM cases WHERE number = ?", (number,)).fetchone():
                return
            db.execute("INSERT INTO cases (number, kind, state, caller, owner, owner_name, "
                       "detail, call_id, opened, updated, due, pin) "
                       "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                       (number, kind, state, caller or "", owner or "", owner_name or "",
                        detail or "", call_id, now, now, due, pin or new_pin()))
            if topic:
                db.execute("UPDATE cases SET topic = ? WHERE number = ?", (topic, number))
            db.execute("INSERT INTO case_history (number, at, state, by, note) "
                       "VALUES (?,?,?,?,?)", (number, now, state, by, note or f"opened: {kind}"))
        self._tx(write)
        return self.get(number)

    def get(self, number: str) -> Case | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_FIELDS} FROM cases WHERE number = ?",
                                   (number,)).fetchone()
        return Case(*row) if row else None

    def history(self, number: str) -> list[tuple[float, str, str, str]]:
        with self._lock:
            rows: list[tuple[float, str, str, str]] = self._db.execute(
                "SELECT at, state, by, note FROM case_history WHERE number = ? ORDER BY id",
                (number,)).fetchall()
        return rows

    def move(self, number: str, state: str, by: str, note: str = "", owner: str | None = None,
             owner_name: str | None = None, now: float | None = None,
             expect_updated: float | None = None, step: str | None = None,
             same: bool = False) -> Case | None:
        """Move a case to `state`; raises CaseError naming the case and both states.
        `same`: a history row that keeps the state (an arrival, a late reply alerted, a
        survey answered): the case must be in `state` already.

        `expect_updated`: the case's `updated` time as the actor saw it (the office page's
        form). Checked inside the same transaction as the write, so a change made meanwhile
        (an SMS command, another clerk) is never overwritten: CaseChanged instead.
        `step`: the ledger's id of this move; a move whose step is in the history already is
        done, and nothing is written again."""
        now = now or time.time()

        def write(db: sqlite3.Connection) -> None:
            if step is not None and db.execute("SELECT 1 FROM case_history WHERE step = ?",
                                               (step,)).fetchone():
                return
            row = db.execute("SELECT state, updated FROM cases WHERE number = ?",
                             (number,)).fetchone()
            if row is None:
                raise CaseError(f"case {number} does not exist")
            if expect_updated is not None and row[1] != expect_updated:
                raise CaseChanged(f"case {number} changed since it was shown (now {row[0]})")
            if same and state != row[0]:
                raise CaseError(f"case {number} is {row[0]}, no longer {state}")
            if not same and state not in MOVES[row[0]]:
                raise CaseError(f"case {number} is {row[0]}; it cannot become {state}")
            args: list[object]
            sets, args = ["state = ?", "updated = ?"], [state, now]
            if state == "resolved":
                sets.append("resolved = ?")
                args.append(now)
            if owner is not None:
                sets += ["owner = ?", "owner_alerted = NULL", "head_alerted = NULL"]
                args.append(owner)
            if owner_name is not None:
                sets.append("owner_name = ?")
                args.append(owner_name)
            db.execute(f"UPDATE cases SET {', '.join(sets)} WHERE number = ?", (*args, number))
            db.execute("INSERT INTO case_history (number, at, state, by, note, step) "
                       "VALUES (?,?,?,?,?,?)", (number, now, state, by, note, step))
        self._tx(write)
        return self.get(number)

    def note(self, number: str, by: str, note: str, now: float | None = None,
             step: str | None = None) -> None:
        """A row in the case's history that keeps its state (an urgent ladder's step nobody
        answered, records/outcomes.LadderStep). `step`: the ledger's id, written once."""
        now = now or time.time()

        def write(db: sqlite3.Connection) -> None:
            if step is not None and db.execute("SELECT 1 FROM case_history WHERE step = ?",
                                               (step,)).fetchone():
                return
            row = db.execute("SELECT state FROM cases WHERE number = ?", (number,)).fetchone()
            if row is None:
                raise CaseError(f"case {number} does not exist")
            db.execute("UPDATE cases SET updated = ? WHERE number = ?", (now, number))
            db.execute("INSERT INTO case_history (number, at, state, by, note, step) "
                       "VALUES (?,?,?,?,?,?)", (number, now, row[0], by, note, step))
        self._tx(write)

    def list(self, states: Collection[str] | None = None, kinds: Collection[str] | None = None,
             since: float | None = None, until: float | None = None) -> list[Case]:
        args: list[object]
        sql, args = f"SELECT {_FIELDS} FROM cases WHERE 1=1", []
        if states:
            sql += f" AND state IN ({','.join('?' * len(states))})"
            args += list(states)
        if kinds:
            sql += f" AND kind IN ({','.join('?' * len(kinds))})"
            args += list(kinds)
        if since is not None:
            sql += " AND opened >= ?"
            args.append(since)
        if until is not None:
            sql += " AND opened < ?"
            args.append(until)
        with self._lock:
            return [Case(*r) for r in self._db.execute(sql + " ORDER BY number", args)]

    def page(self, states: Collection[str] | None = None, kinds: Collection[str] | None = None,
             owners: Collection[str] | None = None, owner_name: str | None = None,
             overdue_at: float | None = None, limit: int = 100,
             offset: int = 0) -> tuple[int, builtins.list[Case]]:
        """(how many cases match, the `limit` of them from `offset`, newest first): one
        page of the office's list, counted and cut in SQL (a hundred thousand Case rows
        built for every page took 0.8-1.7 s). `owners`: the owner numbers to keep, or with
        `owner_name` any case whose owner_name holds it; `overdue_at`: open cases due
        before that instant (Case.overdue)."""
        args: list[object]
        sql, args = " FROM cases WHERE 1=1", []
        if states:
            sql += f" AND state IN ({','.join('?' * len(states))})"
            args += list(states)
        if kinds:
            sql += f" AND kind IN ({','.join('?' * len(kinds))})"
            args += list(kinds)
        if owners is not None or owner_name:
            either = [f"owner IN ({','.join('?' * len(owners or ()))})"] if owners else []
            args += list(owners or ())
            if owner_name:
                either.append("instr(owner_name, ?) > 0")
                args.append(owner_name)
            sql += f" AND ({' OR '.join(either) or '0'})"
        if overdue_at is not None:
            sql += (f" AND state IN ({','.join('?' * len(OPEN_STATES))}) AND due IS NOT NULL"
                    " AND due < ?")
            args += [*OPEN_STATES, overdue_at]
        with self._lock:
            total: int = self._db.execute("SELECT COUNT(*)" + sql, args).fetchone()[0]
            rows = self._db.execute(f"SELECT {_FIELDS}" + sql + " ORDER BY number DESC "
                                    "LIMIT ? OFFSET ?", (*args, limit, offset)).fetchall()
        return total, [Case(*r) for r in rows]

    def owners(self) -> builtins.list[str]:
        """Every owner number a case has (a few duty people): the page filters them by name."""
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT DISTINCT owner FROM cases "
                                                   "WHERE owner != ''")]

    def overdue(self, now: float | None = None) -> builtins.list[Case]:
        now = now or time.time()
        return [c for c in self.list(OPEN_STATES) if c.overdue(now)]

    def mark_alerted(self, number: str, who: str, now: float | None = None) -> None:
        column = {"owner": "owner_alerted", "head": "head_alerted"}[who]
        self._tx(lambda db: db.execute(f"UPDATE cases SET {column} = ? WHERE number = ?",
                                       (now or time.time(), number)))

    SETTABLE = ("rating", "topic") + tuple(DUTY_COLUMNS)

    def set_fields(self, number: str, fields: Mapping[str, object],
                   history: Mapping[str, Any] | None = None) -> None:
        """Set a case's `fields` (a rating): idempotent, no history row. With `history`
        (a topic: {state, by, note, step, at, expect}) the change is a row of the case's
        history too, written once by its step, and refused (CaseChanged) when the case
        changed since `expect` (its `updated` as the actor saw it)."""
        bad = set(fields) - set(self.SETTABLE)
        if bad:
            raise CaseError(f"case {number}: {', '.join(sorted(bad))} cannot be set")
        if history is not None:
            return self._set_with_history(number, fields, history)
        if fields:
            sets = ", ".join(f"{name} = ?" for name in fields)
            self._tx(lambda db: db.execute(f"UPDATE cases SET {sets} WHERE number = ?",
                                           (*fields.values(), number)))

    def _set_with_history(self, number: str, fields: Mapping[str, object],
                          h: Mapping[str, Any]) -> None:
        def write(db: sqlite3.Connection) -> None:
            if db.execute("SELECT 1 FROM case_history WHERE step = ?", (h["step"],)).fetchone():
                return
            row = db.execute("SELECT state, updated FROM cases WHERE number = ?",
                             (number,)).fetchone()
            if row is None:
                raise CaseError(f"case {number} does not exist")
            if h.get("expect") is not None and row[1] != h["expect"]:
                raise CaseChanged(f"case {number} changed since it was shown (now {row[0]})")
            sets = ", ".join(f"{name} = ?" for name in fields)
            db.execute(f"UPDATE cases SET {sets}, updated = ? WHERE number = ?",
                       (*fields.values(), h["at"], number))
            db.execute("INSERT INTO case_history (number, at, state, by, note, step) "
                       "VALUES (?,?,?,?,?,?)", (number, h["at"], row[0], h["by"], h["note"],
                                                h["step"]))
        self._tx(write)

    def set_pin(self, number: str, pin: str) -> None:
        """Give a case a new status PIN (records/office.try_pin: its old one was guessed at)."""
        self._tx(lambda db: db.execute("UPDATE cases SET pin = ? WHERE number = ?",
                                       (pin, number)))

    def restore(self, record: Mapping[str, Any]) -> bool:
        """Put a case back from its latest journal entry (records/office.py _journal: the
        record every case change commits to the outbox, kept on the spool) into a case book
        that lost it (a damaged cases.db set aside). A case the book already has is left as
        it is. Its PIN is not in the journal (it never leaves the box): a restored case
        answers key 9 on the caller's own phone only. Returns True when it was restored."""
        number = record.get("case_number")
        if not is_case_number(number) or record.get("kind") not in KINDS \
                or record.get("state") not in STATES:
            return False
        history = [h for h in record.get("history") or [] if isinstance(h, dict)]
        opened = float(record.get("opened") or time.time())
        updated = max([float(h.get("at") or opened) for h in history] + [opened])
        resolved = next((float(h.get("at") or updated) for h in reversed(history)
                         if h.get("state") == "resolved"), None)

        def write(db: sqlite3.Connection) -> bool:
            if db.execute("SELECT 1 FROM cases WHERE number = ?", (number,)).fetchone():
                return False
            db.execute("INSERT INTO cases (number, kind, state, caller, owner, owner_name, "
                       "detail, call_id, opened, updated, due, resolved) "
                       "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                       (number, record["kind"], record["state"], str(record.get("caller") or ""),
                        str(record.get("owner") or ""), str(record.get("owner_name") or ""),
                        str(record.get("detail") or ""), record.get("call_id"), opened, updated,
                        record.get("due"), resolved))
            if isinstance(record.get("topic"), str) and record["topic"]:
                db.execute("UPDATE cases SET topic = ? WHERE number = ?",
                           (record["topic"][:40], number))
            for h in history:
                db.execute("INSERT INTO case_history (number, at, state, by, note) "
                           "VALUES (?,?,?,?,?)",
                           (number, float(h.get("at") or opened), str(h.get("state") or ""),
                            str(h.get("by") or ""), str(h.get("note") or "")))
            self._restore_duties(db, number, record)
            return True
        return self._tx(write)

    def notice_once(self, key: str, now: float | None = None) -> bool:
        """True the first time `key` is seen: alerts (a cover gap, a missing calendar year,
        the daily summary) go out once, even across restarts."""
        def write(db: sqlite3.Connection) -> bool:
            cur = db.execute("INSERT OR IGNORE INTO notices (key, at) VALUES (?, ?)",
                             (key, now or time.time()))
            return cur.rowcount == 1
        return self._tx(write)


_FIELDS = ("number, kind, state, caller, owner, owner_name, detail, call_id, opened, updated, "
           "due, resolved, owner_alerted, head_alerted, rating, pin, topic")

# The status PIN: four digits from the system's CSPRNG, sent only in the caller's case SMS.
# Wrong PINs are bounded per calling number a day ([limits] wrong_pins_per_number_per_day),
# and a case's PIN is changed (and sent to its caller) after wrong_pins_per_case_per_day
# wrong ones from anywhere, so a guesser starts again and the rightful caller is never
# locked out (records/office.try_pin).
PIN_DIGITS = 4


def new_pin() -> str:
    return f"{secrets.randbelow(10 ** PIN_DIGITS):0{PIN_DIGITS}d}"


def same_number(a: str | None, b: str | None) -> bool:
    """Two calling numbers are the same phone (+86 or 0086 in front aside); never true for a
    withheld number."""
    return bool(normal_mobile(a)) and normal_mobile(a) == normal_mobile(b)
