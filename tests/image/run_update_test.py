#!/usr/bin/env python3
"""`make update-test`: every failure of a field update tried in QEMU (issue 20), on the SD-card
image as `make image` built it and the bundle `make bundle` signed, booted the way a Pi boots
it from U-Boot on (tests/image/qemu.py), against the loopback line on the host.

    .venv/bin/python tests/image/run_update_test.py [--prepare-only] [--keep] [--only NAME,...]

Test bundles (made first, at nice 19 by the Makefile, cached in build/update-test/): from the
bundle's own root.ext4, with debugfs: `good` (a new version whose FAT config.txt has one more
line), `never-ready` (lawline.service never says READY), `never-up` (its init exits: the kernel
panics); re-signed with another key (`wrong-key`); a bundle with no signature at all
(`unsigned`, on a USB stick image).

The cases, in order, on one disk (each one's LAWDATA checked against the one before: the config
and secret files, a voicemail, the call records and cases, the journal's boots and a line
logged before, all still there and the same):

  wrong-key     `lawline update FILE`: refused with a clear message, nothing written
  unsigned      a USB stick plugged in (QEMU monitor): refused
  cut-check     power cut (QEMU killed) as RAUC checks the bundle: the old slot boots
  cut-write     power cut while RAUC writes the slot: the old slot boots
  cut-held      power cut after the slot was written, while the restart waits for a call to
                end: the old slot boots
  never-ready   the new version boots once, its health check fails (not READY within
                [update] health_minutes), it is marked bad and the box goes back by itself
  never-up      the new version never gets to userspace (kernel panic): U-Boot goes back
  good          [update] url over HTTPS with the office's CA: waits for the night window,
                then downloads, installs, holds the restart while a call is up, boots the new
                version once, passes the health check, is committed (mark-good), the FAT
                config.txt follows it, a call hears the greeting on it
  committed     power cut on the new version: it stays

After each failure the office is told: an SMS to [office] head_mobile through the box's SMS
queue (the loopback line's network keeps what the box sent) and a WARN "update" part in the
box's state.json (the office page's status). Figures: bundle size, install and download time,
time to roll back. Needs root, the host packages the Makefile installs, and `make image` and
`make bundle` done. Run under flock /tmp/lawline-realtime.lock (the Makefile does).
"""

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO / "rig"))
sys.path.insert(0, str(REPO / "firmware"))
import qemu  # noqa: E402  (tests/image/qemu.py)

BUILD = REPO / "build"
CACHE = BUILD / "update-test"
IMAGE = BUILD / "image/lawline-arm64.img"
ROOT_EXT4 = BUILD / "image/root.ext4"
KEYRING = BUILD / "image/rootfs/etc/rauc/keyring.pem"
SYSTEM_CONF = BUILD / "image/rootfs/etc/rauc/system.conf"
HEAD = "13900000099"                 # [office] head_mobile: outside the loopback line
DISK_SIZE = 6 * 1024 ** 3            # LAWDATA grows over the rest at first boot
HEALTH_MINUTES = 3
LAWLINE = "/opt/lawline/venv/bin/lawline"
OFFICE = ZoneInfo("Asia/Shanghai")


def log(msg):
    qemu.log(msg, "update-test")


def run(*argv, **kw):
    kw.setdefault("check", True)
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    return subprocess.run([str(a) for a in argv], **kw)


# -- the test bundles ------------------------------------------------------------------------

def signing_key():
    """The key `make bundle` signs with (image/lib.sh rauc_keys)."""
    if os.environ.get("RAUC_KEY"):
        return os.environ["RAUC_KEY"], os.environ["RAUC_CERT"]
    return str(BUILD / "rauc-keys/dev.key.pem"), str(BUILD / "rauc-keys/dev.cert.pem")


def debugfs_write(img, path, text, mode="0100644", work=None):
    src = Path(work) / "debugfs.src"
    src.write_text(text)
    cmds = Path(work) / "debugfs.cmds"
    cmds.write_text(f"rm {path}\nwrite {src} {path}\nsif {path} mode {mode}\n"
                    f"sif {path} uid 0\nsif {path} gid 0\n")
    run("debugfs", "-w", "-f", cmds, img)
    got = run("debugfs", "-R", f"cat {path}", img).stdout
    if got != text:
        raise SystemExit(f"debugfs could not write {path} into {img}")


def make_bundle(content, out, compatible, version, image):
    content.mkdir(parents=True, exist_ok=True)
    (content / "manifest.raucm").write_text(
        f"[update]\ncompatible={compatible}\nversion={version}\n"
        f"description=lawline update-test bundle\n\n[bundle]\nformat=verity\n\n"
        f"[image.rootfs]\nfilename=root.ext4\n")
    os.link(image, content / "root.ext4")
    key, cert = signing_key()
    out.unlink(missing_ok=True)
    run("rauc", "bundle", f"--cert={cert}", f"--key={key}", f"--signing-keyring={KEYRING}",
        "--mksquashfs-args=-comp zstd -Xcompression-level 3", content, out)
    shutil.rmtree(content)


def prepare_bundles():
    """The test bundles in build/update-test/ (made again when root.ext4 changed)."""
    for need in (ROOT_EXT4, KEYRING, IMAGE):
        if not need.exists():
            raise SystemExit(f"no {need}: run make image and make bundle first")
    version = (BUILD / "image/root.ext4.version").read_text().strip()
    compatible = re.search(r"^compatible=(.*)$", SYSTEM_CONF.read_text(), re.M).group(1)
    stamp = f"{version} {ROOT_EXT4.stat().st_mtime_ns} {signing_key()[1]}\n"
    out = CACHE / "bundles"
    names = ("good", "never-ready", "never-up", "wrong-key")
    if (CACHE / "stamp").exists() and (CACHE / "stamp").read_text() == stamp and \
            all((out / f"{n}.raucb").exists() for n in names) and (CACHE / "stick.img").exists():
        log(f"test bundles cached in {out}")
        return
    shutil.rmtree(CACHE, ignore_errors=True)
    out.mkdir(parents=True)
    work = CACHE / "work"
    work.mkdir()
    t0 = time.monotonic()
    variants = {
        "good": {"/usr/lib/lawline/boot-firmware/config.txt": None},
        "never-ready": {"/etc/systemd/system/lawline.service.d/update-test.conf":
                        "# update-test: a version whose box never says READY\n"
                        "[Service]\nExecStart=\nExecStart=/bin/sleep infinity\n"},
        "never-up": {"/usr/sbin/init": "#!/bin/sh\necho 'update-test: this version cannot "
                                       "start'\nexit 1\n"},
    }
    for name, files in variants.items():
        img = work / f"{name}.ext4"
        run("cp", "--sparse=always", ROOT_EXT4, img)
        v = f"{version}.test-{name}"
        debugfs_write(img, "/usr/lib/lawline/version", v + "\n", work=work)
        for path, text in files.items():
            if path.endswith("config.txt"):
                text = run("debugfs", "-R", f"cat {path}", img).stdout + \
                    f"# update-test: this line came with {v}\n"
            if "lawline.service.d" in path:
                run("debugfs", "-w", "-R", "mkdir /etc/systemd/system/lawline.service.d", img)
            debugfs_write(img, path, text, "0100755" if path.endswith("init") else "0100644",
                          work=work)
        make_bundle(work / f"content-{name}", out / f"{name}.raucb", compatible, v, img)
        img.unlink()
        log(f"bundle {name}: {v}, {(out / f'{name}.raucb').stat().st_size} bytes")
    # signed, but by a key the box does not trust
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj",
        "/O=not the office/CN=someone else's signing key", "-keyout", work / "other.key",
        "-out", work / "other.cert")
    run("rauc", "resign", f"--cert={work / 'other.cert'}", f"--key={work / 'other.key'}",
        f"--keyring={KEYRING}", f"--signing-keyring={work / 'other.cert'}",
        out / "good.raucb", out / "wrong-key.raucb")
    # no signature at all: the bundle's squashfs with its manifest, nothing appended
    content = work / "content-unsigned"
    content.mkdir()
    (content / "manifest.raucm").write_text(
        f"[update]\ncompatible={compatible}\nversion={version}.test-unsigned\n\n"
        "[image.rootfs]\nfilename=root.ext4\n")
    (content / "root.ext4").write_bytes(b"\0" * 65536)
    run("mksquashfs", content, work / "unsigned.raucb", "-comp", "zstd", "-quiet")
    # a USB stick: MBR, one FAT partition with the unsigned bundle at its top
    fat = work / "stick.vfat"
    run("mkfs.vfat", "-C", "-n", "LAWSTICK", fat, 60 * 1024)
    run("mcopy", "-i", fat, work / "unsigned.raucb", "::lawline-update.raucb")
    stick = CACHE / "stick.img"
    with open(stick, "wb") as f:
        f.truncate(64 * 1024 ** 2)
    run("sfdisk", "-q", stick, input="label: dos\nlabel-id: 0x5715c0de\nstart=1MiB, type=c\n")
    run("dd", f"if={fat}", f"of={stick}", "bs=1M", "seek=1", "conv=notrunc", "status=none")
    shutil.rmtree(work)
    # the disk the guest reads them from (ext4, read-only)
    size = sum(p.stat().st_size for p in out.iterdir()) // 2 ** 20 * 11 // 10 + 64
    run("mke2fs", "-q", "-t", "ext4", "-L", "BUNDLES", "-d", out, CACHE / "bundles.ext4",
        f"{size}M")
    (CACHE / "stamp").write_text(stamp)
    log(f"test bundles made in {time.monotonic() - t0:.0f} s")


# -- servers on the host ---------------------------------------------------------------------

def office_server(work):
    """nginx with TLS for the office's update URL; the guest reaches it as 10.0.2.2 (QEMU's
    user network), so the certificate names that address; the CA goes to the box."""
    d = work / "nginx"
    (d / "www").mkdir(parents=True)
    (d / "tmp").mkdir()
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
        "/CN=update-test office CA", "-keyout", d / "ca.key", "-out", d / "ca.pem",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=10.0.2.2",
        "-keyout", d / "server.key", "-out", d / "server.csr")
    (d / "ext.cnf").write_text("subjectAltName=IP:10.0.2.2\nextendedKeyUsage=serverAuth\n")
    run("openssl", "x509", "-req", "-in", d / "server.csr", "-CA", d / "ca.pem", "-CAkey",
        d / "ca.key", "-CAcreateserial", "-days", "2", "-extfile", d / "ext.cnf",
        "-out", d / "server.pem")
    port = qemu.free_port()
    tmp = d / "tmp"
    (d / "nginx.conf").write_text(f"""
user root root;
daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {d}/server.pem;
        ssl_certificate_key {d}/server.key;
        root {d}/www;
    }}
}}
""")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    proc = subprocess.Popen([nginx, "-p", str(d), "-c", str(d / "nginx.conf"), "-e",
                             str(d / "error.log")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, start_new_session=True)
    qemu_wait_port(port, proc)
    return proc, d, port


def qemu_wait_port(port, proc, timeout=15):
    import socket
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("nginx exited before listening")
            time.sleep(0.1)
    raise SystemExit("nginx not listening")


def start_sim(work):
    state = work / "sim"
    rig = shutil.which("lawline-rig", path=str(REPO / ".venv/bin")) or "lawline-rig"
    proc = subprocess.Popen([rig, "sim", "--profile", "simcom-sim7600", "--state-dir",
                             str(state)], stdout=open(work / "sim.log", "w"),
                            stderr=subprocess.STDOUT)
    end = time.monotonic() + 20
    while not (state / "sim.json").exists():
        if time.monotonic() > end or proc.poll() is not None:
            raise SystemExit("the loopback line did not start (sim.json)")
        time.sleep(0.2)
    return proc, state, json.loads((state / "sim.json").read_text())


def test_toml(port):
    return f"""\
# update test: the loopback line's box ports, as the test's udev rule names them
[office]
timezone = "Asia/Shanghai"
head_mobile = "{HEAD}"

[hours]
always_open = true

# a caller who keys nothing stays on the line for minutes (the test holds a restart with one)
[menu]
key_timeout = 60.0

[line]
profile = "simcom-sim7600"
at_port = "/dev/lawline-at"
audio_port = "/dev/lawline-audio"

[update]
url = "https://10.0.2.2:{port}/lawline.raucb"
ca_file = "/etc/lawline/update-ca.pem"
health_minutes = {HEALTH_MINUTES}
window = "{far_window()}"
"""


def far_window():
    """An [update] window that is not now on the office's clock (12 hours away)."""
    h = (dt.datetime.now(OFFICE).hour + 12) % 24
    return f"{h:02d}:00-{(h + 1) % 24:02d}:00"


# -- calls from the host's caller port ------------------------------------------------------

class CallerThread:
    """A caller on the loopback line, run in its own thread and event loop: `complaint()`
    leaves a voicemail (a case, a recording, a call record on LAWDATA); `hold()` stays on the
    line until `release()`."""

    def __init__(self, sim):
        self.sim = sim
        self.result = None
        self.error = None
        self.up = threading.Event()
        self._release = None
        self._loop = None

    async def _caller(self):
        from lawline.prompts import Prompts
        from lawline_rig.probe.caller import Caller
        c = self.sim["caller"]
        caller = Caller(c["at"], c["audio"], Prompts(REPO / "prompts" / "zh-CN"),
                        c.get("driver_profile", "simcom-sim7600"))
        await caller.start()
        return caller

    async def _complaint(self):
        from lawline_rig.probe import hearing
        caller = await self._caller()
        try:
            await caller.call(self.sim["box"]["number"], answer_timeout=60)
            await caller.hear("greeting", 60)
            await caller.press("5")
            await caller.hear("complaint_staff", 60)    # no staff number: "#"
            await caller.press("#")
            await caller.hear("record_complaint", 60)
            await caller.hear("beep", 30)
            caller.audio.speak(hearing.make_tone(1200, 1.0))
            await asyncio.sleep(3.0)
            caller.audio.quiet()
            await caller.press("#")
            await caller.hear("recorded", 30)
            await caller.hear("case_number", 30)
            await caller.wait_ended(60)
            return "complaint left"
        finally:
            await caller.close()

    async def _greeting(self):
        caller = await self._caller()
        try:
            t0 = time.monotonic()
            await caller.call(self.sim["box"]["number"], answer_timeout=60)
            answered = time.monotonic() - t0
            await caller.hear("greeting", 60)
            await caller.hang_up()
            return f"answered in {answered:.1f} s, greeting heard"
        finally:
            await caller.close()

    async def _hold(self):
        caller = await self._caller()
        self._loop = asyncio.get_running_loop()
        self._release = asyncio.Event()
        try:
            await caller.call(self.sim["box"]["number"], answer_timeout=60)
            await caller.hear("greeting", 60)
            self.up.set()
            await self._release.wait()
            await caller.hang_up()
            return "held, then hung up"
        finally:
            await caller.close()

    def _run(self, coro):
        try:
            self.result = asyncio.run(coro)
        except Exception as exc:  # noqa: BLE001 - reported by the case
            self.error = f"{type(exc).__name__}: {exc}"
            self.up.set()

    def start(self, what):
        self.thread = threading.Thread(target=self._run, args=(getattr(self, f"_{what}")(),),
                                       daemon=True)
        self.thread.start()
        return self

    def release(self):
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._release.set)

    def join(self, timeout=180):
        self.thread.join(timeout)
        if self.thread.is_alive():
            return "still running"
        return self.error or self.result


