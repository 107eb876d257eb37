"""The outbox keeps what the box owes upstream across restarts and power cuts. (A process
killed right after a commit: tests/sync/test_outbox_killed.py.)"""

import json
import os
import random
import sqlite3

import pytest

from lawline.sync.outbox import RECORD_FORMAT, Outbox

TARGETS = ["prefecture", "county"]
AUDIO = bytes(range(256)) * 160  # 40 kB that a truncation or reorder would change


def spool_voicemail(spool, key, data=AUDIO):
    """Write a voicemail the way the records module does: under the spool, before commit."""
    folder = spool / "incoming" / key
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "voicemail.wav"
    path.write_bytes(data)
    return path


@pytest.fixture
def paths(tmp_path):
    return tmp_path / "outbox.sqlite", tmp_path / "spool"


@pytest.fixture
def outbox(paths):
    box = Outbox(*paths, TARGETS)
    yield box
    box.close()


def test_commit_is_there_after_reopening(paths, outbox):
    db, spool = paths
    wav = spool_voicemail(spool, "260112001")
    record = {"case": "260112001", "caller": "13800000000", "topic": "劳动争议"}
    item_id = outbox.commit("260112001", "voicemail", record, {"voicemail": wav})
    outbox.close()

    with Outbox(db, spool, TARGETS) as again:
        item = again.get("260112001")
        assert item.item_id == item_id
        assert item.kind == "voicemail"
        assert item.record == dict(record, record_format=RECORD_FORMAT)
        assert set(item.files) == {"voicemail", "record"}
        assert item.files["voicemail"].read_bytes() == AUDIO
        assert item.files["record"] == wav.parent / "260112001.json"
        # The record file is UTF-8 with the Chinese left readable.
        text = item.files["record"].read_text(encoding="utf-8")
        assert "劳动争议" in text and json.loads(text) == dict(record, record_format=RECORD_FORMAT)
        assert set(item.deliveries) == set(TARGETS)
        assert all(d["state"] == "pending" and d["attempts"] == 0
                   for d in item.deliveries.values())
        assert [d.key for d in again.due("prefecture")] == ["260112001"]


def test_database_is_wal_with_full_sync(paths, outbox):
    db, _ = paths
    peek = sqlite3.connect(db)
    assert peek.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    peek.close()
    assert outbox._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_same_key_twice_is_one_item(paths, outbox):
    _, spool = paths
    wav = spool_voicemail(spool, "260112001")
    first = outbox.commit("260112001", "voicemail", {"n": 1}, {"voicemail": wav})
    record_file = outbox.get("260112001").files["record"]
    again = outbox.commit("260112001", "voicemail", {"n": 2}, {"voicemail": wav})
    assert again == first
    assert outbox.stats()["items"] == 1
    assert len(outbox.pending()) == len(TARGETS)
    assert outbox.get("260112001").record == {"n": 1, "record_format": RECORD_FORMAT}
    assert json.loads(record_file.read_text(encoding="utf-8")) == {"n": 1, "record_format": RECORD_FORMAT}


def test_due_is_oldest_first_and_waits_for_next_attempt(paths, outbox):
    _, spool = paths
    ids = [outbox.commit(key, "voicemail", {}, {"voicemail": spool_voicemail(spool, key)})
           for key in ("260112001", "260112002", "260112003")]
    now = outbox.get("260112003").created + 1
    assert [d.item_id for d in outbox.due("prefecture", now=now)] == ids
    assert [d.item_id for d in outbox.due("prefecture", now=now, limit=2)] == ids[:2]

    retry = outbox.mark_failed(ids[0], "prefecture", "HTTP 503", now=now)
    assert [d.item_id for d in outbox.due("prefecture", now=now)] == ids[1:]
    back = outbox.due("prefecture", now=retry.next_attempt)
    assert [d.item_id for d in back] == ids  # its turn again, still first in line
    assert back[0].attempts == 1 and back[0].last_error == "HTTP 503"
    # Another target's schedule is its own.
    assert [d.item_id for d in outbox.due("county", now=now)] == ids


def test_backoff_grows_with_jitter_and_stays_within_cap(paths):
    box = Outbox(*paths, TARGETS, backoff_base=2.0, backoff_cap=600.0, rng=random.Random(7))
    try:
        for attempts in range(16):
            ceiling = min(600.0, 2.0 * 2 ** attempts)
            delays = [box.backoff(attempts) for _ in range(50)]
            assert all(0.5 * ceiling <= d <= ceiling for d in delays), attempts
        assert box.backoff(1000) <= 600.0
    finally:
        box.close()


def test_mark_failed_counts_and_schedules(paths):
    db, spool = paths
    box = Outbox(db, spool, TARGETS, backoff_base=2.0, backoff_cap=60.0, rng=random.Random(1))
    try:
        item_id = box.commit("260112001", "voicemail", {},
                             {"voicemail": spool_voicemail(spool, "260112001")})
        now = 1_000_000.0
        for attempt in range(1, 10):
            retry = box.mark_failed(item_id, "prefecture", f"failure {attempt}", now=now)
            ceiling = min(60.0, 2.0 * 2 ** (attempt - 1))
            assert retry.attempts == attempt
            assert 0.5 * ceiling <= retry.delay <= ceiling
            assert retry.next_attempt == pytest.approx(now + retry.delay)
        row = box.pending("prefecture", now=now)[0]
        assert row.attempts == 9 and row.last_error == "failure 9"
        assert row.next_attempt > now
    finally:
        box.close()


