"""Kill the box's storage path at random instants and check that nothing is lost.

A fast stand-in for "pull the plug while a caller is recording or while uploads run": one
process (this module's main) imports everything once, then for each trial forks a child
that runs the real parts: start-up recovery (records/recovery.start_up: the ledger, then the
spool re-scan), the Outbox, the office's case book and SMS queue, the UploadWorker with the
real targets (nginx over TLS, SMTP, S3). The child plays calls one after the other, each
leaving one kind of outcome through the call-outcome ledger as the call does
(records/ledger.py, off the loop): a voicemail (recorded the way pjsua2's recorder writes
it: a header saying 0 bytes, raw frames appended, sizes filled in at the end), the end of a
bridged call with its rating, a referral, a callback, an urgent escalation, and the
resolution of an earlier case, a mediator taking an urgent dispute (the ladder), a bridged
call with its recording, a missed call (its record, the call book and the callback list:
issue 17.6); then the call record. It notes in a journal what the box
would have told someone once each commit returned. The parent SIGKILLs the child at a
random instant (one trial in five while it may still be recovering, 2-40 ms after the fork,
the others 0-150 ms after recovery finished, so a slow or loaded machine still kills
mid-recording and mid-upload), notes what was on disk, and forks the next one. A last child
runs without being killed until everything is delivered.

The parent writes the facts (journal, audio on disk at each kill, where each kill landed,
and after the last run every case with its journal items and SMS, and every item) as JSON;
`verify` compares the voicemails with what the servers received, `verify_items` every other
item, `verify_outcomes` checks that every outcome has its case, items and SMS exactly once.

    python -m lawline_rig.probe.crashbox --dir D --targets targets.json --trials 200 --out facts.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import mmap
import os
import random
import signal
import struct
import sys
import time
from pathlib import Path

from lawline import config as configuration
from lawline.records import outcomes as o
from lawline.records.cases import DUTY_COLUMNS
from lawline.records.office import Office
from lawline.records.recovery import start_up
from lawline.sync.http import HttpPutTarget
from lawline.sync.mail import EmailTarget
from lawline.sync.outbox import Outbox
from lawline.sync.recovery import recording_name
from lawline.sync.s3 import S3Target
from lawline.sync.settings import LAYOUT
from lawline.sync.wavfile import HEADER, header
from lawline.sync.worker import UploadWorker

FRAME = 320          # 20 ms of 8 kHz 16-bit audio, as the line delivers it
OFFICE = "crash-county"
RECORDING, UPLOADS, RECOVERING, READY = 0, 1, 2, 3   # offsets in the shared page


def frame(n: int, i: int) -> bytes:
    """Frame i of message n: a pattern that shows any reordering, gap or stray byte."""
    return struct.pack("<HH", n & 0xFFFF, i & 0xFFFF) * (FRAME // 4)


def expected_audio(n: int, frames: int) -> bytes:
    return b"".join(frame(n, i) for i in range(frames))


def message_number(call_id: str) -> int:
    return int(call_id.rsplit("-", 1)[1], 16)


def build_sinks(spec: dict, shared) -> tuple:
    sinks, kinds = {}, {}
    if "upstream" in spec:
        s = spec["upstream"]
        sinks["upstream"] = HttpPutTarget("upstream", s["url"] + "/" + OFFICE, timeout=10,
                                          cafile=s.get("cafile"), username=s.get("username"),
                                          password=s.get("password"), layout=LAYOUT)
    if "email" in spec:
        s = spec["email"]
        sinks["email"] = EmailTarget("email", "127.0.0.1", s["port"], "box@crash.example",
                                     ["office@crash.example"], username=s["username"],
                                     password=s["password"], cafile=s["cafile"], timeout=10,
                                     office_name="测试县法律服务专线", office_id=OFFICE)
        kinds["email"] = {"voicemail"}
    if "s3" in spec:
        s = spec["s3"]
        sinks["s3"] = S3Target("s3", s["endpoint"], s["bucket"], s["access_key"], s["secret"],
                               prefix=OFFICE, timeout=10, layout=LAYOUT)
    return {name: _Counted(sink, shared) for name, sink in sinks.items()}, kinds


class _Counted:
    """Marks in the shared page that an upload is in flight, so the parent knows where a
    kill landed."""

    def __init__(self, sink, shared):
        self.sink, self.shared = sink, shared

    def put_item(self, item):
        self.shared[UPLOADS] = min(255, self.shared[UPLOADS] + 1)
        try:
            self.sink.put_item(item)
        finally:
            self.shared[UPLOADS] = max(0, self.shared[UPLOADS] - 1)


class Journal:
    """What the box promised: `start n` before a call's outcome exists, `told n KIND case`
    once the commit returned (the caller would have heard the case number), `call n` once
    the call record is committed."""

    def __init__(self, path: Path):
        self.path = path

    def write(self, line: str):
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self) -> dict:
        facts = {"started": [], "told": {}, "outcomes": {}, "calls": []}
        if not self.path.exists():
            return facts
        for line in self.path.read_text().splitlines():
            parts = line.split()
            if len(parts) < 2 or not parts[1].isdigit():
                continue  # a line the kill cut short was never a promise
            if parts[0] == "start":
                facts["started"].append(int(parts[1]))
            elif parts[0] == "told" and len(parts) == 4 and parts[3].isdigit():
                n, kind, case = int(parts[1]), parts[2], parts[3]
                facts["outcomes"][n] = {"kind": kind, "case": case}
                if kind == "voicemail":
                    facts["told"][n] = case
            elif parts[0] == "call":
                facts["calls"].append(int(parts[1]))
        return facts


# One kind of outcome per call, in turn: every other one a voicemail, so kills still land
# mid-recording often.
KINDS = ("voicemail", "bridged", "voicemail", "referral", "voicemail", "callback",
         "voicemail", "escalated", "voicemail", "resolved",
         # issue 17: a mediator takes an urgent dispute (the ladder's first step opens its
         # case); a bridged call recorded with the caller's consent
         "ladder", "voicemail", "recorded", "voicemail")
# issue 17, the office's duties: a service request dispatched on site and its arrival, a
# referral handed to its department and its reply, a survey answered, a duty person signing
# off (ACTING: on an earlier case; a call with nothing to act on leaves a voicemail instead)
KINDS += ("voicemail", "request", "voicemail", "handoff", "dispatched", "voicemail",
          "arrived", "replied", "voicemail", "surveyed", "availability")
ACTING = ("resolved", "dispatched", "arrived", "replied", "surveyed")
PROVIDER, DEPARTMENT, DEPARTMENT_CODE = "13700000011", "13700000021", 6
# issue 17.6: a caller who hangs up while it rings (a call record, the callback list)
KINDS += ("voicemail", "missed")


def child(root: Path, spec: dict, shared, seed: int, record: bool, drain_timeout: float):
    spool = root / "spool"
    incoming = spool / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    journal = Journal(root / "journal")
    sinks, kinds = build_sinks(spec, shared)
    outbox = Outbox(spool / "outbox.db", spool, list(sinks), kinds=kinds, backoff_base=0.05,
                    backoff_cap=0.5)
    office = Office.from_config(office_config(spool), spool, outbox)
    shared[RECOVERING] = 1
    start_up(office, outbox, spool, line_number="07730148")
    shared[RECOVERING] = 0
    shared[READY] = 1
    rng = random.Random(seed)
    worker = UploadWorker(outbox, sinks, batch=5)

    async def calls():
        started = journal.read()["started"]
        n = max(started) + 1 if started else 0
        while True:
            await one_call(n)
            n += 1

    async def commit(*items):
        """As the call does: the office's ledger, off the loop."""
        entry = await asyncio.to_thread(office.commit, list(items), None, None, False)
        worker.kick()
        return entry

    async def one_call(n):
        journal.write(f"start {n}")
        kind = KINDS[n % len(KINDS)]
        call_id = time.strftime("%y%m%d-%H%M%S") + f"-{n:04x}"
        caller = f"1380013{n:04d}"
        call = o.Call(call_id, caller, "07730148")
        began = time.time()
        record = {"call_id": call_id, "caller": caller, "started": began, "outcome": kind}
        if kind == "resolved":
            told = journal.read()["outcomes"].values()
            open_ = [t["case"] for t in told
                     if t["kind"] not in ACTING + ("availability", "missed")
                     and _is_open(office.cases.get(t["case"]))]
            if not open_:
                kind = "voicemail"
        elif kind in ACTING:
            open_ = _to_act_on(office, kind, journal.read()["outcomes"].values())
            if not open_:
                kind = "voicemail"
        if kind == "missed":
            # the caller hung up while it rang: one record, no case (its number instead)
            record.update(outcome="missed", abandoned_in="ringing", abandoned_after_s=6.0)
            await commit(o.CallRecord(call_id, record))
            journal.write(f"told {n} missed {caller}")
            journal.write(f"call {n}")
            return
        case = await asyncio.to_thread(office.cases.next) if kind not in ACTING else None
        if kind == "voicemail":
            path = await record_message(n, call_id, caller)
            await commit(o.Voicemail(call, "consultation", case, "", str(path),
                                     wavfile_seconds(path), "# pressed", menu_path=("1",)))
        elif kind == "bridged":
            record.update(case_number=case, rating=1, bridged_to=DUTY)
            await commit(o.Bridged(call, "consultation", case, "", o.Duty(DUTY)),
                         o.Rated(call, case, 1, o.Duty(DUTY)), o.CallRecord(call_id, record))
        elif kind == "referral":
            await commit(o.Referred(call, case, "", o.Department("县劳动监察大队",
                                                                 "07731112222")))
        elif kind == "callback":
            await commit(o.Callback(call, case, "", o.Duty(DUTY), 1))
        elif kind == "escalated":
            await commit(o.Escalated(call, case, "", (MEDIATOR,), 60.0))
        elif kind in ("request", "handoff", "dispatched", "arrived", "replied", "surveyed",
                      "availability"):
            case = await _duty(office, commit, kind, call, case, rng.choice(open_)
                               if kind in ACTING else None) or case
        elif kind == "ladder":
            await commit(o.LadderStep(call, case, "", "mediators", MEDIATOR, "accepted", 10.0,
                                      o.Duty(MEDIATOR), (MEDIATOR, DUTY), opens=True))
        elif kind == "recorded":
            wav = await record_bridge(n, call_id, caller)
            record.update(case_number=case, rating=1, bridged_to=DUTY,
                          recording={"key": f"recording-{call_id}"})
            await commit(o.Bridged(call, "consultation", case, "", o.Duty(DUTY)),
                         o.Rated(call, case, 1, o.Duty(DUTY)),
                         o.CallRecording(call, str(wav), wavfile_seconds(wav), None, case,
                                         DUTY, 90.0),
                         o.CallRecord(call_id, record))
        else:
            case = rng.choice(open_)
            await commit(o.Moved(office.snapshot(case), "resolved", "张律师 by SMS", "已办结"))
        journal.write(f"told {n} {kind} {case}")
        if kind not in ("bridged", "recorded"):
            record["case_number"] = case
            await commit(o.CallRecord(call_id, record))
        journal.write(f"call {n}")

    async def record_message(n, call_id, caller):
        path = incoming / recording_name(call_id, "consultation", caller)
        shared[RECORDING] = 1
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, header(0))       # what pjsua2's recorder writes first
            frames = rng.randint(3, 40)
            for i in range(frames):
                os.write(fd, frame(n, i))
                if i % 4 == 3:
                    await asyncio.sleep(0.003)   # the line delivers frames in real time
            data = frames * FRAME         # closing the recorder fills in the sizes
            os.pwrite(fd, struct.pack("<I", 36 + data), 4)
            os.pwrite(fd, struct.pack("<I", data), 40)
        finally:
            os.close(fd)
            shared[RECORDING] = 0
        return path

    async def record_bridge(n, call_id, caller):
        """A bridged call's recording (spool/recordings), written as pjsua2's recorder does."""
        path = spool / "recordings" / recording_name(call_id, "bridged", caller)
        path.parent.mkdir(exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, header(0))
            frames = rng.randint(3, 20)
            for i in range(frames):
                os.write(fd, frame(n, i))
            os.pwrite(fd, struct.pack("<I", 36 + frames * FRAME), 4)
            os.pwrite(fd, struct.pack("<I", frames * FRAME), 40)
        finally:
            os.close(fd)
        return path

    async def main():
        stop = asyncio.Event()
        running = asyncio.ensure_future(worker.run(stop))
        if record:
            await calls()  # until killed
        ok = await worker.drain(drain_timeout)
        stop.set()
        await asyncio.wait_for(running, 30)
        return ok

    ok = asyncio.run(main())
    os._exit(0 if ok else 1)


