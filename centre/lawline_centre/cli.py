"""`lawline-centre`: the prefecture's coordination centre.

    lawline-centre ingest  --config centre.toml [--full]     read what the boxes uploaded
    lawline-centre serve   --config centre.toml              the page (HTTPS); it also ingests
                                                             and sends the scheduled mails
    lawline-centre user add NAME --role head|clerk|duty [--county county-001] --config ...
    lawline-centre user unlock NAME --config ...
    lawline-centre report  --config ... --week|--month [--out F.xlsx] [--send]
    lawline-centre overdue --config ... [--send]             the overdue list (daily mail)
    lawline-centre generate --counties N --days D --out DIR  counties' records (box code)
    lawline-centre demo                                      make centre-demo
    lawline-centre bench                                     make centre-bench
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import getpass
import logging
import os
import socket
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

from . import config as configuration

log = logging.getLogger("lawline.centre")


def main(argv=None):
    p = argparse.ArgumentParser(prog="lawline-centre", description=__doc__.split("\n")[0])
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)
    q = sub.add_parser("ingest", help="read what the boxes uploaded since the last run")
    q.add_argument("--config", required=True)
    q.add_argument("--full", action="store_true", help="list every day of every box")
    q = sub.add_parser("serve", help="the page, with its own ingest and mails")
    q.add_argument("--config", required=True)
    q.add_argument("--bind")
    q.add_argument("--port", type=int)
    q.add_argument("--ready-file")
    q.add_argument("--no-schedule", action="store_true",
                   help="no ingest or mails in the background (tests, a read-only copy)")
    q = sub.add_parser("user", help="accounts of the page")
    q.add_argument("--config", required=True)
    actions = q.add_subparsers(dest="user_command", required=True)
    a = actions.add_parser("add")
    a.add_argument("name")
    a.add_argument("--role", required=True, choices=("head", "clerk", "duty"))
    a.add_argument("--county", default="*", help="the box's [office] id; * (default): all")
    a.add_argument("--display", default="")
    a.add_argument("--password-stdin", action="store_true")
    a = actions.add_parser("unlock")
    a.add_argument("name")
    actions.add_parser("list")
    q = sub.add_parser("report", help="the weekly or monthly report")
    q.add_argument("--config", required=True)
    g = q.add_mutually_exclusive_group(required=True)
    g.add_argument("--week", action="store_true")
    g.add_argument("--month", action="store_true")
    q.add_argument("--at", help="a day in the period (default: the last whole one)")
    q.add_argument("--out", help="write the XLSX here")
    q.add_argument("--send", action="store_true", help="mail it to [mail] leadership")
    q = sub.add_parser("overdue", help="open cases past due and silent boxes")
    q.add_argument("--config", required=True)
    q.add_argument("--send", action="store_true", help="mail it to [mail] coordinator")
    q = sub.add_parser("generate", help="a stretch of upstream records for N counties")
    from .generator import run as generator
    generator.add_arguments(q)
    q = sub.add_parser("demo", help="an S3 server with 100 counties' records, and the page")
    q.add_argument("--dir", default="build/centre-demo")
    q.add_argument("--counties", type=int, default=100)
    q.add_argument("--days", type=int, default=120)
    q.add_argument("--port", type=int, default=8444)
    q.add_argument("--exit-after-ingest", action="store_true")
    q = sub.add_parser("bench", help="ingest and page query figures against read_json")
    q.add_argument("--dir", default="build/centre-bench")
    q.add_argument("--counties", type=int, default=100)
    q.add_argument("--days", type=int, default=365)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("lawline.records").setLevel(logging.ERROR)
    try:
        if args.command == "generate":
            logging.getLogger("lawline").setLevel(logging.ERROR)
            logging.getLogger("lawline.centre").setLevel(logging.INFO)
            return generator.main(args)
        if args.command == "demo":
            from . import demo
            return demo.main(args)
        if args.command == "bench":
            from . import bench
            return bench.main(args)
        cfg = configuration.load(args.config)
        os.umask(0o077)
        return {"ingest": ingest, "serve": serve, "user": user, "report": report,
                "overdue": overdue}[args.command](cfg, args)
    except configuration.CentreConfigError as exc:
        print(f"lawline-centre: 配置错误（configuration error）: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - one line for the installer, not a traceback
        from .ingest import IngestBusy
        from .reports import MailError
        from .source import SourceError
        from .store import StoreError
        if isinstance(exc, (IngestBusy, MailError, SourceError, StoreError)):
            print(f"lawline-centre: {exc}", file=sys.stderr)
            return 1
        raise


def _ingest(cfg, store, full=False, step=None):
    from .ingest import Ingest, cleanup_temp
    cleanup_temp()
    source = configuration.open_source(cfg)
    try:
        return Ingest(source, store, rescan_days=int(cfg.centre.rescan_days),
                      lock_file=Path(cfg.centre.data_dir) / "ingest.lock", step=step).run(full)
    finally:
        source.close()


def ingest(cfg, args):
    store = configuration.open_store(cfg)
    try:
        report = _ingest(cfg, store, args.full)
    finally:
        store.close()
    print(report.line())
    for key, why in report.refused[:50]:
        print(f"  refused {key!r}: {why}")
    return 0


class Scheduler(threading.Thread):
    """Inside the page's process: ingest every ingest_every_s (a full sweep every
    full_every_hours), then the mails that are due (reports.due_today), each sent once
    (kept in web.db's centre_sent)."""

    def __init__(self, cfg, store, web):
        super().__init__(name="centre-scheduler", daemon=True)
        self.cfg, self.store, self.web = cfg, store, web
        self.stop = threading.Event()
        self.last_full = 0.0
        db = web.scopes._db
        db.execute("CREATE TABLE IF NOT EXISTS centre_sent(what TEXT PRIMARY KEY, at REAL)")

    def run(self):
        from . import reports
        while not self.stop.is_set():
            full = time.time() - self.last_full > self.cfg.centre.full_every_hours * 3600
            try:
                report = _ingest(self.cfg, self.store, full)
                if full:
                    self.last_full = time.time()
                self.web.ingest_state.update(last=f"{datetime.datetime.now():%m-%d %H:%M:%S}"
                                             f"，新读取 {report.new} 个", error=None)
            except Exception as exc:  # noqa: BLE001 - the page keeps serving what it has
                log.error("ingest failed: %s; tried again in %g s", exc,
                          self.cfg.centre.ingest_every_s)
                self.web.ingest_state.update(error=str(exc))
            if self.cfg.mail.host:
                self._mails(reports)
            self.stop.wait(self.cfg.centre.ingest_every_s)

    def _mails(self, reports):
        db = self.web.scopes._db
        sent = {r[0] for r in db.execute("SELECT what FROM centre_sent")}
        for what, period in reports.due_today(self.web.now(), sent):
            try:
                if what == "overdue":
                    reports.send_overdue(self.web)
                    key = f"overdue {period}"
                else:
                    reports.send_report(self.web, period)
                    key = f"{what} {period.start}"
                db.execute("INSERT OR IGNORE INTO centre_sent VALUES (?, ?)", (key, time.time()))
                log.info("mail: %s sent", key)
            except reports.MailError as exc:
                log.error("mail: %s not sent: %s; tried again at the next run", what, exc)


def serve(cfg, args, stop_after=None):
    import uvicorn
    from lawline.web import cert
    from .web import build
    store = configuration.open_store(cfg)
    data = Path(cfg.centre.data_dir)
    certfile, keyfile = cert.ensure(SimpleNamespace(web=cfg.web), data)
    app = build(cfg, store)
    web = app.state.web
    host = args.bind or cfg.web.bind
    port = cfg.web.port if args.port is None else args.port
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        print(f"lawline-centre: cannot listen on {host}:{port}: {exc.strerror}",
              file=sys.stderr)
        return 1
    sock.listen(64)
    port = sock.getsockname()[1]
    url = f"https://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    scheduler = None
    if not args.no_schedule:
        scheduler = Scheduler(cfg, store, web)
        scheduler.start()
    server = uvicorn.Server(uvicorn.Config(
        app, ssl_certfile=str(certfile), ssl_keyfile=str(keyfile), log_config=None,
        access_log=False, lifespan="off", server_header=False, proxy_headers=False,
        timeout_graceful_shutdown=3))
    log.info("centre: the page is ready on %s (store: %s %s)", url, store.engine, store.where)
    if args.ready_file:
        tmp = Path(args.ready_file).with_suffix(".tmp")
        tmp.write_text(url + "\n")
        tmp.replace(args.ready_file)
    try:
        asyncio.run(server.serve(sockets=[sock]))
    finally:
        if scheduler is not None:
            scheduler.stop.set()
            scheduler.join(30)
        store.close()
    return 0


def user(cfg, args):
    from lawline.web.accounts import ROLES, AccountError, Accounts
    from .web import Scopes
    data = Path(cfg.centre.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    accounts = Accounts(data / "web.db")
    scopes = Scopes(data / "web.db")
    try:
        if args.user_command == "add":
            if args.password_stdin:
                password = sys.stdin.readline().rstrip("\n")
            else:
                password = getpass.getpass("password: ")
                if getpass.getpass("again: ") != password:
                    print("the two passwords differ", file=sys.stderr)
                    return 1
            made = accounts.add_user(args.name, args.role, password, args.display)
            scopes.set(made.name, args.county)
            accounts.audit("shell", "", "centre", "user_added", made.name,
                           f"{made.role} {args.county}")
            print(f"user {made.name} added ({made.role}, "
                  f"{'every county' if args.county == '*' else args.county})")
        elif args.user_command == "unlock":
            accounts.unlock(args.name)
            accounts.audit("shell", "", "centre", "user_unlocked", args.name)
            print(f"user {args.name} unlocked")
        else:
            every = scopes.all()
            for u in accounts.users():
                print(f"{u.name:16} {u.role:6} ({ROLES[u.role]}) {every.get(u.name, '*'):12} "
                      f"{'LOCKED' if u.locked else 'ok'}")
    except AccountError as exc:
        print(f"lawline-centre: {exc}", file=sys.stderr)
        return 1
    finally:
        accounts.close()
    return 0


def _web(cfg):
    from .web import Centre
    store = configuration.open_store(cfg)
    return Centre(cfg, store)


def report(cfg, args):
    from . import measures, reports
    web = _web(cfg)
    try:
        kind = "week" if args.week else "month"
        day = datetime.date.fromisoformat(args.at) if args.at else None
        period = measures.Period.containing(kind, day) if day else \
            measures.Period.containing(kind, web.now().date()).previous()
        if args.send:
            built = reports.send_report(web, period)
            print(f"{kind} report {period.label()} sent to {', '.join(cfg.mail.leadership)}")
        else:
            built = reports.build(web, period)
        if args.out:
            Path(args.out).write_bytes(built.xlsx)
            print(f"{kind} report {period.label()} written to {args.out}")
    finally:
        web.store.close()
    return 0


def overdue(cfg, args):
    from . import measures, reports
    web = _web(cfg)
    try:
        if args.send:
            rows, silent = reports.send_overdue(web)
            print(f"overdue list sent: {len(rows)} case(s), {len(silent)} silent box(es)")
            return 0
        for o, n, kind, _t, _op, due, state, owner, owner_name, caller in \
                measures.overdue_cases(web.cursor(), web.now()):
            print(f"{o}\t{n}\t{kind}\tdue {due:%Y-%m-%d %H:%M}\t{state}\t"
                  f"{owner_name or owner or '-'}")
    finally:
        web.store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
