"""sd_notify without a socket: nothing sent without systemd, a watchdog meant for another
process ignored, the status summary, and the box lock `lawline check` reads. (Over a real
AF_UNIX socket, and the watchdog fed from the loop: tests/systemd/test_sdnotify.py.)"""


import pytest

from lawline import sdnotify, status
from lawline.errors import LawlineError


def test_without_systemd_nothing_is_sent():
    n = sdnotify.Notifier({})
    assert not n.enabled and not n.ready("x") and not n.send("WATCHDOG=1")


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