DUTY = "13900000001"
MEDIATOR = "13900000002"
HEAD = "13900000009"


def _is_open(case):
    return case is not None and case.open


def _to_act_on(office, kind, told):
    """The cases an acting kind of the office's duties may act on now."""
    out = []
    for t in told:
        case = office.cases.get(t["case"]) if t["case"].isdigit() else None
        if case is None:
            continue
        duties = office.cases.duties(case.number)
        if kind == "dispatched" and t["kind"] == "request" and case.state == "assigned" \
                and "dispatch" not in duties:
            out.append(case.number)
        elif kind == "arrived" and "dispatch" in duties and "arrived" not in duties \
                and case.open:
            out.append(case.number)
        elif kind == "replied" and t["kind"] == "handoff" and case.state == "referred":
            out.append(case.number)
        elif kind == "surveyed" and "survey_sent" in duties and "survey_score" not in duties:
            out.append(case.number)
    return sorted(set(out))


async def _duty(office, commit, kind, call, case, target):
    """One outcome of the office's duties (issue 17); returns the case it is about."""
    if kind == "request":
        await commit(o.Opened("service_request", case, "", call.caller, DUTY, "张律师",
                              call_id=call.call_id, state="assigned", notify_duty=(DUTY,)))
    elif kind == "handoff":
        await commit(o.Referred(call, case, "", o.Department(
            "县劳动监察大队", "07731112222", "人民路1号", sms=DEPARTMENT, email="jc@example.org")))
    elif kind == "dispatched":
        await commit(o.Dispatched(office.snapshot(target), "张律师 by SMS",
                                  o.Provider("王律师", PROVIDER), "12月08日 09:30",
                                  time.time() + 86400, "城关镇"))
    elif kind == "arrived":
        await commit(o.Arrived(office.snapshot(target), "王律师 by SMS"))
    elif kind == "replied":
        await commit(o.Replied(office.snapshot(target), "县劳动监察大队 by SMS", "已追回工资"))
    elif kind == "surveyed":
        await commit(o.Surveyed(office.snapshot(target), 1, o.Duty(DUTY, "张律师")))
    else:
        await commit(o.AvailabilityChanged(DUTY, "张律师", "off", time.time() + 3600, "一小时后",
                                           "张律师 by SMS", "sms", DUTY, ("lawyer",)))
        return "0"
    return target


