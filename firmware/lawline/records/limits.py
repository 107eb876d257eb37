"""Abuse limits: how much one calling number may make the box do in a day, and how many SMS
the box sends in an hour ([limits] in config.py).

A box on a public number meets callers who hold the line, fill the case book, make it ring
every mediator or text a stranger over and over. Each limit here is counted in spool/cases.db
(a restart does not reset it), and every time one is hit that is one log line and one row in
`limit_hits`, which the periodic report counts (records/report.py). Days are the box's local
calendar days.

A caller without a number (withheld, or an analog line without caller-ID service, where
every caller is one) is not one person: pooling them under one key let the seventh withheld
caller of the day be sent away for six others' cases, and one prank caller who hides their
number spend everybody's day. So by default (`[limits] withheld_callers = "per_call"`) each
withheld call is its own caller: the daily limits hold per call, which makes them per-call
limits (a call opens one case, rings all mediators once, has its status tries). An office
plagued by withheld pranks may choose `"pooled"`: all withheld callers share one number's
daily allowance, as before.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from typing import TYPE_CHECKING, Iterable, Protocol

from ..clock import Clock
from ..duty.roster import normal_mobile
from ..settings import LimitsSection

if TYPE_CHECKING:
    from .cases import Case

log = logging.getLogger("lawline.limits")

WITHHELD = "withheld"
# what -> words for the report
NAMES = {
    "call_length": "通话超过最长时长",
    "menu_tries": "菜单尝试次数用完",
    "cases_per_day": "同一号码当日案件数已满",
    "sms_per_number": "同一号码当日短信数已满",
    "ring_alls_per_day": "同一号码当日紧急群呼已满",
    "sms_per_hour": "每小时短信总数已满",
    "status_tries_call": "本次通话查询次数用完",
    "status_tries_day": "同一号码当日查询次数已满",
    "case_pins_day": "同一案件密码多次输错，已更换密码",
    "pins_per_number_day": "同一号码当日密码错误次数已满",
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS limit_counts(
    day TEXT NOT NULL, what TEXT NOT NULL, who TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (day, what, who)
);
CREATE TABLE IF NOT EXISTS limit_hits(
    id INTEGER PRIMARY KEY, at REAL NOT NULL, what TEXT NOT NULL, who TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS limit_hits_at ON limit_hits(at);
"""


def who(number: str | None, call_id: str | None = None, pooled: bool = False) -> str:
    """The counting key of a calling number: +86 and 0086 dropped. A withheld number ('')
    is its call ("withheld 261207-101500-ab12") unless withheld callers are `pooled` (or no
    call is named: SMS, the office's own counts), then "withheld"."""
    key = normal_mobile(number)
    if key:
        return key
    return WITHHELD if pooled or not call_id else f"{WITHHELD} {call_id}"


class CaseList(Protocol):
    """What cases_left reads of the case book (records/cases.Cases)."""

    def list(self, *, since: float | None = None) -> Iterable[Case]: ...


class Limits:
    def __init__(self, cfg: LimitsSection, db: sqlite3.Connection,
                 lock: threading.Lock | None = None, clock: Clock | None = None) -> None:
        """`cfg` is the [limits] section; `db` the case book's sqlite3 connection; `clock`
        the office's (a day is the office's day: clock.py)."""
        self.cfg = cfg
        self.clock = clock or Clock()
        self.pooled = cfg.withheld_callers == "pooled"
        self._db = db
        self._lock = lock or threading.Lock()
        with self._lock:
            self._db.executescript(_SCHEMA)

    def who(self, number: str | None, call_id: str | None = None) -> str:
        """The counting key of this caller under the office's withheld policy."""
        return who(number, call_id, self.pooled)

    def used(self, what: str, number: str | None, now: float | None = None,
             call_id: str | None = None) -> int:
        with self._lock:
            row = self._db.execute("SELECT n FROM limit_counts WHERE day = ? AND what = ? AND "
                                   "who = ?", (self.clock.day(now), what, self.who(number, call_id))
                                   ).fetchone()
        return row[0] if row else 0

    def take(self, what: str, number: str | None, now: float | None = None,
             call_id: str | None = None) -> int:
        """Count one use of `what` by `number` (in call `call_id`) today; returns the count
        with this one."""
        key = (self.clock.day(now), what, self.who(number, call_id))
        with self._lock:
            self._db.execute("INSERT INTO limit_counts (day, what, who, n) VALUES (?, ?, ?, 1) "
                             "ON CONFLICT (day, what, who) DO UPDATE SET n = n + 1", key)
            n: int = self._db.execute("SELECT n FROM limit_counts WHERE day = ? AND what = ? "
                                      "AND who = ?", key).fetchone()[0]
            return n

    def count(self, what: str, key: str, now: float | None = None) -> int:
        """Today's count of `what` for a key that is not a caller ("case 2612070001")."""
        with self._lock:
            row = self._db.execute("SELECT n FROM limit_counts WHERE day = ? AND what = ? AND "
                                   "who = ?", (self.clock.day(now), what, key)).fetchone()
        return row[0] if row else 0

    def add(self, what: str, key: str, n: int = 1, now: float | None = None) -> int:
        """Add `n` to today's count of `what` for `key`; returns the new count."""
        row = (self.clock.day(now), what, key, n)
        with self._lock:
            self._db.execute("INSERT INTO limit_counts (day, what, who, n) VALUES (?, ?, ?, ?) "
                             "ON CONFLICT (day, what, who) DO UPDATE SET n = n + excluded.n", row)
            total: int = self._db.execute("SELECT n FROM limit_counts WHERE day = ? AND "
                                          "what = ? AND who = ?", row[:3]).fetchone()[0]
            return total

    def wrong_pins(self, case_number: str, now: float | None = None) -> int:
        """Wrong PINs keyed for this case's present PIN today, from any calling number."""
        return self.count("case_pin", f"case {case_number}", now)

    def hit(self, what: str, number: str | None, detail: str = "", now: float | None = None,
            call_id: str | None = None) -> None:
        """A limit was reached: one log line, one row for the report."""
        key = self.who(number, call_id)
        log.warning("limit hit: %s by %s: %s", what, key, detail)
        with self._lock:
            self._db.execute("INSERT INTO limit_hits (at, what, who, detail) VALUES (?,?,?,?)",
                             (now or time.time(), what, key, detail))

    def hits(self, since: float, until: float) -> dict[str, int]:
        """{what: times hit} in [since, until) (timestamps)."""
        with self._lock:
            rows = self._db.execute("SELECT what, COUNT(*) FROM limit_hits WHERE at >= ? AND "
                                    "at < ? GROUP BY what", (since, until)).fetchall()
        return dict(rows)

    # -- the daily limits the call flow asks about -------------------------------------------

    def cases_left(self, cases: CaseList, caller: str | None, now: float | None = None,
                   call_id: str | None = None) -> int:
        """How many more cases `caller` (in call `call_id`) may open today, counted from the
        case book: a withheld caller's are its call's, or every withheld caller's when
        pooled."""
        mine = self.who(caller, call_id)
        opened = [c for c in cases.list(since=self.clock.midnight(now))
                  if self.who(c.caller, c.call_id) == mine]
        return self.cfg.cases_per_number_per_day - len(opened)
