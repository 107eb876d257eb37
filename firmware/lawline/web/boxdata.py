"""The box's data as the page reads it, through the box's own modules.

Cases, the SMS queue and the duty desk come from records/office.Office (the same object the
box and `lawline case` use, so a case resolved here queues the caller's SMS exactly as the
SMS command does); the outbox is sync/outbox.Outbox with the box's own targets (case
journal entries and audit entries go upstream with everything else); call records come from
records/report.call_records; the running box's parts from status.py's state.json.
Listing voicemails reads the outbox file read-only, as records/report.py does for calls.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from .. import status as box_status
from ..clock import Clock
from ..phone import national
from ..records import report
from ..records.office import Office
from ..sync.outbox import Outbox
from ..sync.settings import build_targets
from .fmt import Formats

if TYPE_CHECKING:
    from ..config import Config

log = logging.getLogger("lawline.web")
DATABASES = ("outbox.db", "cases.db")

VOICEMAIL_BOXES = {"consultation": "法律咨询", "service_request": "服务申请",
                   "urgent": "紧急纠纷", "complaint": "投诉"}


class BoxData:
    def __init__(self, cfg: Config,
                 accounts_people: Callable[[], dict[str, str]] | None = None) -> None:
        self.cfg = cfg
        self.spool = cfg.spool_dir
        self.spool.mkdir(parents=True, exist_ok=True)
        self.accounts_people = accounts_people or (lambda: {})
        self.formats = Formats(cfg.office.timezone)
        self.clock = Clock(cfg.office.timezone)     # the office's days, not the host's
        self._open()

    def _open(self) -> None:
        targets = build_targets(self.cfg)
        self.outbox = Outbox(self.spool / "outbox.db", self.spool, targets.names,
                             kinds=targets.kinds)
        self.office = Office.from_config(self.cfg, self.spool, self.outbox, clock=self.clock)
        self.cases = self.office.cases
        self.desk = self.office.desk
        self._files = self._identity()      # the files just opened (made, if they were new)

    def _identity(self) -> tuple[tuple[int, int] | None, ...]:
        """Which files outbox.db and cases.db are now (device and inode; None: missing)."""
        files: list[tuple[int, int] | None] = []
        for name in DATABASES:
            try:
                st = os.stat(self.spool / name)
                files.append((st.st_dev, st.st_ino))
            except OSError:
                files.append(None)
        return tuple(files)

    def fresh(self) -> bool:
        """Follow the box when it has set a damaged database aside and begun a new one
        (sync/sqlitefile.py): what the page reads and writes must go to the file in use, not
        to the one in damaged/. True when the page reopened them. A file still missing (the
        box is between setting aside and making the new one) keeps the old until it comes."""
        now = self._identity()
        if now == self._files or None in now:
            return False
        changed = [name for name, old, new in zip(DATABASES, self._files, now) if old != new]
        log.warning("web: the box began a new %s (the old set aside); the page reopens it",
                    " and ".join(changed))
        # The old objects are dropped, not closed: a request on a worker thread may still be
        # using one; its connection closes when that request lets go of it.
        self._open()
        return True

    def close(self) -> None:
        self.outbox.close()
        self.cases.close()

    # -- status -----------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        running = box_status.read(self.spool / "state.json")
        parts = []
        uptime = None
        if running:
            for name, st in sorted(running["parts"].items()):
                parts.append({"name": name, **st})
            try:
                started = os.stat(f"/proc/{running['pid']}").st_mtime
                uptime = time.time() - started
            except OSError:
                uptime = None
        usage = shutil.disk_usage(self.spool)
        pending = self.outbox.pending()
        oldest = self.outbox.oldest_pending()
        today = self.clock.today()
        calls = self.calls(today - dt.timedelta(days=7), today + dt.timedelta(days=1))
        return {"running": bool(running), "pid": running["pid"] if running else None,
                "parts": parts, "uptime": uptime, "version": __version__,
                "free_mb": usage.free / 2 ** 20, "total_mb": usage.total / 2 ** 20,
                "pending": len(pending), "oldest_age": (time.time() - oldest) if oldest else None,
                "last_calls": calls[:10]}

    # -- voicemails -------------------------------------------------------------------

    def _read(self, sql: str, args: Sequence[object] = ()) -> list[Any]:
        path = self.spool / "outbox.db"
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def voicemails(self, day: str | None = None, box: str | None = None,
                   limit: int = 300) -> list[dict[str, Any]]:
        sql = "SELECT key, created, record_json, files_json FROM items WHERE kind = 'voicemail'"
        args: list[object] = []
        if day:
            sql += " AND day = ?"
            args.append(day)
        rows = self._read(sql + " ORDER BY id DESC LIMIT ?", (*args, limit * 4))
        out = []
        for key, created, record, files in rows:
            record = json.loads(record)
            if box and record.get("box") != box:
                continue
            wav = json.loads(files).get("voicemail.wav")
            out.append({"key": key, "created": created, "record": record,
                        "box": record.get("box", ""), "caller": record.get("caller", ""),
                        "case": record.get("case_number", key),
                        "seconds": record.get("duration_s"),
                        "present": bool(wav) and (self.spool / wav).is_file()})
            if len(out) >= limit:
                break
        return out

    def voicemail(self, key: str) -> tuple[dict[str, Any], Path | None] | None:
        """(record, wav path or None) of one voicemail item, or None."""
        item = self.outbox.get(key)
        if item is None or item.kind != "voicemail":
            return None
        wav = item.files.get("voicemail.wav")
        return item.record, (wav if wav is not None and wav.is_file() else None)

    def recording(self, key: str) -> tuple[dict[str, Any], Path | None] | None:
        """(record, wav path or None) of one bridged call's recording item (issue 17.10),
        or None."""
        item = self.outbox.get(key)
        if item is None or item.kind != "recording":
            return None
        wav = item.files.get("recording.wav")
        return item.record, (wav if wav is not None and wav.is_file() else None)

    # -- calls and reports --------------------------------------------------------------

    def calls(self, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
        """Call records of the office's days [start, end), newest first. report.call_records
        cuts days in the host's zone: asked a day wider each side, and cut here by the
        office's day of each start ([office] timezone)."""
        rows = report.call_records(self.spool / "outbox.db", start - dt.timedelta(days=1),
                                   end + dt.timedelta(days=1))
        day_of = self.formats.day_of
        rows = [r for r in rows if start <= (day_of(r.get("started")) or start) < end]
        rows.sort(key=lambda r: _started(r.get("started")), reverse=True)
        return rows

    def names(self, number: str) -> str:
        """The name the office knows a phone number by (the rota's, else a page account's),
        or "" (a caller, or nobody's)."""
        want = national(number)
        if not want:
            return ""
        try:
            person = self.desk.roster.person(want)
        except Exception:  # noqa: BLE001 - a rota that does not load names nobody
            person = None
        if person is not None:
            name: str = person.name         # the roster's Person (duty/roster.py)
            return name
        return self.accounts_people().get(want, "")

    def report(self, start: dt.date, end: dt.date) -> dict[str, dict[str, Any]]:
        table, _ = report.build(self.office, start, end)
        return table

    def case_sms(self, number: str) -> list[Any]:
        return [r for r in self.office.sms.rows() if r["case_number"] == number]

    def rota_in_force(self) -> Path | None:
        """The first configured rota file when it loads cleanly (it is what the box uses)."""
        for path in self.desk.files:
            if Path(path).is_file():
                return Path(path)
        return None


def _started(text: str | None) -> float:
    """A call record's start as a sortable instant (records written in different zones)."""
    try:
        return dt.datetime.strptime(text or "", "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except ValueError:
        return 0.0
