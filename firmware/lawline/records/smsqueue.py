"""The SMS queue: every text the box owes somebody, kept in SQLite until the modem took it.

The call flow never waits for the network to accept an SMS: it queues the text (durable,
in spool/cases.db) and goes on; one task on the loop hands the texts to the line driver
(`modem.send_sms(number, text) -> [message references]`, which does the UCS-2 encoding and
the splitting into parts) one at a time, retrying with backoff when the modem refuses. A
power cut between "queued" and "sent" only delays the text.

Texts go out by priority, then in the order they were queued: urgent escalations first,
then alerts to office staff (duty people, the head), then texts to callers (receipts,
replies). Two abuse limits live here ([limits], records/limits.py): a number outside the
office gets at most `sms_per_number_per_day` texts a day (more are kept as 'limited', never
sent), and the box sends callers at most `sms_per_hour` texts in any hour (more wait their
turn). Staff alerts are never held by that cap nor queued behind strangers: after eighty
callers' receipts, an urgent escalation to the duty mediator is still the next text out.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from typing import Awaitable, Callable, TypedDict

from ..errors import LawlineError
from .limits import Limits, who

log = logging.getLogger("lawline.sms")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sms(
    id INTEGER PRIMARY KEY,
    number TEXT NOT NULL,
    text TEXT NOT NULL,
    purpose TEXT NOT NULL,
    case_number TEXT,
    created REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL,
    last_error TEXT,
    sent REAL,
    refs TEXT,
    priority INTEGER NOT NULL DEFAULT 2,
    ref TEXT
);
CREATE INDEX IF NOT EXISTS sms_due ON sms(state, next_attempt);
"""

# Priorities: lower goes first. Who a text is for decides, except the urgent escalation.
URGENT, STAFF, CALLER = 0, 1, 2
URGENT_PURPOSES = frozenset({"urgent escalation"})

MAX_ATTEMPTS = 8
POLL = 30.0
BACKOFF = (5, 15, 60, 300, 900, 1800, 3600)

# async fn(number, text) -> the message references (line/modem.py send_sms)
Sender = Callable[[str, str], Awaitable[list[int] | None]]


class SmsRow(TypedDict):
    """One text as rows() gives it (the office page, `lawline case`)."""
    id: int
    number: str
    text: str
    purpose: str
    case_number: str | None
    state: str
    attempts: int
    last_error: str | None
    created: float
    sent: float | None


