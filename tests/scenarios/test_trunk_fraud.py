"""Toll fraud through SIP, on the trunk rig (Kamailio as the trunk, SIPp as a hostile duty
phone): a far end that answers a duty leg and sends REFER to a premium number gets 403 and
nothing is dialled; an INVITE with Replaces for that leg gets 403; requests from a stranger
outside a call get 403; the Allow header the box sends offers no REFER; a rota row outside
the dial plan is refused with its row named (issue 9, point 2; sip/door.py, sip/dialplan.py).
"""

import asyncio
import re
import socket
import subprocess
import sys
import uuid

import pytest

from lawline_rig.probe.rig import async_wait_until, wait_until

from ..conftest import run_call
from ..servers.trunk_rig import TrunkRig

pytestmark = pytest.mark.scenario

SIPP_TRANSFER = "13900000019"
PREMIUM = "16900000000"


@pytest.fixture(scope="module")
def rig(module_rigs, kamailio):
    return module_rigs.rig("trunk-fraud", cls=TrunkRig, kamailio=kamailio, box=False,
                           duty=False, box_options={"duty": {"ring_timeout": 8.0,
                                                             "confirm_timeout": 4.0}})


def stranger(rig, method, extra="", to_tag="", body="", headers=""):
    """Send one request to the box from a socket that is not the trunk; its final answer
    (status code, whole text) and the socket's port."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(5)
        port = s.getsockname()[1]
        tag, call_id = uuid.uuid4().hex[:8], uuid.uuid4().hex
        msg = (f"{method} sip:{rig.box_number}@127.0.0.1:{rig.box_sip_port} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{tag};rport\r\n"
               "Max-Forwards: 70\r\n"
               f"From: <sip:stranger@127.0.0.1:{port}>;tag={tag}\r\n"
               f"To: <sip:{rig.box_number}@127.0.0.1>{to_tag}\r\n"
               f"Call-ID: {call_id}\r\nCSeq: 1 {method}\r\n"
               f"Contact: <sip:stranger@127.0.0.1:{port}>\r\n{headers}{extra}"
               f"Content-Length: {len(body)}\r\n\r\n{body}")
        s.sendto(msg.encode(), ("127.0.0.1", rig.box_sip_port))
        while True:
            data = s.recv(8192).decode(errors="replace")
            code = int(data.split()[1])
            if code >= 200:
                return code, data, port


def header(message, name):
    """The value of header `name` in one SIP message's text ('' when absent)."""
    m = re.search(rf"^{name}:[ \t]*(.*)$", message, re.M | re.I)
    return m.group(1).strip() if m else ""


def messages_of(text, first_line):
    """Each SIP message in a SIPp -trace_msg log that starts with `first_line`."""
    return [part for part in re.split(r"\n-{5,}[^\n]*\n", text)
            if part.strip().startswith(first_line) or f"\n{first_line}" in part[:400]]


async def _refer_and_replaces(rig):
    """Key 1; the hostile duty phone answers and sends REFER. While its leg is up, a
    stranger tries to take it over with INVITE/Replaces; then the caller hangs up."""
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    await caller.press("1")
    await async_wait_until(lambda: re.search(r"SIP/2\.0 403 .*\n(?:.*\n){0,12}?CSeq: 101 REFER",
                                             rig.sipp_messages(SIPP_TRANSFER)), 20,
                           "the REFER to be answered")
    sent = rig.sipp_messages(SIPP_TRANSFER)
    invite = messages_of(sent, "INVITE sip:")[0]
    box_tag = re.search(r"tag=([^;>\s]+)", header(invite, "From")).group(1)
    phone_tag = re.search(r"tag=(\w*SIPpTag01\w*)", sent).group(1)
    # pjsip looks the dialog up by Call-ID, its own (to-) tag and the far end's (from-) tag
    replaces = (f"Replaces: {header(invite, 'Call-ID')};to-tag={box_tag};"
                f"from-tag={phone_tag}\r\n")
    sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           "m=audio 40000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n")
    took_over = await asyncio.get_running_loop().run_in_executor(
        None, lambda: stranger(rig, "INVITE", replaces, body=sdp,
                               headers="Content-Type: application/sdp\r\n"))
    await caller.hang_up()
    await caller.wait_ended(10)
    return (await rig.next_record("call", after))["record"], took_over, replaces