# -- what the guest says ---------------------------------------------------------------------

FACTS_PY = r"""
import hashlib, json, os, sqlite3, subprocess
def sha(p):
    with open(p, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()
def rows(db, sql):
    try:
        con = sqlite3.connect(f'file:{db}?mode=ro', uri=True, timeout=10)
        try:
            return [list(r) for r in con.execute(sql)]
        finally:
            con.close()
    except Exception as exc:
        return [repr(exc)]
spool = '/var/lib/lawline/spool'
out = {'etc': {}, 'wav': {}, 'data': {}}
for d in ('/etc/lawline', '/var/lib/lawline/update-test'):
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        p = os.path.join(d, name)
        if os.path.isfile(p):
            out['etc' if d == '/etc/lawline' else 'data'][p] = sha(p)
for root, dirs, files in os.walk(spool):
    for name in files:
        if name.endswith('.wav'):
            out['wav'][os.path.join(root, name)] = sha(os.path.join(root, name))
out['items'] = rows(spool + '/outbox.db', 'SELECT key, kind FROM items ORDER BY key')
out['cases'] = rows(spool + '/cases.db',
                    'SELECT number, kind, caller, opened FROM cases ORDER BY number')
boots = subprocess.run(['journalctl', '--list-boots', '--no-pager'], capture_output=True,
                       text=True).stdout.splitlines()
out['boots'] = [l.split()[1] for l in boots if l.strip() and l.split()[0].lstrip('-').isdigit()]
out['marks'] = subprocess.run(['journalctl', '-t', 'update-test', '-o', 'cat',
                               '--no-pager'], capture_output=True, text=True).stdout.split()
out['version'] = open('/usr/lib/lawline/version').read().strip()
out['slot'] = [w.split('=')[1] for w in open('/proc/cmdline').read().split()
               if w.startswith('rauc.slot=')]
print(json.dumps(out))
"""


class Box:
    """The guest as the test sees it: its slot, version, record, U-Boot state, LAWDATA."""

    def __init__(self, guest, work, sim_state):
        self.g = guest
        self.work = work
        self.sim_state = sim_state

    def facts(self):
        out = self.g.ssh(f"/opt/lawline/venv/bin/python -c {shlex_quote(FACTS_PY)}", 120)
        return json.loads(out.stdout)

    def record(self):
        out = self.g.ssh("cat /data/update/record.json", check=False)
        return json.loads(out.stdout) if out.returncode == 0 else {}

    def last(self):
        attempts = self.record().get("attempts") or []
        return attempts[-1] if attempts else {}

    def env(self):
        out = self.g.ssh("fw_printenv").stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def state(self):
        out = self.g.ssh("cat /var/lib/lawline/spool/state.json", check=False)
        return json.loads(out.stdout) if out.returncode == 0 else {}

    def mark(self, word):
        """A line in the journal, on disk before this returns: journald writes its file
        every few minutes, so a power cut right after a case's mark would take the mark
        with it and look like a journal that lost lines."""
        self.g.ssh(f"logger -t update-test {word} && journalctl --sync")

    def sms(self):
        from lawline_rig import sim as simctl
        return [m for m in simctl.sms_sent(self.sim_state) if m.get("to") == HEAD]

    def wait_sms(self, before, pattern, timeout=120):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            new = [m["text"] for m in self.sms()[before:] if m.get("complete", True)]
            hit = [t for t in new if re.search(pattern, t)]
            if hit:
                return hit[0]
            time.sleep(2)
        raise AssertionError(f"no SMS to the office head matching {pattern!r} in {timeout} s "
                             f"(got {[m['text'] for m in self.sms()[before:]]})")

    def wait_part(self, state, timeout=90):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            part = (self.state().get("parts") or {}).get("update") or {}
            if part.get("state") == state:
                return part
            time.sleep(3)
        raise AssertionError(f"the box's update part is not {state}: {part}")


