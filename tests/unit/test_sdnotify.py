"""sd_notify over a real AF_UNIX datagram socket (path and abstract '@' names), the watchdog
fed from the event loop, and the box lock `lawline check` reads."""

import asyncio
import os
import socket

import pytest

from lawline import sdnotify, status
from lawline.errors import LawlineError


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


def test_without_systemd_nothing_is_sent():
    n = sdnotify.Notifier({})
    assert not n.enabled and not n.ready("x") and not n.send("WATCHDOG=1")


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


def test_watchdog_meant_for_another_process_is_ignored():
    n = sdnotify.Notifier({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "1000000",
                           "WATCHDOG_PID": "1"})
    assert n.watchdog == 0.0


def test_summary_names_modem_trunk_upstream_first_then_trouble():
    parts = {"spool": {"state": "ok", "message": "fine"},
             "upstream": {"state": "warn", "message": "2 waiting"},
             "modem": {"state": "ok", "message": "answers"},
             "duty": {"state": "fail", "message": "no rota"}}
    assert sdnotify.summary(parts) == "modem: answers; upstream: WARN 2 waiting; duty: FAIL no rota"


def test_box_lock_tells_a_running_box_and_refuses_a_second(tmp_path):
    (tmp_path / "state.json").write_text('{"pid": 1, "parts": {}}')
    assert status.read(tmp_path / "state.json") is None       # no box holds the lock
    lock = status.BoxLock(tmp_path)
    lock.acquire()
    assert status.running(tmp_path)
    assert status.read(tmp_path / "state.json") == {"pid": 1, "parts": {}}
    with pytest.raises(LawlineError, match="another box is already running"):
        status.BoxLock(tmp_path).acquire()
    lock.release()
    assert not status.running(tmp_path)
