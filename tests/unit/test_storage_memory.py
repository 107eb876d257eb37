"""The box's two long-lived SQLite connections (the case book and the outbox) keep their page
caches small, so the box's memory does not climb with the files over its first thousand
calls (make soak measured +3.8 MB per 1000 calls with SQLite's default 2 MiB each).

SQLite counts its page-cache memory itself (sqlite3_status64, SQLITE_STATUS_PAGECACHE_OVERFLOW:
with no page-cache buffer configured, every page it caches); the count is for the whole
process, so the test measures what its own writes add."""

import ctypes
import sqlite3
import time

import pytest

from lawline.records.calls import CallBook
from lawline.records.cases import Cases
from lawline.sync import sqlitefile
from lawline.sync.outbox import Outbox

SQLITE_STATUS_PAGECACHE_OVERFLOW = 2
RECORD = {"caller": "13800138000", "branch": "voicemail", "said": "劳动争议，工资拖欠" * 40}


def loaded_sqlite():
    """The SQLite library Python's sqlite3 module runs on, as this process mapped it."""
    sqlite3.connect(":memory:").close()
    with open("/proc/self/maps") as maps:
        for line in maps:
            if "/libsqlite3" in line:
                return ctypes.CDLL(line.split(None, 5)[5].strip())
    pytest.fail("this Python's sqlite3 module maps no libsqlite3 (a static build?): the "
                "test reads SQLite's own counters from it, as on Debian")


def page_cache_bytes():
    lib = loaded_sqlite()
    current, highest = ctypes.c_int64(), ctypes.c_int64()
    if lib.sqlite3_status64(SQLITE_STATUS_PAGECACHE_OVERFLOW, ctypes.byref(current),
                            ctypes.byref(highest), 0) != 0:
        pytest.fail("sqlite3_status64 refused SQLITE_STATUS_PAGECACHE_OVERFLOW")
    return current.value


def test_a_thousand_calls_written_leave_the_page_caches_at_their_cap(tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    outbox = Outbox(tmp_path / "outbox.db", spool, ["prefecture"])
    cases = Cases(tmp_path / "cases.db")
    calls = CallBook(cases._db, cases._lock)
    before = page_cache_bytes()
    try:
        for n in range(1000):
            key = f"call-{n:04d}"
            outbox.commit(key, "call", dict(RECORD, n=n), {})
            calls.add_call(key, time.time(), "13800138000", dict(RECORD, n=n))
            for due in outbox.due("prefecture"):
                outbox.mark_done(due.item_id, "prefecture")
        grown = page_cache_bytes() - before
        written = sum(p.stat().st_size for p in tmp_path.glob("*.db*"))
    finally:
        outbox.close()
        cases._db.close()
    # Several MB went through both files; SQLite's default would have kept 2 MiB each.
    assert written > 4 * 2**20, f"the test wrote only {written} bytes: too little to tell"
    cap = 2 * sqlitefile.PAGE_CACHE_KIB * 1024
    assert grown <= cap * 1.25, (f"the page caches grew by {grown} bytes over 1000 calls, "
                                 f"past the two connections' cap of {cap}")