def test_mark_done_finishes_one_target_only(paths, outbox):
    _, spool = paths
    item_id = outbox.commit("260112001", "voicemail", {},
                            {"voicemail": spool_voicemail(spool, "260112001")})
    outbox.mark_failed(item_id, "prefecture", "connection refused")
    outbox.mark_done(item_id, "prefecture")
    assert outbox.due("prefecture", now=outbox.get("260112001").created + 10_000) == []
    assert [p.target for p in outbox.pending()] == ["county"]
    delivery = outbox.get("260112001").deliveries["prefecture"]
    assert delivery["state"] == "done" and delivery["done_at"] is not None
    # A late failure report never undoes an acknowledgement.
    assert outbox.mark_failed(item_id, "prefecture", "late timeout") is None
    assert outbox.get("260112001").deliveries["prefecture"]["state"] == "done"
    assert outbox.stats() == {"items": 1, "pending": 1, "done": 1,
                              "targets": {"prefecture": {"pending": 0, "done": 1},
                                          "county": {"pending": 1, "done": 0}}}
    with pytest.raises(KeyError):
        outbox.mark_done(item_id, "nowhere")


def test_pending_reports_age_and_error(paths, outbox):
    _, spool = paths
    item_id = outbox.commit("260112001", "case", {},
                            {"voicemail": spool_voicemail(spool, "260112001")})
    created = outbox.get("260112001").created
    outbox.mark_failed(item_id, "county", "HTTP 500 from https://up.example/260112001")
    rows = outbox.pending(now=created + 30)
    assert [(r.key, r.kind, r.target) for r in rows] == [("260112001", "case", "county"),
                                                         ("260112001", "case", "prefecture")]
    assert rows[0].age == pytest.approx(30)
    assert rows[0].last_error.startswith("HTTP 500") and rows[1].last_error is None


def test_clock_going_backwards_does_not_strand_deliveries(paths, outbox):
    _, spool = paths
    item_id = outbox.commit("260112001", "voicemail", {},
                            {"voicemail": spool_voicemail(spool, "260112001")})
    # Scheduled while the clock read a year ahead; it has since been corrected.
    outbox.mark_failed(item_id, "prefecture", "timeout", now=outbox.get("260112001").created
                       + 365 * 86400)
    assert [d.item_id for d in outbox.due("prefecture")] == [item_id]


def test_commit_without_media_keeps_the_record(paths, outbox):
    _, spool = paths
    outbox.commit("260112009", "call", {"duration": 31}, {})
    item = outbox.get("260112009")
    assert list(item.files) == ["record"]
    assert json.loads(item.files["record"].read_text(encoding="utf-8")) == {
        "duration": 31, "record_format": RECORD_FORMAT}


def test_commit_refuses_what_it_cannot_keep(paths, outbox, tmp_path):
    _, spool = paths
    outside = tmp_path / "elsewhere.wav"
    outside.write_bytes(b"RIFF")
    with pytest.raises(ValueError, match="not under the spool"):
        outbox.commit("260112001", "voicemail", {}, {"voicemail": outside})
    with pytest.raises(FileNotFoundError):
        outbox.commit("260112001", "voicemail", {}, {"voicemail": spool / "missing.wav"})
    wav = spool_voicemail(spool, "260112001")
    for key in ("../260112001", "", "a/b", ".hidden"):
        with pytest.raises(ValueError):
            outbox.commit(key, "voicemail", {}, {"voicemail": wav})
    with pytest.raises(ValueError, match="record"):
        outbox.commit("260112001", "voicemail", {}, {"record": wav})
    with pytest.raises(TypeError):
        outbox.commit("260112001", "voicemail", {"when": object()}, {"voicemail": wav})
    assert outbox.stats()["items"] == 0
    assert not (wav.parent / "260112001.json").exists()


def test_commit_makes_files_and_names_durable_before_the_item_exists(paths, outbox,
                                                                       monkeypatch):
    db, spool = paths
    wav = spool_voicemail(spool, "260112001")
    synced = []
    real_fsync = os.fsync

    def fsync(fd):
        peek = sqlite3.connect(db)
        committed = peek.execute("SELECT COUNT(*) FROM items").fetchone()[0]
        peek.close()
        assert committed == 0, "the item became visible before its files were durable"
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    outbox.commit("260112001", "voicemail", {}, {"voicemail": wav})
    monkeypatch.setattr(os, "fsync", real_fsync)

    root = spool.resolve()
    expected = {str(wav.resolve()), str(wav.parent.resolve()), str(root / "incoming"),
                str(root)}
    assert expected <= set(synced)
    # The record's bytes are fsynced under a temporary name, before the rename that gives
    # them their name; the directory fsync after it makes the rename durable.
    record_sync = next(i for i, s in enumerate(synced) if ".260112001.json." in s)
    assert str(wav.parent.resolve()) in synced[record_sync + 1:]


def test_database_failure_reaches_the_caller_as_an_oserror(paths, outbox):
    # The call flow guards a commit with `except OSError` and tells the caller the message
    # was not stored; a database fault must take that path too.
    _, spool = paths
    wav = spool_voicemail(spool, "260112001")
    outbox._conn.close()
    with pytest.raises(OSError, match="260112001 not stored"):
        outbox.commit("260112001", "voicemail", {}, {"voicemail": wav})
