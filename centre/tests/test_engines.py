"""The same ingest and the same measures on both engines: DuckDB in one file, and DuckLake
with its catalog in a real PostgreSQL 15 and its Parquet files in the same S3 bucket the
boxes write to (rclone serve s3). And no extension is ever downloaded: the engines run in a
network namespace with no network at all."""

import datetime
import shutil
import subprocess
import sys
import textwrap

import pytest

from lawline_centre import measures
from lawline_centre.ingest import Ingest
from lawline_centre.source import Obj, S3Source
from lawline_centre.store import Store

from conftest import S3_KEY, S3_SECRET

KINDS = {"call": "calls", "case": "cases_log", "voicemail": "voicemails", "health": "health"}


# what a damaged or hostile box could put in the bucket, beside the generated uploads
HOSTILE = {
    "call-cut": b'{"call_id": "cut", "started": "2026-',
    "call-bomb": b"[" * 50000 + b"]" * 50000,
    "call-huge": b'{"call_id": "h", "pad": "' + b"x" * 400000 + b'"}',
    "call-latin": b'{"call_id": "\xe9"}',
}


@pytest.fixture(scope="module")
def bucket(generated, tmp_path_factory):
    """An S3 server whose bucket holds the generated uploads and a few damaged objects
    (copied in before it starts: rclone caches folder listings)."""
    from lawline_rig.probe.upstreams import RcloneS3
    server = RcloneS3(tmp_path_factory.mktemp("s3"), S3_KEY, S3_SECRET)
    shutil.copytree(generated["root"], server.data / "boxes")
    day = sorted(p.name for p in (server.data / "boxes" / "county-002").iterdir())[-1]
    for name, raw in HOSTILE.items():
        (server.data / "boxes" / "county-002" / day / name).mkdir()
        (server.data / "boxes" / "county-002" / day / name / "record.json").write_bytes(raw)
    server.start()
    yield server
    server.stop()


def source(server):
    return S3Source(server.url, "boxes", S3_KEY, S3_SECRET)


def test_duckdb_and_ducklake_give_the_same_figures(generated, bucket, postgres, tmp_path):
    plain = Store.duckdb(tmp_path / "centre.duckdb")
    lake = Store.ducklake(postgres.catalog, "s3://boxes/_centre/lake/",
                          s3={"endpoint": bucket.url, "access_key": S3_KEY,
                              "secret": S3_SECRET})
    expected = {k: generated["totals"][k] for k in KINDS}
    for store in (plain, lake):
        # many GETs at once (libcurl's multi interface); the damaged objects are set aside
        report = Ingest(source(bucket), store, batch=700, workers=8).run()
        refused = {key.split("/")[2]: why for key, why in report.refused}
        assert set(refused) == set(HOSTILE) and report.read == expected
        assert "more than" in refused["call-huge"] and "nested" in refused["call-bomb"]
        assert "not JSON" in refused["call-cut"] and "UTF-8" in refused["call-latin"]
        again = Ingest(source(bucket), store).run()
        assert again.new == 0
    # an object larger than its listing said is cut off by the reader, not taken whole
    huge = next(o for o in source(bucket).list("county-002") if "/call-huge/" in o.key)
    body, why = source(bucket).read_many([Obj(huge.key, 10, huge.tag)])[0]
    assert body is None and "more than" in why
    end = datetime.date.fromisoformat(generated["days"][1])
    for kind in ("week", "month"):
        period = measures.Period.containing(kind, end)
        now = datetime.datetime.combine(end, datetime.time(23))
        assert measures.figures(plain.cursor(), period, now) == \
            measures.figures(lake.cursor(), period, now)     # as the page reads: a cursor
    assert measures.overdue_cases(plain.con, now) == measures.overdue_cases(lake.con, now)
    # the lake's data is Parquet in the boxes' bucket; the ingest never lists it as a box
    parquet = list((bucket.data / "boxes" / "_centre" / "lake").rglob("*.parquet"))
    assert parquet, "DuckLake wrote no Parquet files into the bucket"
    assert "_centre" not in source(bucket).offices()
    # a second process opens the same lake and sees the same rows (several readers)
    again = Store.ducklake(postgres.catalog, "s3://boxes/_centre/lake/",
                           s3={"endpoint": bucket.url, "access_key": S3_KEY,
                               "secret": S3_SECRET})
    assert again.counts()["calls"] == expected["call"]
    for store in (plain, lake, again):
        store.close()


def test_an_s3_server_out_of_reach_stops_the_run_with_the_object_named():
    from lawline_rig.probe.upstreams import free_port
    from lawline_centre.source import SourceError
    gone = S3Source(f"http://127.0.0.1:{free_port()}", "boxes", S3_KEY, S3_SECRET)
    with pytest.raises(SourceError, match="county-001/2026-12-01/call-1/record.json"):
        gone.read_many([Obj("county-001/2026-12-01/call-1/record.json", 10, "t")], 4)


CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from lawline_centre.store import Store, load
    tmp = Path(sys.argv[1])
    plain = Store.duckdb(tmp / "offline.duckdb")
    plain.con.execute("SELECT count(*) FROM calls").fetchone()
    load(plain.con, "httpfs")
    lake = Store.ducklake(sys.argv[2], str(tmp / "lake-data"))
    lake.con.execute("INSERT INTO calls (office, call_id) VALUES ('county-009', 'x')")
    print(lake.con.execute("SELECT count(*) FROM calls WHERE office = 'county-009'")
          .fetchone()[0])
    """)


def test_nothing_is_downloaded_at_run_time(postgres, tmp_path):
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is missing")
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(
        ["unshare", "--net", "--", sys.executable, "-c", CHILD, str(tmp_path),
         postgres.database("offline")], capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "1"
    # nothing was installed into the user's extension folder either
    assert not (home / ".duckdb").exists()