def wavfile_seconds(path):
    from lawline.sync.wavfile import wav_seconds
    return wav_seconds(path)


def office_config(spool):
    return configuration.from_dict({
        "office": {"id": OFFICE, "name": "测试县法律服务专线", "head_mobile": HEAD},
        "duty": {"numbers": [DUTY], "mediators": [MEDIATOR]}, "spool": {"dir": str(spool)},
        # issue 17: who the office's duties text (not callers: never capped)
        "provider": [{"name": "王律师", "mobile": PROVIDER}],
        "referral": [{"name": "县劳动监察大队", "phone": "07731112222", "address": "人民路1号",
                      "hours": "工作日", "sms": DEPARTMENT}]})


def case_facts(root: Path) -> dict:
    """After the last run, read from the databases themselves: every case (kind, state,
    caller, owner, rating, its call), its journal items upstream and its SMS (purpose,
    number), and every item's key and kind."""
    import sqlite3
    spool = root / "spool"
    outbox = sqlite3.connect(spool / "outbox.db")
    book = sqlite3.connect(spool / "cases.db")
    items = dict(outbox.execute("SELECT key, kind FROM items"))
    found = {}
    for number, kind, state, caller, owner, rating, call_id in book.execute(
            "SELECT number, kind, state, caller, owner, rating, call_id FROM cases"):
        found[number] = {
            "kind": kind, "state": state, "caller": caller, "owner": owner, "rating": rating,
            "call_id": call_id, "voicemail": items.get(number) == "voicemail",
            "journal": sorted(k for k in items if k.startswith(f"case-{number}-")),
            "sms": [list(r) for r in book.execute(
                "SELECT purpose, number FROM sms WHERE case_number = ? ORDER BY id",
                (number,))]}
    # issue 17: each case's duty columns that are set, and the availability changes with
    # the SMS (by the change's key) and audit item each owes
    for number, *values in book.execute(f"SELECT number, {', '.join(DUTY_COLUMNS)} FROM cases"):
        found[number]["duties"] = {k: v for k, v in zip(DUTY_COLUMNS, values) if v is not None}
    changes = {}
    try:
        for (key,) in book.execute("SELECT key FROM availability"):
            changes[key] = {"sms": [list(r) for r in book.execute(
                "SELECT purpose, number FROM sms WHERE ref = ? ORDER BY id", (key,))],
                "audit": items.get(f"audit-{key}") == "audit"}
    except sqlite3.OperationalError:        # no table: nobody signed off
        pass
    listed = [list(r) for r in book.execute("SELECT call_id, number FROM callback_calls")]
    entries = {number: calls for number, calls in book.execute(
        "SELECT number, calls FROM callbacks")}
    call_book = [r[0] for r in book.execute("SELECT call_id FROM call_book")]
    outbox.close()
    book.close()
    return {"cases": found, "items": items, "availability": changes, "listed": listed,
            "entries": entries, "call_book": call_book}