class Stream:
    """A process's output lines, read as they come (a thread), and waited on."""

    def __init__(self, proc):
        self.proc = proc
        self.lines = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip())
                self._cond.notify_all()
        with self._cond:
            self.lines.append("<ended>")
            self._cond.notify_all()

    def until(self, pattern, timeout):
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for line in self.lines[seen:]:
                    if rx.search(line):
                        return line
                seen = len(self.lines)
                if self.lines and self.lines[-1] == "<ended>":
                    raise AssertionError(f"lawline update ended before {pattern!r}: "
                                         f"{self.lines[-8:]}")
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {pattern!r} from lawline update in {timeout} "
                                         f"s: {self.lines[-8:]}")
                self._cond.wait(left)


def shlex_quote(s):
    import shlex
    return shlex.quote(s)


def kept(before, after):
    """What LAWDATA held before is all still there, unchanged. [] when so, else the losses."""
    lost = []
    for key in ("etc", "wav", "data"):
        for path, digest in before[key].items():
            if after[key].get(path) != digest:
                lost.append(f"{path} {'changed' if path in after[key] else 'gone'}")
    for key in ("items", "cases"):
        missing = [r for r in before[key] if r not in after[key]]
        if missing:
            lost.append(f"{key}: {missing[:3]} gone")
    gone = [b for b in before["boots"] if b not in after["boots"]]
    if gone:
        lost.append(f"journal: boots {gone} gone")
    gone = [m for m in before["marks"] if m not in after["marks"]]
    if gone:
        lost.append(f"journal: lines {gone} gone")
    return lost


# -- the run -------------------------------------------------------------------------------

