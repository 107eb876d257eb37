"""Run by test_lost_sip.py in its own process (one pjsua2 endpoint per process): the box's SIP
endpoint and its event poller (MediaCore.run); for a while every poll fails, for real (the
endpoint is asked for a codec it does not have, which pjsua2 refuses with pj.Error), then
polls work again. Prints a JSON report: the busiest thread's CPU while it fails, whom the
poller told, what it logged, and whether a SIP request is answered before and after."""

import asyncio
import json
import logging
import socket
import time

from lawline.sip.endpoint import POLL_BACKOFF, POLL_LOST, MediaCore

from cpu import threads_seconds


class Said(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


class FailingPolls:
    """The endpoint as the poller sees it: while `failing`, libHandleEvents fails the way a
    broken pjsua2 does (pj.Error from the library itself)."""

    def __init__(self, ep):
        self.ep, self.failing, self.polls = ep, False, 0

    def libHandleEvents(self, ms):
        if self.failing:
            self.ep.codecGetParam("NOSUCH/8000")   # no such codec: pjsua2 raises pj.Error
        self.polls += 1
        return self.ep.libHandleEvents(ms)

    def __getattr__(self, name):
        return getattr(self.ep, name)


def options(port):
    """One SIP OPTIONS over UDP from a stranger: the box's door answers it (403) while its
    events are handled; None when nothing answers within a second."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(1.0)
        me = sock.getsockname()[1]
        call_id = f"{time.monotonic_ns()}@127.0.0.1"
        request = (f"OPTIONS sip:07730148@127.0.0.1:{port} SIP/2.0\r\n"
                   f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK{time.monotonic_ns()}\r\n"
                   f"Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=1\r\n"
                   f"To: <sip:07730148@127.0.0.1>\r\nCall-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\n"
                   f"Content-Length: 0\r\n\r\n")
        sock.sendto(request.encode(), ("127.0.0.1", port))
        try:
            return sock.recv(4096).decode(errors="replace").split("\r\n", 1)[0]
        except socket.timeout:
            return None


async def main():
    said = Said()
    logging.getLogger("lawline.sip").addHandler(said)
    logging.getLogger("lawline.sip").setLevel(logging.INFO)
    core = MediaCore("127.0.0.1", 0, 1, poll_interval=0.005)
    core.start()
    polls = core.ep = FailingPolls(core.ep)
    told = []
    core.on_lost = told.append
    stop = asyncio.Event()
    poller = asyncio.ensure_future(core.run(stop))
    report = {}
    try:
        report["answered_before"] = await asyncio.to_thread(options, core.port)
        polls.failing = True
        await asyncio.sleep(POLL_LOST + 0.5)           # long enough to be the stack lost
        before = threads_seconds()
        await asyncio.sleep(1.0)
        after = threads_seconds()
        report["busiest"] = max(after[t] - before.get(t, 0.0) for t in after)
        report["lost"] = core.lost
        report["told"] = list(told)
        polls.failing = False
        counted = polls.polls
        await asyncio.sleep(POLL_BACKOFF + 0.5)
        report["polls_after"] = polls.polls - counted
        report["answered_after"] = await asyncio.to_thread(options, core.port)
        report["told_after"] = told[len(report["told"]):]
        report["lost_after"] = core.lost
        report["poller_running"] = not poller.done()
    finally:
        stop.set()
        try:
            await asyncio.wait_for(poller, 5)
        except Exception as exc:  # noqa: BLE001 - the report says how the poller ended
            report["poller_ended_with"] = repr(exc)
        core.ep = polls.ep
        core.stop()
    report["said"] = said.lines
    return report


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
