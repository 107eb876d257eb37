"""Kill the box's storage path at random instants and check that nothing is lost.

A fast stand-in for "pull the plug while a caller is recording or while uploads run": one
process (this module's main) imports everything once, then for each trial forks a child
that runs the real parts — start-up recovery (the message journal, then the spool re-scan:
sync/service.py's order), the Outbox, the office's case book and SMS queue, the
UploadWorker with the real targets (nginx over TLS, SMTP, S3) — and records voicemails the
way pjsua2's recorder writes them (a header saying 0 bytes, raw frames appended, sizes filled
in at the end), commits each with its case and SMS through the one durable step the call
uses (sync/message.commit_message, off the loop), and notes "caller told" in a journal.
The parent SIGKILLs the child at a random instant — one trial in five while it may still be
recovering (2-40 ms after the fork), the others 0-150 ms after recovery finished, so a slow
or loaded machine still kills mid-recording and mid-upload — notes what was on disk, and
forks the next one. A last child runs without being killed until everything is delivered.

The parent writes the facts (journal, audio on disk at each kill, where each kill landed,
and after the last run each voicemail item's case, case journal item and SMS rows) as JSON;
`verify` compares them with what the servers received, `verify_cases` checks that every
message has its case and its SMS exactly once.

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
from lawline.records.office import Office
from lawline.sync import message as messages
from lawline.sync.http import HttpPutTarget
from lawline.sync.mail import EmailTarget
from lawline.sync.outbox import Outbox
from lawline.sync.recovery import recording_name, recover_spool
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
    """What the box promised: `start n` before a recording exists, `told n case` once the
    caller would have heard the case number, `call n` once the call record is committed."""

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
        facts = {"started": [], "told": {}, "calls": []}
        if not self.path.exists():
            return facts
        for line in self.path.read_text().splitlines():
            parts = line.split()
            if len(parts) < 2 or not parts[1].isdigit():
                continue  # a line the kill cut short was never a promise
            if parts[0] == "start":
                facts["started"].append(int(parts[1]))
            elif parts[0] == "told" and len(parts) == 3:
                facts["told"][int(parts[1])] = parts[2]
            elif parts[0] == "call":
                facts["calls"].append(int(parts[1]))
        return facts


def child(root: Path, spec: dict, shared, seed: int, record: bool, drain_timeout: float):
    spool = root / "spool"
    incoming = spool / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    journal = Journal(root / "journal")
    sinks, kinds = build_sinks(spec, shared)
    outbox = Outbox(spool / "outbox.db", spool, list(sinks), kinds=kinds, backoff_base=0.05,
                    backoff_cap=0.5)
    office = Office.from_config(office_config(spool), spool, outbox)
    cases = office.cases
    shared[RECOVERING] = 1
    messages.apply_pending(outbox, cases, office.sms)
    recover_spool(outbox, cases, incoming, office_id=OFFICE, line_number="07730148",
                  office=office)
    shared[RECOVERING] = 0
    shared[READY] = 1
    rng = random.Random(seed)
    worker = UploadWorker(outbox, sinks, batch=5)

    async def calls():
        started = journal.read()["started"]
        n = max(started) + 1 if started else 0
        while True:
            await one_message(n)
            n += 1

    async def one_message(n):
        journal.write(f"start {n}")
        call_id = time.strftime("%y%m%d-%H%M%S") + f"-{n:04x}"
        caller = f"1380013{n:04d}"
        path = incoming / recording_name(call_id, "consultation", caller)
        began = time.time()
        shared[RECORDING] = 1
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, header(0))       # what pjsua2's recorder writes first
            frames = rng.randint(3, 40)
            for i in range(frames):
                os.write(fd, frame(n, i))
                if i % 4 == 3:
                    await asyncio.sleep(0.001)   # the line delivers frames in real time
            data = frames * FRAME         # closing the recorder fills in the sizes
            os.pwrite(fd, struct.pack("<I", 36 + data), 4)
            os.pwrite(fd, struct.pack("<I", data), 40)
        finally:
            os.close(fd)
            shared[RECORDING] = 0
        case = await asyncio.to_thread(cases.next)
        record = {"case_number": case, "box": "consultation", "caller": caller,
                  "line": "07730148", "office": OFFICE, "menu_path": ["1"],
                  "call_id": call_id, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                  "duration_s": round(data / 16000, 2), "ended_by": "# pressed",
                  "short": False}
        planned = messages.plan_voicemail(office, outbox, record, path, branch="consultation")
        await asyncio.to_thread(messages.commit_message, planned, outbox, cases, office.sms)
        journal.write(f"told {n} {case}")
        worker.kick()
        await asyncio.to_thread(outbox.commit, f"call-{call_id}", "call",
                                {"call_id": call_id, "caller": caller, "outcome": "voicemail",
                                 "case_number": case, "started": _iso(began)}, {})
        journal.write(f"call {n}")
        worker.kick()

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
HEAD = "13900000009"


def office_config(spool):
    return configuration.from_dict({
        "office": {"id": OFFICE, "name": "测试县法律服务专线", "head_mobile": HEAD},
        "duty": {"numbers": [DUTY]}, "spool": {"dir": str(spool)}})


def case_facts(root: Path) -> dict:
    """After the last run: for every voicemail item, its case row, its case journal item
    and its SMS rows (purpose, number), read from the databases themselves."""
    import sqlite3
    spool = root / "spool"
    outbox = sqlite3.connect(spool / "outbox.db")
    book = sqlite3.connect(spool / "cases.db")
    keys = {k for (k,) in outbox.execute("SELECT key FROM items")}
    found = {}
    for (key, record) in outbox.execute("SELECT key, record_json FROM items "
                                        "WHERE kind = 'voicemail'"):
        row = book.execute("SELECT caller, owner FROM cases WHERE number = ?",
                           (key,)).fetchone()
        found[key] = {"call_id": json.loads(record).get("call_id"),
                      "case": row is not None, "caller": row[0] if row else None,
                      "owner": row[1] if row else None, "journal": f"case-{key}-1" in keys,
                      "sms": [list(r) for r in book.execute(
                          "SELECT purpose, number FROM sms WHERE case_number = ? ORDER BY id",
                          (key,))]}
    outbox.close()
    book.close()
    return found


def verify_cases(facts: dict) -> list:
    """Problems with the messages' cases and SMS: each voicemail item (every message told
    among them) has its case, its case journal item, and its SMS to the caller and to the
    case's owner, each exactly once."""
    problems = []
    found = facts["cases"]
    for n, case in facts["told"].items():
        if case not in found:
            problems.append(f"message {n} (case {case}, caller told) has no voicemail item")
    for key, got in found.items():
        if not got["case"]:
            problems.append(f"voicemail {key} has no case")
            continue
        if not got["journal"]:
            problems.append(f"case {key} has no case journal item in the outbox")
        texts = [tuple(t) for t in got["sms"]]
        owed = [("caller case", got["caller"])] if got["caller"] else []
        owed += [("duty case", got["owner"])] if got["owner"] else []
        for text in owed:
            if texts.count(text) != 1:
                problems.append(f"case {key}: {texts.count(text)} {text[0]} SMS to {text[1]}")
        extra = [t for t in texts if t not in owed]
        if extra:
            problems.append(f"case {key}: SMS nobody was owed: {extra}")
    return problems


def _iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(t))


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
