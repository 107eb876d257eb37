"""`lawline check`: is this box ready to answer the line? One line per part, in plain words.

Validates the configuration, then either reads the running box's own states (when the
service is up it owns the modem, so the check must not touch the port) or probes the modem
itself: AT, SIM, signal, network registration. Then prompts, spool and upstream.
Exit code: 0 all fine or warnings only, 1 something is broken, 2 the config is wrong.

The check only reads: it never writes into the prompts directory or the spool, and it finds
a running box by the lock the box holds on its spool (status.py), never by signalling a PID.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import importlib.util
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from . import config as configuration
from . import status as box_status
from .prompts import Prompts
from .errors import LawlineError

if TYPE_CHECKING:
    from .config import Config
    from .settings import LineSection

MARK = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}

PJSUA2_FIX = ("pjsua2 (the SIP and media core) is not installed in this Python: on the Pi "
              "install the arm64 wheel (build/wheels/pjsua2-*.whl, built by "
              "tools/build-pjsua2.sh) with `pip install`; on x86-64 `pip install pjsua2-python`")
TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")
TIME_ERROR = 5      # adjtimex(2): the kernel clock is not synchronised (STA_UNSYNC)


class Report:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str]] = []   # (state, part, message)

    def add(self, state: str, part: str, message: str) -> None:
        self.rows.append((state, part, message))
        print(f"[{MARK[state]}] {part}: {message}", flush=True)

    @property
    def failed(self) -> bool:
        return any(state == "fail" for state, _, _ in self.rows)


async def probe_modem(cfg: Config, report: Report) -> None:
    """Every line's modem ([[line]], or the one [line]), one after the other."""
    for number, line in enumerate(cfg.lines, start=1):
        if len(cfg.lines) > 1:
            report.add("ok", f"line {number}", f"{line.number}: {line.profile} on "
                       f"{line.at_port}")
        await _probe_line(line, report)


async def _probe_line(line: LineSection, report: Report) -> None:
    from .line import profiles as line_profiles
    if line_profiles.get(line.profile).kind == "v253":
        from .line.v253 import probe   # a voice modem: formats and full duplex, no SIM
        await probe(line, report)
        return
    from .line.modem import Modem
    modem = Modem(line.profile, line.at_port, line.audio_port,
                  name=line.at_port, command_timeout=line.command_timeout)
    try:
        modem.at.open()
        await modem.at.command("AT", timeout=line.command_timeout, retries=2)
    except LawlineError as exc:
        report.add("fail", "modem", str(exc))
        modem.close()
        return
    try:
        model = " ".join(await modem.at.command("AT+CGMM", timeout=3)) or "unknown model"
        report.add("ok", "modem", f"answers on {line.at_port} ({model})")
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


def check_upstream(cfg: Config, report: Report) -> None:
    """One HEAD to [upstream] url with its own CA file and token or basic auth, as uploads
    use them: a refused credential or an unknown CA shows here, not at the first voicemail."""
    if not cfg.upstream.url:
        report.add("warn", "upstream", "no [upstream] url: voicemails stay on this box")
        return
    from .sync.http import HttpPutTarget, UploadError
    from .sync.settings import UPSTREAM, build_targets
    try:
        target = build_targets(cfg).sinks[UPSTREAM]
    except LawlineError as exc:
        report.add("fail", "upstream", str(exc))
        return
    assert isinstance(target, HttpPutTarget)    # what build_targets makes of [upstream]
    url = cfg.upstream.url
    try:
        code = target.probe()
    except UploadError as exc:
        report.add("warn", "upstream", f"{url} unreachable ({exc.reason}); messages wait in "
                   "the outbox")
        return
    if code in (401, 403):
        how = "token" if cfg.upstream.token_file else \
            "user name and password" if cfg.upstream.username else "no credentials"
        report.add("fail", "upstream", f"{url} refused the {how} (HTTP {code} to HEAD): "
                   "uploads will be refused too")
    else:
        # Any other answer means the server is there and took the credentials; PUT
        # permissions are proven by uploads.
        report.add("ok", "upstream", f"{url} answers (HTTP {code} to HEAD"
                   f"{', with its CA file' if cfg.upstream.ca_file else ''})")


def check_pjsua2(report: Report) -> bool:
    try:
        found = importlib.util.find_spec("pjsua2") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        report.add("fail", "pjsua2", PJSUA2_FIX)
        return False
    report.add("ok", "pjsua2", "installed")
    return True


def check_prompts(cfg: Config, report: Report) -> None:
    """Every prompt has audio on disk (recorded NAME.wav or generated/NAME.wav). Nothing is
    rendered or written here."""
    prompts = Prompts(cfg.prompts_dir)
    texts = sorted(p.stem for p in prompts.dir.glob("*.txt")) if prompts.dir.is_dir() else []
    if not texts:
        report.add("fail", "prompts", f"no prompt texts in {prompts.dir}: the box has "
                   "nothing to say (wrong [prompts] dir?)")
        return
    missing = [name for name in prompts.names() if not prompts.has_audio(name)]
    if missing:
        report.add("fail", "prompts", f"{len(missing)} of {len(prompts.names())} prompts have "
                   f"no audio in {prompts.dir}: {', '.join(missing)}; run 'lawline prompts "
                   f"{prompts.dir}' or record them")
    else:
        report.add("ok", "prompts", f"all {len(prompts.names())} prompts have audio in "
                   f"{prompts.dir}")


