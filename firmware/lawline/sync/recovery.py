"""What a power cut or a damaged outbox left on the spool, found and made readable again.

The call writes a voicemail to `spool/incoming/<call id>-<box>-<caller>.wav`, then commits
it through the ledger (records/ledger.py) with its case and SMS. A cut before that leaves a
recording no item or ledger entry refers to, often with a header that says 0 bytes (the
recorder fills the sizes in only when it closes); a damaged outbox.db set aside leaves
recordings, records and reports whose rows are gone. This module is storage only: it finds
those files (`scan`), repairs a recording's header to the audio on disk (`recording`), puts
records and reports that need nothing but the outbox back into it (`commit_leftovers`), and
moves what it cannot read (garbage JSON, a file that is not a WAV) to `spool/damaged/`,
never deleting it. What a recording becomes (a voicemail with its case and SMS) is the
office's to decide (records/recovery.py).

Nothing here runs while calls are taken, so it never races the call flow.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lawline.sync import wavfile
from lawline.sync.durable import fsync_dir
from lawline.sync.durable import write_replace
from lawline.sync.sqlitefile import CaseParts, ParseNumber
from lawline.sync.sqlitefile import case_numbers_in, numbers_in_name, set_aside_copies

if TYPE_CHECKING:
    from lawline.sync.outbox import DueItem, Outbox, Record

log = logging.getLogger("lawline.sync")

# <yymmdd>-<HHMMSS>-<hex4>-<box>[-<caller>].wav, as call/driver.py names a recording
_RECORDING = re.compile(r"(?P<call_id>\d{6}-\d{6}-[0-9a-f]{4})-(?P<box>[a-z_]+)"
                        r"(?:-(?P<caller>\+?\d{1,20}|withheld))?\.wav")
_CASE_NUMBER = re.compile(r"\d{6}(?:\d{3}|\d{4,6})")
WITHHELD = "withheld"


def recording_name(call_id: str, box: str, caller: str | None) -> str:
    """The spool file name of a recording: the caller's number is in it so a recording cut
    short before its record was written still says who called."""
    if not caller or not re.fullmatch(r"\+?\d{1,20}", caller):
        caller = WITHHELD  # only a phone number goes into a file name
    return f"{call_id}-{box}-{caller}.wav"


@dataclass
class Found:
    """What `scan` found that no outbox item nor ledger entry refers to."""
    incoming: Path
    damaged: Path
    known: set[Path]
    recordings: list[Path] = field(default_factory=list)
    # path -> the record it holds (readable JSON, not yet known to be an object)
    records: dict[Path, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Recording:
    """A recording no item refers to, repaired, with what its name and record say."""
    path: Path
    call_id: str
    box: str
    caller: str
    seconds: float
    repaired: bool
    record: Record | None      # the voicemail record committed before (its row was lost)
    whole: bool                # that record says the recording was finished: send it again


def scan(outbox: Outbox, incoming: Path, pending: set[Path]) -> Found | None:
    """Recordings and records under `incoming` that neither an outbox item nor a pending
    ledger entry (`pending`, resolved paths) refers to; None when there is no such folder."""
    incoming = Path(incoming)
    if not incoming.is_dir():
        return None
    _drop_temporaries(incoming)
    found = Found(incoming, outbox.spool_dir / "damaged", outbox.spool_files() | set(pending))
    for path in sorted(incoming.rglob("*")):
        if not path.is_file() or path.resolve() in found.known or path.name.startswith("."):
            continue
        if path.suffix == ".wav":
            found.recordings.append(path)
        elif path.suffix == ".json":
            record = _read_record(path)
            if record is None:
                _set_aside(path, found.damaged, "its record is not readable JSON")
            else:
                found.records[path] = record
    return found


def recording(wav: Path, found: Found) -> Recording | None:
    """Repair `wav`'s header to the audio on disk and say what it is; None (set aside in
    damaged/) when it cannot be repaired. The voicemail record committed with it before, if
    any, is taken out of `found.records`."""
    match = _RECORDING.fullmatch(wav.name)
    try:
        repaired = wavfile.repair_wav(wav)
    except (ValueError, OSError) as error:
        _set_aside(wav, found.damaged, f"it cannot be repaired ({error})")
        return None
    call_id = match["call_id"] if match else wav.stem
    box = match["box"] if match else "unknown"
    caller = match["caller"] if match and match["caller"] not in (None, WITHHELD) else ""
    record: Record | None = None
    for path, candidate in list(found.records.items()):
        if (isinstance(candidate, dict) and candidate.get("call_id") == call_id
                and candidate.get("box") == box
                and isinstance(candidate.get("case_number"), str)
                and _CASE_NUMBER.fullmatch(candidate["case_number"])
                and path.stem == candidate["case_number"]):
            record = candidate
            del found.records[path]
            break
    # The flow writes "ended_by" only once the recording is finished: such a message is
    # whole, and is committed again exactly as it was.
    whole = record is not None and "ended_by" in record and not repaired
    return Recording(wav, call_id, box, caller, wavfile.wav_seconds(wav), repaired, record,
                     whole)


def commit_leftovers(outbox: Outbox, found: Found) -> list[str]:
    """The records and reports `scan` found, back into the outbox (they need nothing else);
    a record that is neither a call record nor a case journal item is set aside."""
    recovered = []
    for path, record in found.records.items():
        key = _record_only(outbox, path, record)
        if key:
            recovered.append(key)
        else:
            _set_aside(path, found.damaged, "it is a record whose recording is gone")
    recovered += _recover_reports(outbox, outbox.spool_dir / "reports", found.known)
    return recovered


def latest_case_records(incoming: Path) -> list[tuple[str, Record]]:
    """(case number, record) of the latest journal item (`case-<case>-<n>.json`) of every
    case still on the spool, oldest number first."""
    if not Path(incoming).is_dir():
        return []
    latest: dict[str, tuple[int, Path]] = {}
    for path in Path(incoming).glob("case-*-*.json"):
        number, _, n = path.stem[len("case-"):].rpartition("-")
        if n.isdigit() and int(n) > latest.get(number, (0, None))[0]:
            latest[number] = (int(n), path)
    out = []
    for number, (_, path) in sorted(latest.items()):
        record = _read_record(path)
        if isinstance(record, dict):
            out.append((number, record))
    return out


def started_at(call_id: str) -> str | None:
    """When a call began, from its id (YYMMDD-HHMMSS-xxxx), in ISO form."""
    try:
        moment = time.strptime(call_id[:13], "%y%m%d-%H%M%S")
    except ValueError:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(time.mktime(moment)))


def _record_only(outbox: Outbox, path: Path, record: object) -> str | None:
    """Commit a record that has no file of its own (a call record, a case journal entry)
    and that no item refers to; None when it is neither."""
    if not isinstance(record, dict):
        return None
    key = path.stem
    if path.name.startswith("call-"):
        kind = "call"
        # A call record the flow finished ("ended") is committed as it was: the outbox lost
        # it (a damaged outbox.db), or the cut came between its file and its commit.
        whole = "ended" in record
    elif path.name.startswith("case-") and isinstance(record.get("case_number"), str) \
            and record.get("event"):
        kind, whole = "case", True     # a case journal entry is whole once written
    else:
        return None
    outbox.commit(key, kind, record if whole else dict(record, interrupted=True), {})
    log.warning("recovery: %s record %s was on the spool but not in the outbox; committed "
                "now%s", kind, key, "" if whole else ", flagged interrupted")
    return key


def _recover_reports(outbox: Outbox, reports: Path, known: set[Path]) -> list[str]:
    """A published report (records/report.py: `<key>.json` beside `<key>.csv` and `.html`)
    that no item refers to is owed again (the outbox that held it was set aside)."""
    if not reports.is_dir():
        return []
    recovered = []
    for path in sorted(reports.glob("report-*.json")):
        if path.resolve() in known or path.stem.endswith("-preview"):
            continue
        record = _read_record(path)
        files = {f"report{suffix}": path.with_suffix(suffix) for suffix in (".csv", ".html")
                 if path.with_suffix(suffix).is_file()}
        if not isinstance(record, dict) or not files:
            continue
        outbox.commit(path.stem, "report", record, files)
        log.warning("recovery: report %s was on the spool but not in the outbox; committed "
                    "now", path.stem)
        recovered.append(path.stem)
    return recovered


def numbers_given_out(spool_dir: str | os.PathLike[str], outbox: Outbox,
                      parse: ParseNumber) -> set[CaseParts]:
    """Every case number this box has given out that is still on its disk, as (YYMMDD,
    sequence) pairs (`parse`: records/cases.parse_number): record files under the spool
    (`<case>.json`, `case-<case>-<n>.json`, also those set aside in damaged/), the outbox's
    item keys, and whatever the databases set aside in damaged/ still show. A number given
    out on an earlier day never collides (the day is part of the number), and older items
    have left the spool only after upstream had them, so this covers today."""
    spool_dir = Path(spool_dir)
    found = set()
    for path in spool_dir.rglob("*.json"):
        found |= numbers_in_name(path.name, parse)
    for key in outbox.keys():
        found |= numbers_in_name(key, parse)
    for copy in set_aside_copies(spool_dir / "damaged"):
        found |= case_numbers_in(copy, parse)
    return found


def _read_record(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _drop_temporaries(incoming: Path) -> None:
    # `.<name>.<random>.tmp` are record copies a cut interrupted before their rename; the
    # record they held was never committed and is rewritten from the call when recovered.
    for tmp in incoming.rglob(".*.tmp"):
        try:
            tmp.unlink()
            log.info("recovery: removed the unfinished temporary file %s", tmp.name)
        except OSError:
            pass


def _set_aside(path: Path, damaged: Path, why: str) -> None:
    damaged.mkdir(exist_ok=True)
    target = damaged / path.name
    n = 1
    while target.exists():
        target = damaged / f"{path.stem}.{n}{path.suffix}"
        n += 1
    os.replace(path, target)
    fsync_dir(damaged)
    fsync_dir(path.parent)
    log.error("recovery: %s set aside in %s: %s; nothing was deleted", path.name, damaged, why)


def check_item_files(item: DueItem) -> None:
    """Before an upload: a record file that no longer holds its record is rewritten from the
    outbox's copy, and a WAV whose header disagrees with its audio (truncated on disk) is
    repaired, each with a log line. A missing file raises FileNotFoundError naming it."""
    for name, path in item.files.items():
        if not path.exists():
            raise FileNotFoundError(f"spool file {path} of {item.key} is missing; the item "
                                    "waits until it is restored")
        if name == "record" and item.record is not None:
            if _read_record(path) != item.record:
                text = json.dumps(item.record, ensure_ascii=False, indent=2) + "\n"
                write_replace(path, text.encode("utf-8"))
                fsync_dir(path.parent)
                log.warning("outbox: record file %s of %s was damaged; rewritten from the "
                            "outbox's copy", path.name, item.key)
        elif path.suffix == ".wav":
            facts = wavfile.inspect(path)
            if not facts["complete"]:
                try:
                    wavfile.repair_wav(path)
                except ValueError as error:
                    log.error("outbox: %s of %s is not a playable WAV (%s); sent as it is",
                              path.name, item.key, error)
                    continue
                log.warning("outbox: %s of %s had a header for %s bytes but %d on disk "
                            "(truncated); header repaired, %.1f s sent", path.name, item.key,
                            facts["data_bytes"], facts["audio_bytes"],
                            wavfile.wav_seconds(path))