# What each kind of outcome leaves, besides its case: (journal items, SMS (purpose, to)).
def _owed(kind, got):
    caller, owner = got["caller"], got["owner"]
    if kind == "voicemail":
        return 1, [("caller case", caller), ("duty case", owner)]
    if kind == "bridged":
        return 1, [("caller case", caller), ("duty case", DUTY), ("low rating", HEAD)]
    if kind == "referral":
        return 1, [("caller referral", caller)]
    if kind == "callback":
        return 1, [("caller case", caller), ("duty case", DUTY)]
    if kind == "escalated":
        return 1, [("caller case", caller), ("urgent escalation", MEDIATOR),
                   ("urgent escalation", HEAD)]
    if kind == "request":
        return 1, [("caller case", caller), ("duty case", DUTY)]
    if kind == "handoff":
        return 1, [("caller referral", caller), ("handoff", DEPARTMENT)]
    if kind == "ladder":
        return 1, [("caller case", caller), ("urgent taken", MEDIATOR),
                   ("urgent taken by", DUTY)]
    if kind == "recorded":
        return _owed("bridged", got)
    raise ValueError(kind)


def _owed_duties(got, resolved):
    """What the office's duties on a case owe (issue 17), read from its duty columns (an
    action whose `told` line a kill cut off is still there whole): journal items and SMS.
    `resolved`: a staff member resolved it."""
    duties, caller = got.get("duties") or {}, got["caller"]
    journal, texts = 0, []
    if "dispatch" in duties:
        journal += 1
        texts += [("dispatch", PROVIDER), ("caller dispatch", caller)]
    if "arrived" in duties:
        journal += 1
    if "reply_at" in duties or resolved:
        journal += 1
        if duties.get("told_how") == "sms":
            journal += 1
            texts += [("caller resolved", caller), ("survey", caller)]
    if "survey_score" in duties:
        journal += 1
        texts += [("survey thanks", caller), ("low survey", HEAD)]
    return journal, texts


