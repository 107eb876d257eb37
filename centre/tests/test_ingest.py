"""The ingest over an upload folder (what the HTTPS receiver writes): every record once, the
second run nothing new, damaged and hostile objects set aside and reported while the rest is
read, late uploads picked up, and the measures checked against the tests' own count of the
same JSON files."""

import datetime
import json
import shutil

import pytest

from lawline.records import measures as box_measures
from lawline_centre import measures
from lawline_centre.ingest import Ingest
from lawline_centre.source import DirSource
from lawline_centre.store import Store

from conftest import uploaded_records

KINDS = {"call": "calls", "case": "cases_log", "voicemail": "voicemails", "health": "health"}


@pytest.fixture
def folder(generated, tmp_path):
    copy = tmp_path / "up"
    shutil.copytree(generated["root"], copy, symlinks=True)
    return copy


def counts(store):
    c = store.counts()
    return {kind: c[table] for kind, table in KINDS.items()}


def test_every_record_once_and_a_second_run_reads_nothing(generated, folder, tmp_path):
    store = Store.duckdb(tmp_path / "centre.duckdb")
    first = Ingest(DirSource(folder), store, batch=300).run()
    assert first.refused == []
    assert counts(store) == {k: generated["totals"][k] for k in KINDS}
    assert first.read == {k: generated["totals"][k] for k in KINDS}
    second = Ingest(DirSource(folder), store).run()
    assert second.new == 0 and counts(store) == {k: generated["totals"][k] for k in KINDS}
    full = Ingest(DirSource(folder), store).run(full=True)
    assert full.new == 0
    dupes = store.con.execute("SELECT count(*) - count(DISTINCT office || item) FROM calls")
    assert dupes.fetchone()[0] == 0


def test_damaged_and_hostile_uploads_are_set_aside_and_the_rest_is_read(generated, folder,
                                                                       tmp_path):
    day = sorted(p.name for p in (folder / "county-001").iterdir())[-1]
    base = folder / "county-001" / day
    bad = {
        "call-cut": b'{"call_id": "cut", "started": "2026-',
        "call-bomb": b"[" * 50000 + b"]" * 50000,
        "call-huge": b'{"call_id": "h", "pad": "' + b"x" * 400000 + b'"}',
        "call-liar": json.dumps({"call_id": "l", "started": 1796090400,
                                 "office": "county-002"}).encode(),
    }
    for name, raw in bad.items():
        (base / name).mkdir()
        (base / name / "record.json").write_bytes(raw)
    (base / "call-link").mkdir()
    (base / "call-link" / "record.json").symlink_to("/etc/passwd")
    store = Store.duckdb(tmp_path / "centre.duckdb")
    report = Ingest(DirSource(folder), store, batch=100).run()
    refused = {key.split("/")[2]: why for key, why in report.refused}
    assert set(refused) == {*bad, "call-link"}
    assert "more than" in refused["call-huge"] and "nested" in refused["call-bomb"]
    assert "lies under" in refused["call-liar"] and "cannot open" in refused["call-link"]
    assert counts(store) == {k: generated["totals"][k] for k in KINDS}
    kept = store.con.execute("SELECT count(*) FROM objects WHERE status = 'refused'").fetchone()
    assert kept[0] == 5
    # mended: read at the next run; untouched ones are not read again
    (base / "call-cut" / "record.json").write_text(json.dumps(
        {"call_id": "cut", "started": "2026-12-01T10:00:00+0800", "outcome": "abandoned",
         "duration_s": 2.0}))
    again = Ingest(DirSource(folder), store).run()
    assert again.new == 1 and again.read == {"call": 1} and again.refused == []
    assert counts(store)["call"] == generated["totals"]["call"] + 1


def test_a_late_upload_into_an_old_day_is_read(generated, folder, tmp_path):
    store = Store.duckdb(tmp_path / "centre.duckdb")
    Ingest(DirSource(folder), store, rescan_days=7).run()
    days = sorted(p.name for p in (folder / "county-002").iterdir())
    record = {"call_id": "late-1", "started": f"{days[-3]}T09:00:00+0800",
              "outcome": "abandoned", "duration_s": 9.0, "record_format": 2}
    for day, name in ((days[-3], "call-late-1"), (days[0], "call-late-2")):
        (folder / "county-002" / day / name).mkdir()
        (folder / "county-002" / day / name / "record.json").write_text(
            json.dumps(dict(record, call_id=name)))
    near = Ingest(DirSource(folder), store, rescan_days=7).run()
    assert near.read == {"call": 1}                   # inside the window: this run
    swept = Ingest(DirSource(folder), store, rescan_days=7).run(full=True)
    assert swept.read == {"call": 1}                  # older: the full sweep
    assert counts(store)["call"] == generated["totals"]["call"] + 2


