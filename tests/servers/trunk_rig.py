"""The loopback line with the box behind a real SIP trunk (Kamailio), duty phones that
register there as users, and SIPp as a duty phone nobody here wrote.

Used by tests/scenarios/test_trunk.py and by `make bench` (lawline/sip/bench.py). Phones are
started on first use and kept; the box is restarted when a test needs another duty list.
"""

import json
import os
import shutil
from pathlib import Path

from lawline import config as configuration
from lawline_rig.probe.rig import Process, Rig, free_port, lawline_argv, wait_until

from .kamailio import BOX_USER, PASSWORDS

HERE = Path(__file__).parent
SIPP_SCENARIOS = {"busy": HERE / "sipp_busy.xml", "ringing": HERE / "sipp_ringing.xml",
                  "transfer": HERE / "sipp_transfer.xml"}


class TrunkRig(Rig):
    def __init__(self, state_dir, kamailio, password=None, trunk_options=None, **kw):
        super().__init__(state_dir, **kw)
        self.kamailio = kamailio
        self.password_file = self.dir / "trunk.password"
        self.password_file.write_text((password or PASSWORDS[BOX_USER]) + "\n")
        os.chmod(self.password_file, 0o600)
        self.trunk_options = dict(trunk_options or {})
        self.phones = {}            # number -> (Process, events path, record base)
        self.sipps = {}             # number -> (Process, message log)
        self.duty = {"numbers": [], "mediators": []}
        self.box_runs = 0

    # -- config --------------------------------------------------------------------------

    def box_config(self):
        values = super().box_config()
        k = self.kamailio
        values["trunk"] = {
            "registrar": k.registrar, "outbound_proxy": k.proxy, "username": BOX_USER,
            "domain": "127.0.0.1", "password_file": str(self.password_file),
            # short, so an outage is noticed within seconds
            "expiry": 60, "keepalive": 1.0, "reply_timeout": 1.5, "retry_min": 1.0,
            "retry_max": 3.0, **self.trunk_options}
        values["duty"].update(self.duty)
        return values

    # -- the box -------------------------------------------------------------------------

    def start_box(self, wait_registered=True):
        """(Re)start the box with the current duty lists; each run logs to box-N.log."""
        old = self.procs.pop("box", None)
        if old is not None:
            old.stop()
        self.box_runs += 1
        self.config_path.write_text(configuration.dump(self.box_config()), encoding="utf-8")
        proc = self.procs["box"] = Process(f"box-{self.box_runs}", lawline_argv(
            "-v", "run", "--config", str(self.config_path)), self.dir)
        wait_until(lambda: "ready on" in proc.log_text() or not proc.alive(), 30,
                   "the box to start")
        if not proc.alive():
            raise RuntimeError("the box failed to start:\n" + proc.log_text()[-3000:])
        if wait_registered:
            self.wait_box_log(" registered as ", 15)

    def box_log(self):
        if "box" in self.procs:
            return self.procs["box"].log_text()
        logs = sorted(self.dir.glob("box-*.log"), key=lambda p: p.stat().st_mtime)
        return logs[-1].read_text(errors="replace") if logs else ""

    def use(self, numbers=(), mediators=()):
        """Make sure the box rings exactly these lists (restarting it if they changed)."""
        wanted = {"numbers": list(numbers), "mediators": list(mediators)}
        if wanted != self.duty or "box" not in self.procs or not self.procs["box"].alive():
            self.duty = wanted
            self.start_box()

    def wait_box_log(self, text, timeout, after=0):
        proc = self.procs["box"]
        wait_until(lambda: text in proc.log_text()[after:] or not proc.alive(), timeout,
                   f"the box to log {text!r}")
        if not proc.alive():
            raise RuntimeError("the box died:\n" + proc.log_text()[-3000:])

    # -- duty phones ---------------------------------------------------------------------

    def phone(self, number, behaviour, *options):
        """A registered pjsua2 duty phone for `number` (started once, then reused)."""
        if number in self.phones and self.phones[number][0].alive():
            return self.phones[number]
        ready = self.dir / f"phone-{number}.ready"
        events = self.dir / f"phone-{number}.events"
        record = self.dir / f"phone-{number}.wav"
        # a phone started again (a test's second try) begins with no events or recordings:
        # its calls are numbered from 1 again
        for old in (ready, events, *self.dir.glob(f"phone-{number}-*.wav")):
            old.unlink(missing_ok=True)
        proc = Process(f"phone-{number}", lawline_argv(
            "dutyphone", "--port", "0", "--behaviour", behaviour,
            "--registrar", self.kamailio.registrar, "--user", number,
            "--password", PASSWORDS[number], "--events", str(events),
            "--record", str(record), "--ready-file", str(ready), *options), self.dir)
        wait_until(lambda: ready.exists() or not proc.alive(), 15,
                   f"duty phone {number} to register")
        if not ready.exists():
            raise RuntimeError(f"duty phone {number} failed:\n" + proc.log_text()[-2000:])
        self.phones[number] = (proc, events, record)
        return self.phones[number]

    def phone_events(self, number):
        try:
            text = self.phones[number][1].read_text()
        except (KeyError, OSError):
            return []
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def sipp(self, number, role):
        """SIPp as the duty phone behind `number` (a static route in Kamailio): 'busy'
        answers 486, 'ringing' rings until cancelled, 'transfer' answers and sends REFER to
        a premium number (sipp_transfer.xml)."""
        if number in self.sipps and self.sipps[number][0].alive():
            return self.sipps[number]
        port = self.kamailio.static_ports[number]
        messages = self.dir / f"sipp-{number}.messages"
        proc = Process(f"sipp-{number}", [
            shutil.which("sipp") or "/usr/bin/sipp", "-sf", str(SIPP_SCENARIOS[role]),
            "-i", "127.0.0.1", "-p", str(port), "-mi", "127.0.0.1", "-mp", str(free_port()),
            "-nostdin", "-trace_msg", "-message_file", str(messages), "-trace_err",
            "-error_file", str(self.dir / f"sipp-{number}.errors")], self.dir)
        wait_until(lambda: _udp_bound(port) or not proc.alive(), 10, f"SIPp on port {port}")
        if not proc.alive():
            raise RuntimeError("SIPp failed:\n" + proc.log_text()[-2000:])
        self.sipps[number] = (proc, messages)
        return self.sipps[number]

    def sipp_messages(self, number):
        try:
            return self.sipps[number][1].read_text(errors="replace")
        except (KeyError, OSError):
            return ""

    def stop(self):
        codes = super().stop()
        for number, (proc, *_) in list(self.phones.items()) + list(self.sipps.items()):
            codes[f"phone-{number}"] = proc.stop()
        self.phones.clear()
        self.sipps.clear()
        return codes


def _udp_bound(port):
    """True when something listens on UDP 127.0.0.1:port (read from /proc/net/udp)."""
    want = f"0100007F:{port:04X}"
    try:
        return any(line.split()[1] == want for line in
                   Path("/proc/net/udp").read_text().splitlines()[1:])
    except (OSError, IndexError):
        return False


def box_sockets(pid):
    """(proto, local address, port) of every socket a process holds, from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    out = []
    for proto in ("udp", "tcp", "udp6", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{proto}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[9] in inodes:
                addr, port = f[1].split(":")
                if proto.startswith("tcp") and f[3] != "0A":   # TCP: listening sockets only
                    continue
                host = ".".join(str(int(addr[i:i + 2], 16)) for i in (6, 4, 2, 0)) \
                    if len(addr) == 8 else addr
                out.append((proto, host, int(port, 16)))
    return out

