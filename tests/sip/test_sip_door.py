"""sip/door.py against a real pjsua2 endpoint (in its own process, tests/sip/door_box.py):
what reaches pjsua, what the box answers and what its Allow header says. Real-time (a SIP
UA): run under the shared lock. The same door on the trunk rig: test_trunk_fraud.py."""

import re
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytest.importorskip("pjsua2")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    """(SIP port, the trusted "trunk" socket, the log) of one endpoint for the module."""
    d = tmp_path_factory.mktemp("door")
    trunk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    trunk.bind(("127.0.0.1", 0))
    trunk.settimeout(5)
    ready, log_path = d / "ready", d / "box.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen([sys.executable, "-m", "tests.sip.door_box", str(ready),
                             str(trunk.getsockname()[1])], cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        for _ in range(1000):
            if ready.exists() or proc.poll() is not None:
                break
            try:
                proc.wait(0.01)
            except subprocess.TimeoutExpired:
                pass
        assert ready.exists(), log_path.read_text(errors="replace")
        yield int(ready.read_text()), trunk, log_path
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0, log_path.read_text(errors="replace")
        log.close()
        trunk.close()


def ask(port, method, sock=None, to_tag="", extra=""):
    """One request to the box; its final answer as text."""
    own = sock is None
    if own:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
    me = sock.getsockname()[1]
    tag, call_id = uuid.uuid4().hex[:8], uuid.uuid4().hex
    msg = (f"{method} sip:07730148@127.0.0.1:{port} SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK{tag};rport\r\n"
           f"Max-Forwards: 70\r\nFrom: <sip:peer@127.0.0.1:{me}>;tag={tag}\r\n"
           f"To: <sip:07730148@127.0.0.1>{to_tag}\r\nCall-ID: {call_id}\r\n"
           f"CSeq: 1 {method}\r\nContact: <sip:peer@127.0.0.1:{me}>\r\n{extra}"
           "Content-Length: 0\r\n\r\n")
    try:
        sock.sendto(msg.encode(), ("127.0.0.1", port))
        while True:
            data = sock.recv(8192).decode(errors="replace")
            if int(data.split()[1]) >= 200 and call_id in data:
                return data
    finally:
        if own:
            sock.close()


def code(answer):
    return int(answer.split()[1])


def test_the_trunk_may_ping_the_box_and_its_allow_header_offers_no_transfer(box):
    port, trunk, log = box
    answer = ask(port, "OPTIONS", trunk)
    assert code(answer) == 200, answer
    allow = re.search(r"^Allow: (.*)\r$", answer, re.M).group(1).split(", ")
    supported = re.search(r"^Supported: (.*)\r$", answer, re.M).group(1).split(", ")
    print(f"OPTIONS 200 from the box: Allow: {', '.join(allow)}; Supported: "
          f"{', '.join(supported)}")
    assert sorted(allow) == sorted(["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "INFO",
                                    "UPDATE", "PRACK"])
    assert "replaces" not in supported and "norefersub" not in supported
    # and the box's log says what it answers
    in_log(log, f"SIP door: Allow: {', '.join(allow)}; Supported: {', '.join(supported)};")


@pytest.mark.parametrize("method", ["MESSAGE", "SUBSCRIBE", "REGISTER", "NOTIFY", "PUBLISH"])
def test_the_trunk_may_send_nothing_else_outside_a_call(box, method):
    port, trunk, log = box
    answer = ask(port, method, trunk, extra="Event: presence\r\n")
    assert code(answer) == 403, answer
    in_log(log, f"SIP door: refused '{method}' from '127.0.0.1:{trunk.getsockname()[1]}'"
                      " with 403: the trunk may only send OPTIONS outside a call")


@pytest.mark.parametrize("method", ["OPTIONS", "MESSAGE", "SUBSCRIBE", "REGISTER", "INVITE",
                                    "REFER", "FOO"])
def test_anyone_else_gets_403_outside_a_call(box, method):
    port, _, log = box
    answer = ask(port, method)
    assert code(answer) == 403, answer
    assert "Forbidden" in answer.splitlines()[0]
    why = "the box never transfers a call" if method == "REFER" else "not from the trunk"
    in_log(log, f"SIP door: refused '{method}' from '127.0.0.1:")
    assert re.search(rf"refused '{method}' from '127\.0\.0\.1:\d+' with 403: {why}",
                     log.read_text()), log.read_text()[-2000:]


def test_inside_a_call_refer_is_refused_and_unknown_dialogs_get_481(box):
    port, _, log = box
    assert code(ask(port, "REFER", to_tag=";tag=abc",
                    extra="Refer-To: <sip:16900000000@127.0.0.1>\r\n")) == 403
    assert code(ask(port, "MESSAGE", to_tag=";tag=abc")) == 403
    assert code(ask(port, "BYE", to_tag=";tag=abc")) == 481      # pjsip: no such dialog
    assert code(ask(port, "INVITE", extra="Replaces: a@b;to-tag=1;from-tag=2\r\n")) == 403
    in_log(log, "with 403: no one may take over a call (Replaces)")


def in_log(path, text):
    """The door logs before it answers, so the line is there once the 403 is."""
    log = path.read_text(errors="replace")
    assert text in log, f"{text!r} not in the box's log:\n{log[-2000:]}"
