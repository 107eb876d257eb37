"""`lawline update`: the steps of a field update that hold the whole configuration (RAUC
does the writing; update.py has the decisions, the record and the running box's side).

- `lawline update FILE|URL` (by hand), `--poll` (lawline-update.timer: [update] url in the
  night window), `--usb DEVICE` (lawline-update-usb@.service): check the signature, wait for
  the line, install into the other slot, activate it for one try, restart with the line idle;
- `--boot` (lawline-update-boot.service): what became of the last attempt;
- `--gate` (lawline-update-gate.service, before boot-complete.target): the health gate on a
  new version's first boot, then good or back to the old slot;
- `--commit` (lawline-update-commit.service, after boot-complete.target): mark-good, and the
  FAT partition's boot files made this slot's;
- `--status`: versions, slots and the last attempts.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from .. import build, config as configuration, status as box_status
from ..config import Config
from ..errors import LawlineError
from ..update import (BOOT_FILES, BOOT_PARTITION, Attempt, Record, boot_outcome,
                      check_failures, download, drop_flag, health_missing, health_verdict,
                      in_window, install_decision, new_check_failures, other_slot,
                      parse_window, poll_due, rauc_info, rauc_install, rauc_mark,
                      rauc_status, run, running_version, sync_boot_files, sync_journal,
                      wait_idle)

log = logging.getLogger("lawline.update")


class Updater:
    def __init__(self, cfg: Config, directory: str | Path | None = None) -> None:
        self.cfg = cfg
        self.dir = Path(directory or cfg.update.dir)
        self.spool = cfg.spool_dir
        self.record = Record(self.dir)

    def _refuse(self, bundle: Path, source: str, words: str, why: str,
                rauc_text: str = "") -> None:
        log.error("update: %s refused: %s%s", bundle, why, f"\n{rauc_text}" if rauc_text else "")
        self.record.start(state="refused", source=source, source_words=words,
                          bundle=str(bundle), version=None, **{"from": running_version()},
                          reason=why)
        raise LawlineError(f"update refused: {bundle} is {why}")

    def check(self, bundle: Path, source: str, words: str) -> dict[str, Any]:
        info, refusal = rauc_info(bundle)
        if refusal or info is None:
            self._refuse(bundle, source, words, *(refusal or ("RAUC refused it", "")))
            raise AssertionError("unreachable")    # _refuse raises
        log.info("update: %s: version %s, signature good (%s)", bundle, info.get("version"),
                 info.get("compatible"))
        return info

    def install(self, bundle: Path, source: str, words: str, retry_failed: bool = True,
                reboot: bool = True, info: dict[str, Any] | None = None) -> int:
        """Check, wait for the line, install, activate, restart. Returns the exit code."""
        info = info or self.check(bundle, source, words)
        version = str(info.get("version") or "unknown")
        current = running_version()
        what, why = install_decision(bundle_version=version, running_version=current,
                                     failed_versions=self.record.failed_versions(),
                                     in_window_now=True, retry_failed=retry_failed)
        if what != "install":
            log.info("update: %s", why)
            return 0
        booted, slots = rauc_status()
        target = other_slot(booted, slots)
        wait_idle(self.spool, f"install {version}", hold=False)
        before = self.check_text()
        sync_journal()
        attempt = self.record.start(state="installing", source=source, source_words=words,
                                    bundle=str(bundle), version=version, target=target,
                                    slot=booted, **{"from": current},
                                    check_before=check_failures(before))
        log.info("update: installing %s into slot %s (running %s in slot %s)", version,
                 target, current, booted)
        t0 = time.monotonic()
        ok, tail = rauc_install(bundle)
        if not ok:
            self.record.set(attempt, state="failed" if "signature" not in tail else "refused",
                            reason=f"RAUC could not install it: {tail.splitlines()[-1:]}")
            raise LawlineError(f"install failed; slot {booted} keeps running:\n{tail}")
        self.record.set(attempt, state="written", install_s=round(time.monotonic() - t0, 1))
        log.info("update: slot %s written in %.0f s", target, time.monotonic() - t0)
        if not reboot:
            rauc_mark("active", "other")
            self.record.set(attempt, state="installed")
            log.info("update: %s will be tried at the next restart", version)
            return 0
        # The slot becomes U-Boot's first choice (for one try) only now, with the line idle
        # and held: a power cut while a call keeps the box waiting leaves the old version.
        wait_idle(self.spool, f"restart into {version}", hold=True)
        rauc_mark("active", "other")
        self.record.set(attempt, state="installed")
        self.reboot(f"first boot of {version}")
        return 0

    def check_text(self) -> str:
        """`lawline check` as the box's user, its output (the FAILs of the old version are
        the baseline of the new one's health gate)."""
        cmd = [sys.executable, "-m", "lawline", "check", "--config", str(self.cfg.path)]
        if os.geteuid() == 0 and shutil.which("runuser"):
            cmd = ["runuser", "-u", "lawline", "--"] + cmd
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd="/")
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"[FAIL] check: did not run: {exc}"
        return out.stdout + out.stderr

    def restart(self, why: str) -> None:
        wait_idle(self.spool, why, hold=True)
        self.reboot(why)

    def reboot(self, why: str) -> None:
        log.info("update: restarting the box (%s)", why)
        sync_journal()
        subprocess.run(["systemctl", "reboot"], check=False)

    # -- sources --------------------------------------------------------------------------

    def from_url(self, url: str, by_hand: bool) -> int:
        u = self.cfg.update
        self.dir.mkdir(parents=True, exist_ok=True)
        dest = self.dir / "download.raucb"
        meta = self.record.data.setdefault("download", {})
        if meta.get("url") != url:
            meta.clear()
            meta["url"] = url
        log.info("update: fetching %s", url)
        try:
            new = download(url, u.ca_file, dest, meta)
        except LawlineError as exc:
            self.record.data["last_poll"] = time.time()
            self.record.save()
            if by_hand:
                raise
            log.warning("update: %s (trying again at the next poll)", exc)
            return 0
        self.record.data["last_poll"] = time.time()
        self.record.save()
        if not new and not by_hand:
            pending = meta.get("pending")
            if not pending:
                log.info("update: %s has not changed", url)
                return 0
        info = self.check(dest, "url", "网址下载")
        meta["pending"] = info.get("version")
        self.record.save()
        version = str(info.get("version") or "unknown")
        now_in = in_window(parse_window(u.window), build.clock(self.cfg).now())
        what, why = install_decision(bundle_version=version,
                                     running_version=running_version(),
                                     failed_versions=self.record.failed_versions(),
                                     in_window_now=now_in or by_hand, retry_failed=by_hand)
        log.info("update: %s", why)
        if what == "wait":
            last = self.record.last
            if not (last and last.get("state") == "waiting"
                    and last.get("version") == version):
                self.record.start(state="waiting", source="url", version=version,
                                  **{"from": running_version()})
            return 0
        if what == "skip":
            meta.pop("pending", None)
            self.record.save()
            return 0
        meta.pop("pending", None)
        self.record.save()
        return self.install(dest, "url", "网址下载", info=info)

    def poll(self) -> int:
        u = self.cfg.update
        if not u.url:
            log.info("update: no [update] url set; nothing to poll")
            return 0
        last = self.record.data.get("last_poll")
        pending = (self.record.data.get("download") or {}).get("pending")
        if not pending and not poll_due(last, time.time(), u.poll_hours):
            return 0
        return self.from_url(u.url, by_hand=False)

    def from_usb(self, device: str) -> int:
        if not self.cfg.update.usb:
            log.info("update: USB stick %s ignored ([update] usb = false)", device)
            return 0
        mnt = Path(tempfile.mkdtemp(prefix="lawline-usb-", dir="/run"))
        out = run(["mount", "-o", "ro,nosuid,nodev,noexec", str(device), str(mnt)])
        if out.returncode != 0:
            mnt.rmdir()
            log.info("update: USB stick %s not mounted: %s", device, out.stderr.strip())
            return 0
        try:
            bundles = sorted(p for p in mnt.iterdir() if p.suffix == ".raucb" and p.is_file())
            if not bundles:
                log.info("update: USB stick %s has no *.raucb at its top", device)
                return 0
            bundle = bundles[-1]
            st = bundle.stat()
            seen = f"{bundle.name} {st.st_size} {int(st.st_mtime)}"
            if self.record.data.get("usb_seen") == seen:
                log.info("update: USB stick %s: %s was handled before; nothing to do (take "
                         "the stick out)", device, bundle.name)
                return 0
            self.record.data["usb_seen"] = seen
            self.record.save()
            log.info("update: USB stick %s: %s (%d MB)", device, bundle.name, st.st_size >> 20)
            local = self.dir / "usb.raucb"
            self.dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(bundle, local)       # the stick may be pulled from here on
            log.info("update: copied to %s; the stick may be removed", local)
        finally:
            subprocess.run(["umount", str(mnt)], check=False)
            mnt.rmdir()
        return self.install(local, "usb", f"U盘（{bundle.name}）", retry_failed=False)

    # -- boot, gate, commit ------------------------------------------------------------------

    def at_boot(self) -> int:
        """lawline-update-boot.service: what became of the last attempt."""
        booted, _ = rauc_status()
        drop_flag(self.spool)
        last = self.record.last
        outcome = boot_outcome(last, booted)
        self.record.data["booted"] = {"slot": booted, "version": running_version(),
                                      "at": time.time()}
        if outcome and last:
            state, reason = outcome
            fields = {"state": state}
            if state != "trying" or not last.get("reason"):
                fields["reason"] = reason
            self.record.set(last, **fields)
            level = logging.INFO if state == "trying" else logging.ERROR
            log.log(level, "update: %s -> %s: %s", last.get("version"), state, reason)
            if state == "failed":
                self.retire_other_slot(last)
        else:
            self.record.save()
        log.info("update: running %s from slot %s", running_version(), booted)
        return 0

    def retire_other_slot(self, attempt: Attempt) -> None:
        """Back on the old slot after a trial that failed: the new slot leaves U-Boot's
        order. A version that never reached its health check (it panicked or hung) spent its
        one try but stays first in BOOT_ORDER; should the old slot later run out of tries
        too (power cuts while it boots), boot.cmd gives both slots tries again and would
        start the broken one first. `rauc status mark-bad other` takes it out, as the gate
        does for a version that failed its check."""
        try:
            rauc_mark("bad", "other")
        except LawlineError as exc:
            log.error("update: slot %s (%s) could not be marked bad: %s",
                      attempt.get("target"), attempt.get("version"), exc)
            return
        log.info("update: slot %s (%s) marked bad: U-Boot starts this slot only",
                 attempt.get("target"), attempt.get("version"))

    def trial(self) -> Attempt | None:
        last = self.record.last
        return last if last and last.get("state") == "trying" else None

    def gate(self, sleep: Callable[[float], None] = time.sleep,
             clock: Callable[[], float] = time.monotonic) -> int:
        """lawline-update-gate.service (before boot-complete.target): on a new version's
        first boot, wait until it is healthy or [update] health_minutes passed."""
        attempt = self.trial()
        if not attempt:
            log.info("update: no new version on trial; nothing to check")
            return 0
        timeout = self.cfg.update.health_minutes * 60
        t0 = clock()
        checked, said = False, ""
        new_fail: dict[str, str] = {}
        while True:
            service = run(["systemctl", "is-active", "lawline.service"]).stdout.strip()
            missing = health_missing(service, box_status.read(self.spool / "state.json"),
                                     bool(self.cfg.trunk.registrar))
            if not missing and not checked:
                new_fail = new_check_failures(attempt.get("check_before") or {},
                                              check_failures(self.check_text()))
                checked = True
            verdict, why = health_verdict(missing, new_fail, checked, clock() - t0, timeout)
            if why != said:
                log.info("update: health of %s: %s: %s", attempt.get("version"), verdict, why)
                said = why
            if verdict == "good":
                self.record.set(attempt, state="healthy", health_s=round(clock() - t0, 1))
                return 0
            if verdict == "bad":
                break
            if checked and new_fail:
                checked = False      # run it again on the next round: it may come right
            sleep(10)
        self.record.set(attempt, state="rolling back", reason=why)
        log.error("update: %s is not healthy after %.0f min (%s); back to slot %s",
                  attempt.get("version"), timeout / 60, why, attempt.get("slot"))
        try:        # its one try is spent already: the restart alone goes back; this says so
            rauc_mark("bad")
        except LawlineError as exc:
            log.error("update: %s", exc)
        self.restart(f"back to {attempt.get('from')}")
        return 1

    def commit(self) -> int:
        """lawline-update-commit.service (after boot-complete.target): this slot is good."""
        rauc_mark("good")
        last = self.record.last
        if last and last.get("state") == "healthy":
            self.record.set(last, state="good", reason="")
            log.info("update: %s committed (was %s)", last.get("version"), last.get("from"))
        changed = sync_boot_files(BOOT_FILES, BOOT_PARTITION)
        if changed:
            log.info("update: boot partition: %s updated from this slot", ", ".join(changed))
        return 0



