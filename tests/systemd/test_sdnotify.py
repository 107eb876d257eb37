"""sd_notify over a real AF_UNIX datagram socket (path and abstract '@' names) and the
watchdog fed from the event loop. (What is sent when, without a socket:
tests/unit/test_sdnotify.py.)"""

import asyncio
import os
import socket

from lawline import sdnotify


def receiver(address):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(5)
    return sock


def test_ready_and_status_reach_a_path_socket(tmp_path):
    path = str(tmp_path / "notify")
    sock = receiver(path)
    n = sdnotify.Notifier({"NOTIFY_SOCKET": path})
    assert n.ready("waiting for calls; modem: answers")
    assert sock.recv(4096).decode() == "READY=1\nSTATUS=waiting for calls; modem: answers"
    assert n.status("waiting for calls; trunk: FAIL\nunregistered")
    assert sock.recv(4096).decode() == "STATUS=waiting for calls; trunk: FAIL unregistered"
    assert not n.status("waiting for calls; trunk: FAIL unregistered")   # unchanged: not sent
    n.stopping()
    assert sock.recv(4096).decode() == "STOPPING=1\nSTATUS=stopping"


def test_abstract_socket_name():
    name = f"lawline-test-{os.getpid()}"
    sock = receiver("\0" + name)
    n = sdnotify.Notifier({"NOTIFY_SOCKET": "@" + name})
    assert n.send("READY=1")
    assert sock.recv(100) == b"READY=1"


def test_watchdog_is_fed_from_the_loop_at_half_the_interval(tmp_path):
    path = str(tmp_path / "notify")
    sock = receiver(path)
    n = sdnotify.Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000",
                           "WATCHDOG_PID": str(os.getpid())})
    assert n.watchdog == 0.2

    async def main():
        stop = asyncio.Event()
        task = asyncio.ensure_future(n.feed_watchdog(stop))
        pings = [await asyncio.to_thread(sock.recv, 100) for _ in range(3)]
        stop.set()
        await task
        return pings
    assert asyncio.run(main()) == [b"WATCHDOG=1"] * 3
