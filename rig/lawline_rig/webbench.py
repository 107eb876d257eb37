"""`make bench`: the office page's figures. 10 000 cases in a spool, `lawline web` on it, then
over HTTPS: log in, render the cases page (open cases, the first of 100 per page; and every
case, filtered to overdue ones) a number of times, and read the page process's memory (RSS,
from /proc) before and after. Figures, not pass/fail."""

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
    schema (Cases), in one transaction."""
    from lawline.records.cases import KINDS, Cases
    cases = Cases(spool / "cases.db")
    now = time.time()
    rows, history = [], []
    for i in range(n):
        opened = now - (n - i) * 60 * 60 * 24 * 60 / n
        day = time.strftime("%y%m%d", time.localtime(opened))
        number = f"{day}{i % 10000:04d}"
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


def main():
    root = Path(tempfile.mkdtemp(prefix="lawline-webbench-"))
    spool = root / "spool"
    spool.mkdir()
    config_path = root / "lawline.toml"
    config_path.write_text(configuration.dump({"spool": {"dir": str(spool)}}),
                           encoding="utf-8")
    n = seed(spool)
    page = WebPage(config_path, root).start()
    try:
        pid = page.proc.pid
        idle = rss_kb(pid)
        client = Client(page.url)
        client.login("head", page.password("head"))
        results = []
        for label, path in (("cases page, open cases (100 shown)", "/cases"),
                            ("cases page, all cases, overdue only", "/cases?state=all&overdue=1"),
                            ("cases page, all 10 000, page 50", "/cases?state=all&page=50"),
                            ("status page", "/")):
            median, worst, body = timed(client, path)
            total = re.search(r"共 (\d+) 件", body)
            results.append((label, median, worst, total[1] if total else "-"))
        busy = rss_kb(pid)
    finally:
        page.stop()
    print(f"\n== office page (lawline web) with {n} cases")
    for label, median, worst, total in results:
        print(f"  {label:40} median {median:6.1f} ms, worst {worst:6.1f} ms"
              f"{'  (' + total + ' cases matched)' if total != '-' else ''}")
    print(f"  page process memory (RSS): {idle / 1024:.1f} MB after start, "
          f"{busy / 1024:.1f} MB after the requests")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
