"""The call-outcome ledger: every outcome of a call, or of a staff action, in one durable step.

An outcome touches two databases (outbox.db holds what is owed upstream; cases.db the case
book and the SMS queue), so the one transaction is a journal entry, `spool/ledger/<key>.json`,
that says everything the outcome writes, decided beforehand by the pure planner
(records/outcomes.py). `commit(entry)` fsyncs the files its items carry (a recording's bytes,
then its name), writes and fsyncs the entry: that write is the commit, and from then on a
power cut loses nothing. The entry is then applied step by step, each step idempotent by its
own key (an outbox item by its key; a case by its number; a case move by the step id kept in
the case's history; an SMS by case, purpose and number), and removed once every step is done.
At start-up (`replay`) every entry still there is applied again before the spool is
re-scanned: what was done before the cut is a no-op the second time, so each outcome ends
with its case, items and SMS exactly once.

A move that was planned on a case that changed meanwhile (the office page showed it, an SMS
resolved it since) is refused whole before anything is written, and the actor is told
(records/cases.CaseChanged): a move is always its entry's first step.

`commit` blocks (fsync, SQLite): the call runs it with asyncio.to_thread, never on the loop,
and kicks the SMS sender and the uploader itself afterwards.

Why a journal and not one database: the outbox and the case book have separate damaged-file
handling (set aside, counter floor, restore from journal) and separate readers (`lawline
outbox`, `lawline case`, the office page); the journal costs one small file and two fsyncs.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..sync.durable import fsync_dir, fsync_file, write_replace
from .calls import CallBook
from .cases import CaseError, Cases
from .outcomes import Entry, Step

if TYPE_CHECKING:
    from ..sync.outbox import Outbox
    from .duties import Availability
    from .smsqueue import SmsQueue

log = logging.getLogger("lawline.ledger")

FOLDER = "ledger"
OLD_FOLDER = "messages"        # boxes before the ledger journalled voicemails here


def _no_hook(step: str) -> None:
    pass


class Ledger:
    """The journal under `spool/ledger` and what it applies to: the outbox, the case book
    and the SMS queue."""

    def __init__(self, spool_dir: Path, outbox: Outbox, cases: Cases, sms: SmsQueue | None,
                 calls: CallBook | None = None) -> None:
        self.spool = Path(spool_dir)
        self.folder = self.spool / FOLDER
        self.outbox, self.cases, self.sms = outbox, cases, sms
        # who signed off, the line's mode (records/duties.py sets it)
        self.availability: Availability | None = None
        # the call book and callback list (records/calls.py), in the case book's file
        self.calls = calls if calls is not None else CallBook(cases._db, cases._lock)

    # -- the one durable step ----------------------------------------------------------------

    def commit(self, entry: Entry, step: Callable[[str], None] = _no_hook) -> str:
        """Make `entry` durable, then apply it; returns its key. Raises OSError when the
        entry could not be written (then nothing is stored and whoever waits must be told),
        and CaseChanged/CaseError when its move was refused (nothing written either). Once
        the entry is on disk, a failure while applying is logged and left to the next start.
        `step(name)` is called after each statement (the kill tests cut there)."""
        for rel in entry.files():
            path = self.spool / rel
            fsync_file(path)                    # the recording's bytes, then its name
            fsync_dir(path.parent)
        step("files")
        if not self.folder.is_dir():
            self.folder.mkdir(parents=True, exist_ok=True)
            fsync_dir(self.spool)
        path = self.folder / f"{entry.key}.json"
        write_replace(path, entry.to_json().encode("utf-8"))
        fsync_dir(self.folder)
        step("journal")
        try:
            self.apply(entry, step)
        except CaseError:
            self._remove(path)                  # refused before anything was written
            raise
        except Exception as exc:  # noqa: BLE001 - the entry keeps it; the next start applies it
            log.error("ledger: %s is durable in %s but not applied yet (%r); it is applied "
                      "again at the next start", entry.key, path, exc)
            return entry.key
        self._remove(path)
        step("done")
        return entry.key

    def apply(self, entry: Entry, step: Callable[[str], None] = _no_hook) -> None:
        """Write each step of `entry` that is not written yet."""
        for i, s in enumerate(entry.steps):
            op = s["op"]
            if op == "item":
                files = {name: self.spool / rel for name, rel in (s.get("files") or {}).items()}
                self.outbox.commit(s["key"], s["kind"], s["record"], files)
            elif op == "open":
                c = s["case"]
                new = self.cases.get(c["number"]) is None
                self.cases.open_case(c["number"], c["kind"], caller=c["caller"],
                                     owner=c["owner"], owner_name=c["owner_name"],
                                     detail=c["detail"], call_id=c["call_id"],
                                     state=c["state"], due_hours=c["due_hours"],
                                     note=c["note"], now=c["now"], pin=c["pin"],
                                     topic=c.get("topic", ""))
                if new:
                    log.info("case %s opened: %s from %s, %s%s", c["number"], c["kind"],
                             repr(c["caller"]) if c["caller"] else "a withheld number",
                             c["state"], f", owner {c['owner_name'] or c['owner']!r}"
                             if c["owner"] else "")
            elif op == "move":
                if i == 0 or s.get("expect") is None:
                    self.cases.move(s["number"], s["state"], s["by"], s["note"],
                                    owner=s.get("owner"), owner_name=s.get("owner_name"),
                                    now=s.get("at"), expect_updated=s.get("expect"),
                                    step=s["step"], same=bool(s.get("same")))
                else:
                    raise ValueError(f"ledger entry {entry.key}: a checked move must come "
                                     "first")
            elif op == "set":
                if s.get("history") is not None and s["history"].get("expect") is not None \
                        and i != 0:
                    raise ValueError(f"ledger entry {entry.key}: a checked change must come "
                                     "first")
                self.cases.set_fields(s["number"], s["fields"], history=s.get("history"))
            elif op == "availability":      # issue 17: by its key, kept once
                assert self.availability is not None    # the office's Duties set it
                self.availability.record(s["key"], s["at"], s["who"], s.get("name", ""),
                                         s["what"], s.get("until"), s["by"], s.get("via", ""))
            elif op == "note":              # a history row that keeps the case's state
                self.cases.note(s["number"], s["by"], s["note"], now=s.get("at"),
                                step=s["step"])
            elif op == "call":
                self.calls.add_call(s["call_id"], s["started"], s["caller"], s["record"])
            elif op == "callback":
                if self.calls.list_call(s["number"], s["day"], s["call_id"], s["at"]):
                    log.info("callback list: %r (missed call %s) owed a call back", s["number"],
                             s["call_id"])
            elif op == "callback_done":
                if self.calls.mark_done(s["number"], s["day"], s["at"], s["by"], s["how"],
                                        s.get("note", "")):
                    log.info("callback list: %r of %s called back (%s, by %r)", s["number"],
                             s["day"], s["how"], s["by"])
            elif op == "sms":
                if self.sms is not None:
                    self.sms.queue_once(s["number"], s["text"], s["purpose"], s["case"],
                                        s.get("ref"))
            else:
                raise ValueError(f"ledger entry {entry.key}: unknown step {op!r}")
            step(f"{op} {i + 1}")

    # -- start-up ----------------------------------------------------------------------------

    def replay(self) -> list[str]:
        """At start-up, before the spool re-scan: apply every entry a cut left, oldest first,
        then remove it. Returns their keys. An unreadable entry is set aside in
        spool/damaged/; a move the case no longer allows is dropped with a log line."""
        found: list[tuple[float, str, Path, Entry]] = []
        for path in self._entries():
            try:
                entry = _read(path)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                self._set_aside(path, f"it is not a ledger entry ({exc})")
                continue
            found.append((entry.at, entry.key, path, entry))
        done = []
        for _, key, path, entry in sorted(found):
            try:
                self.apply(entry)
            except CaseError as exc:
                log.error("recovery: ledger entry %s dropped: %s (the case moved on "
                          "meanwhile)", key, exc)
                self._remove(path)
                continue
            except Exception as exc:  # noqa: BLE001 - kept for the next start
                log.error("recovery: ledger entry %s not applied (%r); it is kept and applied "
                          "at the next start", key, exc)
                continue
            self._remove(path)
            log.warning("recovery: ledger entry %s was durable but not wholly applied when "
                        "the box stopped; its cases, items and SMS are complete now, each "
                        "once", key)
            done.append(key)
        for folder in (self.folder, self.spool / OLD_FOLDER):
            for tmp in folder.glob(".*.tmp") if folder.is_dir() else ():
                tmp.unlink(missing_ok=True)     # an entry cut mid-write: never a commit
        return done

    def pending_files(self) -> set[Path]:
        """The spool files (resolved) that entries not applied yet carry: the re-scan must
        not take their recordings for cut ones."""
        found: set[Path] = set()
        for path in self._entries():
            try:
                found |= {(self.spool / rel).resolve() for rel in _read(path).files()}
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue
        return found

    def _entries(self) -> list[Path]:
        return [p for folder in (self.folder, self.spool / OLD_FOLDER) if folder.is_dir()
                for p in sorted(folder.glob("*.json"))]

    def _remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        fsync_dir(path.parent)

    def _set_aside(self, path: Path, why: str) -> None:
        damaged = self.spool / "damaged"
        damaged.mkdir(exist_ok=True)
        target = damaged / path.name
        n = 1
        while target.exists():
            target = damaged / f"{path.stem}.{n}{path.suffix}"
            n += 1
        os.replace(path, target)
        fsync_dir(damaged)
        fsync_dir(path.parent)
        log.error("recovery: %s set aside in %s: %s; nothing was deleted", path.name, damaged,
                  why)


def _read(path: Path) -> Entry:
    data = json.loads(path.read_text(encoding="utf-8"))
    if path.parent.name == OLD_FOLDER:
        return _from_message(data)
    return Entry.from_json(data)


def _from_message(m: dict[str, Any]) -> Entry:
    """A voicemail journalled by a box before the ledger (spool/messages/<case>.json: item,
    case, case_journal, sms) as the entry it stands for, so an update never loses one."""
    steps: list[Step] = [{"op": "item", "key": m["key"], "kind": m["kind"], "record": m["record"],
                    "files": m["files"]}]
    if m.get("case"):
        steps.append({"op": "open", "case": m["case"]})
    if m.get("case_journal"):
        j = m["case_journal"]
        steps.append({"op": "item", "key": f"case-{j['case_number']}-1", "kind": "case",
                      "record": j, "files": {}})
    for s in m.get("sms") or ():
        steps.append({"op": "sms", "number": s["number"], "text": s["text"],
                      "purpose": s["purpose"], "case": m["key"]})
    at = float((m.get("case") or {}).get("now") or 0)
    return Entry(m["key"], at, tuple(steps))
