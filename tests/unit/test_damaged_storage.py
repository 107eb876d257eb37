"""Damaged storage (issue 9 point 8), with real files: outbox.db and cases.db made garbage,
truncated, empty or with bytes flipped in a page, and their write-ahead logs damaged. The box's
start-up storage path (Office + SyncService, as app.Box opens them) must set the file aside
(kept, never deleted), start a fresh one, owe every recording on disk again, never give a case
number twice, raise an alert, and `lawline check` must report it instead of crashing
(tests/commands/test_damaged_storage_check.py)."""

import os
import sqlite3
import time

import pytest

from lawline import config as configuration
from lawline.records.cases import Cases, parse_number
from lawline.records.office import Office
from lawline.sync import sqlitefile
from lawline.sync.outbox import Outbox
from lawline.sync.recovery import recording_name
from lawline.sync.service import SyncService
from lawline.records.recovery import start_up
from lawline.sync.wavfile import header

AUDIO = bytes(range(256)) * 40
PAGE = 4096


def damage(path, how):
    """Do to the file at `path` what a bad card or a cut does; return a description."""
    data = path.read_bytes()
    if how == "garbage":
        path.write_bytes(os.urandom(len(data)))
    elif how == "truncated":
        with open(path, "r+b") as f:
            f.truncate(len(data) // 2)
    elif how == "zero-length":
        path.write_bytes(b"")
    elif how == "bit-flipped":
        # flip the bytes of page 2's b-tree header and first cell pointers
        flipped = bytearray(data)
        for i in range(PAGE, PAGE + 12):
            flipped[i] ^= 0xFF
        path.write_bytes(bytes(flipped))
    else:
        raise ValueError(how)


HOW = ["garbage", "truncated", "zero-length", "bit-flipped"]


def make_config(tmp_path):
    spool = tmp_path / "spool"
    return configuration.from_dict({"spool": {"dir": str(spool)},
                                    "upstream": {"url": "https://upstream.example.cn/0148"},
                                    "office": {"head_mobile": "13900000009"}})


class Start:
    """The box's storage start-up (app.Box._open_storage): the outbox, the office on it,
    then records/recovery.start_up (the case-number floor, the ledger, the spool re-scan)."""

    def __init__(self, cfg):
        spool = cfg.spool_dir
        (spool / "incoming").mkdir(parents=True, exist_ok=True)
        self.alerts = []
        self.sync = SyncService.from_config(cfg, self.alerts.append)
        self.outbox = self.sync.outbox
        self.office = Office.from_config(cfg, spool, self.outbox, damaged_dir=spool / "damaged")
        self.damage = start_up(self.office, self.outbox, spool, line_number=cfg.office.number,
                               alert=self.alerts.append).damage

    def close(self):
        self.outbox.close()
        self.office.cases.close()


def leave_voicemails(start, cfg, count=3):
    """What the call flow does for `count` voicemails: a case number, the recording, the
    record, the commit; and a case journal entry for the first."""
    numbers = []
    for n in range(count):
        case = start.office.cases.next()
        call_id = time.strftime("%y%m%d-%H%M%S") + f"-{n:04x}"
        wav = cfg.spool_dir / "incoming" / recording_name(call_id, "consultation",
                                                          f"1380013800{n}")
        wav.write_bytes(header(len(AUDIO)) + AUDIO)
        record = {"case_number": case, "box": "consultation", "caller": f"1380013800{n}",
                  "call_id": call_id, "duration_s": 1.28, "ended_by": "# pressed"}
        start.outbox.commit(case, "voicemail", record, {"voicemail.wav": wav})
        numbers.append(case)
    start.office.open_case("service_request", "13800138000", number=numbers[0])
    start.office.act(numbers[0], "assigned", "13900000001", owner="13900000001",
                     owner_name="张律师")
    return numbers


def settle(path):
    """Checkpoint the log into the database, as a clean stop does, so damage to the file
    itself reaches what it holds."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


@pytest.mark.parametrize("name", ["outbox.db", "cases.db"])
@pytest.mark.parametrize("how", HOW)
def test_a_damaged_database_is_set_aside_and_nothing_is_lost(tmp_path, name, how):
    cfg = make_config(tmp_path)
    spool = cfg.spool_dir
    first = Start(cfg)
    numbers = leave_voicemails(first, cfg)
    first.close()
    settle(spool / name)
    before = (spool / name).read_bytes()
    damage(spool / name, how)
    damaged_bytes = (spool / name).read_bytes()
    tables = Outbox.TABLES if name == "outbox.db" else Cases.TABLES
    assert sqlitefile.problem(spool / name, tables) is not None

    again = Start(cfg)
    try:
        # the damaged file is kept, byte for byte, under damaged/
        kept = sqlitefile.set_aside_copies(spool / "damaged")
        assert [p.name.split(".")[0] for p in kept] == [name.split(".")[0]], kept
        assert kept[0].read_bytes() == damaged_bytes
        assert before != damaged_bytes
        # a fresh database is in its place and works
        assert sqlitefile.problem(spool / name, tables) is None
        # every recording on disk is owed upstream again (or still)
        owed = {p.key for p in again.outbox.pending()}
        assert set(numbers) <= owed, (numbers, owed)
        for case in numbers:
            item = again.outbox.get(case)
            assert item.record["case_number"] == case and not item.record.get("interrupted")
        # no case number is given twice
        fresh = again.office.cases.next()
        assert parse_number(fresh) > max(parse_number(n) for n in numbers), (fresh, numbers)
        # the case book has the case again, from its journal on the spool
        case = again.office.cases.get(numbers[0])
        assert (case.kind, case.state, case.owner_name) == ("service_request", "assigned",
                                                            "张律师")
        assert [h[1] for h in again.office.cases.history(numbers[0])] == ["new", "assigned"]
        # the office is told, and the damage is named
        assert len(again.alerts) == 1 and name in again.alerts[0]
        assert again.damage[0].path == spool / name
    finally:
        again.close()


def test_bytes_flipped_inside_a_record_are_found_too(tmp_path):
    """SQLite keeps no checksum of a row: a flip inside a record's text passes its integrity
    check. The outbox's records must parse as JSON, so the box still finds it."""
    cfg = make_config(tmp_path)
    spool = cfg.spool_dir
    first = Start(cfg)
    numbers = leave_voicemails(first, cfg)
    first.close()
    db = spool / "outbox.db"
    settle(db)
    data = bytearray(db.read_bytes())
    at = data.index(b'"ended_by"')
    data[at] ^= 0x5B          # '"' becomes 'y': the text is no longer JSON
    db.write_bytes(bytes(data))
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    con.close()
    assert "is not JSON" in sqlitefile.problem(db, Outbox.TABLES, Outbox.JSON_COLUMNS)
    again = Start(cfg)
    try:
        assert again.outbox.damage is not None and "is not JSON" in again.outbox.damage.reason
        assert set(numbers) <= {p.key for p in again.outbox.pending()}
    finally:
        again.close()


def test_a_case_number_only_a_damaged_case_book_knew_is_not_given_again(tmp_path):
    """The case book gave out numbers that nothing else on disk carries (the last calls'
    records were never written); its counter, read back from the set-aside copy, still
    keeps them."""
    cfg = make_config(tmp_path)
    spool = cfg.spool_dir
    first = Start(cfg)
    drawn = [first.office.cases.next() for _ in range(5)]
    first.close()
    settle(spool / "cases.db")
    with open(spool / "cases.db", "r+b") as f:   # damage a page, not the counter's
        f.seek(2 * PAGE)
        f.write(b"\xff" * 12)
    again = Start(cfg)
    try:
        assert again.office.cases.damage is not None
        assert parse_number(again.office.cases.next()) > parse_number(drawn[-1])
    finally:
        again.close()


@pytest.mark.parametrize("how", ["garbage", "bit-flipped"])
def test_a_damaged_write_ahead_log_is_set_aside_and_its_messages_owed_again(tmp_path, how):
    cfg = make_config(tmp_path)
    spool = cfg.spool_dir
    first = Start(cfg)
    first.outbox._conn.execute("PRAGMA wal_autocheckpoint=0")
    numbers = leave_voicemails(first, cfg, count=4)
    # the box is cut with its log full: copy the files as they are on disk now
    copies = {s: (spool / f"outbox.db{s}").read_bytes() for s in ("", "-wal")}
    first.close()
    for s, data in copies.items():
        (spool / f"outbox.db{s}").write_bytes(data)
    wal = spool / "outbox.db-wal"
    data = bytearray(wal.read_bytes())
    assert len(data) > 32 + 3 * (24 + PAGE)
    if how == "garbage":
        data[:] = os.urandom(len(data))
    else:   # flip bytes inside the second frame's page: SQLite would drop it and all after
        at = 32 + (24 + PAGE) + 24 + 100
        for i in range(at, at + 8):
            data[i] ^= 0xFF
    wal.write_bytes(bytes(data))
    assert sqlitefile.wal_problem(spool / "outbox.db") is not None
    again = Start(cfg)
    try:
        kept = list((spool / "damaged").iterdir())
        assert any(p.name.endswith("-wal") for p in kept), kept
        owed = {p.key for p in again.outbox.pending()}
        assert set(numbers) <= owed
        assert again.alerts and "outbox.db" in again.alerts[0]
    finally:
        again.close()


def test_garbage_shared_memory_loses_nothing(tmp_path, caplog):
    """The -shm file is only an index of the log, rebuilt by SQLite when it does not match:
    garbage there is no damage, and every message in the log is still there."""
    cfg = make_config(tmp_path)
    spool = cfg.spool_dir
    first = Start(cfg)
    first.outbox._conn.execute("PRAGMA wal_autocheckpoint=0")
    numbers = leave_voicemails(first, cfg)
    copies = {s: (spool / f"outbox.db{s}").read_bytes() for s in ("", "-wal", "-shm")}
    first.close()
    for s, data in copies.items():
        (spool / f"outbox.db{s}").write_bytes(data)
    (spool / "outbox.db-shm").write_bytes(os.urandom(len(copies["-shm"])))
    again = Start(cfg)
    try:
        assert again.damage == [] and not (spool / "damaged").exists()
        assert {p.key for p in again.outbox.pending()} >= set(numbers)
        # they came from the log, not from the spool re-scan
        assert "was on the spool but not in the outbox" not in caplog.text
    finally:
        again.close()


def test_a_log_torn_by_a_cut_is_not_damage(tmp_path):
    """A power cut may leave the last, never committed, frames of the log half-written;
    that is normal and no reason to set anything aside."""
    db = tmp_path / "t.db"
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("CREATE TABLE items(k)")
    for n in range(5):
        con.execute("INSERT INTO items VALUES (?)", (str(n) * 3000,))
    data = (tmp_path / "t.db-wal").read_bytes()
    con.close()
    (tmp_path / "t.db-wal").write_bytes(data[:len(data) - 1000])  # the last frame torn
    assert sqlitefile.wal_problem(db) is None
    (tmp_path / "t.db-wal").write_bytes(data)
    assert sqlitefile.wal_problem(db) is None


def test_without_a_damaged_dir_a_damaged_database_is_refused_not_moved(tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "outbox.db").write_bytes(b"not a database at all" * 100)
    (spool / "cases.db").write_bytes(b"")
    with pytest.raises(sqlitefile.StorageDamaged, match="not an SQLite database"):
        Outbox(spool / "outbox.db", spool, ["upstream"])
    with pytest.raises(sqlitefile.StorageDamaged, match="empty"):
        Cases(spool / "cases.db")
    assert (spool / "outbox.db").exists() and not (spool / "damaged").exists()


def test_a_healthy_box_sets_nothing_aside(tmp_path):
    cfg = make_config(tmp_path)
    first = Start(cfg)
    numbers = leave_voicemails(first, cfg)
    first.close()
    again = Start(cfg)
    try:
        assert again.damage == [] and again.alerts == []
        assert not (cfg.spool_dir / "damaged").exists()
        assert {p.key for p in again.outbox.pending()} >= set(numbers)
    finally:
        again.close()


def test_a_database_without_the_schema_is_damaged_but_a_never_used_one_is_not(tmp_path):
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE photos(x)")
    con.commit()
    con.close()
    assert sqlitefile.problem(other, Outbox.TABLES) == "its tables items, deliveries are missing"
    spool = tmp_path / "spool"
    spool.mkdir()
    os.replace(other, spool / "outbox.db")
    box = Outbox(spool / "outbox.db", spool, ["upstream"], damaged_dir=spool / "damaged")
    try:
        assert box.damage is not None and "missing" in box.damage.reason
        assert len(sqlitefile.set_aside_copies(spool / "damaged")) == 1
    finally:
        box.close()
    # what a cut during the very first start leaves: a header page and nothing in it
    fresh = tmp_path / "fresh.db"
    con = sqlite3.connect(fresh)
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    assert sqlitefile.problem(fresh, Outbox.TABLES) is None


def test_the_sync_service_holds_its_own_sections_not_the_whole_config(tmp_path):
    from lawline.sync.service import SyncSettings
    from lawline.sync.settings import build_targets
    cfg = configuration.from_dict({"spool": {"dir": str(tmp_path / "spool")}})
    (cfg.spool_dir / "incoming").mkdir(parents=True)
    sync = SyncService(SyncSettings.of(cfg), build_targets(cfg))
    office = Office.from_config(cfg, cfg.spool_dir, sync.outbox,
                                damaged_dir=cfg.spool_dir / "damaged")
    try:
        assert not any(isinstance(v, configuration.Config) for v in vars(sync).values())
        assert sync.can_record()          # the [spool] budget it was given is in force
    finally:
        sync.outbox.close()
        office.cases.close()
