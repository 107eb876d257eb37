#!/usr/bin/env python3
"""`make image-test`: boot the built SD-card image in qemu-system-aarch64 (-M virt, TCG) the way a
Pi boots it from U-Boot on (tests/image/qemu.py), against the loopback line on the host, and
check what the box does there.

    .venv/bin/python tests/image/run_image_test.py [--image build/image/lawline-arm64.img]

- the host runs `lawline-rig sim` (the loopback line); the box modem's AT and audio ptys go to
  the guest as virtio consoles (hvc0, hvc1), which the image's test-only udev rule names
  /dev/lawline-at and /dev/lawline-audio when the kernel command line has lawline.imagetest
  (put into U-Boot's environment on the FAT partition, lawline_cmdline);
- a copy of the image gets a FAT config for the test (lawline.toml, a secret file in lawline/,
  an ssh key), written with mcopy; U-Boot (Debian's u-boot-qemu) runs the image's boot.scr,
  which starts root slot A with its own kernel and initrd;
- the guest's lawline-imagetest.service prints LAWLINE-IMAGETEST lines on the serial console;
- checks: first boot moved the config (gone from FAT, mode 0600 in /etc/lawline), `lawline
  check` (run by first boot) passed, lawline.service active (READY), read-only root from slot
  A, data partition mounts, time zone, NTP, ssh on with the key, the boot counted good
  (boot-complete.target, `rauc status mark-good`); then one call from the host's caller port
  must hear the greeting.
Exit 0 when every check passed. Needs root (the image's files are root's), qemu-system-arm,
u-boot-qemu, mtools, libubootenv-tool and the rig (`make deps`; the Makefile installs the host
packages). Run under flock /tmp/lawline-realtime.lock (the Makefile does).
"""

import argparse
import asyncio
import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import qemu  # noqa: E402  (tests/image/qemu.py)
from qemu import log  # noqa: E402


TEST_TOML = """\
# image test: the loopback line's box ports, as the test's udev rule names them
[office]
timezone = "Asia/Shanghai"

# the test calls at any hour: the greeting and the menu, never the after-hours message
[hours]
always_open = true

[line]
profile = "simcom-sim7600"
at_port = "/dev/lawline-at"
audio_port = "/dev/lawline-audio"
"""


def parse_facts(out):
    facts = {}
    for line in out.splitlines():
        if line.startswith("LAWLINE-IMAGETEST ") and "check:" not in line:
            facts.update(re.findall(r'(\S+?)=("[^"]*"|\S+)', line[len("LAWLINE-IMAGETEST "):]))
    return facts


async def place_call(sim, seconds, wav):
    sys.path.insert(0, str(REPO / "rig"))
    sys.path.insert(0, str(REPO / "firmware"))
    from lawline.prompts import Prompts
    from lawline_rig.probe.caller import Caller
    caller = Caller(sim["caller"]["at"], sim["caller"]["audio"], Prompts(REPO / "prompts" / "zh-CN"),
                    sim["caller"].get("driver_profile", "simcom-sim7600"))
    await caller.start()
    try:
        t0 = time.monotonic()
        await caller.call(sim["box"]["number"], answer_timeout=seconds)
        answered = time.monotonic() - t0
        at = await caller.hear("greeting", timeout=seconds)
        first = caller.audio.first_audio_at
        # keep listening: the menu prompt follows the greeting, so the whole greeting went
        # through the guest's bridge at TCG speed
        menu_at = await caller.hear("menu", timeout=seconds)
        return {"answered_s": round(answered, 2), "greeting_at_s": round(at, 1),
                "menu_at_s": round(menu_at, 1),
                "first_audio_s": round(first - caller.answered_at, 2) if first else None}
    finally:
        try:
            from lawline_rig.probe import hearing
            hearing.write_wav(wav, caller.heard_audio())
        except Exception:  # noqa: BLE001 - only a diagnostic
            pass
        await caller.close()


