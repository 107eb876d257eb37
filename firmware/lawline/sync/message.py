"""One durable step per message: a voicemail's outbox item, its case and the SMS it owes the
caller and the duty person, committed together before the caller hears "your message has
been recorded" (DESIGN.md, "Data that must never be lost").

The three live in two databases (outbox.db holds the item; cases.db the case and the SMS
queue), so the one transaction is a journal entry, `spool/messages/<key>.json`, that says
everything the message needs: the item's record and files, the case row as it will be
(number, PIN, owner, times), the case's journal record, and every SMS text. Writing and
fsyncing that entry (after the recording itself) is the commit: from then on a power cut
loses nothing. The entry is then applied step by step, each step idempotent by its own key
(the item key; the case number; the case journal key `case-<n>-1`; case, purpose and number
for each SMS), and removed only once every step is done. At start-up (sync/service.py,
before the spool re-scan) every entry still there is applied again; what was done before
the cut is a no-op the second time, so each message ends with its case, its item and its
SMS exactly once. A cut before the entry exists leaves a recording no item refers to, which
the re-scan delivers as an interrupted message (sync/recovery.py) through this same step.

`commit_message` is the one function: the call (call/driver.py), the start-up recovery and
the kill harness (lawline_rig/probe/crashbox.py) all use it. It blocks (fsync, SQLite);
the call runs it with asyncio.to_thread, so it never kicks the SMS sender or the uploader
itself: the caller does that back on the loop.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from lawline.duty.roster import normal_mobile
from lawline.sync.durable import fsync_dir, fsync_file, write_replace

log = logging.getLogger("lawline.sync")

JOURNAL_DIR = "messages"
KINDS = ("consultation", "service_request", "urgent", "complaint")


def _no_hook(step):
    pass


def journal_dir(spool_dir) -> Path:
    return Path(spool_dir) / JOURNAL_DIR


# -- what a message owes ---------------------------------------------------------------------

def plan_voicemail(office, outbox, record, wav, *, branch=None, named_staff=None,
                   detail="", note="", now=None, cases=None) -> dict:
    """The message a voicemail is: its item (`record`, which carries the case number, and
    the recording `wav`), its case and its SMS, decided now (owner, PIN, texts), so that
    applying it again after a cut writes exactly the same rows. A case that is open already
    (key 3: the urgent case was opened when nobody accepted) adds only the item. Without an
    office (a bare case book: tools, older tests) the case is the row alone, no SMS."""
    from lawline.records.cases import new_pin
    number, box = record["case_number"], record.get("box")
    kind = box if box in KINDS else "consultation"
    caller = record.get("caller") or ""
    message = {"key": number, "kind": "voicemail", "record": record,
               "files": {"voicemail.wav": _relative(outbox, wav)},
               "case": None, "case_journal": None, "sms": []}
    cases = office.cases if office is not None else cases
    if getattr(cases, "open_case", None) is None or cases.get(number) is not None:
        return message
    now = now or time.time()
    if office is None:
        message["case"] = {"number": number, "kind": kind, "caller": caller, "owner": "",
                           "owner_name": "", "detail": detail,
                           "call_id": record.get("call_id"), "state": "new", "due_hours": 72.0,
                           "note": note or f"opened: {kind}", "now": now, "pin": new_pin()}
        return message
    from lawline.records import messages as text
    from lawline.records.office import is_mobile
    owner, owner_name, state, sms = "", "", "new", []
    if kind == "complaint":
        named = office.desk.staff(named_staff["staff_no"]) \
            if named_staff and named_staff.get("staff_no") else None
        head_named = named is not None and bool(office.head) and \
            normal_mobile(named.mobile) == normal_mobile(office.head)
        if named is not None:
            detail = json.dumps({"named": {"staff_no": named.staff_no, "name": named.name,
                                           "mobile": named.mobile}}, ensure_ascii=False)
        if head_named:
            log.warning("call %s: the complaint names the office head; it goes upstream only",
                        record.get("call_id"))
        elif office.head:
            owner, owner_name = office.head, "office head"
            sms.append((office.head, text.complaint_to_head(number, caller, named, office.name),
                        "complaint"))
    elif branch != "after_hours":
        owner, owner_name, _ = office.duty_for("mediator" if kind == "urgent" else "lawyer")
        state = "assigned" if owner else "new"
        if owner:
            sms.append((owner, text.duty_case(number, kind, caller, office.name), "duty case"))
    pin = new_pin()
    if is_mobile(caller):
        sms.insert(0, (caller, text.caller_case(office.name, number, kind,
                                                office.cfg.cases.next_steps,
                                                office.desk.hours.describe(),
                                                office.cfg.office.number, pin), "caller case"))
    cases_cfg = office.cfg.cases
    hours = cases_cfg.urgent_due_hours if kind == "urgent" else cases_cfg.due_hours
    note = note or f"opened: {kind}"
    message["case"] = {"number": number, "kind": kind, "caller": caller, "owner": owner,
                       "owner_name": owner_name, "detail": detail,
                       "call_id": record.get("call_id"), "state": state, "due_hours": hours,
                       "note": note, "now": now, "pin": pin}
    message["case_journal"] = {
        "case_number": number, "event": "opened", "kind": kind, "state": state,
        "caller": caller, "owner": owner, "owner_name": owner_name, "detail": detail,
        "call_id": record.get("call_id"), "office": office.cfg.office.id, "opened": now,
        "due": now + hours * 3600 if hours else None,
        "history": [{"at": now, "state": state, "by": "box", "note": note}]}
    message["sms"] = [{"number": n, "text": t, "purpose": p} for n, t, p in sms if n]
    return message


def pending_files(spool_dir) -> set:
    """The spool files (resolved) that journal entries not yet applied refer to: the
    re-scan must not take their recordings for cut ones."""
    found = set()
    for entry in journal_dir(spool_dir).glob("*.json"):
        try:
            files = json.loads(entry.read_text(encoding="utf-8"))["files"].values()
            found |= {(Path(spool_dir) / rel).resolve() for rel in files}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    return found


def _relative(outbox, path):
    return Path(path).resolve().relative_to(outbox.spool_dir.resolve()).as_posix()


# -- the one durable step --------------------------------------------------------------------

def commit_message(message, outbox, cases, sms, step=_no_hook) -> str:
    """Make `message` (plan_voicemail) durable, then apply it; returns its key. Raises
    OSError only when the journal entry could not be written: the message is then not
    stored and the caller must be told so. Once the entry is on disk a failure while
    applying is logged and left to the next start. `step(name)` is called after each
    statement (the kill tests cut there)."""
    spool = outbox.spool_dir
    for rel in message["files"].values():
        fsync_file(spool / rel)                 # the recording's bytes, then its name
        fsync_dir((spool / rel).parent)
    step("recording")
    folder = journal_dir(spool)
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        fsync_dir(spool)
    entry = folder / f"{message['key']}.json"
    write_replace(entry, json.dumps(message, ensure_ascii=False).encode("utf-8"))
    fsync_dir(folder)
    step("journal")
    try:
        apply(message, outbox, cases, sms, step)
    except Exception as exc:  # noqa: BLE001 - the entry keeps it; the next start applies it
        log.error("message %s: durable in %s but not applied yet (%r); applied again at the "
                  "next start", message["key"], entry, exc)
        return message["key"]
    entry.unlink()
    fsync_dir(folder)
    step("done")
    return message["key"]


def apply(message, outbox, cases, sms, step=_no_hook) -> None:
    """Write the message's item, case, case journal and SMS, each only if not there yet."""
    spool = outbox.spool_dir
    files = {name: spool / rel for name, rel in message["files"].items()}
    outbox.commit(message["key"], message["kind"], message["record"], files)
    step("item")
    case = message.get("case")
    if case is not None:
        opened = cases.get(case["number"]) is not None
        cases.open_case(case["number"], case["kind"], caller=case["caller"],
                        owner=case["owner"], owner_name=case["owner_name"],
                        detail=case["detail"], call_id=case["call_id"], state=case["state"],
                        due_hours=case["due_hours"], note=case["note"], now=case["now"],
                        pin=case["pin"])
        if not opened:
            log.info("case %s opened: %s from %s, %s%s", case["number"], case["kind"],
                     case["caller"] or "a withheld number", case["state"],
                     f", owner {case['owner_name'] or case['owner']}" if case["owner"] else "")
        step("case")
    journal = message.get("case_journal")
    if journal is not None:
        outbox.commit(f"case-{journal['case_number']}-1", "case", journal, {})
        step("case journal")
    for i, text in enumerate(message.get("sms") or ()):
        sms.queue_once(text["number"], text["text"], text["purpose"], message["key"])
        step(f"sms {i + 1}")


