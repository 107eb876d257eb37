#!/usr/bin/env python3
"""`make image-test`: boot the built SD-card image in qemu-system-aarch64 (-M virt, TCG) against
the loopback line on the host, and check what the box does there.

    .venv/bin/python tests/image/run_image_test.py [--image build/image/lawline-arm64.img]

- the host runs `lawline-rig sim` (the loopback line); the box modem's AT and audio ptys go to
  the guest as virtio consoles (hvc0, hvc1), which the image's test-only udev rule names
  /dev/lawline-at and /dev/lawline-audio when the kernel command line has lawline.imagetest;
- a copy of the image gets a FAT config for the test (lawline.toml, a secret file in lawline/,
  an ssh key), written with mcopy; the guest boots the kernel and initrd of the built rootfs;
- the guest's lawline-imagetest.service prints LAWLINE-IMAGETEST lines on the serial console;
- checks: first boot moved the config (gone from FAT, mode 0600 in /etc/lawline), `lawline
  check` (run by first boot) passed, lawline.service active (READY), read-only root, data
  partition mounts, time zone, NTP, ssh on with the key; then one call from the host's caller
  port must hear the greeting.
Exit 0 when every check passed. Needs root (the image's files are root's), qemu-system-arm,
mtools, and the rig (`make deps`). Run under flock /tmp/lawline-realtime.lock (the Makefile does).
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FAT_OFFSET = 4 * 1024 * 1024          # image/build-image.sh FAT_START


def log(msg):
    print(f"[image-test {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def wait_for(pred, timeout, step=0.5):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(step)
    return None


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


def prepare_image(src, work):
    img = work / "test.img"
    subprocess.run(["cp", "--sparse=always", str(src), str(img)], check=True)
    (work / "lawline.toml").write_text(TEST_TOML)
    (work / "lawline").mkdir()
    (work / "lawline" / "imagetest.secret").write_text("not a real secret\n")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / "key")], check=True)
    shutil.copy(work / "key.pub", work / "ssh_authorized_keys")
    target = f"{img}@@{FAT_OFFSET}"
    for name in ("lawline.toml", "lawline", "ssh_authorized_keys"):
        subprocess.run(["mcopy", "-s", "-o", "-i", target, str(work / name), "::" + name], check=True)
    return img


def parse_facts(out):
    facts = {}
    for line in out.splitlines():
        if line.startswith("LAWLINE-IMAGETEST ") and "check:" not in line:
            facts.update(re.findall(r'(\S+?)=("[^"]*"|\S+)', line[len("LAWLINE-IMAGETEST "):]))
    return facts


def kernel_initrd(rootfs):
    boot = rootfs / "boot"
    kernels = sorted(boot.glob("vmlinuz-*"))
    if not kernels:
        raise SystemExit(f"no kernel in {boot}: run make image")
    ver = kernels[-1].name[len("vmlinuz-"):]
    return kernels[-1], boot / f"initrd.img-{ver}"


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", default=str(REPO / "build/image/lawline-arm64.img"))
    ap.add_argument("--rootfs", default=str(REPO / "build/image/rootfs"))
    ap.add_argument("--boot-timeout", type=float, default=600)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--second-boot", action="store_true",
                    help="then cut the power (kill qemu) and boot the same disk again: config, "
                         "check report and journal must survive")
    ap.add_argument("--no-call", action="store_true",
                    help="boot checks only (no real-time call: may run niced, outside the lock)")
    args = ap.parse_args()
    image, rootfs = Path(args.image), Path(args.rootfs)
    if not image.exists():
        raise SystemExit(f"no image at {image}: run make image")
    kernel, initrd = kernel_initrd(rootfs)
    work = Path(tempfile.mkdtemp(prefix="lawline-imagetest-"))
    state = work / "sim"
    procs = []
    results, failures = {}, []

    def check(name, ok, detail=""):
        results[name] = "PASS" if ok else "FAIL"
        (failures.append(name) if not ok else None)
        log(f"{'PASS' if ok else 'FAIL'}: {name} {detail}")

    try:
        img = prepare_image(image, work)
        rig = shutil.which("lawline-rig", path=str(REPO / ".venv/bin")) or "lawline-rig"
        sim_p = subprocess.Popen([rig, "sim", "--profile", "simcom-sim7600", "--state-dir", str(state)],
                                 stdout=open(work / "sim.log", "w"), stderr=subprocess.STDOUT)
        procs.append(sim_p)
        if not wait_for(lambda: (state / "sim.json").exists(), 20):
            raise SystemExit("the loopback line did not start (sim.json)")
        sim = json.loads((state / "sim.json").read_text())
        console = work / "console.log"
        cmd = ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a72", "-smp", "2", "-m", "1024",
               "-nographic", "-monitor", "none", "-no-reboot", "-serial", f"file:{console}",
               "-kernel", str(kernel), "-initrd", str(initrd),
               "-append", "root=LABEL=RASPIROOT ro console=ttyAMA0 lawline.imagetest",
               "-drive", f"if=none,file={img},format=raw,id=hd0,snapshot={'off' if args.second_boot else 'on'}",
               "-device", "virtio-blk-pci,drive=hd0",
               "-device", "virtio-serial-pci",
               "-chardev", f"serial,id=at,path={os.path.realpath(sim['box']['at'])}",
               "-device", "virtconsole,chardev=at,name=lawline-at",
               "-chardev", f"serial,id=audio,path={os.path.realpath(sim['box']['audio'])}",
               "-device", "virtconsole,chardev=audio,name=lawline-audio",
               "-nic", "user,model=virtio-net-pci"]
        t0 = time.monotonic()
        log("booting: " + " ".join(cmd))
        qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=open(work / "qemu.log", "w"),
                                stderr=subprocess.STDOUT)
        procs.append(qemu)

        def text():
            return console.read_text(errors="replace") if console.exists() else ""

        def seen(marker):
            return marker in text() or qemu.poll() is not None

        wait_for(lambda: seen("login:") or seen("LAWLINE-IMAGETEST BEGIN"), args.boot_timeout)
        booted = time.monotonic() - t0
        wait_for(lambda: seen("LAWLINE-IMAGETEST READY"), args.boot_timeout)
        ready = time.monotonic() - t0
        out = text()
        facts = parse_facts(out)
        m = re.search(r"Reached target.*Multi-User", out)
        log(f"boot: console READY after {ready:.0f} s (multi-user {'seen' if m else 'not seen'}; "
            f"first marker {booted:.0f} s); facts: {json.dumps(facts, ensure_ascii=False)}")
        results["boot_s"] = round(ready, 1)
        check("guest reported", "LAWLINE-IMAGETEST READY" in out)
        check("first boot ran", facts.get("firstboot") == "active")
        check("config moved off the FAT partition", facts.get("config_on_fat") == "no")
        etc = facts.get("etc", "")
        check("config + secret in /etc/lawline, mode 0600",
              "/etc/lawline/lawline.toml 600 lawline" in etc and "/etc/lawline/imagetest.secret 600 lawline" in etc, etc)
        check("lawline check passed on the guest", facts.get("check") == "OK",
              "\n" + "\n".join(l for l in out.splitlines() if "IMAGETEST check:" in l))
        check("lawline.service active", facts.get("lawline.service") == "active", facts.get("status", ""))
        check("read-only root", facts.get("root") == "ro")
        check("data partition", facts.get("data", "").startswith("/dev/vda3"), facts.get("var_lib_lawline", ""))
        check("time zone Asia/Shanghai", facts.get("timezone") == "Asia/Shanghai")
        check("systemd-timesyncd enabled", facts.get("ntp") == "enabled")
        check("ssh on with the key from the FAT partition", facts.get("ssh") == "active")
        check("pjsua2 on the guest", facts.get("pjsua2") == "aarch64")
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
            log("power cut (qemu killed), booting the same disk again")
            qemu.kill()
            qemu.wait()
            console = work / "console2.log"
            cmd = [f"file:{console}" if c.startswith("file:") else c for c in cmd]
            # the Pi's firmware passes cmdline.txt; QEMU does not: hand over what first boot
            # pinned there (systemd.machine_id=)
            fat_cmdline = subprocess.run(["mcopy", "-i", f"{img}@@{FAT_OFFSET}", "::cmdline.txt", "-"],
                                         capture_output=True, text=True).stdout
            pinned = re.search(r"systemd\.machine_id=[0-9a-f]{32}", fat_cmdline)
            log(f"cmdline.txt after first boot: {fat_cmdline.strip()}")
            if pinned:
                i = cmd.index("-append") + 1
                cmd[i] += " " + pinned.group(0)
            t0 = time.monotonic()
            qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=open(work / "qemu2.log", "w"),
                                    stderr=subprocess.STDOUT)
            procs.append(qemu)
            wait_for(lambda: seen("LAWLINE-IMAGETEST READY"), args.boot_timeout)
            out2 = text()
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
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        if failures or args.keep:
            log(f"logs kept in {work} (console.log, sim.log)")
        else:
            shutil.rmtree(work, ignore_errors=True)
    log(f"result: {'FAIL ' + ', '.join(failures) if failures else 'all checks passed'}")
    print(json.dumps(results, ensure_ascii=False))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
