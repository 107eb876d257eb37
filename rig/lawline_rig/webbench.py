"""`make bench`: the office page's figures. N cases (default 10 000; `make bench` 100 000) in
a spool, `lawline web` on it, then over HTTPS: log in, render the cases page (open cases,
the first of 100 per page; and every case, filtered to overdue ones) a number of times, and
read the page process's memory (RSS, from /proc) before and after. With --clerks N, N clerks
log in and go through the pages at once (median and p95 per page, the page's peak RSS).
Figures, not pass/fail.

    python -m lawline_rig.webbench [--cases N] [--clerks N] [--rounds R] [--json]"""

import http.cookiejar
import re
import ssl
import statistics
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from lawline import config as configuration

from .webpage import WebPage

CASES = 10_000
ROUNDS = 10


def seed(spool, n=CASES):
    """n cases over the last 60 days, a third of them open, through the case book's own
    schema (Cases), in one transaction. Numbers count per day, as the box's do (a fifth
    digit past 9999 a day)."""
    from lawline.records.cases import KINDS, Cases
    cases = Cases(spool / "cases.db")
    now = time.time()
    rows, history, per_day = [], [], {}
    for i in range(n):
        opened = now - (n - i) * 60 * 60 * 24 * 60 / n
        day = time.strftime("%y%m%d", time.localtime(opened))
        per_day[day] = per_day.get(day, 0) + 1
        number = f"{day}{per_day[day]:04d}"
        kind = KINDS[i % len(KINDS)]
        state = ("new", "assigned", "resolved", "caller_informed", "caller_informed",
                 "resolved")[i % 6]
        rows.append((number, kind, state, f"138{i:08d}", "13900000001" if state != "new"
                     else "", "张律师" if state != "new" else "", opened, opened,
                     opened + 72 * 3600, opened + 3600 if "resol" in state or "caller" in
                     state else None))
        history.append((number, opened, state, "bench", ""))
    db = cases._db
    db.execute("BEGIN")
    db.executemany("INSERT OR IGNORE INTO cases (number, kind, state, caller, owner, "
                   "owner_name, opened, updated, due, resolved) VALUES (?,?,?,?,?,?,?,?,?,?)",
                   rows)
    db.executemany("INSERT INTO case_history (number, at, state, by, note) VALUES (?,?,?,?,?)",
                   history)
    db.execute("COMMIT")
    count = db.execute("SELECT COUNT(*) FROM cases").fetchone()[0]
    cases.close()
    return count


def rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Client:
    def __init__(self, url):
        self.url = url
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE    # the page's own self-signed certificate
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=context),
            urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path):
        with self.opener.open(self.url + path, timeout=60) as r:
            return r.read().decode("utf-8")

    def login(self, name, password):
        page = self.get("/login")
        action = re.search(r'<form method="post" action="([^"]+)"', page)[1]
        data = urllib.parse.urlencode({"name": name, "password": password,
                                       "next": "/"}).encode()
        with self.opener.open(self.url + action.replace("&amp;", "&"), data=data,
                              timeout=60) as r:
            body = r.read().decode("utf-8")
        if "<h1>状态</h1>" not in body:
            raise RuntimeError("bench: could not log in to the office page")


def timed(client, path, rounds=ROUNDS):
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        body = client.get(path)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), max(times), body


PAGES = (("cases page, open cases (100 shown)", "/cases"),
         ("cases page, all cases, overdue only", "/cases?state=all&overdue=1"),
         ("cases page, all cases, page 50", "/cases?state=all&page=50"),
         ("one case", None),
         ("status page", "/"))


def clerks_at_once(url, clerks, rounds, numbers):
    """`clerks` clerks logged in at once, each going through the pages `rounds` times
    (one case page: a different case each time): {label: [ms, ...]}."""
    import threading
    times = {label: [] for label, _ in PAGES}
    errors = []
    lock = threading.Lock()
    start = threading.Barrier(len(clerks))

    def clerk(name, password, k):
        try:
            client = Client(url)
            client.login(name, password)
            start.wait(60)
            for r in range(rounds):
                for label, path in PAGES:
                    path = path or f"/cases/{numbers[(k * rounds + r) % len(numbers)]}"
                    t = time.perf_counter()
                    client.get(path)
                    with lock:
                        times[label].append((time.perf_counter() - t) * 1000)
        except Exception as exc:  # noqa: BLE001 - reported with the figures
            errors.append(f"{name}: {exc!r}")
            start.abort()
    threads = [threading.Thread(target=clerk, args=(name, password, k))
               for k, (name, password) in enumerate(clerks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times, errors


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else None


def main(argv=None):
    import argparse
    import json
    import threading
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=CASES)
    parser.add_argument("--clerks", type=int, default=0,
                        help="also this many clerks at once, each through every page")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--json", action="store_true", help="figures as JSON")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="lawline-webbench-"))
    spool = root / "spool"
    spool.mkdir()
    config_path = root / "lawline.toml"
    config_path.write_text(configuration.dump({"spool": {"dir": str(spool)}}),
                           encoding="utf-8")
    t = time.monotonic()
    n = seed(spool, args.cases)
    seeded_s = time.monotonic() - t
    from .webpage import DEMO_USERS
    clerks = [(f"clerk{k}", f"bench-clerk-{k}-0148") for k in range(1, args.clerks + 1)]
    users = DEMO_USERS + tuple((name, "clerk", f"文员{k}", "", password)
                               for k, (name, password) in enumerate(clerks, 1))
    import sqlite3
    con = sqlite3.connect(spool / "cases.db")
    numbers = [row[0] for row in con.execute(
        "SELECT number FROM cases WHERE kind != 'complaint' ORDER BY random() LIMIT 500")]
    con.close()
    page = WebPage(config_path, root, users=users).start()
    peak = [0]
    try:
        pid = page.proc.pid
        idle = rss_kb(pid)
        client = Client(page.url)
        client.login("head", page.password("head"))
        results = []
        for label, path in PAGES:
            median, worst, body = timed(client, path or f"/cases/{numbers[0]}", args.rounds)
            total = re.search(r"共 (\d+) 件", body)
            results.append((label, median, worst, total[1] if total else "-"))
        busy = rss_kb(pid)
        load = None
        if clerks:
            done = threading.Event()

            def sample():
                while not done.is_set():
                    peak[0] = max(peak[0], rss_kb(pid))
                    done.wait(0.05)
            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            t = time.monotonic()
            times, errors = clerks_at_once(page.url, clerks, args.rounds, numbers)
            wall = time.monotonic() - t
            done.set()
            sampler.join()
            load = {"clerks": len(clerks), "rounds": args.rounds, "wall_s": round(wall, 1),
                    "errors": errors,
                    "pages": [{"label": label, "median_ms": round(statistics.median(v), 1),
                               "p95_ms": round(percentile(v, 0.95), 1),
                               "max_ms": round(max(v), 1), "requests": len(v)}
                              for label, v in times.items() if v]}
        after = rss_kb(pid)
    finally:
        page.stop()
    if args.json:
        figures = {"cases": n, "seeded_s": round(seeded_s, 1),
                   "one_clerk": [{"label": label, "median_ms": round(median, 1),
                                  "max_ms": round(worst, 1), "matched": total}
                                 for label, median, worst, total in results],
                   "rss_mb_after_start": round(idle / 1024, 1),
                   "rss_mb_after_one_clerk": round(busy / 1024, 1),
                   "rss_mb_peak": round(max(peak[0], after) / 1024, 1),
                   "rss_mb_after": round(after / 1024, 1)}
        if load:
            figures.update(load)
        print(json.dumps(figures, indent=2))
        return 1 if load and load["errors"] else 0
    print(f"\n== office page (lawline web) with {n} cases")
    for label, median, worst, total in results:
        print(f"  {label:40} median {median:6.1f} ms, worst {worst:6.1f} ms"
              f"{'  (' + total + ' cases matched)' if total != '-' else ''}")
    if load:
        print(f"  {load['clerks']} clerks at once, {load['rounds']} rounds each:")
        for p in load["pages"]:
            print(f"    {p['label']:38} median {p['median_ms']:6.1f} ms, p95 "
                  f"{p['p95_ms']:6.1f} ms")
    print(f"  page process memory (RSS): {idle / 1024:.1f} MB after start, "
          f"{busy / 1024:.1f} MB after the requests, peak {max(peak[0], after) / 1024:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
