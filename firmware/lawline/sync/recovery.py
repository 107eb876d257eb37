"""Start-up recovery: recordings and records that a power cut left behind are delivered.

The call writes a voicemail to `spool/incoming/<call id>-<box>-<caller>.wav`, then commits
it with its case and SMS in one durable step (sync/message.py; a journal entry the box
applies first at start-up). A cut before that step leaves a recording no item or entry
refers to, often with a header that says 0 bytes (the recorder fills the sizes in only when
it closes). Before the box answers again, `recover_spool`:

- repairs each such recording's header to the audio on disk and commits it as a voicemail
  flagged `"interrupted": true`, with a new case number (or the one its uncommitted record
  already drew) and the caller's number taken from the file name, through that same step
  (so it gets its case and SMS);
- commits an uncommitted call record (`call-<id>.json`) the same way;
- moves what it cannot read (garbage JSON, a file that is not a WAV) to `spool/damaged/`,
  never deletes it, and says so in the log.

Nothing here runs while calls are taken, so it never races the call flow.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from pathlib import Path

from lawline.records.cases import is_case_number
from lawline.sync import message, wavfile
from lawline.sync.durable import fsync_dir

log = logging.getLogger("lawline.sync")

# <yymmdd>-<HHMMSS>-<hex4>-<box>[-<caller>].wav, as call/driver.py names a recording
_RECORDING = re.compile(r"(?P<call_id>\d{6}-\d{6}-[0-9a-f]{4})-(?P<box>[a-z_]+)"
                        r"(?:-(?P<caller>\+?\d{1,20}|withheld))?\.wav")
WITHHELD = "withheld"


def recording_name(call_id: str, box: str, caller: str | None) -> str:
    """The spool file name of a recording: the caller's number is in it so a recording cut
    short before its record was written still says who called."""
    if not caller or not re.fullmatch(r"\+?\d{1,20}", caller):
        caller = WITHHELD  # only a phone number goes into a file name
    return f"{call_id}-{box}-{caller}.wav"


def recover_spool(outbox, cases, incoming: Path, *, office_id: str, line_number: str,
                  min_seconds: float = 1.0, office=None) -> list:
    """Repair and commit what a cut left uncommitted under `incoming`; return the keys of
    the items it committed. A cut recording becomes a message through the one durable step
    (sync/message.py): with `office` (records/office.Office) its case and SMS too, as a
    call's would; with a bare case book the case row alone."""
    incoming = Path(incoming)
    if not incoming.is_dir():
        return []
    damaged = outbox.spool_dir / "damaged"
    _drop_temporaries(incoming)
    known = outbox.spool_files() | message.pending_files(outbox.spool_dir)
    wavs, records = [], {}
    for path in sorted(incoming.rglob("*")):
        if not path.is_file() or path.resolve() in known or path.name.startswith("."):
            continue
        if path.suffix == ".wav":
            wavs.append(path)
        elif path.suffix == ".json":
            record = _read_record(path)
            if record is None:
                _set_aside(path, damaged, "its record is not readable JSON")
            else:
                records[path] = record
    recovered = []
    for wav in wavs:
        key = _recover_recording(outbox, cases, wav, records, damaged, office_id=office_id,
                                 line_number=line_number, min_seconds=min_seconds,
                                 office=office)
        if key:
            recovered.append(key)
    for path, record in records.items():
        key = _record_only(outbox, path, record)
        if key:
            recovered.append(key)
        else:
            _set_aside(path, damaged, "it is a record whose recording is gone")
    recovered += _recover_reports(outbox, outbox.spool_dir / "reports", known)
    return recovered


def _record_only(outbox, path, record):
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


def _recover_reports(outbox, reports, known):
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


def numbers_given_out(spool_dir, outbox, parse) -> set:
    """Every case number this box has given out that is still on its disk, as (YYMMDD,
    sequence) pairs (`parse`: records/cases.parse_number): record files under the spool
    (`<case>.json`, `case-<case>-<n>.json`, also those set aside in damaged/), the outbox's
    item keys, and whatever the databases set aside in damaged/ still show. A number given
    out on an earlier day never collides (the day is part of the number), and older items
    have left the spool only after upstream had them, so this covers today."""
    from lawline.sync.sqlitefile import case_numbers_in, numbers_in_name, set_aside_copies
    spool_dir = Path(spool_dir)
    found = set()
    for path in spool_dir.rglob("*.json"):
        found |= numbers_in_name(path.name, parse)
    for key in outbox.keys():
        found |= numbers_in_name(key, parse)
    for copy in set_aside_copies(spool_dir / "damaged"):
        found |= case_numbers_in(copy, parse)
    return found


