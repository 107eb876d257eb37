"""`lawline check`: is this box ready to answer the line? One line per part, in plain words.

Validates the configuration, then either reads the running box's own states (when the
service is up it owns the modem, so the check must not touch the port) or probes the modem
itself: AT, SIM, signal, network registration. Then prompts, spool and upstream.
Exit code: 0 all fine or warnings only, 1 something is broken, 2 the config is wrong.
"""

import asyncio
import shutil
import sqlite3
import time
import urllib.error
import urllib.request

from . import config as configuration
from . import status as box_status
from .call.prompts import Prompts
from .errors import LawlineError

MARK = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


class Report:
    def __init__(self):
        self.rows = []

    def add(self, state, part, message):
        self.rows.append((state, part, message))
        print(f"[{MARK[state]}] {part}: {message}", flush=True)

    @property
    def failed(self):
        return any(state == "fail" for state, _, _ in self.rows)


async def probe_modem(cfg, report):
    from .line import profiles as line_profiles
    if line_profiles.get(cfg.line.profile).kind == "v253":
        from .line.v253 import probe   # a voice modem: formats and full duplex, no SIM
        return await probe(cfg.line, report)
    from .line.modem import Modem
    modem = Modem(cfg.line.profile, cfg.line.at_port, cfg.line.audio_port,
                  name=cfg.line.at_port, command_timeout=cfg.line.command_timeout)
    try:
        modem.at.open()
        await modem.at.command("AT", timeout=cfg.line.command_timeout, retries=2)
    except LawlineError as exc:
        report.add("fail", "modem", str(exc))
        modem.close()
        return
    try:
        model = " ".join(await modem.at.command("AT+CGMM", timeout=3)) or "unknown model"
        report.add("ok", "modem", f"answers on {cfg.line.at_port} ({model})")
        try:
            sim = " ".join(await modem.at.command("AT+CPIN?", timeout=3, expect="+CPIN:"))
            state = "ok" if "READY" in sim else "fail"
            report.add(state, "SIM card", sim or "no answer")
        except LawlineError as exc:
            report.add("fail", "SIM card", f"not ready: {exc}")
        try:
            csq = " ".join(await modem.at.command("AT+CSQ", timeout=3, expect="+CSQ:"))
            rssi = int(csq.split(":")[1].split(",")[0])
            if rssi == 99:
                report.add("fail", "signal", "unknown (no network?)")
            else:
                dbm = -113 + 2 * rssi
                report.add("ok" if rssi >= 10 else "warn", "signal",
                           f"{dbm} dBm (CSQ {rssi}){'; weak: move the antenna' if rssi < 10 else ''}")
        except (LawlineError, ValueError, IndexError) as exc:
            report.add("warn", "signal", f"could not read: {exc}")
        try:
            creg = " ".join(await modem.at.command("AT+CREG?", timeout=3, expect="+CREG:"))
            stat = creg.split(",")[1].strip() if "," in creg else "?"
            words = {"1": "registered (home)", "5": "registered (roaming)", "2": "searching",
                     "3": "registration denied", "0": "not searching"}
            report.add("ok" if stat in ("1", "5") else "fail", "network",
                       words.get(stat, f"unknown state {creg!r}"))
        except LawlineError as exc:
            report.add("warn", "network", f"could not read: {exc}")
    finally:
        modem.close()


def check_upstream(cfg, report):
    if not cfg.upstream.url:
        report.add("warn", "upstream", "no [upstream] url: voicemails stay on this box")
        return
    try:
        req = urllib.request.Request(cfg.upstream.url, method="HEAD")
        urllib.request.urlopen(req, timeout=5)
        report.add("ok", "upstream", f"{cfg.upstream.url} answers")
    except urllib.error.HTTPError as exc:
        # Any HTTP answer means the server is there; PUT permissions are proven by uploads.
        report.add("ok", "upstream", f"{cfg.upstream.url} answers (HTTP {exc.code} to HEAD)")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        report.add("warn", "upstream", f"{cfg.upstream.url} unreachable ({reason}); messages "
                   "wait in the outbox")


