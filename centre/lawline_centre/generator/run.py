"""`lawline-centre generate`: a stretch of days of upstream records for N counties, made by
the box's own code (boxcode.py) from the county model's stories (model.py).

    lawline-centre generate --counties 100 --days 365 --out DIR      # the upload folder
    lawline-centre generate --counties 3 --days 14 --s3 URL --bucket B --access-key K \
        --secret-file F                                               # a live bucket

Each worker process takes every k-th county and runs it day by day on a simulated clock:
calls in time order, cases resolved when their story says, a health report at 08:00 unless
the box is down, uploads at the end of each day unless its uplink is down (then the items
wait on the box and go later, into the folders of the days they were committed). Spools are
made under /dev/shm when there is one (the box fsyncs every commit; a tmpfs makes that
cheap) and removed at the end. `truth.json` beside the output counts what was uploaded, per
county and kind, for the tests and the bench to compare with.
"""

from __future__ import annotations

import argparse
import datetime
import heapq
import json
import multiprocessing
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from . import model

TZ = ZoneInfo("Asia/Shanghai")


def add_arguments(p):
    p.add_argument("--counties", type=int, default=100)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--end", help="last day (YYYY-MM-DD, office time); default yesterday")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--first", type=int, default=1, help="number of the first county")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", help="the upload folder to fill ({office}/{day}/{key}/{file})")
    p.add_argument("--s3", help="S3 endpoint to upload to instead (the box's S3 target)")
    p.add_argument("--bucket")
    p.add_argument("--access-key")
    p.add_argument("--secret-file")
    p.add_argument("--truth", help="where to write the counts (default OUT/../truth.json)")


def days_ending(end, count):
    return [end - datetime.timedelta(days=count - 1 - i) for i in range(count)]


def main(args):
    end = datetime.date.fromisoformat(args.end) if args.end else \
        datetime.datetime.now(TZ).date() - datetime.timedelta(days=1)
    days = days_ending(end, args.days)
    if not args.out and not args.s3:
        print("generate: give --out DIR or --s3 URL", file=sys.stderr)
        return 2
    target = {"out": args.out} if args.out else {
        "s3": args.s3, "bucket": args.bucket, "access_key": args.access_key,
        "secret": Path(args.secret_file).read_text().strip()}
    numbers = list(range(args.first, args.first + args.counties))
    began = time.monotonic()
    jobs = [(numbers[i::args.workers], days, args.seed, target)
            for i in range(min(args.workers, len(numbers)))]
    if len(jobs) == 1:
        results = [_worker(jobs[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
            results = pool.map(_worker, jobs)
    truth = {}
    for part in results:
        truth.update(part)
    totals = {}
    for counts in truth.values():
        for kind, n in counts.items():
            totals[kind] = totals.get(kind, 0) + n
    out = {"days": [days[0].isoformat(), days[-1].isoformat()], "counties": len(numbers),
           "totals": totals, "offices": truth, "seconds": round(time.monotonic() - began, 1)}
    where = Path(args.truth) if args.truth else (Path(args.out).parent / "truth.json"
                                                 if args.out else None)
    if where is not None:
        where.write_text(json.dumps(out, ensure_ascii=False, indent=1))
    print(f"generate: {len(numbers)} counties, {days[0]} to {days[-1]}: "
          + ", ".join(f"{n} {k}" for k, n in sorted(totals.items()))
          + f" in {out['seconds']} s")
    return 0


def _worker(job):
    numbers, days, seed, target = job
    import logging
    logging.getLogger("lawline").setLevel(logging.ERROR)     # a year of limit hits
    from .boxcode import CountyBox, SimClock     # the box's code, in this process only
    first = datetime.datetime.combine(days[0], datetime.time(0), TZ).timestamp()
    sim = SimClock(first)
    sim.install()
    shm = Path("/dev/shm")
    scratch = Path(tempfile.mkdtemp(prefix="centre-gen-", dir=shm if shm.is_dir() else None))
    everyone = model.counties(max(numbers), seed=seed, days=days)
    truth = {}
    try:
        for n in numbers:
            county = everyone[n - 1]
            sim.t = first
            box = CountyBox(county, scratch / county.id, sim)
            try:
                truth[county.id] = _county(box, county, days, seed, target, sim)
            finally:
                box.close()
                shutil.rmtree(scratch / county.id, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return truth


def _county(box, county, days, seed, target, sim):
    rng = random.Random(f"{seed}-{county.n}")
    pending = []            # (when, seq, case number) resolutions to come
    seq = 0
    for day in days:
        midnight = datetime.datetime.combine(day, datetime.time(0), TZ).timestamp()
        events = [(s.at, 1, s) for s in model.stories(county, day, rng, TZ)]
        if day not in county.down:
            events.append((midnight + 8 * 3600, 0, "health"))
        events.sort(key=lambda e: (e[0], e[1]))
        for at, _, what in events:
            while pending and pending[0][0] <= at:
                when, _, number = heapq.heappop(pending)
                if day not in county.down:
                    box.resolve(number, when)
            if what == "health":
                box.health_report(at, county.signal + rng.randint(-4, 4), box.pending(),
                                  box.oldest_pending_hours())
                continue
            for number in box.call(what):
                if what.resolve_after_h is not None:
                    seq += 1
                    heapq.heappush(pending, (box.sim.t + what.resolve_after_h * 3600, seq,
                                             number))
        while pending and pending[0][0] < midnight + 86400:
            when, _, number = heapq.heappop(pending)
            box.resolve(number, when)
        if day not in county.late:
            _deliver(box, target)
    _deliver(box, target)
    return dict(box.delivered)


def _deliver(box, target):
    if "out" in target:
        return box.deliver_to_folder(target["out"])
    return box.deliver_to_s3(target["s3"], target["bucket"], target["access_key"],
                             target["secret"])


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    add_arguments(p)
    sys.exit(main(p.parse_args()))
