"""The ingest over an upload folder (what the HTTPS receiver writes): every record once, the
second run nothing new, damaged and hostile objects set aside and reported while the rest is
read, late uploads picked up, and the measures checked against the tests' own count of the
same JSON files."""

import datetime
import json
import shutil
import statistics

import pytest

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
        answered = [c for c in calls if c.get("bridged_to")]
        wanted = [c for c in calls if c.get("branch") in ("consultation", "urgent")
                  or c.get("duty_legs")]
        short = [c for c in calls if c["outcome"] == "abandoned" and c["duration_s"] < 5]
        gave_up = [c for c in calls if c["outcome"] == "abandoned" and c["duration_s"] >= 5]
        waits = [leg["seconds_to_accept"] for c in answered for leg in c["duty_legs"]
                 if leg["outcome"] == "accepted"]
        rated = [c["rating"] for c in calls if c.get("rating")]
        f = figures[office]
        assert f["offered"] == len(calls)
        assert f["answered"] == len(answered)
        assert f["connection_rate"] == round(100 * len(answered) / len(wanted), 1)
        assert f["short_abandons"] == len(short) and f["abandoned"] == len(gave_up)
        assert f["answered_15s"] == sum(w <= 15 for w in waits)
        assert f["wait_p50"] == round(statistics.median(waits), 1)
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
