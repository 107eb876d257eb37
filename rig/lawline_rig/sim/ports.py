"""One pseudo-terminal standing in for one USB tty of a modem (AT port or audio port)."""

import errno
import logging
import os
import termios
import tty

log = logging.getLogger("lawline_rig.sim")


class PtyPort:
    """The simulator holds the master; clients open `path` (the slave) with serial.Serial.

    The simulator also keeps its own slave fd open, so a client closing and reopening the port
    never leaves the master without a slave (which would make master reads fail with EIO).
    Writes never block the event loop: what does not fit in the bounded pending buffer is
    dropped, whole, so an audio frame is either delivered entire or not at all.
    """

    def __init__(self, side, kind, out_limit):
        self.side = side
        self.kind = kind
        self.out_limit = out_limit
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # no echo, no CR/LF translation: bytes pass as they are
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self.on_data = None
        self.dropped = 0
        self.closed = False
        self._pending = bytearray()
        self._loop = None
        self._writer_on = False

    def start(self, loop, on_data):
        self._loop = loop
        self.on_data = on_data
        loop.add_reader(self.master, self._readable)

    def _readable(self):
        try:
            data = os.read(self.master, 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            # Cannot happen while we hold the slave; log once per event rather than spin silently.
            log.warning("sim %s: %s port read failed: %s", self.side, self.kind, exc)
            return
        if data and self.on_data is not None:
            self.on_data(data)

    def write(self, data):
        """Queue `data` for the client. False (and nothing queued) if it would overflow or the
        port is gone."""
        if self.closed:
            self.dropped += len(data)
            return False
        if len(self._pending) + len(data) > self.out_limit:
            self.dropped += len(data)
            return False
        self._pending += data
        self._flush()
        return True

    def _flush(self):
        while self._pending:
            try:
                n = os.write(self.master, self._pending)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno != errno.EIO:
                    log.warning("sim %s: %s port write failed: %s", self.side, self.kind, exc)
                self.dropped += len(self._pending)
                self._pending.clear()
                break
            del self._pending[:n]
        if self._loop is None:
            return
        if self._pending and not self._writer_on:
            self._loop.add_writer(self.master, self._flush)
            self._writer_on = True
        elif not self._pending and self._writer_on:
            self._loop.remove_writer(self.master)
            self._writer_on = False

    def discard_unread(self):
        """Throw away what the client has not read yet (stale bytes from before a restart)."""
        if self.closed:
            return
        self._pending.clear()
        termios.tcflush(self.slave, termios.TCIFLUSH)

    def close(self):
        """The port disappears: the client's next read fails (EIO), as when USB goes."""
        if self.closed:
            return
        self.closed = True
        if self._loop is not None:
            self._loop.remove_reader(self.master)
            if self._writer_on:
                self._loop.remove_writer(self.master)
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass
