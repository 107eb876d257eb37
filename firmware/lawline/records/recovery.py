"""Start-up: what a power cut or a damaged card left behind becomes whole again, before the
box answers its first call.

In this order (`start_up`):

1. Damaged storage (records/cases.py and sync/outbox.py set a damaged file aside and start a
   fresh one): the case counter is raised above every case number still on disk (always: a
   log SQLite dropped loses the counter's last moves too), the case book gets its cases back
   from their journal items on the spool, and the office head is alerted.
2. The ledger's entries that were durable but not wholly applied are applied
   (records/ledger.py).
3. The spool is re-scanned (sync/recovery.py finds what no item refers to): a recording a
   cut left without its item becomes a voicemail of its own, flagged interrupted, with its
   case and SMS, through the ledger like any other (the caller's number comes from the file
   name, call/driver.py names it); a whole one whose outbox row was lost is committed again
   as it was; records and reports go back into the outbox. A bridged call's recording
   (spool/recordings) without its item is committed too (records/recordings.py).

A step that fails is logged and alerted and start-up goes on: the box answers calls whatever
happened to its past.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..sync import recovery as spool_scan
from ..sync.sqlitefile import Damage
from . import outcomes, recordings
from .cases import Cases, format_number, new_pin, parse_number
from ..status import OK, WARN, Status

if TYPE_CHECKING:
    from ..sync.outbox import Outbox
    from .office import Office

log = logging.getLogger("lawline.recovery")

INTERRUPTED = "录音中断（断电或重启），开机后恢复"


@dataclass(frozen=True)
class StartUp:
    damage: list[Damage]  # sync/sqlitefile.Damage of each database set aside
    recovered: list[str]  # keys of what was made whole


def start_up(office: Office, outbox: Outbox, spool: Path, *, line_number: str,
             min_seconds: float = 1.0, alert: Callable[[str], None] | None = None,
             status: Status | None = None) -> StartUp:
    """Steps 1-3 on the box's spool."""
    try:
        damage = storage_damage(office, outbox, spool, alert, status)
    except Exception as exc:  # noqa: BLE001 - recovery never stops start-up
        damage = []
        log.error("recovery: the storage check at start-up failed: %r; the box starts "
                  "anyway", exc, exc_info=True)
    try:
        replayed = office.ledger.replay()
    except Exception as exc:  # noqa: BLE001 - recovery never stops start-up
        replayed = []
        log.error("recovery: applying the ledger failed: %r; the box starts anyway", exc,
                  exc_info=True)
    try:
        recovered = recover_spool(office, outbox, spool / "incoming", line_number=line_number,
                                  min_seconds=min_seconds)
    except Exception as exc:  # noqa: BLE001 - recovery never stops start-up
        # What it could not deliver stays on disk and is tried again at the next start.
        recovered = []
        log.error("recovery: start-up recovery of %s failed: %r; the box starts anyway "
                  "and tries again at its next start", spool / "incoming", exc, exc_info=True)
        if alert is not None:
            alert(f"【0148】设备启动时恢复录音失败（{type(exc).__name__}），请检查存储。")
    try:    # bridged calls' recordings a cut left without their item (issue 17.10)
        recovered += recordings.recover(office, outbox, spool, line_number)
    except Exception as exc:  # noqa: BLE001 - recovery never stops start-up
        log.error("recovery: the recordings of bridged calls were not recovered: %r; they "
                  "stay on the spool for the next start", exc, exc_info=True)
    done = replayed + recovered
    if done:
        log.warning("recovery: %d item(s) the box had not committed before it stopped are "
                    "now in the outbox: %s", len(done), ", ".join(done))
    return StartUp(damage, done)


