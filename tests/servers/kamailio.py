"""Kamailio as the SIP trunk, started by the tests (and by `make bench`) on 127.0.0.1.

`Kamailio` writes kamailio.cfg from the template next to this file, runs Kamailio in the
foreground (`-DD -E`), waits until it answers an OPTIONS, and stops it with SIGTERM
(reference/pjsua2.md, Kamailio as the test trunk). Its log has one line per request
("trunk: INVITE sip:139...@127.0.0.1 from ..."), which tests read with `requests()`.

With `tls=True` it also listens for SIP over TLS with a certificate from a test CA that
`make_test_ca()` creates with openssl (kamailio-tls-modules).
"""

import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from lawline_rig.probe.rig import free_port, wait_until

TEMPLATE = Path(__file__).with_name("kamailio.cfg")

# The accounts the test trunk knows: the box, and the duty phones that register.
BOX_USER = "lawline-box"
PASSWORDS = {
    BOX_USER: "box-pass-4711",
    "13900000012": "duty-12",     # accepts
    "13900000013": "duty-13",     # answers, never presses 1 (an announcement)
    "13900000014": "duty-14",     # declines
    "13900000015": "duty-15",     # declines
    "13900000016": "duty-16",     # never answers
    "13900000017": "duty-17",     # accepts, SIP INFO DTMF
    "13900000021": "mediator-21",
    "13900000022": "mediator-22",
    "1600148": "switchboard-1600148",   # the prefecture's switchboard transferring down
}
# SIPp duty phones, reached by static routes (SIPp cannot register): number -> role
SIPP_NUMBERS = {"13900000011": "busy", "13900000018": "ringing", "13900000019": "transfer",
                "1600148": "switchboard"}   # the switchboard taking a hand-over (issue 17)


def kamailio_binary():
    return shutil.which("kamailio") or "/usr/sbin/kamailio"