def start_sim(work):
    state = work / "sim"
    rig = shutil.which("lawline-rig", path=str(REPO / ".venv/bin")) or "lawline-rig"
    proc = subprocess.Popen([rig, "sim", "--profile", "simcom-sim7600", "--state-dir", str(state)],
                            stdout=open(work / "sim.log", "w"), stderr=subprocess.STDOUT)
    end = time.monotonic() + 20
    while not (state / "sim.json").exists():
        if time.monotonic() > end or proc.poll() is not None:
            raise SystemExit("the loopback line did not start (sim.json)")
        time.sleep(0.2)
    return proc, state, json.loads((state / "sim.json").read_text())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", default=str(REPO / "build/image/lawline-arm64.img"))
    ap.add_argument("--boot-timeout", type=float, default=600)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--second-boot", action="store_true",
                    help="then cut the power (kill qemu) and boot the same disk again: config, "
                         "check report, machine id and journal must survive")
    ap.add_argument("--no-call", action="store_true",
                    help="boot checks only (no real-time call: may run niced, outside the lock)")
    args = ap.parse_args()
    image = Path(args.image)
    if not image.exists():
        raise SystemExit(f"no image at {image}: run make image")
    work = Path(tempfile.mkdtemp(prefix="lawline-imagetest-"))
    procs, guest = [], None
    results, failures = {}, []

    def check(name, ok, detail=""):
        results[name] = "PASS" if ok else "FAIL"
        (failures.append(name) if not ok else None)
        log(f"{'PASS' if ok else 'FAIL'}: {name} {detail}")

    try:
        img = qemu.prepare(image, work, TEST_TOML, {"imagetest.secret": "not a real secret\n"})
        sim_p, state, sim = start_sim(work)
        procs.append(sim_p)
        guest = qemu.Guest(work, img, sim)
        t0 = time.monotonic()
        guest.start()
        guest.wait(r"LAWLINE-IMAGETEST READY", args.boot_timeout, what="the guest's report")
        ready = time.monotonic() - t0
        out = guest.text()
        facts = parse_facts(out)
        log(f"boot: console READY after {ready:.0f} s; U-Boot started slot(s) "
            f"{guest.boots()}; facts: {json.dumps(facts, ensure_ascii=False)}")
        results["boot_s"] = round(ready, 1)
        check("guest reported", "LAWLINE-IMAGETEST READY" in out)
        check("U-Boot's bootchooser started slot A", guest.boots() == ["A"] and
              facts.get("slot") == "A", f"{guest.boots()} {facts.get('slot')}")
        check("first boot ran", facts.get("firstboot") == "active")
        check("config moved off the FAT partition", facts.get("config_on_fat") == "no")
        etc = facts.get("etc", "")
        check("config + secret in /etc/lawline, mode 0600",
              "/etc/lawline/lawline.toml 600 lawline" in etc and "/etc/lawline/imagetest.secret 600 lawline" in etc, etc)
        check("lawline check passed on the guest", facts.get("check") == "OK",
              "\n" + "\n".join(l for l in out.splitlines() if "IMAGETEST check:" in l))
        check("lawline.service active", facts.get("lawline.service") == "active", facts.get("status", ""))
        check("read-only root", facts.get("root") == "ro")
        check("data partition", facts.get("data", "").startswith("/dev/vda4"), facts.get("var_lib_lawline", ""))
        check("time zone Asia/Shanghai", facts.get("timezone") == "Asia/Shanghai")
        check("systemd-timesyncd enabled", facts.get("ntp") == "enabled")
        check("ssh on with the key from the FAT partition", facts.get("ssh") == "active")
        check("pjsua2 on the guest", facts.get("pjsua2") == "aarch64")
        check("the boot counted good (boot-complete.target, rauc mark-good)",
              facts.get("boot_complete") == "active" and facts.get("commit") == "active",
              f"gate {facts.get('gate')} commit {facts.get('commit')}")
        check("no failed units", facts.get("failed", '""') == '""', facts.get("failed", ""))
        if args.no_call:
            log("call skipped (--no-call)")
        elif facts.get("lawline.service") == "active":
            log("call: host caller port dials the box, waits for the greeting")
            t1 = time.monotonic()
            try:
                call = asyncio.run(place_call(sim, 90, work / "caller-heard.wav"))
                check("a call hears the greeting (then the menu)", True, json.dumps(call))
                results["call"] = call
            except Exception as exc:  # noqa: BLE001 - reported, the test fails
                check("a call hears the greeting (then the menu)", False, f"{type(exc).__name__}: {exc} "
                      f"after {time.monotonic() - t1:.0f} s")
        else:
            check("a call hears the greeting (then the menu)", False, "box not running")
        if args.second_boot:
            env = qemu.read_env(img, work)
            log(f"U-Boot's environment after first boot: {env}")
            check("first boot pinned the machine id in U-Boot's environment",
                  env.get("lawline_machine_id") == facts.get("machine_id"), str(env))
            check("the slot got its tries back (mark-good)", env.get("BOOT_A_LEFT") == "3",
                  str(env))
            log("power cut (qemu killed), booting the same disk again")
            guest.kill()
            t0 = time.monotonic()
            guest.start()
            guest.wait(r"LAWLINE-IMAGETEST READY", args.boot_timeout, what="the guest's report")
            out2 = guest.text()
            f2 = parse_facts(out2)
            log(f"second boot: READY after {time.monotonic() - t0:.0f} s; facts: {json.dumps(f2, ensure_ascii=False)}")
            check("second boot: lawline.service active", f2.get("lawline.service") == "active")
            check("second boot: config kept in /etc/lawline", "/etc/lawline/lawline.toml 600 lawline" in f2.get("etc", ""))
            check("second boot: check report kept", f2.get("check") == "OK")
            check("second boot: journal kept the first boot", int(f2.get("boots", "0")) >= 2, f2.get("boots", ""))
            check("second boot: same machine id", f2.get("machine_id") == facts.get("machine_id")
                  and bool(f2.get("machine_id")), f"{facts.get('machine_id')} {f2.get('machine_id')}")
            check("second boot: no failed units", f2.get("failed", '""') == '""', f2.get("failed", ""))
        time.sleep(1)
        for line in (work / "sim.log").read_text(errors="replace").splitlines():
            if "PCM off after" in line:      # the line's own count of late or lost frames
                log("line: " + line.split("INFO", 1)[-1].strip())
    finally:
        if guest is not None:
            guest.kill()
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        if failures or args.keep:
            log(f"logs kept in {work} (console-*.log, sim.log)")
        else:
            shutil.rmtree(work, ignore_errors=True)
    log(f"result: {'FAIL ' + ', '.join(failures) if failures else 'all checks passed'}")
    print(json.dumps(results, ensure_ascii=False))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