def storage_damage(office: Office, outbox: Outbox, spool: Path,
                   alert: Callable[[str], None] | None = None,
                   status: Status | None = None) -> list[Damage]:
    """After the outbox and the case book are open: keep the case counter above every number
    still on disk, restore the cases of a set-aside case book, and for each database that
    was set aside one log line, an alert to the office and a "storage" state."""
    cases = office.cases
    damage = [d for d in (cases.damage, outbox.damage) if d is not None]
    drawn = {(day, seq) for day, seq in
             spool_scan.numbers_given_out(spool, outbox, parse_number) if _a_day(day)}
    for day, last in sorted(cases.keep_above(drawn).items()):
        log.warning("cases: the counter of %s is raised to %s, the highest number on the "
                    "spool, so no number is given twice", day, format_number(day, last))
    if cases.damage is not None:
        restore_cases(spool / "incoming", cases)    # the open cases come back from the spool
    for d in damage:
        log.error("storage: %s; every recording on the spool is owed upstream again and no "
                  "case number on disk is given twice", d.sentence())
        if alert is not None:
            alert(f"【0148】设备存储 {d.path.name} 已损坏，已移至 damaged/ 保存并重建；"
                  "录音均已重新排队上传，请联系技术人员检查存储卡。")
    if status is not None:
        if damage:
            status.set("storage", WARN, "; ".join(d.sentence() for d in damage))
        else:
            status.set("storage", OK, "outbox.db and cases.db pass SQLite's integrity check")
    return damage


def _a_day(day: str) -> bool:
    # a digit run read from a damaged file's raw bytes may be a phone number, not a case
    try:
        time.strptime(day, "%y%m%d")
        return True
    except ValueError:
        return False


def restore_cases(incoming: Path, cases: Cases) -> list[str]:
    """After the case book was set aside as damaged: put back every case whose journal items
    (`case-<case>-<n>.json`, what each case change owes upstream) are still on the spool,
    from its latest (records/cases.Cases.restore). Returns the numbers."""
    restored = []
    for number, record in spool_scan.latest_case_records(incoming):
        try:
            if cases.restore(record):
                restored.append(number)
        except (ValueError, TypeError) as error:
            log.warning("recovery: case %s not restored: %s", number, error)
    if restored:
        log.warning("recovery: %d case(s) restored to the fresh case book from their journal "
                    "on the spool: %s", len(restored), ", ".join(restored))
    return restored


def recover_spool(office: Office, outbox: Outbox, incoming: Path, *, line_number: str,
                  min_seconds: float = 1.0) -> list[str]:
    """Commit what a cut left uncommitted under `incoming`; returns the keys committed."""
    found = spool_scan.scan(outbox, incoming, office.ledger.pending_files())
    if found is None:
        return []
    recovered = []
    for wav in found.recordings:
        key = _recording(office, outbox, wav, found, line_number, min_seconds)
        if key:
            recovered.append(key)
    recovered += spool_scan.commit_leftovers(outbox, found)
    return recovered


def _recording(office: Office, outbox: Outbox, wav: Path, found: spool_scan.Found,
               line_number: str, min_seconds: float) -> str | None:
    """One recording no item refers to: repaired, then a voicemail through the ledger."""
    facts = spool_scan.recording(wav, found)
    if facts is None:
        return None
    record = facts.record or {}
    case = record.get("case_number") or office.cases.next()
    call = outcomes.Call(facts.call_id, facts.caller, str(record.get("line") or line_number))
    whole = facts.whole
    voicemail = outcomes.Voicemail(
        call, facts.box, case, new_pin(), outbox.relative(wav), facts.seconds,
        record.get("ended_by", "") if whole else "interrupted", started=record.get("started")
        or spool_scan.started_at(facts.call_id), menu_path=tuple(record.get("menu_path") or ()),
        short=facts.seconds < min_seconds, case_open=office.cases.get(case) is not None,
        interrupted=not whole, detail="" if whole else INTERRUPTED,
        note="recovered at start-up", as_recorded=record if whole else None)
    office.commit([voicemail], kick=False)
    if whole:
        log.warning("recovery: recording %s (case %s, %.1f s) was on the spool but not in "
                    "the outbox; committed again as it was", wav.name, case, facts.seconds)
    else:
        log.warning("recovery: recording %s was cut short (%s, %.1f s of audio%s); delivered "
                    "as case %s, flagged interrupted", wav.name,
                    "header repaired" if facts.repaired else "header intact", facts.seconds,
                    f", caller {facts.caller}" if facts.caller else ", caller unknown", case)
    return case
