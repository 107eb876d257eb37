"""The ingest: what the boxes uploaded since the last run, read once into the store.

A run lists each office's objects from `rescan_days` (7) before the newest day it already
has: a box uploads oldest first, so one that was offline for weeks uploads its backlog into
day folders after the newest the centre has of it, and the window (counted from that day,
not from today) covers an item that failed a while and arrived after newer ones. An office
seen for the first time is listed whole. A full sweep lists every day
of every office; the page's scheduler runs one every `full_every_hours` so an upload even
older than the window is not missed. What the listing shows that the store has not taken is
read in batches; each batch is one transaction holding its rows and its objects, so a run
killed at any instant leaves whole batches or nothing of a batch, and the next run takes up
exactly what is missing (tests/test_ingest_kill.py).

A record that cannot be read (damaged, too large, not JSON, not a known shape, claiming
another county) is refused with the reason: it is kept in `objects` as refused (the page
lists them), logged, and never stops the run. A refused object is read again when it
changes (a new ETag or size). Media files (a voicemail's WAV) are listed, not read.
"""

from __future__ import annotations

import collections
import datetime
import fcntl
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import records
from .store import TABLES

log = logging.getLogger("lawline.centre")

RECORD_FILE = "record.json"


@dataclass
class RunReport:
    run: int
    full: bool
    offices: int = 0
    listed: int = 0
    new: int = 0
    read: dict = field(default_factory=dict)      # kind -> count
    refused: list = field(default_factory=list)   # (key, reason)
    media: int = 0
    seconds: float = 0.0

    def line(self):
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.read.items())) or "no records"
        return (f"run {self.run} ({'full sweep' if self.full else 'incremental'}): "
                f"{self.offices} office(s), {self.listed} object(s) listed, {self.new} new: "
                f"{kinds}; {self.media} media file(s); {len(self.refused)} refused; "
                f"{self.seconds:.1f} s")


class IngestBusy(RuntimeError):
    """Another ingest holds the lock."""


