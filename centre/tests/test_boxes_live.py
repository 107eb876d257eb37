"""Two real boxes on the loopback line (the rig: simulated modems, a duty phone, the box's
own `lawline run`) upload by their [s3] target to the same bucket as two generated
counties, and their calls appear in the centre beside the generated ones. Real time: run
under /tmp/lawline-realtime.lock (make test is)."""

import asyncio
import time

import pytest

from lawline_centre.ingest import Ingest
from lawline_centre.source import S3Source
from lawline_centre.store import Store
from lawline_rig.probe import scenarios
from lawline_rig.probe.rig import Rig

from conftest import S3_KEY, S3_SECRET, generate

pytestmark = pytest.mark.scenario
BUCKET = "prefecture"


def run_call(rig, scenario):
    async def main():
        caller = await rig.start_caller()
        try:
            return await scenario(rig)
        finally:
            await caller.close()
    return asyncio.run(main())


@pytest.fixture(scope="module")
def boxes(rclone, tmp_path_factory):
    rclone.bucket(BUCKET)
    base = tmp_path_factory.mktemp("live")
    secret = base / "s3.secret"
    secret.write_text(S3_SECRET + "\n")
    secret.chmod(0o600)
    # two generated counties upload first, through the box's own S3 target
    generate(None, counties=2, days=3, first=11, truth=base / "truth.json", extra=(
        "--s3", rclone.url, "--bucket", BUCKET, "--access-key", S3_KEY,
        "--secret-file", str(secret)))
    rigs = []
    try:
        for n in (1, 2):
            rig = Rig(base / f"box{n}", box_options={
                "office": {"id": f"live-{n:03d}", "name": f"实况{n}县法律服务专线"},
                "upstream": {"url": ""},
                "s3": {"endpoint": rclone.url, "bucket": BUCKET, "access_key": S3_KEY,
                       "secret_file": str(secret), "allow_insecure": True}})
            rigs.append(rig.start())
        yield rigs
    finally:
        for rig in rigs:
            rig.stop()


def test_calls_of_two_real_boxes_appear_in_the_centre(boxes, rclone, tmp_path):
    records = [run_call(rig, scenarios.hang_up_in_greeting) for rig in boxes]
    store = Store.duckdb(tmp_path / "centre.duckdb")
    source = S3Source(rclone.url, BUCKET, S3_KEY, S3_SECRET)
    wanted = {(f"live-{n:03d}", r["call_id"]) for n, r in zip((1, 2), records)}
    deadline = time.monotonic() + 60
    while True:                     # the boxes upload at once; the centre polls the bucket
        Ingest(source, store).run()
        found = set(store.con.execute(
            "SELECT office, call_id FROM calls WHERE office LIKE 'live-%'").fetchall())
        if wanted <= found or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert wanted <= found, f"the boxes' calls {wanted} are not in the centre: {found}"
    offices = {o for (o,) in store.con.execute("SELECT DISTINCT office FROM calls").fetchall()}
    assert offices == {"county-011", "county-012", "live-001", "live-002"}
    row = store.con.execute("SELECT outcome, format FROM calls WHERE call_id = ?",
                            [records[0]["call_id"]]).fetchone()
    assert row == ("abandoned", 2)          # a real box writes record_format 2
    store.close()
