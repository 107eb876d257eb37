"""Drain after a long outage: how fast a backlog empties once the upstream is back.

Queues N voicemails (1 s WAV + record each) while the upstream is down (nothing listening:
the worker's probe fails and backs off), then starts the upstream — Debian's nginx over TLS
with basic auth, as the prefecture would run it — and measures the drain: items per second
from the first acknowledgement to the last, and the time from "upstream back" to the first.
Checks that every item arrived and in order of age.

    python -m lawline_rig.syncbench [--items 500]        (make bench runs it)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from lawline.sync.http import HttpPutTarget
from lawline.sync.outbox import Outbox
from lawline.sync.settings import LAYOUT
from lawline.sync.wavfile import header
from lawline.sync.worker import UploadWorker

USER, PASSWORD = "bench", "bench-password"


def queue(outbox: Outbox, n: int) -> list:
    incoming = outbox.spool_dir / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    audio = os.urandom(16000)
    keys = []
    for i in range(n):
        key = f"26011{i:04d}"
        path = incoming / f"{key}.wav"
        path.write_bytes(header(len(audio)) + audio)
        outbox.commit(key, "voicemail", {"case_number": key, "n": i}, {"voicemail.wav": path})
        keys.append(key)
    return keys


def run_drain(workdir: Path, n: int, outage: float = 2.0, timeout: float = 300.0) -> dict:
    """Queue `n` items with the upstream down for `outage` seconds, bring it up, drain."""
    from lawline_rig.probe.upstreams import Nginx, TestCa
    workdir = Path(workdir)
    ca = TestCa(workdir / "ca")
    nginx = Nginx(workdir / "nginx", ca, {USER: PASSWORD})   # port chosen, not yet started
    outbox = Outbox(workdir / "spool" / "outbox.db", workdir / "spool", ["upstream"],
                    backoff_base=0.2, backoff_cap=1.0)
    t0 = time.monotonic()
    keys = queue(outbox, n)
    queued_s = time.monotonic() - t0
    target = HttpPutTarget("upstream", f"{nginx.url}/dav/county-0148", cafile=ca.ca,
                           username=USER, password=PASSWORD, timeout=10, layout=LAYOUT)
    worker = UploadWorker(outbox, {"upstream": target})
    facts = {}

    async def main():
        stop = asyncio.Event()
        task = asyncio.ensure_future(worker.run(stop))
        await asyncio.sleep(outage)                       # upstream down: probes fail
        facts["failed_probes"] = outbox.pending()[0].attempts
        await asyncio.to_thread(nginx.start)
        facts["back"] = time.monotonic()
        first = asyncio.ensure_future(_first_ack(outbox, facts))
        facts["drained"] = await worker.drain(timeout)
        first.cancel()
        facts["done"] = time.monotonic()
        stop.set()
        await task

    try:
        asyncio.run(main())
        puts = [uri for method, uri, status in nginx.wait_requests(
            lambda rs: sum(u.endswith("record.json") and s.startswith("2") for _, u, s in rs)
            >= n) if method == "PUT" and status.startswith("2")]
    finally:
        nginx.stop()
        outbox.close()
    order = [uri.rsplit("/", 2)[1] for uri in puts if uri.endswith("/record.json")]
    drain_s = facts["done"] - facts.get("first", facts["back"])
    return {"items": n, "files": 2 * n, "queued_s": round(queued_s, 2),
            "failed_probes": facts["failed_probes"], "drained": facts["drained"],
            "delivered": len(set(order)), "in_order": order == keys,
            "drain_s": round(drain_s, 2), "items_per_s": round(n / drain_s, 1),
            "first_after_back_s": round(facts.get("first", facts["back"]) - facts["back"], 2),
            "bytes": n * 16044}


async def _first_ack(outbox, facts):
    while True:  # how long the worker took to notice the upstream was back
        if (await asyncio.to_thread(outbox.stats))["done"]:
            facts["first"] = time.monotonic()
            return
        await asyncio.sleep(0.01)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lawline_rig.syncbench")
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--outage", type=float, default=3.0, help="seconds the upstream is "
                        "down while the worker keeps probing (default 3)")
    args = parser.parse_args(argv)
    import logging
    logging.basicConfig(level=logging.ERROR, format="%(message)s")  # the probes' lines
    with tempfile.TemporaryDirectory(prefix="lawline-drain-") as tmp:
        r = run_drain(Path(tmp), args.items, args.outage)
    print(f"outbox drain: {r['items']} voicemails queued in {r['queued_s']} s (each commit "
          f"fsynced) while the upstream was down ({r['failed_probes']} failed probes)")
    print(f"outbox drain: first delivery {r['first_after_back_s']} s after the upstream came "
          f"back (the backed-off probe's retry)")
    print(f"outbox drain: all {r['delivered']} delivered over HTTPS PUT in "
          f"{r['drain_s']} s = {r['items_per_s']} items/s "
          f"({r['bytes'] * 8 / r['drain_s'] / 1e6:.1f} Mbit/s); in order of age: "
          f"{'yes' if r['in_order'] else 'NO'}")
    return 0 if r["drained"] and r["in_order"] and r["delivered"] == r["items"] else 1


if __name__ == "__main__":
    sys.exit(main())