class Ingest:
    def __init__(self, source, store, *, rescan_days=7, batch=2000, workers=16, listers=4,
                 lock_file=None, step=None):
        self.source = source
        self.store = store
        self.rescan_days = rescan_days
        self.batch = batch
        self.workers = workers          # GETs (or file reads) at once
        self.listers = listers          # offices listed at once
        self.lock_file = Path(lock_file) if lock_file else None
        self.step = step or (lambda name: None)

    def run(self, full=False):
        lock = self._lock()
        try:
            return self._run(full)
        finally:
            if lock is not None:
                lock.close()

    def _lock(self):
        if self.lock_file is None:
            return None
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.lock_file, "a")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            raise IngestBusy(f"another ingest is running (it holds {self.lock_file})") \
                from None
        return f

    def _run(self, full):
        began = time.monotonic()
        started = datetime.datetime.now(records.OFFICE_TZ).replace(tzinfo=None)
        store = self.store
        report = RunReport(store.next_run(), full)
        newest = dict(store.con.execute(
            "SELECT office, max(day) FROM objects GROUP BY office").fetchall())
        offices = self.source.offices()
        report.offices = len(offices)
        log.info("ingest: run %d (%s) of %s: %d office(s)", report.run, "full sweep" if full
                 else f"from {self.rescan_days} days before each office's newest day",
                 self.source.describe(), len(offices))
        # Three stages at once, so the server, the reader and the database are all busy:
        # `listers` threads list offices (taken in order), one thread reads a batch
        # (`workers` GETs at once, source.read_many) and parses it while the main thread
        # writes the one before it.
        with ThreadPoolExecutor(self.listers, thread_name_prefix="centre-list") as lister, \
                ThreadPoolExecutor(1, thread_name_prefix="centre-read") as reader:
            listings = self._listings(lister, offices, lambda office: None if full or
                                      office not in newest else
                                      _days_before(newest[office], self.rescan_days))
            previous = None
            for batch in self._batches(report, listings):
                reading = (batch, reader.submit(self._read, batch))
                if previous is not None:
                    self._batch(report, *previous)
                previous = reading
            if previous is not None:
                self._batch(report, *previous)
        if report.read.get("case"):
            store.refresh()
        report.seconds = time.monotonic() - began
        store.add_run({"run": report.run, "started": started,
                       "ended": datetime.datetime.now(records.OFFICE_TZ).replace(tzinfo=None),
                       "full_sweep": full, "source": self.source.describe(),
                       "listed": report.listed, "new": report.new,
                       "refused": len(report.refused), "seconds": report.seconds})
        log.info("ingest: %s", report.line())
        return report

    def _listings(self, lister, offices, since):
        """The listing of each office in turn (futures), never more than two rounds of the
        listers ahead of the reader: a listing that ran minutes ahead would hold its
        objects in memory, and the server's cache of what it listed may be gone by the time
        they are read."""
        ahead = collections.deque()
        left = iter(offices)
        while True:
            while len(ahead) < 2 * self.listers:
                office = next(left, None)
                if office is None:
                    break
                ahead.append(lister.submit(self._list, office, since(office)))
            if not ahead:
                return
            yield ahead.popleft()

    def _list(self, office, since):
        """(objects listed, [(object, retry)] to read) of one office: those the store has
        not taken, and refused ones that changed."""
        known = self.store.known(office, since, cursor=self.store.cursor())
        listed, todo = 0, []
        for obj in self.source.list(office, since):
            listed += 1
            seen = known.get(obj.key)
            if seen is None:
                todo.append((obj, False))
            elif seen[1] == "refused" and seen[0] != obj.tag:
                todo.append((obj, True))          # a refused object changed: again
        return listed, todo

    def _batches(self, report, listings):
        pending = []
        for i, listing in enumerate(listings):
            listed, todo = listing.result()
            report.listed += listed
            report.new += len(todo)
            if i == 0:
                self.step("listed")
            pending.extend(todo)
            while len(pending) >= self.batch:
                yield pending[:self.batch]
                pending = pending[self.batch:]
        if pending:
            yield pending

    def _read(self, batch):
        """In the reader thread: for each (object, retry) of the batch, (kind, row),
        ("media", None), or (None, why refused). Media files and objects the listing shows
        too large are not fetched."""
        results = [None] * len(batch)
        wanted = []
        for i, (obj, _retry) in enumerate(batch):
            try:
                _office, _day, _item, name = records.split_key(obj.key)
            except records.RecordRefused as exc:
                results[i] = None, str(exc)
                continue
            if name != RECORD_FILE:
                results[i] = "media", None
            elif obj.size > records.MAX_RECORD_BYTES:
                results[i] = None, (f"record of {obj.size} bytes, more than "
                                    f"{records.MAX_RECORD_BYTES}")
            else:
                wanted.append(i)
        bodies = self.source.read_many([batch[i][0] for i in wanted], self.workers)
        for i, (body, why) in zip(wanted, bodies):
            try:
                if body is None:
                    raise records.RecordRefused(why)
                results[i] = records.read(batch[i][0].key, body)
            except records.RecordRefused as exc:
                results[i] = None, str(exc)
        return results

    def _batch(self, report, batch, reading):
        results = reading.result()
        now = datetime.datetime.now(records.OFFICE_TZ).replace(tzinfo=None)
        self.step("fetched")
        objects, rows = [], {kind: [] for kind in TABLES}
        counted, refused, media = {}, [], 0
        for (obj, retry), (kind, row) in zip(batch, results):
            entry = {"key": obj.key, "office": obj.office, "day": obj.day, "size": obj.size,
                     "tag": obj.tag, "kind": kind, "status": "read", "reason": None,
                     "run": report.run, "seen": now, "retry": retry}
            objects.append(entry)
            if kind is None:
                entry.update(status="refused", reason=row[:300])
                refused.append((obj.key, row))
                log.warning("ingest: refused %r: %s", obj.key, row)
                continue
            if kind == "media":
                entry["status"] = "media"
                media += 1
                continue
            if kind in rows:
                rows[kind].append(row)
            else:
                entry["status"] = "other"
            counted[kind] = counted.get(kind, 0) + 1
        taken = self.store.write(report.run, objects, rows,
                                 before_commit=lambda: self.step("before commit"))
        if taken:
            log.warning("ingest: %d object(s) of this batch were taken before (a run cut "
                        "short); not counted again", taken)
        self.step("committed")
        for kind, n in counted.items():
            report.read[kind] = report.read.get(kind, 0) + n
        report.refused.extend(refused)
        report.media += media


def _days_before(day, days):
    return (datetime.date.fromisoformat(day) - datetime.timedelta(days=days)).isoformat()


def cleanup_temp():
    """Batch folders (centre-batch-<pid>-...) that a killed run left in the temporary
    folder; a folder whose process still runs is another ingest's, and stays."""
    import tempfile
    for stale in Path(tempfile.gettempdir()).glob("centre-batch-*"):
        pid = stale.name.split("-")[2]
        if pid.isdigit() and _alive(int(pid)):
            continue
        for f in stale.glob("*"):
            try:
                f.unlink()
            except OSError:
                pass
        try:
            os.rmdir(stale)
        except OSError:
            pass


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
