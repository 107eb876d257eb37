"""A port that hangs up is lost, not spun on (issue 15, point 8), at its smallest: the serial
PCM reader alone on a bare pty whose far end hangs up (`select` says readable and `os.read`
gives b'' for ever) ends once, says so once, and uses no CPU meanwhile. The same for every
port of every profile in a call, under the line supervisor, with the line found again: the
modem contract (test_contract.py, test_a_lost_port_is_found_again_and_nothing_spins).
"""

import logging
import os
import pty
import threading
import time
import tty

import pytest

from lawline.line.audio import SerialPcm

from .cpu import thread_seconds

IDLE = 0.15      # CPU seconds any one thread may use in the measured second (a spin uses ~1)


def test_a_pcm_port_whose_far_end_hangs_up_ends_its_reader_and_says_so_once(caplog):
    """The reader thread alone, on a bare pty: end of file ends it, once, with one line."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    pcm = SerialPcm(os.ttyname(slave), name="box")
    told, lost = [], threading.Event()
    pcm.on_lost = lambda why: (told.append(why), lost.set())
    pcm.open()
    try:
        reader = pcm.reader
        os.close(master)
        os.close(slave)              # the far end hangs up: b'' for ever from here
        with caplog.at_level(logging.INFO, logger="lawline.line"):
            lost.wait(2)
            spent = thread_seconds(reader.native_id)
            time.sleep(1.0)
            spent = thread_seconds(reader.native_id) - spent
            for _ in range(50):      # the bridge keeps writing frames: EIO each time
                pcm.write(bytes(320))
        assert told == [f"audio port {pcm.path} lost: end of file (its far end hung up)"]
        assert spent < IDLE and not reader.is_alive(), f"the reader used {spent:.2f} s"
        assert pcm.check() == "end of file (its far end hung up)"
        lost = [r.getMessage() for r in caplog.records if "lost" in r.getMessage()]
        assert lost == [f"modem box: audio port {pcm.path} lost: end of file (its far end "
                        "hung up)"], lost
    finally:
        pcm.close()


def test_a_pcm_port_that_goes_while_it_opens_is_not_left_half_open(monkeypatch):
    """A USB modem re-enumerating between the port's open and its set-up: the open fails
    and leaves nothing behind (it looked open with no reader, and its close failed), and the
    supervisor's next open takes the port."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    pcm = SerialPcm(os.ttyname(slave), name="box")
    real = os.set_blocking

    def gone(fd, blocking):
        monkeypatch.setattr(os, "set_blocking", real)
        raise OSError(5, "Input/output error")
    monkeypatch.setattr(os, "set_blocking", gone)
    try:
        with pytest.raises(OSError):
            pcm.open()
        assert pcm.reader is None
        pcm.close()                              # nothing to close: no error
        pcm.open()                               # the supervisor's next try
        assert pcm.reader is not None and pcm.reader.is_alive()
    finally:
        pcm.close()
        os.close(master)
        os.close(slave)
