"""systemd/lawline-web.service as shipped, under a real systemd (PID 1 in systemd-nspawn, the
container of tests/systemd): it reaches READY (Type=notify) with all its hardening on, runs
as the lawline user, serves HTTPS, and comes back after a crash (SIGKILL)."""

import os
import ssl
import sys
import urllib.request
from pathlib import Path

import pytest

from lawline import config as configuration
from lawline.web import cert
from lawline_rig.probe.rig import free_port

from ..systemd.container import DATA, Container, build_rootfs, host_paths_dropin, tools_missing

pytestmark = pytest.mark.scenario
UNIT = "lawline-web.service"


class WebContainer(Container):
    """The same booted Debian, with the page's unit (and no box) wanted at boot."""

    def _dropin(self):
        lines = ["[Service]", "ExecStart=",
                 f"ExecStart={Path(sys.executable)} -m lawline -v web --config "
                 "/etc/lawline/lawline.toml", "RestartSec=1"]
        lines += host_paths_dropin()
        path = self.etc / "web-test.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    UNIT = UNIT
    MACHINE = "lawline-webtest"

    def unit_binds(self):
        return [f"--bind-ro={self.etc}:/etc/lawline"]        # no modem: the page only

    def until(self, predicate, timeout, what):
        return self.wait_for(predicate, timeout, what, unit=UNIT)


@pytest.fixture(scope="module")
def container(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("the systemd test boots a container: run it as root (as CI does)")
    missing = tools_missing()
    assert not missing, f"missing {missing}: tools/bootstrap.sh installs them"
    root = build_rootfs()
    work = tmp_path_factory.mktemp("websystemd")
    port = free_port(__import__("socket").SOCK_STREAM)
    etc = work / "container" / "etc"
    etc.mkdir(parents=True)
    # the test root has no openssl binary: the office's own certificate, made on the host
    cert.make_self_signed(etc / "cert.pem", etc / "key.pem")
    for name in ("cert.pem", "key.pem"):
        (etc / name).chmod(0o644)
    config = configuration.dump({
        "spool": {"dir": f"{DATA}/spool"},
        "web": {"bind": "127.0.0.1", "port": port, "cert_file": "/etc/lawline/cert.pem",
                "key_file": "/etc/lawline/key.pem"}})
    box = WebContainer(work / "container", root, None, None, config)
    box.port = port
    box.boot()
    yield box
    code = box.poweroff()
    assert code == 0, f"the container did not power off cleanly:\n{box.log_text()[-3000:]}"


def running(state):
    return state.get("ActiveState") == "active" and state.get("SubState") == "running"


def login_page(port):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with urllib.request.urlopen(f"https://127.0.0.1:{port}/login", context=context,
                                timeout=10) as answer:
        return answer.status, answer.read().decode("utf-8")


def test_the_page_unit_starts_hardened_as_the_lawline_user_and_serves_https(container):
    state = container.until(running, 90, f"{UNIT} to report READY")
    assert state["StatusText"].startswith("serving https://127.0.0.1:"), state
    ids = container.run("sh", "-c", f"id -u lawline; grep -E '^Uid' /proc/{state['MainPID']}"
                        "/status")
    uid = ids.split()[0]
    assert f"Uid:\t{uid}\t" in ids, ids
    status, body = login_page(container.port)
    assert status == 200 and "<h1>登录</h1>" in body


def test_a_crashed_page_is_restarted(container):
    before = container.until(running, 90, "READY")
    container.run("systemctl", "kill", "--signal=SIGKILL", "--kill-who=main", UNIT)
    after = container.until(lambda s: int(s.get("NRestarts", 0)) > int(before["NRestarts"])
                            and running(s), 60, "systemd to restart the page")
    assert after["MainPID"] != before["MainPID"]
    assert login_page(container.port)[0] == 200