class SmsQueue:
    def __init__(self, db: sqlite3.Connection, lock: threading.Lock | None = None) -> None:
        """`db` is a sqlite3 connection in autocommit mode (the case book's)."""
        self._db = db
        self._lock = lock or threading.Lock()
        with self._lock:
            self._db.executescript(_SCHEMA)
            columns = [r[1] for r in self._db.execute("PRAGMA table_info(sms)")]
            if "priority" not in columns:      # a queue written before priorities existed
                self._db.execute("ALTER TABLE sms ADD COLUMN priority INTEGER NOT NULL "
                                 "DEFAULT 2")
            if "ref" not in columns:           # ... and before the ledger's step refs
                self._db.execute("ALTER TABLE sms ADD COLUMN ref TEXT")
        self._wake: asyncio.Event | None = None
        self.sender: Sender | None = None    # async fn(number, text) -> list[int]
        self.limits: Limits | None = None    # records/limits.Limits, set by the office
        self.exempt: Callable[[str], bool] = lambda number: False   # office staff: no cap
        self._held = False            # the hourly cap holds texts back now

    def queue(self, number: str, text: str, purpose: str, case_number: str | None = None,
              kick: bool = True, ref: str | None = None) -> int | None:
        """Owe `number` this text. Returns the row id, or None for an empty number."""
        if not number:
            log.info("sms: no number for the %s message%s; not sent", purpose,
                     f" of case {case_number}" if case_number else "")
            return None
        now = time.time()
        state = "limited" if self._over_daily_cap(number, purpose, now) else "pending"
        with self._lock:
            cur = self._db.execute("INSERT INTO sms (number, text, purpose, case_number, "
                                   "created, next_attempt, state, priority, ref) "
                                   "VALUES (?,?,?,?,?,?,?,?,?)",
                                   (number, text, purpose, case_number, now, now, state,
                                    self.priority(number, purpose), ref))
        if state == "limited":
            return None
        log.info("sms: %s message to %s queued%s (%d characters)", purpose, number,
                 f" for case {case_number}" if case_number else "", len(text))
        if kick:
            self.kick()
        return cur.lastrowid

    def queue_once(self, number: str, text: str, purpose: str, case_number: str | None,
                   ref: str | None = None) -> int | None:
        """queue() unless this text is owed already: by `ref` (a ledger step: the same move
        applied again after a cut) when given, else when this case already owes `number` a
        `purpose` text (records/ledger.py applies an entry again after a cut). Never kicks
        the sender: it may run off the loop, so its caller kicks. Returns the row id, or
        None when there was one already."""
        if not number:
            return self.queue(number, text, purpose, case_number)
        with self._lock:
            if ref is not None:
                there = self._db.execute("SELECT 1 FROM sms WHERE ref = ? AND purpose = ? AND "
                                         "number = ?", (ref, purpose, number)).fetchone()
            else:
                there = self._db.execute("SELECT 1 FROM sms WHERE case_number = ? AND "
                                         "purpose = ? AND number = ?",
                                         (case_number, purpose, number)).fetchone()
        if there:
            return None
        return self.queue(number, text, purpose, case_number, kick=False, ref=ref)

    def priority(self, number: str, purpose: str) -> int:
        """URGENT for an urgent escalation, STAFF for anyone the office lists, else CALLER."""
        if purpose in URGENT_PURPOSES:
            return URGENT
        return STAFF if self.exempt(number) else CALLER

    def _over_daily_cap(self, number: str, purpose: str, now: float) -> bool:
        if self.limits is None or self.exempt(number):
            return False
        with self._lock:
            rows = self._db.execute("SELECT number FROM sms WHERE created >= ? AND "
                                    "state != 'limited'", (self.limits.clock.midnight(now),)).fetchall()
        cap = self.limits.cfg.sms_per_number_per_day
        sent = sum(1 for (n,) in rows if who(n) == who(number))
        if sent < cap:
            return False
        self.limits.hit("sms_per_number", number, f"{sent} SMS today (cap {cap}); the "
                        f"{purpose} message is not sent")
        return True

    def _hourly_wait(self, now: float) -> float:
        """Seconds until the hourly cap lets one more text to a caller go (0: now). Texts to
        staff are neither counted nor held."""
        if self.limits is None:
            return 0
        cap = self.limits.cfg.sms_per_hour
        with self._lock:
            rows = self._db.execute("SELECT sent FROM sms WHERE state = 'sent' AND sent > ? "
                                    "AND priority >= ? ORDER BY sent",
                                    (now - 3600, CALLER)).fetchall()
        if len(rows) < cap:
            self._held = False
            return 0
        wait: float = rows[len(rows) - cap][0] + 3600 - now
        if not self._held:
            self._held = True
            self.limits.hit("sms_per_hour", "all", f"{len(rows)} SMS to callers in the last "
                            f"hour (cap {cap}); the rest wait {wait:.0f} s")
        return max(wait, 0.05)

    def kick(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def rows(self, state: str | None = None, purpose: str | None = None,
             since: float | None = None) -> list[SmsRow]:
        args: list[str | float]
        sql, args = "SELECT id, number, text, purpose, case_number, state, attempts, " \
                    "last_error, created, sent FROM sms WHERE 1=1", []
        if state:
            sql += " AND state = ?"
            args.append(state)
        if purpose:
            sql += " AND purpose = ?"
            args.append(purpose)
        if since is not None:
            sql += " AND created >= ?"
            args.append(since)
        with self._lock:
            return [SmsRow(id=r[0], number=r[1], text=r[2], purpose=r[3], case_number=r[4],
                           state=r[5], attempts=r[6], last_error=r[7], created=r[8], sent=r[9])
                    for r in self._db.execute(sql + " ORDER BY id", args)]

    def _due(self, now: float, callers: bool = True) -> tuple[int, str, str, str, int] | None:
        """The next text due: the most urgent first, then the oldest; none to a caller while
        the hourly cap holds (`callers` False)."""
        below = CALLER + 1 if callers else CALLER
        with self._lock:
            row: tuple[int, str, str, str, int] | None = self._db.execute(
                "SELECT id, number, text, purpose, attempts FROM sms WHERE state = 'pending' "
                "AND next_attempt <= ? AND priority < ? ORDER BY priority, id LIMIT 1",
                (now, below)).fetchone()
        return row

    def _next_wake(self, hold: float = 0.0) -> float | None:
        """When the next text is due: a caller's not before the hourly cap lets it go."""
        with self._lock:
            staff, callers = self._db.execute(
                "SELECT MIN(CASE WHEN priority < ? THEN next_attempt END), "
                "MIN(CASE WHEN priority >= ? THEN next_attempt END) FROM sms "
                "WHERE state = 'pending'", (CALLER, CALLER)).fetchone()
        if callers is not None and hold:
            callers = max(callers, time.time() + hold)
        times = [t for t in (staff, callers) if t is not None]
        return min(times) if times else None

    async def send_due(self) -> int:
        """Send every text that is due now; returns how many went out."""
        sent = 0
        while True:
            now = time.time()
            row = self._due(now, callers=not self._hourly_wait(now))
            if row is None or self.sender is None:
                return sent
            sms_id, number, text, purpose, attempts = row
            try:
                refs = await self.sender(number, text)
            except Exception as exc:  # noqa: BLE001 - one bad text must not stop the queue
                if not isinstance(exc, (LawlineError, OSError, asyncio.TimeoutError)):
                    log.error("sms: %s message to %s: unexpected %r", purpose, number, exc)
                attempts += 1
                state = "failed" if attempts >= MAX_ATTEMPTS else "pending"
                delay = BACKOFF[min(attempts - 1, len(BACKOFF) - 1)]
                with self._lock:
                    self._db.execute("UPDATE sms SET attempts = ?, state = ?, last_error = ?, "
                                     "next_attempt = ? WHERE id = ?",
                                     (attempts, state, str(exc)[:300], time.time() + delay,
                                      sms_id))
                if state == "failed":
                    log.error("sms: %s message to %s given up after %d attempts: %s", purpose,
                              number, attempts, exc)
                else:
                    log.warning("sms: %s message to %s not sent (%s); retry in %d s",
                                purpose, number, exc, delay)
                continue
            with self._lock:
                self._db.execute("UPDATE sms SET state = 'sent', attempts = ?, sent = ?, "
                                 "refs = ? WHERE id = ?",
                                 (attempts + 1, time.time(), ",".join(map(str, refs or [])),
                                  sms_id))
            log.info("sms: %s message to %s sent (%d part(s))", purpose, number,
                     len(refs or []) or 1)
            sent += 1

    async def run(self, stop: asyncio.Event) -> None:
        self._wake = asyncio.Event()
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                await self.send_due()
                nxt = self._next_wake(self._hourly_wait(time.time()))
                # wake at least every POLL seconds: `lawline case` queues texts from
                # another process, which cannot kick this loop
                timeout = POLL if nxt is None else min(POLL, max(0.05, nxt - time.time()))
                wake = asyncio.ensure_future(self._wake.wait())
                await asyncio.wait({wake, stopping}, timeout=timeout,
                                   return_when=asyncio.FIRST_COMPLETED)
                wake.cancel()
                self._wake.clear()
        finally:
            stopping.cancel()