class Run:
    def __init__(self, args):
        self.args = args
        self.work = Path(tempfile.mkdtemp(prefix="lawline-updatetest-"))
        self.cases = []
        self.figures = {}
        self.procs = []
        self.guest = None
        self.nginx = None
        self.box = None
        self.before = None
        self.n = 0

    def case(self, name, what, fn):
        if self.args.only and name not in self.args.only:
            return
        log(f"=== {name}: {what}")
        t0 = time.monotonic()
        entry = {"case": name, "what": what}
        try:
            entry["happened"] = fn()
            entry["result"] = "PASS"
        except Exception as exc:  # noqa: BLE001 - one case's failure is reported, the rest run
            entry["result"] = "FAIL"
            entry["happened"] = f"{type(exc).__name__}: {exc}"
            log(f"FAIL {name}: {entry['happened']}")
            self.recover()
        entry["seconds"] = round(time.monotonic() - t0)
        log(f"{entry['result']} {name} ({entry['seconds']} s): {entry['happened']}")
        self.cases.append(entry)

    # -- boots ------------------------------------------------------------------------------

    def ready(self, after, timeout=900):
        """This boot's box READY (the image's test report on the console) and ssh up."""
        m = self.guest.wait(r"LAWLINE-IMAGETEST READY", timeout, after, "the box's report")
        facts = {}
        for line in self.guest.text()[after:m.end()].splitlines():
            if line.startswith("LAWLINE-IMAGETEST ") and "check:" not in line:
                facts.update(re.findall(r'(\S+?)=("[^"]*"|\S+)', line))
        self.guest.ssh_up()
        self.guest.ssh("mkdir -p /run/bundles && (mountpoint -q /run/bundles || "
                       "mount -o ro /dev/vdb /run/bundles)")
        return facts

    def power_on(self):
        self.guest.start()
        return self.ready(0)

    def power_cut_and_on(self):
        self.guest.kill()
        t0 = time.monotonic()
        facts = self.power_on()
        return facts, time.monotonic() - t0

    def recover(self):
        """After a failed case: a running, reachable box for the next one."""
        try:
            if self.guest.running():
                self.guest.ssh("true", timeout=30)
                return
        except Exception:  # noqa: BLE001
            pass
        try:
            self.power_cut_and_on()
        except Exception as exc:  # noqa: BLE001
            log(f"could not bring the box back: {exc}")

    # -- checks shared by the failure cases ------------------------------------------------

    def seal(self):
        """A line in the journal, and LAWDATA's facts before a case."""
        self.n += 1
        self.box.mark(f"before-case-{self.n}")
        self.before = self.box.facts()
        return self.before

    def still_old(self, expect_state, sms_before, sms_pattern, reason=None):
        f = self.box.facts()
        lost = kept(self.before, f)
        assert not lost, f"LAWDATA lost: {lost}"
        assert f["slot"] == [self.slot] and f["version"] == self.version, \
            f"running {f['slot']} {f['version']}, not slot {self.slot} {self.version}"
        last = self.box.last()
        assert last.get("state") == expect_state, f"record: {last}"
        if reason:
            assert re.search(reason, last.get("reason") or ""), f"reason: {last.get('reason')}"
        env = self.box.env()
        assert env.get("BOOT_ORDER", "").startswith(self.slot), f"U-Boot: {env}"
        text = self.box.wait_sms(sms_before, sms_pattern)
        part = self.box.wait_part("warn")
        return (f"{expect_state}: {last.get('reason')!r}; office SMS {text!r}; page part "
                f"{part['message']!r}; U-Boot {env.get('BOOT_ORDER')!r} "
                f"A={env.get('BOOT_A_LEFT')} B={env.get('BOOT_B_LEFT')}; LAWDATA kept "
                f"({len(f['wav'])} recording(s), {len(f['items'])} outbox item(s), "
                f"{len(f['cases'])} case(s), {len(f['boots'])} boots in the journal)")

    def update_stream(self, bundle):
        """`lawline update BUNDLE` on the box over ssh; its lines as they come."""
        argv = self.guest.ssh_argv(f"{LAWLINE} update {bundle} 2>&1")
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1)
        self.procs.append(proc)
        return Stream(proc)

    # -- the cases ----------------------------------------------------------------------------

    def wrong_key(self):
        self.seal()
        sms0 = len(self.box.sms())
        out = self.guest.ssh(f"{LAWLINE} update /run/bundles/wrong-key.raucb", check=False)
        said = (out.stderr + out.stdout).strip().splitlines()
        assert out.returncode == 1, f"exit {out.returncode}: {said}"
        assert any("not signed with the office's key" in line for line in said), said
        msg = [line for line in said if line.startswith("lawline:")]
        return f"refused, exit 1, {msg[-1] if msg else said[-1]!r}; " + \
            self.still_old("refused", sms0, "没有本办公室的有效签名", "signed")

    def unsigned_usb(self):
        self.seal()
        sms0 = len(self.box.sms())
        mark = self.guest.mark()
        said = self.guest.hmp(f"drive_add 0 if=none,id=stick,format=raw,readonly=on,"
                              f"file={CACHE / 'stick.img'}")
        said += self.guest.hmp("device_add usb-storage,id=stick0,drive=stick,bus=xhci.0")
        assert "Error" not in said, said
        self.guest.wait(r"update refused|lawline-update-usb", 180, mark, "the stick's unit")
        end = time.monotonic() + 180
        while self.box.last().get("source") != "usb" and time.monotonic() < end:
            time.sleep(3)
        journal = self.guest.ssh("journalctl -u 'lawline-update-usb@*' -o cat --no-pager "
                                 "| grep 'update:' | tail -3", check=False).stdout.strip()
        self.guest.hmp("device_del stick0")
        return f"stick journal: {journal.splitlines()[-1:]}; " + \
            self.still_old("refused", sms0, "U盘.*没有本办公室的有效签名", "signed")

    def cut(self, trigger, delay, before_line=None, hold=False):
        self.seal()
        sms0 = len(self.box.sms())
        stream = self.update_stream("/run/bundles/good.raucb")
        call = None
        try:
            if hold:
                stream.until(r"Copying image to rootfs", 900)
                call = CallerThread(self.sim).start("hold")
                call.up.wait(120)
                assert not call.error, f"the holding call: {call.error}"
            hit = stream.until(trigger, 900)
            time.sleep(delay)
            self.guest.kill()
            time.sleep(0.5)
        finally:
            stream.proc.kill()
            log("lawline update said: " + " | ".join(stream.lines[-12:]))
            if call:
                call.release()
                call.join(60)
        if before_line:
            late = [line for line in stream.lines if re.search(before_line, line)]
            assert not late, f"the cut came too late: {late[0]!r} was already done"
        t0 = time.monotonic()
        self.guest.start()
        self.ready(0)
        back = time.monotonic() - t0
        self.figures.setdefault("boot after a power cut s", []).append(round(back))
        assert self.guest.boots() == [self.slot], f"U-Boot started {self.guest.boots()}"
        return (f"cut at {hit!r} (+{delay:g} s; last line {stream.lines[-1]!r}); booted "
                f"{self.slot} in {back:.0f} s; " +
                self.still_old("interrupted", sms0, "断电|中断", "cut off"))

    def trial_fails(self, bundle, expect_reason, sms_pattern):
        self.seal()
        sms0 = len(self.box.sms())
        mark = self.guest.mark()
        out = self.guest.ssh(f"{LAWLINE} update /run/bundles/{bundle}.raucb 2>&1",
                             timeout=1800, check=False)
        install = self.box_install_seconds(out.stdout)
        tried = self.guest.wait(r"lawline: booting slot ([AB])", 300, mark, "the restart")
        t_restart = time.monotonic()
        assert tried.group(1) != self.slot, \
            f"U-Boot did not try the new slot: {self.guest.boots(mark)}"
        back_m = self.guest.wait(rf"lawline: booting slot {self.slot}", 1500, tried.end(),
                                 "the way back")
        self.ready(back_m.start())
        back = time.monotonic() - t_restart
        boots = self.guest.boots(mark)
        panic = "Kernel panic" in self.guest.text()[tried.end():back_m.start()]
        self.figures.setdefault(f"roll back s ({bundle})", round(back))
        self.figures.setdefault(f"install s ({bundle})", install)
        return (f"installed in {install} s; U-Boot started {' then '.join(boots)}"
                f"{' (kernel panic on the new slot)' if panic else ''}; back and READY "
                f"{back:.0f} s after the restart; " +
                self.still_old("failed", sms0, sms_pattern, expect_reason))

    def box_install_seconds(self, text):
        m = re.search(r"slot [AB] written in (\d+) s", text)
        return int(m.group(1)) if m else None

    def good(self):
        self.seal()
        sms0 = len(self.box.sms())
        www = self.nginx_dir / "www"
        shutil.copy(CACHE / "bundles/good.raucb", www / "lawline.raucb")
        size = (www / "lawline.raucb").stat().st_size
        # not in the night window: the poll downloads and checks it, and waits
        self.guest.ssh("systemctl start lawline-update.service", timeout=1800)
        last = self.box.last()
        assert last.get("state") == "waiting", f"outside the window: {last}"
        waited = last.get("version")
        # the window opens (the office sets it to all day); a call is up as the install ends
        self.guest.ssh("sed -i 's/^window = .*/window = \"00:00-24:00\"/' "
                       "/etc/lawline/lawline.toml")
        # the office's own edit is not a loss: the file is compared as edited from here on
        toml = "/etc/lawline/lawline.toml"
        self.before["etc"][toml] = self.box.facts()["etc"][toml]
        mark = self.guest.mark()
        t0 = time.monotonic()
        poll = subprocess.Popen(self.guest.ssh_argv(
            "systemctl start lawline-update.service; echo poll-ended"),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.procs.append(poll)

        def journal():
            return self.guest.ssh("journalctl -u lawline-update.service -o cat --no-pager "
                                  "-n 60", check=False, timeout=60).stdout

        def until(what, timeout):
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                if what in journal():
                    return time.monotonic()
                assert not self.guest.boots(mark), f"restarted before {what!r}"
                time.sleep(3)
            raise AssertionError(f"no {what!r} from the poll in {timeout} s")
        # a call comes in while the slot is written; the restart must wait for it
        until("Copying image to rootfs", 1800)
        call = CallerThread(self.sim).start("hold")
        call.up.wait(120)
        assert not call.error, f"the holding call: {call.error}"
        until("waiting for the line: 1 call(s) in progress (restart into", 1800)
        time.sleep(10)
        assert not self.guest.boots(mark), "restarted with a call up"
        call.release()
        hung_up = time.monotonic()
        call.join(60)
        self.guest.wait(r"lawline: booting slot B", 300, mark, "the restart into B")
        restart_after = time.monotonic() - hung_up
        record_now = None
        self.ready(mark)
        # the health check passes, then mark-good
        end = time.monotonic() + HEALTH_MINUTES * 60 + 300
        while time.monotonic() < end:
            record_now = self.box.last()
            if record_now.get("state") == "good":
                break
            time.sleep(5)
        committed = time.monotonic() - t0
        assert record_now.get("state") == "good", f"record: {record_now}"
        self.slot, self.version = "B", record_now.get("version")
        f = self.box.facts()
        assert f["slot"] == ["B"] and f["version"] == waited, f"{f['slot']} {f['version']}"
        lost = kept(self.before, f)
        assert not lost, f"LAWDATA lost: {lost}"
        env = self.box.env()
        assert env.get("BOOT_ORDER") == "B A" and env.get("BOOT_B_LEFT") == "3", env
        config_txt = self.guest.ssh("cat /boot/firmware/config.txt").stdout
        assert f"this line came with {waited}" in config_txt, "config.txt did not follow"
        greeting = CallerThread(self.sim).start("greeting").join(120)
        assert "greeting heard" in str(greeting), greeting
        news = [m["text"] for m in self.box.sms()[sms0:]]
        assert not any("失败" in t or "中断" in t or "拒绝" in t for t in news), news
        self.figures["bundle bytes"] = size
        self.figures["install s (good)"] = record_now.get("install_s")
        self.figures["health check s (good)"] = record_now.get("health_s")
        self.figures["poll to committed s (good)"] = round(committed)
        return (f"waited outside the window ({waited}); in it: downloaded {size >> 20} MiB, "
                f"installed in {record_now.get('install_s')} s, held the restart while a call "
                f"was up, restarted {restart_after:.0f} s after the hang-up, slot B healthy "
                f"after {record_now.get('health_s')} s, committed; U-Boot "
                f"{env.get('BOOT_ORDER')!r} B={env.get('BOOT_B_LEFT')}; config.txt carries "
                f"the new line; a call hears the greeting ({greeting}); LAWDATA kept")

    def committed(self):
        self.seal()
        facts, back = self.power_cut_and_on()
        assert self.guest.boots() == ["B"], f"U-Boot started {self.guest.boots()}"
        f = self.box.facts()
        assert f["slot"] == ["B"] and f["version"] == self.version, \
            f"running {f['slot']} {f['version']}, not slot B {self.version}"
        lost = kept(self.before, f)
        assert not lost, f"LAWDATA lost: {lost}"
        return f"power cut: booted B again in {back:.0f} s, {self.version}"

    # -- all of it -------------------------------------------------------------------------

    def main(self):
        good = BUILD / "bundle/lawline.raucb"
        if not good.exists():
            raise SystemExit("no build/bundle/lawline.raucb: run make bundle first")
        self.figures["make bundle bytes"] = good.resolve().stat().st_size
        prepare_bundles()
        self.nginx, self.nginx_dir, port = office_server(self.work)
        sim_p, state, self.sim = start_sim(self.work)
        self.procs.append(sim_p)
        img = qemu.prepare(IMAGE, self.work, test_toml(port),
                           {"update-ca.pem": (self.nginx_dir / "ca.pem").read_text()},
                           size=DISK_SIZE)
        self.guest = qemu.Guest(self.work, img, self.sim, [CACHE / "bundles.ext4"],
                                tag="update-test")
        self.box = Box(self.guest, self.work, state)
        t0 = time.monotonic()
        first = self.power_on()
        log(f"first boot: {first} in {time.monotonic() - t0:.0f} s")
        self.slot, self.version = "A", first.get("version")
        # what LAWDATA holds from here on: a complaint voicemail (case, recording, records),
        # files beside the box's
        said = CallerThread(self.sim).start("complaint").join(240)
        assert said == "complaint left", f"the complaint call: {said}"
        self.guest.ssh("mkdir -p /var/lib/lawline/update-test && head -c 4194304 /dev/urandom "
                       "> /var/lib/lawline/update-test/sentinel.bin && "
                       "cp /etc/lawline/lawline.toml /var/lib/lawline/update-test/")
        self.box.mark("seeded")
        facts = self.box.facts()
        log(f"LAWDATA seeded: {len(facts['wav'])} recording(s), {len(facts['cases'])} case(s), "
            f"{len(facts['items'])} outbox item(s)")
        self.case("wrong-key", "a bundle signed with another key, by `lawline update FILE`",
                  self.wrong_key)
        self.case("unsigned", "a bundle with no signature, on a USB stick plugged in",
                  self.unsigned_usb)
        # RAUC 1.8 (Debian 12) says "NN% Copying image to rootfs.1" while it writes the
        # slot and "... done." after it (the 7 December run; no "Updating slot rootfs.1")
        self.case("cut-check", "power cut as RAUC checks the bundle",
                  lambda: self.cut(r"Checking and mounting bundle|Checking bundle|Verifying "
                                   r"signature", 0.0,
                                   r"Copying image to rootfs\.1"))
        self.case("cut-write", "power cut while RAUC writes the new slot",
                  lambda: self.cut(r"Copying image to rootfs\.1\s*$", 5.0,
                                   r"Copying image to rootfs\.1 done"))
        self.case("cut-held", "power cut after the slot was written, as the restart waits "
                  "for a call to end", lambda: self.cut(r"waiting for the line", 1.0, None,
                                                         hold=True))
        self.case("never-ready", "a new version whose box never says READY",
                  lambda: self.trial_fails("never-ready", "not READY", "开机自检未通过"))
        self.case("never-up", "a new version that never reaches its health check (kernel "
                  "panic)", lambda: self.trial_fails("never-up", "did not start|never passed",
                                                     "开机自检未通过"))
        self.case("good", "a good version from [update] url, in the night window",
                  self.good)
        self.case("committed", "power cut on the committed new version", self.committed)

    def close(self):
        if self.guest is not None:
            self.guest.kill()
        if self.nginx is not None and self.nginx.poll() is None:
            os.killpg(self.nginx.pid, signal.SIGTERM)     # its master and worker
            self.nginx.wait(10)
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prepare-only", action="store_true",
                    help="make the test bundles (niced, outside the real-time lock) and stop")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--only", type=lambda s: s.split(","), default=None,
                    help="run only these cases (comma-separated), after the first boot")
    args = ap.parse_args()
    if args.prepare_only:
        prepare_bundles()
        return 0
    r = Run(args)
    failed = True
    try:
        r.main()
        failed = any(c["result"] != "PASS" for c in r.cases) or not r.cases
    except Exception as exc:  # noqa: BLE001 - reported below
        log(f"stopped: {type(exc).__name__}: {exc}")
    finally:
        r.close()
        if failed or args.keep:
            log(f"logs kept in {r.work} (console-*.log, sim.log, nginx/)")
        else:
            shutil.rmtree(r.work, ignore_errors=True)
    log("cases:")
    for c in r.cases:
        log(f"  {c['result']} {c['case']} ({c['seconds']} s): {c['what']}: {c['happened']}")
    log(f"figures: {json.dumps(r.figures)}")
    print(json.dumps({"cases": r.cases, "figures": r.figures}, ensure_ascii=False))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
