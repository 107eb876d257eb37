"""A SIP leg and a trunk of the box on one real pjsua2 endpoint, for
tests/sip/test_part_events_sip.py (one endpoint per process, so it runs in its own).
`python -m tests.sip.part_events_box OUT_FILE PASSWORD_FILE`: the leg calls the endpoint's
own address (its account refuses every incoming call with 403) and the trunk registers
with a registrar that answers 403 (a UDP socket here); every event both put out is written
to OUT_FILE as one JSON line, with the name of its type."""

import asyncio
import json
import socket
import sys
from dataclasses import asdict

from lawline import config
from lawline.sip.endpoint import MediaCore
from lawline.sip.leg import Leg, LocalAccount
from lawline.sip.trunk import Trunk


def refusing_registrar(sock):
    """Answer every REGISTER on `sock` with 403, echoing the headers a UAC matches on."""
    def answer():
        data, peer = sock.recvfrom(65535)
        head = data.decode("utf-8", "replace").split("\r\n\r\n", 1)[0].split("\r\n")
        if not head[0].startswith("REGISTER "):
            return
        keep = [h for h in head[1:] if h.split(":", 1)[0].strip().lower() in
                ("via", "from", "to", "call-id", "cseq")]
        reply = "\r\n".join(["SIP/2.0 403 Forbidden", *keep, "Content-Length: 0", "", ""])
        sock.sendto(reply.encode(), peer)
    return answer


async def main(out, password_file):
    registrar = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    registrar.bind(("127.0.0.1", 0))
    registrar.setblocking(False)
    loop = asyncio.get_running_loop()
    loop.add_reader(registrar.fileno(), refusing_registrar(registrar))
    cfg = config.from_dict({"office": {"number": "07730148"}, "trunk": {
        "registrar": f"sip:127.0.0.1:{registrar.getsockname()[1]}", "username": "box",
        "password_file": password_file, "keepalive": 0}})
    core = MediaCore("127.0.0.1", 0, 1, poll_interval=0.005)
    core.start()
    stop = asyncio.Event()
    polling = asyncio.ensure_future(core.run(stop))
    seen = []
    trunk = Trunk(cfg.trunk, cfg.office)
    handle = trunk._event
    trunk._event = lambda event: (seen.append(event), handle(event))
    try:
        account = LocalAccount(core, f"sip:07730148@127.0.0.1:{core.port}")
        core.add_account(account)
        trunk_account = trunk.start(core)
        leg = Leg(account, core, "13900000001", f"sip:13900000001@127.0.0.1:{core.port}")
        core.keep(leg)
        leg.dial()
        while not leg.disconnected:
            seen.append(leg.take_event(await asyncio.wait_for(leg.events.get(), 10)))
        for _ in range(1000):
            if trunk.state.failures:
                break
            await asyncio.sleep(0.01)
        core.release(leg)
        del leg
    finally:
        trunk.stop()
        stop.set()
        await polling
        core.stop()
    with open(out, "w", encoding="utf-8") as f:
        for event in seen:
            f.write(json.dumps({"type": f"{type(event).__module__}.{type(event).__name__}",
                                **asdict(event)}) + "\n")
    del trunk_account


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