def test_a_duty_phone_that_transfers_to_a_premium_number_gets_403_and_nothing_is_dialled(
        rig, kamailio):
    rig.sipp(SIPP_TRANSFER, "transfer")
    rig.use(numbers=[SIPP_TRANSFER])
    mark, box_mark = kamailio.mark(), len(rig.box_log())
    record, (code, _, port), replaces = run_call(rig, _refer_and_replaces)
    sipp = rig.sipp_messages(SIPP_TRANSFER)
    # the REFER went through the trunk to the box, and the box's 403 came back
    seen = kamailio.requests(since=mark)
    assert any(method == "REFER" for method, _ in seen), seen
    assert re.search(rf"Refer-To: <sip:{PREMIUM}@127\.0\.0\.1>", sipp)
    box = rig.box_log()[box_mark:]
    assert f"SIP door: refused 'REFER' from '127.0.0.1:{kamailio.port}' with 403: the box " \
           "never transfers a call" in box, box[-3000:]
    # nothing was dialled for it: every INVITE the trunk saw is the duty leg's (the first
    # one without credentials, challenged with 407, and the one with them)
    invites = [uri for _, uri in kamailio.requests("INVITE", since=mark)]
    assert set(invites) == {f"sip:{SIPP_TRANSFER}@127.0.0.1"}, invites
    assert not any(PREMIUM in uri for _, uri in seen), seen
    assert f"duty {PREMIUM}" not in box and "toll-fraud guard" not in box
    # nobody took over the leg with Replaces
    assert code == 403, replaces
    assert f"SIP door: refused 'INVITE' from '127.0.0.1:{port}' with 403: no one may take " \
           "over a call (Replaces)" in box
    assert [(leg["number"], leg["outcome"]) for leg in record["duty_legs"]] == \
        [(SIPP_TRANSFER, "caller_gone")], record["duty_legs"]
    # what the box offers: the INVITE as the duty phone received it
    invite = messages_of(sipp, "INVITE sip:")[0]
    allow = {m.strip() for m in header(invite, "Allow").split(",")}
    print(f"Allow in the box's INVITE: {header(invite, 'Allow')}; "
          f"Supported: {header(invite, 'Supported')}")
    assert {"INVITE", "ACK", "BYE", "CANCEL", "INFO"} <= allow, allow
    assert not allow & {"REFER", "MESSAGE", "SUBSCRIBE", "NOTIFY"}, allow
    assert "replaces" not in header(invite, "Supported")


@pytest.mark.parametrize("method, extra", [
    ("OPTIONS", ""), ("MESSAGE", "Content-Type: text/plain\r\n"),
    ("SUBSCRIBE", "Event: presence\r\nExpires: 60\r\n"), ("REGISTER", "Expires: 60\r\n"),
    ("INVITE", ""), ("REFER", f"Refer-To: <sip:{PREMIUM}@127.0.0.1>\r\n"),
    ("NOTIFY", "Event: message-summary\r\nSubscription-State: active\r\n"),
])
def test_requests_from_a_stranger_outside_a_call_are_refused_and_logged(rig, method, extra):
    if "box" not in rig.procs or not rig.procs["box"].alive():
        rig.use(numbers=["13900000012"])
    box = rig.procs["box"]
    body = "你好，请转 16900000000" if method == "MESSAGE" else ""
    code, answer, port = stranger(rig, method, extra, body=body)
    assert code == 403, answer
    assert "Allow:" not in answer or "REFER" not in header(answer, "Allow")
    why = "the box never transfers a call" if method == "REFER" else "not from the trunk"
    line = f"SIP door: refused '{method}' from '127.0.0.1:{port}' with 403: {why}"
    wait_until(lambda: line in box.log_text(), 5, "the box to log the refusal")


