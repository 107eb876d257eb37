"""Case numbers: what the caller writes down and keys in later.

Nine digits, `YYMMDD` then a three-digit sequence of the day (260112007 = the seventh case
of 12 January 2026): short enough to read back and key in, unique on this line, and it tells
staff the day at a glance. Upstream paths are prefixed by the office id, so two counties
never collide. The counter lives in SQLite so a restart never reuses a number.
"""

import sqlite3
import threading
import time
from pathlib import Path


class CaseNumbers:
    def __init__(self, db_path):
        self.db_path = Path(db_path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.db_path), check_same_thread=False,
                                   isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS case_counter "
                         "(day TEXT PRIMARY KEY, last INTEGER NOT NULL)")

    def next(self, now=None):
        day = time.strftime("%y%m%d", time.localtime(now))
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT last FROM case_counter WHERE day = ?",
                                       (day,)).fetchone()
                seq = (row[0] if row else 0) + 1
                if seq > 999:
                    raise OverflowError(f"more than 999 cases on {day}")
                self._db.execute("INSERT OR REPLACE INTO case_counter (day, last) VALUES (?, ?)",
                                 (day, seq))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return f"{day}{seq:03d}"

    def close(self):
        self._db.close()
