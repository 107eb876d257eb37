"""Abuse limits: how much one calling number may make the box do in a day, and how many SMS
the box sends in an hour ([limits] in config.py).

A box on a public number meets callers who hold the line, fill the case book, make it ring
every mediator or text a stranger over and over. Each limit here is counted in spool/cases.db
(a restart does not reset it), and every time one is hit that is one log line and one row in
`limit_hits`, which the periodic report counts (records/report.py). Days are the box's local
calendar days; a withheld number counts as one number ("withheld").
"""

import logging
import threading
import time

from ..duty.roster import normal_mobile

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
    "case_pins_day": "同一案件当日密码错误次数已满",
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


def who(number):
    """The counting key of a calling number: +86 and 0086 dropped, '' is "withheld"."""
    return normal_mobile(number) or WITHHELD


def today(now=None):
    return time.strftime("%Y-%m-%d", time.localtime(now))


def midnight(now=None):
    t = time.localtime(now)
    return time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0, 0, 0, -1))


class Limits:
    def __init__(self, cfg, db, lock=None):
        """`cfg` is the [limits] section; `db` the case book's sqlite3 connection."""
        self.cfg = cfg
        self._db = db
        self._lock = lock or threading.Lock()
        with self._lock:
            self._db.executescript(_SCHEMA)

    def used(self, what, number, now=None):
        with self._lock:
            row = self._db.execute("SELECT n FROM limit_counts WHERE day = ? AND what = ? AND "
                                   "who = ?", (today(now), what, who(number))).fetchone()
        return row[0] if row else 0

    def take(self, what, number, now=None):
        """Count one use of `what` by `number` today; returns the count with this one."""
        key = (today(now), what, who(number))
        with self._lock:
            self._db.execute("INSERT INTO limit_counts (day, what, who, n) VALUES (?, ?, ?, 1) "
                             "ON CONFLICT (day, what, who) DO UPDATE SET n = n + 1", key)
            return self._db.execute("SELECT n FROM limit_counts WHERE day = ? AND what = ? AND "
                                    "who = ?", key).fetchone()[0]

    def wrong_pins(self, case_number, now=None):
        """Wrong PINs keyed for this case today, from any calling number."""
        with self._lock:
            row = self._db.execute("SELECT n FROM limit_counts WHERE day = ? AND what = ? AND "
                                   "who = ?", (today(now), "case_pin", f"case {case_number}")
                                   ).fetchone()
        return row[0] if row else 0

    def wrong_pin(self, case_number, now=None):
        """Count one wrong PIN for this case; returns today's count with this one."""
        key = (today(now), "case_pin", f"case {case_number}")
        with self._lock:
            self._db.execute("INSERT INTO limit_counts (day, what, who, n) VALUES (?, ?, ?, 1) "
                             "ON CONFLICT (day, what, who) DO UPDATE SET n = n + 1", key)
            return self._db.execute("SELECT n FROM limit_counts WHERE day = ? AND what = ? AND "
                                    "who = ?", key).fetchone()[0]

    def hit(self, what, number, detail="", now=None):
        """A limit was reached: one log line, one row for the report."""
        log.warning("limit hit: %s by %s: %s", what, who(number), detail)
        with self._lock:
            self._db.execute("INSERT INTO limit_hits (at, what, who, detail) VALUES (?,?,?,?)",
                             (now or time.time(), what, who(number), detail))

    def hits(self, since, until):
        """{what: times hit} in [since, until) (timestamps)."""
        with self._lock:
            rows = self._db.execute("SELECT what, COUNT(*) FROM limit_hits WHERE at >= ? AND "
                                    "at < ? GROUP BY what", (since, until)).fetchall()
        return dict(rows)

    # -- the daily limits the call flow asks about -------------------------------------------

    def cases_left(self, cases, caller, now=None):
        """How many more cases `caller` may open today (counted from the case book)."""
        since = midnight(now)
        mine = [c for c in cases.list(since=since) if who(c.caller) == who(caller)]
        return self.cfg.cases_per_number_per_day - len(mine)