class Kamailio:
    def __init__(self, state_dir, users=None, static=None, port=None, tls=False):
        self.dir = Path(state_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.users = dict(PASSWORDS if users is None else users)
        self.static = dict(static or {})
        self.static_ports = {n: int(uri.rsplit(":", 1)[1]) for n, uri in self.static.items()}
        self.port = port or free_port()
        self.tls_port = free_port(socket.SOCK_STREAM) if tls else None
        self.tls = make_test_ca(self.dir / "tls") if tls else None
        self.cfg_path = self.dir / "kamailio.cfg"
        self.log_path = self.dir / "kamailio.log"
        self.proc = None
        self.starts = 0

    # -- addresses -------------------------------------------------------------------

    @property
    def registrar(self):
        return f"sip:127.0.0.1:{self.port}"

    @property
    def proxy(self):
        return f"sip:127.0.0.1:{self.port};lr"

    @property
    def tls_registrar(self):
        return f"sip:127.0.0.1:{self.tls_port};transport=tls"

    # -- life ------------------------------------------------------------------------

    def write_config(self):
        users = "\n".join(f'    $sht(users=>{user}) = "{password}";'
                          for user, password in self.users.items())
        users += "\n" + "\n".join(f'    $sht(static=>{number}) = "{uri}";'
                                  for number, uri in self.static.items())
        text = TEMPLATE.read_text()
        tls_globals = tls_module = ""
        if self.tls:
            tls_cfg = self.dir / "tls.cfg"
            tls_cfg.write_text(
                "[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\n"
                "require_certificate = no\n"
                f"private_key = {self.tls['server_key']}\n"
                f"certificate = {self.tls['server_cert']}\n\n"
                "[client:default]\nmethod = TLSv1.2+\nverify_certificate = no\n"
                "require_certificate = no\n")
            tls_globals = f"enable_tls=yes\nlisten=tls:127.0.0.1:{self.tls_port}"
            tls_module = f'loadmodule "tls.so"\nmodparam("tls", "config", "{tls_cfg}")'
        text = (text.replace("@@PORT@@", str(self.port))
                .replace("@@TLS_GLOBALS@@", tls_globals)
                .replace("@@TLS_MODULE@@", tls_module)
                .replace("@@USERS@@", users))
        self.cfg_path.write_text(text)

    def start(self, timeout=15):
        self.write_config()
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(f"==== start {self.starts}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            [kamailio_binary(), "-f", str(self.cfg_path), "-DD", "-E", "-m", "32", "-M", "4"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=_die_with_parent)
        log.close()
        try:
            wait_until(lambda: self.proc.poll() is not None or self.answers(), timeout,
                       "Kamailio to answer OPTIONS")
        except TimeoutError:
            self.stop()
            raise
        if self.proc.poll() is not None:
            raise RuntimeError(f"Kamailio exited with {self.proc.returncode}:\n"
                               + self.log_text()[-3000:])
        return self

    def stop(self, timeout=10):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        code = self.proc.returncode if self.proc else None
        self.proc = None
        return code

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def answers(self, timeout=0.5):
        """True when Kamailio answers an OPTIONS on its UDP port."""
        call_id = uuid.uuid4().hex
        branch = "z9hG4bK" + uuid.uuid4().hex[:16]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            msg = (f"OPTIONS sip:127.0.0.1:{self.port} SIP/2.0\r\n"
                   f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch={branch};rport\r\n"
                   "Max-Forwards: 70\r\n"
                   f"From: <sip:probe@127.0.0.1>;tag={call_id[:8]}\r\n"
                   f"To: <sip:127.0.0.1:{self.port}>\r\n"
                   f"Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
            s.settimeout(timeout)
            try:
                s.sendto(msg.encode(), ("127.0.0.1", self.port))
                data, _ = s.recvfrom(4096)
            except OSError:
                return False
        return data.startswith(b"SIP/2.0 200")

    # -- what it saw ------------------------------------------------------------------

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def requests(self, method=None, since=0):
        """(method, request URI) of every request Kamailio received, in order; `since` is
        a length of log_text() to skip (what came before a test)."""
        out = []
        for m in re.finditer(r"trunk: (\w+) (\S+) from ", self.log_text()[since:]):
            if method is None or m.group(1) == method:
                out.append((m.group(1), m.group(2)))
        return out

    def mark(self):
        return len(self.log_text())


def _die_with_parent():
    """In the child: SIGTERM when the test process dies, even by SIGKILL (a killed pytest
    never runs its fixture teardown, and an orphaned trunk would hold its ports)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)      # PR_SET_PDEATHSIG


def make_test_ca(directory):
    """A CA and a server certificate for 127.0.0.1 (IP and DNS subjectAltName), made with
    the openssl command line. Returns the paths; `other_ca` is a CA that signed nothing
    here, for the "certificate not trusted" test."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    paths = {name: d / f"{name}.pem" for name in
             ("ca_key", "ca_cert", "server_key", "server_cert", "other_ca_key", "other_ca")}
    run = lambda *args: subprocess.run(["openssl", *args], check=True,  # noqa: E731
                                       capture_output=True)
    for key, cert, cn in (("ca_key", "ca_cert", "lawline test CA"),
                          ("other_ca_key", "other_ca", "some other CA")):
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
            "-subj", f"/CN={cn}", "-keyout", str(paths[key]), "-out", str(paths[cert]))
    csr = d / "server.csr"
    ext = d / "server.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                   "extendedKeyUsage=serverAuth\n")
    run("req", "-newkey", "rsa:2048", "-nodes", "-sha256", "-subj", "/CN=127.0.0.1",
        "-keyout", str(paths["server_key"]), "-out", str(csr))
    run("x509", "-req", "-in", str(csr), "-CA", str(paths["ca_cert"]), "-CAkey",
        str(paths["ca_key"]), "-CAcreateserial", "-days", "2", "-sha256", "-extfile",
        str(ext), "-out", str(paths["server_cert"]))
    return {k: str(v) for k, v in paths.items()}


@pytest.fixture(scope="session")
def kamailio(tmp_path_factory):
    """The test trunk for the whole session: plain UDP, every account in PASSWORDS, and
    each of SIPP_NUMBERS routed to a fixed port where a test may start SIPp."""
    if not Path(kamailio_binary()).exists():
        pytest.fail("kamailio is not installed: run tools/bootstrap.sh (Debian package "
                    "'kamailio')")
    trunk = Kamailio(tmp_path_factory.mktemp("kamailio"),
                     static={n: f"sip:127.0.0.1:{free_port()}" for n in SIPP_NUMBERS})
    trunk.start()
    yield trunk
    trunk.stop()