def test_a_rota_row_outside_the_dial_plan_is_named_and_lawline_check_says_who_may_send(
        rig, kamailio):
    rota = rig.dir / "rota.csv"
    rota.write_text("weekday,shift,name,role,mobile\n"
                    + "".join(f"{d},day,张律师,lawyer,13900000012\n{d},night,张律师,lawyer,"
                              "13900000012\n" for d in ("mon", "tue", "wed", "thu", "fri",
                                                        "sat", "sun"))
                    + "mon,day,王某,lawyer,16900000000\n", encoding="utf-8")
    rig.box_options["duty"]["rota_files"] = [str(rota)]
    try:
        rig.start_box()
        line = ("duty rota: rota.csv row 16, column E (mobile): '16900000000' is refused by "
                "the dial plan: a dial-up or information-service number (169)")
        rig.wait_box_log(line, 10)
        check = subprocess.run([sys.executable, "-m", "lawline", "check", "--config",
                                str(rig.config_path), "--no-modem"],
                               capture_output=True, text=True, timeout=60)
        assert f"[ok  ] SIP: listens on 127.0.0.1:{rig.box_sip_port} (UDP); outside a call " \
               f"only the trunk (127.0.0.1:{kamailio.port}) may send, and only OPTIONS" in \
               check.stdout, check.stdout + check.stderr
        assert "rota.csv row 16, column E (mobile): '16900000000' is refused" in check.stdout
    finally:
        del rig.box_options["duty"]["rota_files"]
        rig.start_box()


# -- the prefecture's switchboard may transfer callers down; nobody else may call in -------
# (issue 17.9b: tests/scenarios/test_switchboard.py has the switchboard's own calls)

def test_with_a_switchboard_only_it_may_call_in_through_the_trunk(rig, kamailio):
    """[switchboard] number set: an INVITE from the trunk whose From is another trunk user
    is still refused with 403 (the account, with the reason logged); one claiming to be the
    switchboard but not from the trunk's address is refused by the door, as before."""
    import json
    from lawline_rig.probe.rig import Process, lawline_argv
    from ..servers.kamailio import PASSWORDS
    rig.box_options["switchboard"] = {"number": "1600148"}
    try:
        rig.duty = {"numbers": ["13900000012"], "mediators": []}
        rig.start_box()
        box = rig.procs["box"]
        events = rig.dir / "intruder.events"
        ready = rig.dir / "intruder.ready"
        user = "13900000017"
        intruder = Process("intruder", lawline_argv(
            "dutyphone", "--port", "0", "--registrar", kamailio.registrar, "--user", user,
            "--password", PASSWORDS[user], "--events", str(events),
            "--ready-file", str(ready), "--call",
            f"sip:{rig.box_number}@127.0.0.1:{kamailio.port}",
            "--header", "P-Asserted-Identity: <sip:13800138000@127.0.0.1>",
            "--header", "X-Transfer-Reason: urgent"), rig.dir)
        try:
            def ended():
                try:
                    lines = [json.loads(x) for x in events.read_text().splitlines()]
                except (OSError, ValueError):
                    return None
                return next((e for e in lines if e["event"] == "disconnected"), None)
            gone = wait_until(ended, 20, "the intruder's call to be refused")
        finally:
            intruder.stop()
        assert gone["code"] == 403, gone
        line = f"is no switchboard transfer: From '{user}' is not the switchboard 1600148"
        wait_until(lambda: line in box.log_text(), 5, "the box to log the refusal")
        assert "switchboard: 1600148 transfers" not in box.log_text()
        # the switchboard's number from a stranger's address: the door, as before
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            s.settimeout(5)
            port = s.getsockname()[1]
            tag = uuid.uuid4().hex[:8]
            s.sendto((f"INVITE sip:{rig.box_number}@127.0.0.1:{rig.box_sip_port} SIP/2.0\r\n"
                      f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{tag};rport\r\n"
                      f"Max-Forwards: 70\r\nFrom: <sip:1600148@127.0.0.1>;tag={tag}\r\n"
                      f"To: <sip:{rig.box_number}@127.0.0.1>\r\nCall-ID: {tag}@x\r\n"
                      "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n").encode(),
                     ("127.0.0.1", rig.box_sip_port))
            answer = s.recv(8192).decode(errors="replace")
            while int(answer.split()[1]) < 200:
                answer = s.recv(8192).decode(errors="replace")
        assert int(answer.split()[1]) == 403, answer
        wait_until(lambda: f"SIP door: refused 'INVITE' from '127.0.0.1:{port}' with 403: not "
                           "from the trunk" in box.log_text(), 5, "the door's log line")
    finally:
        del rig.box_options["switchboard"]
        rig.start_box()
