"""Call audio of a V.253 voice modem: samples in-band on the modem's one port (v253.py drives
the port; this moves the samples).

- PortWriter: writes to the shared port from two threads without ever splitting a DLE pair;
- V253Audio: what the media bridge reads and writes (read_frame / write, like SerialPcm), with
  the half-duplex backlog that holds what the box says while the modem records.
"""

from __future__ import annotations

import collections
import logging
import os
import select
import threading
import time
from collections.abc import Callable

import numpy as np

from . import voice
from .audio import JitterBuffer

SOUND_LEVEL = 64          # a frame louder than this (of 32767) is the box speaking
# The half-duplex delay (what was held while the modem recorded) is dropped only in a pause
# this long: a dip inside speech (a stop, the gap between syllables) is shorter, 20-180 ms
# in the prompts, and cutting there takes a piece out of the middle of a word. Shorter than
# v253.SWITCH_TO_RECORD, so the delay is gone before the modem turns the line round to listen.
PAUSE = 0.25


class PortWriter:
    """Writes to the shared port from two threads: samples from pjmedia's clock thread (never
    blocking: a frame is dropped when the port is full) and DLE codes from the loop. What a
    partial write leaves is sent first next time, so a DLE pair is never split."""

    def __init__(self) -> None:
        self.fd: int | None = None
        self.lock = threading.Lock()
        self.pending = bytearray()
        self.dropped = 0
        # The first write error since attach (the port's far end hung up: EIO for ever).
        # Samples are not written again until the port is attached anew: the AT reader sees
        # the same loss as end of file and tells the supervisor (at.py, supervisor.py).
        self.error: OSError | None = None

    def attach(self, fd: int) -> None:
        with self.lock:
            self.fd = fd
            self.pending.clear()
            self.error = None

    def detach(self) -> None:
        with self.lock:
            self.fd = None
            self.pending.clear()

    def _flush(self, fd: int) -> None:
        while self.pending:
            try:
                n = os.write(fd, self.pending)
            except BlockingIOError:
                return
            del self.pending[:n]

    def audio(self, data: bytes) -> bool:
        with self.lock:
            fd = self.fd
            if fd is None or self.error is not None:
                return False
            try:
                self._flush(fd)
                if self.pending:
                    self.dropped += 1
                    return False
                try:
                    n = os.write(fd, data)
                except BlockingIOError:
                    n = 0
            except OSError as exc:
                self.error = exc
                self.pending.clear()
                return False
            if n < len(data):
                self.pending += data[n:]
            return True

    def control(self, data: bytes, timeout: float = 1.0) -> None:
        with self.lock:
            fd = self.fd
            if fd is None:
                raise OSError("the port is closed")
            self.pending += data
            deadline = time.monotonic() + timeout
            while True:
                self._flush(fd)
                if not self.pending:
                    return
                if time.monotonic() > deadline:
                    raise OSError("the port takes no more data")
                select.select([], [fd], [], 0.05)


class V253Audio:
    """The call audio of a V.253 modem for the media bridge: read_frame/write like SerialPcm,
    but the samples travel in-band on the modem's one port (the modem moves them)."""

    def __init__(self, name: str, log: logging.Logger) -> None:
        self.name = name
        self.log = log
        self.jitter = JitterBuffer()
        self.format: voice.Format | None = None
        self.writer = PortWriter()
        self.sending = False           # play or duplex: write() puts samples on the wire
        self.last_sound = 0.0          # monotonic time the box last said something
        # (frame, loud) said while not sending
        self.backlog: collections.deque[tuple[bytes, bool]] = collections.deque(maxlen=100)
        self._loud_held = 0                            # loud frames in the backlog
        self._quiet = 0                                # samples since the box last spoke
        self.frames_in: float = 0
        self.frames_out = 0
        self.on_frame: Callable[[bytes], None] | None = None
        self._half = b""   # 16-bit samples: the first byte of one a read cut in two
        self._write_failed = False

    def open(self) -> None:
        self.jitter.clear()
        self._half = b""
        self._write_failed = False

    def close(self) -> None:
        self.sending = False
        self.backlog.clear()
        self._loud_held = 0
        self.jitter.clear()
        self._half = b""

    def read_frame(self) -> bytes | None:
        frame: bytes | None = self.jitter.pop()
        return frame

    def write(self, frame: bytes) -> None:
        """A 20 ms S16LE frame from the bridge (pjmedia's clock thread): never blocks.

        Half duplex: what the box says while the modem records waits in the backlog and is
        played, in order and at its own pace, once the modem plays again; the delay this adds
        goes away at the next pause (PAUSE of quiet, and only quiet left in the backlog)."""
        samples = np.frombuffer(frame, dtype="<i2")
        loud = bool(samples.size) and int(np.abs(samples.astype(np.int32)).max()) > SOUND_LEVEL
        if loud:
            self.last_sound = time.monotonic()
            self._quiet = 0
        else:
            self._quiet += samples.size
        fmt = self.format
        if not self.sending or fmt is None:
            if loud or self.backlog:
                self._hold(frame, loud)
            return
        if self.backlog:
            self._hold(frame, loud)
            frame, was_loud = self.backlog.popleft()
            self._loud_held -= was_loud
            if not self._loud_held and self._quiet >= PAUSE * 8000:
                self.backlog.clear()   # only the pause's silence is waiting: drop the delay
        if self.writer.audio(voice.shield(fmt.from_s16(frame))):
            self.frames_out += 1
        elif self.writer.error is not None and not self._write_failed:
            self._write_failed = True      # once per port: the AT reader reports the loss
            self.log.error("modem %s: call audio cannot be written to the port: %s; no more "
                           "samples are sent until it is open again", self.name,
                           self.writer.error)

    def _hold(self, frame: bytes, loud: bool) -> None:
        if len(self.backlog) == self.backlog.maxlen:
            self._loud_held -= self.backlog[0][1]
        self.backlog.append((frame, loud))
        self._loud_held += loud

    def stream_start(self) -> None:
        """A new data state begins (AT+VRX/VTR): its first byte starts a sample."""
        self._half = b""

    def from_modem(self, data: bytes) -> None:
        if self.format is None or not data:
            return
        if self.format.bytes_per_sample == 2:
            # A read may end inside a sample: keep its first byte for the next read, or
            # every later sample would be heard byte-swapped (noise).
            data = self._half + data
            cut = len(data) - len(data) % 2
            data, self._half = data[:cut], data[cut:]
            if not data:
                return
        pcm = self.format.to_s16(data)
        self.frames_in += len(pcm) / 320
        self.jitter.push(pcm)
        if self.on_frame:
            self.on_frame(pcm)