def _recover_recording(outbox, cases, wav, records, damaged, **facts):
    match = _RECORDING.fullmatch(wav.name)
    try:
        repaired = wavfile.repair_wav(wav)
    except (ValueError, OSError) as error:
        _set_aside(wav, damaged, f"it cannot be repaired ({error})")
        return None
    seconds = wavfile.wav_seconds(wav)
    call_id = match["call_id"] if match else wav.stem
    box = match["box"] if match else "unknown"
    caller = match["caller"] if match and match["caller"] not in (None, WITHHELD) else ""
    drawn = _drawn_record(records, call_id, box)
    whole = False
    if drawn is not None:
        path, record = drawn
        del records[path]
        case = record["case_number"]
        # The flow writes "ended_by" only once the recording is finished: such a message is
        # whole, and is committed again exactly as it was (the outbox that had it was set
        # aside, or the cut came between its record and its commit).
        whole = "ended_by" in record and not repaired
    else:
        case = cases.next()
        record = {"case_number": case, "box": box, "caller": caller,
                  "line": facts["line_number"], "office": facts["office_id"],
                  "menu_path": [], "call_id": call_id, "started": _started(call_id)}
    if whole:
        _commit(outbox, cases, facts["office"], record, wav)
        log.warning("recovery: recording %s (case %s, %.1f s) was on the spool but not in "
                    "the outbox; committed again as it was", wav.name, case, seconds)
        return case
    record = dict(record, duration_s=round(seconds, 2), ended_by="interrupted",
                  short=seconds < facts["min_seconds"], interrupted=True)
    _commit(outbox, cases, facts["office"], record, wav)
    log.warning("recovery: recording %s was cut short (%s, %.1f s of audio%s); delivered as "
                "case %s, flagged interrupted", wav.name,
                "header repaired" if repaired else "header intact", seconds,
                f", caller {caller}" if caller else ", caller unknown", case)
    return case


def _commit(outbox, cases, office, record, wav):
    """The recovered message, its case and its SMS in the one durable step
    (sync/message.py), so it is followed up like any other."""
    planned = message.plan_voicemail(office, outbox, record, wav, cases=cases,
                                     branch=record.get("box"),
                                     detail="录音中断（断电或重启），开机后恢复",
                                     note="recovered at start-up")
    message.commit_message(planned, outbox, cases, office.sms if office is not None else None)


def _drawn_record(records, call_id, box):
    """The record the flow wrote for this recording before the cut, if it got that far."""
    for path, record in records.items():
        if (isinstance(record, dict) and record.get("call_id") == call_id
                and record.get("box") == box and isinstance(record.get("case_number"), str)
                and is_case_number(record["case_number"])
                and outbox_free(path, record["case_number"])):
            return path, record
    return None


def outbox_free(path, case):
    # The record file is named after its key; a different name means it is not that record.
    return path.stem == case


def _read_record(path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _started(call_id):
    try:
        moment = time.strptime(call_id[:13], "%y%m%d-%H%M%S")
    except ValueError:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(time.mktime(moment)))


def _drop_temporaries(incoming):
    # `.<name>.<random>.tmp` are record copies a cut interrupted before their rename; the
    # record they held was never committed and is rewritten from the call when recovered.
    for tmp in incoming.rglob(".*.tmp"):
        try:
            tmp.unlink()
            log.info("recovery: removed the unfinished temporary file %s", tmp.name)
        except OSError:
            pass


def _set_aside(path, damaged, why):
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


def check_item_files(item) -> None:
    """Before an upload: a record file that no longer holds its record is rewritten from the
    outbox's copy, and a WAV whose header disagrees with its audio (truncated on disk) is
    repaired, each with a log line. A missing file raises FileNotFoundError naming it."""
    from lawline.sync.durable import write_replace
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


def restore_cases(incoming, cases) -> list:
    """After the case book was set aside as damaged: put back every case whose journal
    entries (`case-<case>-<n>.json`, the record each case change commits) are still on the
    spool, from its latest entry (records/cases.Cases.restore). Returns the numbers."""
    restore = getattr(cases, "restore", None)
    if restore is None or not Path(incoming).is_dir():
        return []
    latest = {}
    for path in Path(incoming).glob("case-*-*.json"):
        number, _, n = path.stem[len("case-"):].rpartition("-")
        if n.isdigit() and int(n) > latest.get(number, (0, None))[0]:
            latest[number] = (int(n), path)
    restored = []
    for number, (_, path) in sorted(latest.items()):
        record = _read_record(path)
        try:
            if isinstance(record, dict) and restore(record):
                restored.append(number)
        except (ValueError, TypeError) as error:
            log.warning("recovery: case %s not restored from %s: %s", number, path.name, error)
    if restored:
        log.warning("recovery: %d case(s) restored to the fresh case book from their journal "
                    "on the spool: %s", len(restored), ", ".join(restored))
    return restored