def verify_outcomes(facts: dict) -> list:
    """Problems with the outcomes: each one the box told has its case, exactly once (one case
    for its call), its journal items and exactly the SMS it owes; a resolved case moved on
    to caller_informed with one SMS to its caller; no case exists twice for one call."""
    problems = []
    found = facts["cases"]["cases"]
    by_call = {}
    for number, got in found.items():
        by_call.setdefault(got["call_id"], []).append(number)
    for call_id, numbers in by_call.items():
        if call_id and len(numbers) > 1:
            problems.append(f"call {call_id} has {len(numbers)} cases: {sorted(numbers)}")
    resolved = {t["case"] for t in facts["outcomes"].values() if t["kind"] == "resolved"}
    listed = facts["cases"].get("listed", [])
    for n, told in facts["outcomes"].items():
        if told["kind"] == "missed":
            # its caller on the callback list once, its call in the call book once
            caller = told["case"]
            mine = [c for c, number in listed if number == caller]
            if len(mine) != 1 or facts["cases"]["entries"].get(caller) != 1:
                problems.append(f"outcome {n} (missed call from {caller}): {len(mine)} "
                                f"callback-list rows, entry counts "
                                f"{facts['cases']['entries'].get(caller)} calls")
            elif facts["cases"]["call_book"].count(mine[0]) != 1:
                problems.append(f"outcome {n} (missed call {mine[0]}): not once in the "
                                "call book")
            continue
        if told["kind"] in ACTING + ("availability",):
            continue
        case = told["case"]
        if case not in found:
            problems.append(f"outcome {n} ({told['kind']}, case {case}, told) has no case")
    for number, got in found.items():
        # the kind of outcome its call left: calls take the kinds in turn (a resolution with
        # nothing to resolve leaves a voicemail instead)
        kind = KINDS[message_number(got["call_id"] or "x-0") % len(KINDS)]
        kind = "voicemail" if kind in ACTING else kind
        if kind == "voicemail" and not got["voicemail"]:
            problems.append(f"case {number} has no voicemail item")
        journal, texts = _owed(kind, got)
        replied = "reply_at" in (got.get("duties") or {})
        staff = not replied and (number in resolved or got["state"] == "caller_informed")
        more, owed = _owed_duties(got, staff)
        journal, texts = journal + more, texts + owed
        if (staff or replied) and got["state"] != "caller_informed":
            problems.append(f"case {number} was resolved but is {got['state']}")
        if len(got["journal"]) != journal:
            problems.append(f"case {number} ({kind}): {len(got['journal'])} journal items, "
                            f"{journal} owed: {got['journal']}")
        sent = [tuple(t) for t in got["sms"]]
        for text in texts:
            if text[1] and sent.count(text) != 1:
                problems.append(f"case {number} ({kind}): {sent.count(text)} {text[0]} SMS "
                                f"to {text[1]}")
        extra = [t for t in sent if t not in texts]
        if extra:
            problems.append(f"case {number} ({kind}): SMS nobody was owed: {extra}")
    for key, got in facts["cases"].get("availability", {}).items():
        for text in (("availability", DUTY), ("uncovered", HEAD)):
            if got["sms"].count(list(text)) != 1:
                problems.append(f"availability {key}: {got['sms'].count(list(text))} "
                                f"{text[0]} SMS to {text[1]}")
        if not got["audit"]:
            problems.append(f"availability {key}: no audit item")
    return problems