def apply_pending(outbox, cases, sms) -> list:
    """At start-up, before the spool re-scan: apply every journal entry a cut left, then
    remove it. Returns their keys. An unreadable entry is set aside in spool/damaged/."""
    from lawline.sync.recovery import _set_aside
    folder = journal_dir(outbox.spool_dir)
    if not folder.is_dir():
        return []
    done = []
    for entry in sorted(folder.glob("*.json")):
        try:
            message = json.loads(entry.read_text(encoding="utf-8"))
            message["key"], message["files"]    # noqa: B018 - a message has both
        except (OSError, ValueError, KeyError, TypeError) as exc:
            _set_aside(entry, outbox.spool_dir / "damaged", f"it is not a message ({exc})")
            continue
        try:
            apply(message, outbox, cases, sms)
        except Exception as exc:  # noqa: BLE001 - kept for the next start
            log.error("recovery: message %s not applied (%r); its entry is kept and applied "
                      "at the next start", message["key"], exc)
            continue
        entry.unlink()
        fsync_dir(folder)
        log.warning("recovery: message %s was durable but not wholly applied when the box "
                    "stopped; its item, case and SMS are complete now, each once", message["key"])
        done.append(message["key"])
    for tmp in folder.glob(".*.tmp"):      # an entry cut mid-write: never a commit
        tmp.unlink(missing_ok=True)
    return done