def test_the_measures_match_a_count_of_the_json_files(generated, folder, tmp_path):
    store = Store.duckdb(tmp_path / "centre.duckdb")
    Ingest(DirSource(folder), store).run()
    end = datetime.date.fromisoformat(generated["days"][1])
    period = measures.Period.containing("month", end)
    start = period.start.isoformat()
    stop = period.end.isoformat()
    figures = measures.figures(store.con, period, datetime.datetime.combine(
        period.end, datetime.time()))
    raw = uploaded_records(folder)
    for office in ("county-001", "county-002", "county-003"):
        calls = [r for k, r in raw.items() if k.startswith(office + "/") and
                 k.split("/")[2].startswith("call-") and start <= r["started"][:10] < stop]
        # each call measure as the box defines it (lawline.records.measures), over the
        # same JSON files: the centre's SQL counts the same calls
        expected = box_measures.call_figures(calls)
        rated = [c["rating"] for c in calls if c.get("rating")]
        f = figures[office]
        assert f["offered"] == len(calls) > 0
        # (whether a county's month so far holds an abandoned call depends on the date: the
        # month may be a day old; each figure is compared with the box's own below)
        assert f["answered"] > 0, f
        for key in ("offered", "wanted", "answered", "answered_15s", "short_abandons",
                    "abandoned", "missed", "voicemails", "wait_p50", "wait_p90",
                    "connection_rate", "service_level", "abandon_rate"):
            assert f[key] == expected[key], (office, key, f[key], expected[key])
        assert f["satisfaction"] == round(100 * sum(r >= 4 for r in rated) / len(rated), 1)
        opened = {r["case_number"] for k, r in raw.items() if k.startswith(office + "/")
                  and k.split("/")[2].startswith("case-")
                  and start <= datetime.datetime.fromtimestamp(
                      r["opened"], measures_tz()).date().isoformat() < stop}
        assert f["opened"] == len(opened)


def measures_tz():
    from lawline_centre.records import OFFICE_TZ
    return OFFICE_TZ


def test_a_box_not_heard_from_for_the_configured_time_is_silent(generated, folder, tmp_path):
    store = Store.duckdb(tmp_path / "centre.duckdb")
    Ingest(DirSource(folder), store).run()
    last = store.con.execute("SELECT max(coalesce(ended, started)) FROM calls WHERE office = "
                             "'county-003'").fetchone()[0]
    soon = measures.health(store.con, last + datetime.timedelta(hours=1), 26.0)
    assert not soon["county-003"]["silent"]
    assert soon["county-003"]["signal_dbm"] is not None
    later = measures.health(store.con, last + datetime.timedelta(hours=27), 26.0)
    assert later["county-003"]["silent"] and later["county-003"]["silent_hours"] >= 27


def test_a_store_from_before_the_new_call_fields_gains_them_and_keeps_its_rows(tmp_path):
    """A centre upgraded under a store it made (calls without wanted_person,
    abandoned_in, abandoned_after_s, callback, ring_started): the columns are added, the old
    rows keep their values and are counted by the older rules, new rows carry the fields."""
    from lawline_centre import store as store_module
    path = tmp_path / "old.duckdb"
    old = {c: t for c, t in store_module.COLUMNS["calls"].items()
           if c not in ("wanted_person", "abandoned_in", "abandoned_after_s", "callback",
                        "ring_started")}
    con = store_module.connect(path)
    con.execute("CREATE TABLE calls (" + ", ".join(f'"{c}" {t}' for c, t in old.items())
                + ")")
    con.execute("INSERT INTO calls (office, item, call_id, started, outcome, duration_s, "
                "branch, legs) VALUES ('county-001', 'call-old', 'old', "
                "TIMESTAMP '2026-12-01 10:00:00', 'abandoned', 3.0, 'menu', 0)")
    con.close()
    store = Store.duckdb(path)
    columns = [r[0] for r in store.con.execute("DESCRIBE calls").fetchall()]
    assert columns == list(store_module.COLUMNS["calls"])
    folder = tmp_path / "up" / "county-001" / "2026-12-01" / "call-new"
    folder.mkdir(parents=True)
    (folder / "record.json").write_text(json.dumps({
        "call_id": "new", "started": "2026-12-01T11:00:00+0800", "outcome": "missed",
        "caller": "13800138000",
        "abandoned_in": "ringing", "abandoned_after_s": 12.0, "wanted_person": False,
        "callback": "listed", "record_format": 2}), encoding="utf-8")
    # the duty lawyer called the number back (the box's callback-<day>-<number>-<n> item)
    folder = tmp_path / "up" / "county-001" / "2026-12-01" / "callback-2026-12-01-13800138000-1"
    folder.mkdir(parents=True)
    (folder / "record.json").write_text(json.dumps({
        "office": "county-001", "caller": "13800138000", "day": "2026-12-01",
        "call_ids": ["new"], "calls": 1, "first_missed": "2026-12-01T11:00:00+0800",
        "done": "2026-12-01T11:20:00+0800", "done_by": "13900000001", "how": "sms",
        "record_format": 2}), encoding="utf-8")
    run = Ingest(DirSource(tmp_path / "up"), store).run(full=True)
    assert run.refused == [] and run.read == {"call": 1, "callback": 1}
    period = measures.Period.containing("month", datetime.date(2026, 12, 1))
    f = measures.figures(store.con, period, datetime.datetime(2027, 1, 1))["county-001"]
    # the old row: a short abandon by its duration; the new one: missed after 12 s of ringing,
    # listed for a call back and called back
    assert (f["offered"], f["short_abandons"], f["abandoned"], f["missed"]) == (2, 1, 1, 1)
    assert (f["callbacks"], f["called_back"]) == (1, 1)