def verify_items(facts: dict, target: str, keys: list, kinds=None) -> dict:
    """Every item the box committed (but recordings, which `verify` checks) reached
    `target` (which takes `kinds`, all when None) under its own key; `keys`: the keys the
    target holds, once per copy."""
    owed = {k for k, kind in facts["cases"]["items"].items()
            if kind != "voicemail" and (kinds is None or kind in kinds)}
    held = set(keys)
    lost = sorted(owed - held)
    stray = sorted(k for k in held - owed if not k[:1].isdigit())
    problems = [f"{target}: item {k} is missing" for k in lost[:20]]
    problems += [f"{target}: {k} arrived but the box never committed it" for k in stray[:20]]
    return {"items": len(owed), "lost": len(lost), "stray": len(stray), "problems": problems}


def run(root: Path, spec: dict, trials: int, seed: int, min_ms: float, max_ms: float,
        drain_timeout: float) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    shared = mmap.mmap(-1, 16)
    audio_at_kill = {}
    where = {"recording": 0, "uploading": 0, "recovering": 0, "other": 0}
    started = time.monotonic()
    for trial in range(trials):
        shared[:4] = b"\0\0\0\0"
        pid = os.fork()
        if pid == 0:
            try:
                child(root, spec, shared, seed * 100003 + trial, True, 0)
            except BaseException:
                import traceback
                traceback.print_exc()    # what ended the child before its kill, for the log
            finally:
                os._exit(70)
        if rng.random() < 0.2:
            time.sleep(rng.uniform(2, 40) / 1000)
        else:
            deadline = time.monotonic() + 10
            while not shared[READY] and time.monotonic() < deadline:
                time.sleep(0.0005)
            time.sleep(rng.uniform(min_ms, max_ms) / 1000)
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        if not os.WIFSIGNALED(status):
            raise RuntimeError(f"trial {trial}: the child exited with {status} before the kill")
        if shared[RECOVERING]:
            where["recovering"] += 1
        elif shared[RECORDING]:
            where["recording"] += 1
        elif shared[UPLOADS]:
            where["uploading"] += 1
        else:
            where["other"] += 1
        for wav in (root / "spool" / "incoming").glob("*.wav"):
            audio = max(0, wav.stat().st_size - HEADER)
            audio_at_kill[wav.name] = max(audio_at_kill.get(wav.name, 0), audio - audio % 2)
    killing = time.monotonic() - started
    pid = os.fork()
    if pid == 0:
        try:
            child(root, spec, shared, seed, False, drain_timeout)
        finally:
            os._exit(70)
    _, status = os.waitpid(pid, 0)
    facts = Journal(root / "journal").read()
    facts.update(trials=trials, kills=where, audio_at_kill=audio_at_kill,
                 cases=case_facts(root),
                 seconds_killing=round(killing, 2),
                 final_exit=os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1)
    return facts