def system_zone(localtime: str | os.PathLike[str] = Path("/etc/localtime"),
                environ: Mapping[str, str] | None = None) -> str | None:
    """The system's time zone name: $TZ, else where /etc/localtime points, else
    /etc/timezone; None when none says."""
    env = os.environ if environ is None else environ
    tz = env.get("TZ", "").lstrip(":")
    if tz:
        return tz
    target = os.path.realpath(localtime)
    if "zoneinfo/" in target:
        return target.split("zoneinfo/", 1)[1]
    try:
        return Path("/etc/timezone").read_text().strip() or None
    except OSError:
        return None


def kernel_clock_state() -> int:
    """adjtimex(2) with no changes: its return value (TIME_ERROR: not synchronised)."""
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(512)  # struct timex, modes = 0: read only
    state: int = libc.adjtimex(buf)
    return state


def check_clock(cfg: Config, report: Report, zone: str | None = None,
                synced_flag: str | os.PathLike[str] = TIMESYNC_FLAG,
                clock_state: Callable[[], int] | None = None) -> None:
    """Time zone and synchronisation: office hours follow [office] timezone either way, but
    logs, case numbers and call records use the system's clock and zone."""
    want = cfg.office.timezone
    zone = zone if zone is not None else system_zone()
    if zone != want:
        report.add("warn", "clock", f"system time zone is {zone or 'unknown'}, not the "
                   f"office's {want} ([office] timezone): logs and case numbers use the "
                   f"system's; fix with `timedatectl set-timezone {want}`")
    if Path(synced_flag).exists():
        report.add("ok", "clock", "synchronised (systemd-timesyncd)")
        return
    try:
        state = kernel_clock_state() if clock_state is None else clock_state()
    except (OSError, AttributeError) as exc:
        report.add("warn", "clock", f"cannot tell whether the clock is synchronised: {exc}")
        return
    if state == TIME_ERROR:
        report.add("warn", "clock", "not synchronised (no NTP yet): office hours, the rota and "
                   "timestamps may be wrong; check the network and `systemctl status "
                   "systemd-timesyncd`")
    elif zone == want:
        report.add("ok", "clock", f"synchronised, time zone {zone}")


def check_trunk(cfg: Config, report: Report, timeout: float | None = None) -> None:
    """Without a running box: register once with the [trunk] (password file mode checked
    first), in a process of its own (pjsua2 allows one endpoint per process)."""
    from .sip.trunk import configured
    if not configured(cfg):
        return
    if cfg.path is None:
        report.add("warn", "trunk", "not probed (no config file)")
        return
    limit = timeout or cfg.trunk.reply_timeout + 15
    try:
        out = subprocess.run([sys.executable, "-m", "lawline", "trunk", "--config",
                              str(cfg.path)], capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        report.add("fail", "trunk", f"no result from one REGISTER within {limit:g} s")
        return
    if out.returncode == 0:
        report.add("ok", "trunk", out.stdout.strip().splitlines()[-1])
    elif out.returncode == 1 and out.stdout.strip():
        report.add("fail", "trunk", out.stdout.strip().splitlines()[-1])
    else:
        lines = (out.stderr.strip() or out.stdout.strip() or f"exit {out.returncode}")
        report.add("fail", "trunk", lines.splitlines()[-1].replace("lawline: ", ""))


def check_lab_defaults(cfg: Config, report: Report) -> None:
    unset = configuration.still_lab_defaults(cfg)
    if unset:
        report.add("warn", "config", "still the example's lab values (set them for this "
                   f"office): {', '.join(unset)}")


def check_storage(cfg: Config, report: Report) -> bool:
    """outbox.db and cases.db checked as the box checks them at start (sync/sqlitefile.py),
    reading only: a damaged one is reported, never moved (the box sets it aside itself)."""
    from .sync import sqlitefile
    damaged = False
    from .sync.outbox import Outbox
    for name, tables, columns in (("outbox.db", Outbox.TABLES, Outbox.JSON_COLUMNS),
                                  ("cases.db", ("case_counter",), None)):
        reason: str | None
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


def check_outbox(cfg: Config, report: Report) -> None:
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


def main(args: argparse.Namespace) -> int:
    report = Report()
    try:
        cfg = configuration.load(args.config)
    except LawlineError as exc:
        report.add("fail", "config", str(exc))
        return 2
    report.add("ok", "config", f"{args.config} is valid")
    check_lab_defaults(cfg, report)
    have_pjsua2 = check_pjsua2(report)
    check_prompts(cfg, report)
    check_clock(cfg, report)
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
    else:
        if not args.no_modem:
            asyncio.run(probe_modem(cfg, report))
        if have_pjsua2:
            check_trunk(cfg, report)
    from .sip.door import exposure  # where SIP listens, who may send (DESIGN.md, Security)
    state, text = exposure(cfg)
    report.add(state, "SIP", text)
    check_upstream(cfg, report)
    check_outbox(cfg, report)
    from .commands.outbox import check as check_sync  # spool budget, each upload target
    check_sync(cfg, report)
    from .duty.desk import DutyDesk  # holiday data ahead, rota files, cover gaps
    try:
        for state, part, message in DutyDesk.from_config(cfg).problems():
            report.add(state, part, message)
    except LawlineError as exc:
        report.add("fail", "duty", str(exc))
    return 1 if report.failed else 0
