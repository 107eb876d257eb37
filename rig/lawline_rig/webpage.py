"""The office page (`lawline web`) as its own process, for the demo, the browser tests and
the web bench: accounts made with the box's own command, then the page started on a free
port with its address read from a ready file."""

import os
import subprocess
import sys
from pathlib import Path

from .probe.rig import Process, wait_until

DEMO_USERS = (
    # name, role, display, mobile, password
    ("head", "head", "王主任", "13900000009", "demo-head-0148"),
    ("clerk", "clerk", "李文员", "", "demo-clerk-0148"),
    ("duty", "duty", "张律师", "13900000001", "demo-duty-0148"),
)


def lawline(*args):
    return [sys.executable, "-m", "lawline", *args]


def add_user(config_path, name, role, password, display="", mobile=""):
    argv = lawline("web", "--config", str(config_path), "user", "add", name, "--role", role,
                   "--password-stdin")
    if display:
        argv += ["--display", display]
    if mobile:
        argv += ["--mobile", mobile]
    done = subprocess.run(argv, input=password + "\n", capture_output=True, text=True,
                          timeout=60)
    if done.returncode != 0 and "已存在" not in done.stderr:
        raise RuntimeError(f"lawline web user add {name} failed: {done.stderr[-500:]}")


class WebPage:
    """`lawline web --config CONFIG` listening on 127.0.0.1 (a free port)."""

    def __init__(self, config_path, state_dir, users=DEMO_USERS, bind="127.0.0.1", port=0,
                 env=None):
        """`env`: variables set for the page's process beyond ours (TZ, TMPDIR in tests)."""
        self.config_path = Path(config_path)
        self.dir = Path(state_dir)
        self.users = {u[0]: u for u in users}
        self.bind, self.port = bind, port
        self.env = env
        self.proc = None
        self.url = None

    def start(self, timeout=60):
        for name, role, display, mobile, password in self.users.values():
            add_user(self.config_path, name, role, password, display, mobile)
        ready = self.dir / "web.url"
        ready.unlink(missing_ok=True)
        self.proc = Process("web", lawline("web", "--config", str(self.config_path),
                                           "--bind", self.bind, "--port", str(self.port),
                                           "--ready-file", str(ready)), self.dir,
                            env=dict(os.environ, **self.env) if self.env else None)
        wait_until(lambda: ready.exists() or not self.proc.alive(), timeout,
                   "the office page to start")
        if not ready.exists():
            raise RuntimeError("the office page failed to start:\n" +
                               self.proc.log_text()[-3000:])
        self.url = ready.read_text().strip().rstrip("/")
        return self

    def password(self, name):
        return self.users[name][4]

    def log_text(self):
        return self.proc.log_text() if self.proc else ""

    def stop(self):
        if self.proc is None:
            return None
        code = self.proc.stop()
        self.proc = None
        return code



def start_for_demo(rig):
    """The demo's hook: the page on the demo's own spool, with the demo accounts; prints
    its address and the logins. Port 8443 when free, else any."""
    import socket
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", 8443))
            port = 8443
        except OSError:
            port = 0
    page = WebPage(rig.config_path, rig.dir, port=port).start()
    print(f"office page: {page.url}/  (self-signed certificate: accept it once; it stops "
          "with the demo, `.venv/bin/lawline demo --serve` keeps it up)")
    for name, role, display, _, password in DEMO_USERS:
        print(f"  log in as {name} / {password}  ({display}, {role})")
    return page