# -- checking what arrived ------------------------------------------------------------------

def verify(facts: dict, target: str, deliveries: list) -> dict:
    """`deliveries`: (key, record, wav bytes or None) for each copy `target` received. Returns
    counts and a list of problems (empty when nothing was lost, duplicated or corrupt)."""
    problems = []
    by_message = {}
    copies = 0
    for key, record, wav in deliveries:
        if record.get("call_id") is None or not str(key)[:1].isdigit():
            continue  # call records are checked separately
        n = message_number(record["call_id"])
        by_message.setdefault(n, {}).setdefault(key, []).append(wav)
        copies += 1
        if wav is None:
            problems.append(f"{target}: message {n} ({key}) arrived without its WAV")
            continue
        problem = _audio_problem(n, wav)
        if problem:
            problems.append(f"{target}: message {n} ({key}) is corrupt: {problem}")
    told = {int(n): case for n, case in facts["told"].items()}
    for n, case in told.items():
        keys = by_message.get(n, {})
        if case not in keys:
            problems.append(f"{target}: message {n} (case {case}, caller told) is missing")
    recorded = {}
    for name, audio in facts["audio_at_kill"].items():
        n = message_number(name.split("-consultation")[0])
        recorded[n] = max(recorded.get(n, 0), audio)
    for n, audio in recorded.items():
        keys = by_message.get(n)
        if not keys:
            problems.append(f"{target}: message {n} ({audio} bytes on disk at a kill) is lost")
            continue
        longest = max(len(w) - HEADER for ws in keys.values() for w in ws if w)
        if longest < audio:
            problems.append(f"{target}: message {n} arrived with {longest} bytes of audio, "
                            f"{audio} were on disk at a kill")
    duplicated = [n for n, keys in by_message.items() if len(keys) > 1]
    for n in duplicated:
        problems.append(f"{target}: message {n} arrived under {len(by_message[n])} keys: "
                        f"{sorted(by_message[n])}")
    return {"messages": len(by_message), "copies": copies,
            "recorded": len(set(recorded) | set(told)), "told": len(told),
            "lost": sum(1 for n in set(recorded) | set(told) if n not in by_message),
            "duplicated": len(duplicated), "problems": problems}


def _audio_problem(n, wav):
    if len(wav) < HEADER or wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        return "not a WAV"
    said = struct.unpack("<I", wav[40:44])[0]
    if said != len(wav) - HEADER or struct.unpack("<I", wav[4:8])[0] != len(wav) - 8:
        return f"header says {said} bytes, {len(wav) - HEADER} follow"
    audio = wav[HEADER:]
    whole = expected_audio(n, len(audio) // FRAME + 1)
    if audio != whole[:len(audio)]:
        return "audio differs from what was recorded"
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lawline_rig.probe.crashbox")
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--targets", type=Path, required=True, help="JSON: target specs")
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--min-ms", type=float, default=0.0)
    parser.add_argument("--max-ms", type=float, default=150.0)
    parser.add_argument("--drain-timeout", type=float, default=120.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    spec = json.loads(args.targets.read_text())
    facts = run(args.dir, spec, args.trials, args.seed, args.min_ms, args.max_ms,
                args.drain_timeout)
    args.out.write_text(json.dumps(facts, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