def check_storage(cfg, report):
    """outbox.db and cases.db checked as the box checks them at start (sync/sqlitefile.py),
    reading only: a damaged one is reported, never moved (the box sets it aside itself)."""
    from .sync import sqlitefile
    damaged = False
    from .sync.outbox import Outbox
    for name, tables, columns in (("outbox.db", Outbox.TABLES, Outbox.JSON_COLUMNS),
                                  ("cases.db", ("case_counter",), None)):
        try:
            reason = sqlitefile.problem(cfg.spool_dir / name, tables, columns)
        except (OSError, sqlite3.Error) as exc:
            reason = f"it cannot be checked ({exc})"
        if reason is not None:
            damaged = True
            report.add("fail", "storage", f"{cfg.spool_dir / name} is damaged: {reason}; at its "
                       "next start the box sets it aside in damaged/, starts a fresh one and "
                       "owes every recording on the spool again")
    kept = sqlitefile.set_aside_copies(cfg.spool_dir / "damaged")
    if kept:
        report.add("warn", "storage", f"{len(kept)} damaged database(s) kept in "
                   f"{cfg.spool_dir / 'damaged'} (newest {kept[-1].name}); the box runs on fresh "
                   "ones: check the storage card")
    return damaged


def check_outbox(cfg, report):
    db = cfg.spool_dir / "outbox.db"
    if check_storage(cfg, report):
        return
    if not db.exists():
        report.add("ok", "outbox", "empty (no calls yet)")
        return
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        row = con.execute("SELECT COUNT(*), MIN(i.created) FROM deliveries d JOIN items i "
                          "ON i.id = d.item_id WHERE d.state = 'pending'").fetchone()
    except sqlite3.Error as exc:
        report.add("fail", "outbox", f"cannot read {db}: {exc}")
        return
    finally:
        con.close()
    count, oldest = row
    if not count:
        report.add("ok", "outbox", "everything delivered")
    else:
        age = (time.time() - oldest) / 3600
        report.add("warn" if age > 1 else "ok", "outbox",
                   f"{count} upload(s) waiting, oldest {age:.1f} h")


def main(args):
    report = Report()
    try:
        cfg = configuration.load(args.config)
    except LawlineError as exc:
        report.add("fail", "config", str(exc))
        return 2
    report.add("ok", "config", f"{args.config} is valid")
    prompts = Prompts(cfg.prompts_dir)
    missing = prompts.missing()
    if missing:
        report.add("fail", "prompts", f"no audio for {', '.join(missing)}: run 'make prompts' "
                   "or record them")
    else:
        report.add("ok", "prompts", f"{len(prompts.names())} prompts in {prompts.dir}")
    spool = cfg.spool_dir
    if spool.exists():
        free = shutil.disk_usage(spool).free / 2**20
        report.add("ok" if free > 200 else "warn", "spool",
                   f"{spool}: {free:.0f} MB free")
    else:
        report.add("warn", "spool", f"{spool} does not exist yet (the box creates it)")
    running = box_status.read(spool / "state.json")
    if running:
        report.add("ok", "box", f"running (pid {running['pid']}); its own view follows")
        for part, st in sorted(running["parts"].items()):
            report.add(st["state"], part, st["message"])
    elif not args.no_modem:
        asyncio.run(probe_modem(cfg, report))
    from .sip.door import exposure  # where SIP listens, who may send (DESIGN.md, Security)
    state, text = exposure(cfg)
    report.add(state, "SIP", text)
    check_upstream(cfg, report)
    check_outbox(cfg, report)
    from .sync.report import check as check_sync  # spool budget, each upload target
    check_sync(cfg, report)
    from .duty.desk import DutyDesk  # holiday data ahead, rota files, cover gaps
    try:
        for state, part, message in DutyDesk(cfg).problems():
            report.add(state, part, message)
    except LawlineError as exc:
        report.add("fail", "duty", str(exc))
    return 1 if report.failed else 0