# -- `lawline update` ------------------------------------------------------------------------

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", nargs="?", help="a bundle file (*.raucb) or an https:// URL")
    p.add_argument("--config", default="/etc/lawline/lawline.toml")
    p.add_argument("--no-reboot", action="store_true",
                   help="install, but try the new version only at the next restart")
    p.add_argument("--poll", action="store_true",
                   help="[update] url: fetch when due, install in the night window (timer)")
    p.add_argument("--usb", metavar="DEVICE", help="install the bundle on this USB stick")
    p.add_argument("--status", action="store_true", help="versions, slots and attempts")
    # the steps of the image's units (systemd/lawline-update-*.service)
    p.add_argument("--boot", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--gate", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--commit", action="store_true", help=argparse.SUPPRESS)


def load_config(path: str) -> Config:
    if not Path(path).exists():
        log.info("update: no %s yet; built-in settings", path)
        cfg: Config = configuration.from_dict({}, Path(path))
    else:
        cfg = configuration.load(path)
    return cfg


def main(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    parse_window(cfg.update.window)
    up = Updater(cfg)
    if args.status:
        return show_status(up)
    if os.geteuid() != 0:
        raise LawlineError("run as root: RAUC writes the root slots and restarts the box")
    if args.boot:
        return up.at_boot()
    if args.gate:
        return up.gate()
    if args.commit:
        return up.commit()
    if args.poll:
        return up.poll()
    if args.usb:
        return up.from_usb(args.usb)
    if not args.source:
        raise LawlineError("give a bundle file or an https:// URL (or --poll, --usb, --status)")
    if args.source.startswith(("https://", "http://")):
        return up.from_url(args.source, by_hand=True)
    bundle = Path(args.source)
    if not bundle.is_file():
        raise LawlineError(f"{bundle}: no such file")
    return up.install(bundle.resolve(), "file", f"文件 {bundle.name}",
                      reboot=not args.no_reboot)


def show_status(up: Updater) -> int:
    print(f"running: {running_version()}")
    try:
        booted, slots = rauc_status()
        for name, slot in sorted(slots.items()):
            bundle = (slot.get("slot_status") or {}).get("bundle") or {}
            print(f"slot {slot.get('bootname') or name}: {slot.get('state')}, "
                  f"boot {slot.get('boot_status')}, version {bundle.get('version') or '-'}"
                  f"{'  (running)' if slot.get('bootname') == booted else ''}")
    except LawlineError as exc:
        print(f"rauc: {exc}")
    for a in (up.record.data.get("attempts") or [])[-5:]:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(a.get("started", 0)))
        print(f"{when} {a.get('source')} {a.get('version')}: {a.get('state')}"
              f"{' - ' + a['reason'] if a.get('reason') else ''}")
    return 0
