"""Line audio: PCM frames between the modem's audio port and the media bridge.

SIM7600 (`AT+CPCMREG=1`) and EC25 (`AT+QPCMV=1,0`) both carry raw S16LE mono 8 kHz in
320-byte / 20 ms frames on a serial port (reference/modems.md 1.5, 2.3). The modem and the
pjsua2 bridge each run their own 20 ms clock; the jitter buffer between them absorbs bursts
from USB and the slow drift of one clock against the other.
"""

import array
import collections
import logging
import math
import os
import select
import sys
import threading
import time
from collections.abc import Callable

import serial

FRAME_BYTES = 320
SILENCE = bytes(FRAME_BYTES)


def dbfs_to_rms(dbfs: float) -> float:
    """A level in dBFS as the RMS of 16-bit samples (0 dBFS: a full-scale sine's RMS is
    -3 dBFS; here 0 dBFS is an RMS of 32768, as level meters of PCM commonly count)."""
    return 32768.0 * math.pow(10.0, dbfs / 20.0)


class VoiceMeter:
    """When the caller's line last carried voice: a 20 ms frame whose RMS is above the
    level set (`listen`). Fed by the jitter buffer, from the line's reader thread, for every
    kind of line (serial PCM, a sound card, a V.253 modem's samples); read by the recorder
    (call/driver.py) to end a message on silence."""

    def __init__(self) -> None:
        self.threshold: float | None = None     # RMS; None: not listening
        self.voice_at: float | None = None      # time.monotonic() of the last voiced frame
        self.since: float | None = None         # when listening began

    def listen(self, dbfs: float) -> None:
        self.threshold = dbfs_to_rms(dbfs)
        self.voice_at = None
        self.since = time.monotonic()

    def stop(self) -> None:
        self.threshold = None

    def feed(self, data: bytes) -> None:
        """Frames from the line (S16LE). Plain Python, not numpy: the box does not load
        numpy (tests/unit/test_check.py), and 50 frames a second while a message records
        cost little."""
        threshold = self.threshold
        if threshold is None:
            return
        n = len(data) // FRAME_BYTES * FRAME_BYTES
        if not n:
            return
        samples = array.array("h", data[:n])
        if sys.byteorder != "little":
            samples.byteswap()
        limit = threshold * threshold * (FRAME_BYTES // 2)
        for start in range(0, len(samples), FRAME_BYTES // 2):
            if sum(x * x for x in samples[start:start + FRAME_BYTES // 2]) > limit:
                self.voice_at = time.monotonic()
                return

    def quiet_for(self, now: float | None = None) -> float | None:
        """Seconds since the last voiced frame (or since listening began); None when not
        listening."""
        if self.threshold is None:
            return None
        now = time.monotonic() if now is None else now
        last = self.voice_at if self.voice_at is not None else self.since
        assert last is not None     # listen() set both the threshold and `since`
        return now - last


class JitterBuffer:
    """Frames from the modem waiting for the bridge, and the slips that keep the two clocks
    together.

    Playout starts once `prefill` frames are queued (absorbs USB burstiness). The modem's
    clock and the bridge's drift apart (crystals differ by up to +-100 ppm: a frame every
    200 s), so every `window` pops the buffer looks at how deep it was on average when the
    bridge took a frame: a frame more than `prefill` all along, and it drops one (the modem
    runs fast); a frame less, and it plays one frame of silence extra (the modem runs slow).
    So the delay stays at `prefill` frames however long the call, instead of growing to
    `limit`. A bridge tick that finds the buffer empty plays silence for that frame and goes
    on (an underrun: the reader was late, or the modem slow). Beyond `limit` frames the
    oldest go at once: the bridge is not taking this line's frames (the line's port is not
    connected yet, or the bridge stalled), and when it takes one again the buffer is cut
    back to `prefill` at once, so what the caller says next is not heard 160 ms late.

    Every frame dropped or put in is a slip, counted (`dropped`, `inserted`, `underruns`;
    `overflowed` of the dropped ones went because the bridge took none), told to
    `on_slip(kind, net)` (the line's writer plays a drift slip the other way, so the
    modem's own playout buffer does not drift either) and, with `log`, logged with the
    drift it amounts to in parts per million; an overflow is logged once, when it begins."""

    def __init__(self, prefill: int = 2, limit: int = 8, frame_bytes: int = FRAME_BYTES,
                 window: int = 250, log: logging.Logger | None = None,
                 name: str = "line") -> None:
        self.prefill = prefill
        self.limit = limit
        self.frame_bytes = frame_bytes
        self.window = window
        self.log = log
        self.name = name
        self.on_slip: Callable[[str, int], object] | None = None
        self._frames: collections.deque[bytes] = collections.deque()
        self._partial = b""
        self._playing = False
        self._lock = threading.Lock()
        self._depth_sum = 0
        self._depth_pops = 0
        self.dropped = 0        # frames dropped: drift (modem fast) or overflow
        self.overflowed = 0     # of those, dropped because the bridge took none
        self._overflowing = False
        self.inserted = 0       # frames of silence put in: drift (modem slow) or underrun
        self.underruns = 0
        self.pops = 0           # bridge ticks since playout started (the drift's time base)
        self._first: tuple[int, int] | None = None   # (pops, net slips) at the first slip
        self.meter = VoiceMeter()       # voicemail ends on silence (call/driver.py)

    def push(self, data: bytes) -> None:
        self.meter.feed(data)
        slips = 0
        with self._lock:
            data = self._partial + data
            cut = len(data) - len(data) % self.frame_bytes
            self._partial = data[cut:]
            for start in range(0, cut, self.frame_bytes):
                self._frames.append(data[start:start + self.frame_bytes])
            while len(self._frames) > self.limit:
                self._frames.popleft()
                self.dropped += 1
                self.overflowed += 1
                slips += 1
            began = slips and not self._overflowing
            if slips:
                self._overflowing = True
        if began:
            self._slip("overflow", -slips)

    def pop(self) -> bytes | None:
        frame: bytes | None
        slip: tuple[str, int] | None = None
        with self._lock:
            if not self._playing:
                if len(self._frames) < self.prefill:
                    if self.pops:               # refilling after an underrun: a frame put in
                        self.pops += 1
                        self.inserted += 1
                        slip = ("refill", 1)
                    frame = None
                else:
                    self._playing = True
                    self._depth_sum = self._depth_pops = 0
            if self._playing:
                frame, slip = self._take()
        if slip is not None:
            self._slip(*slip)
        return frame

    def _take(self) -> tuple[bytes | None, tuple[str, int] | None]:
        """One bridge tick while playing (the lock held): (frame or None, slip or None)."""
        if self._overflowing:       # the bridge takes frames again: the stale ones go
            self._overflowing = False
            while len(self._frames) > self.prefill:
                self._frames.popleft()
                self.dropped += 1
                self.overflowed += 1
            self._depth_sum = self._depth_pops = 0
        self.pops += 1
        depth = len(self._frames)
        self._depth_sum += depth
        self._depth_pops += 1
        if self._depth_pops >= self.window:
            mean = self._depth_sum / self._depth_pops
            self._depth_sum = self._depth_pops = 0
            if mean >= self.prefill + 1 and depth > 1:
                self._frames.popleft()              # the modem is ahead: one frame goes
                self.dropped += 1
                return self._frames.popleft(), ("fast", -1)
            if mean <= self.prefill - 1:
                self.inserted += 1                  # the modem is behind: one frame waits
                return None, ("slow", 1)
        if self._frames:
            return self._frames.popleft(), None
        # nothing for this tick: silence, and play again once `prefill` frames are back
        self._playing = False
        self.underruns += 1
        self.inserted += 1
        return None, ("underrun", 1)

    def _slip(self, kind: str, frames: int) -> None:
        tell = self.on_slip
        if tell is not None:
            tell(kind, frames)
        if kind == "refill":
            return
        with self._lock:
            net, pops = self.dropped - self.overflowed - self.inserted, self.pops
            if self._first is None and kind != "overflow":
                self._first = (pops, net)
            ppm = self._ppm(net, pops)
        if self.log is not None:
            what = {"fast": "dropped a frame (the modem's clock runs fast)",
                    "slow": "played a frame of silence (the modem's clock runs slow)",
                    "underrun": "had no frame for the bridge (silence until "
                                f"{self.prefill} frames are back)",
                    "overflow": f"was full and dropped {-frames} frame(s)"}[kind]
            self.log.info("audio %s: jitter buffer %s; %d dropped, %d put in over %.0f s%s",
                          self.name, what, self.dropped, self.inserted,
                          pops * self.frame_bytes / 16000,
                          "" if ppm is None else
                          f": the modem's clock {ppm:+.0f} ppm against the bridge's")

    def _ppm(self, net: int, pops: int) -> float | None:
        """Drift in ppm from the slips since the first one (the first only says where the
        two clocks' phases started); None until there are two."""
        if self._first is None or pops <= self._first[0]:
            return None
        return 1e6 * (net - self._first[1]) / (pops - self._first[0])

    def drift_ppm(self) -> float | None:
        """The slips so far as a clock drift (ppm: frames dropped, modem fast, less frames
        put in, per million bridge ticks between the first slip and now), or None."""
        with self._lock:
            return self._ppm(self.dropped - self.overflowed - self.inserted, self.pops)

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()
            self._partial = b""
            self._playing = False
            self._depth_sum = self._depth_pops = 0
            self.dropped = self.inserted = self.underruns = self.pops = self.overflowed = 0
            self._overflowing = False
            self._first = None

    def __len__(self) -> int:
        return len(self._frames)


class PortLoss:
    """How a piece of call audio tells that its port is lost, once per open: the reason
    (`lost`), one log line, and `on_lost(why)` for the line's supervisor (called from
    whichever thread found it; line/supervisor.py posts it to its loop).

    A port's far end hanging up (a pty closed; a USB modem or sound card gone, which the
    supervisor's own reset and power cycle cause) shows as a read that says "readable" and
    then returns b'' (end of file) for ever, or as errors on every write: a loop that took
    that as "nothing yet" would spin at full CPU, silently (issue 15, point 8)."""

    name: str                   # the subclass's: its modem's name and log, for _lose's line
    log: logging.Logger

    def __init__(self) -> None:
        self.lost: str | None = None    # why the port is lost, until it is opened again
        # callable(why), set by the line's supervisor
        self.on_lost: Callable[[str], object] | None = None
        self._loss_lock = threading.Lock()

    def _found(self) -> None:
        with self._loss_lock:
            self.lost = None

    def _lose(self, why: str, what: str, where: str) -> bool:
        with self._loss_lock:
            if self.lost is not None:
                return False
            self.lost = why
        self.log.error("modem %s: %s %s lost: %s", self.name, what, where, why)
        tell = self.on_lost
        if tell is not None:
            tell(f"{what} {where} lost: {why}")
        return True

    def check(self) -> str | None:
        """Why the port is lost, or None (the supervisor asks at each health check)."""
        return self.lost


class SerialPcm(PortLoss):
    """The modem's PCM port. A reader thread feeds the jitter buffer (a blocking read on a tty
    has no place on the event loop); `write` sends one frame without ever blocking the caller
    (it runs on pjmedia's clock thread: a full port drops the frame). End of file, or a read
    or write error other than "would block", is the port lost (PortLoss): the reader ends,
    writes stop, and the supervisor is told.

    The modem plays what the box writes on the same clock it sends with, so each drift slip
    the jitter buffer makes (a frame dropped: the modem runs fast; put in: it runs slow) is
    made the other way on what the box writes: a frame written twice, or one left out (at
    most MIRROR_LIMIT owed at a time). Underruns and overflows are not drift (a late reader,
    a port not connected) and are not played back."""

    MIRROR_LIMIT = 2

    def __init__(self, path: str, name: str = "box", log: logging.Logger | None = None,
                 jitter: JitterBuffer | None = None) -> None:
        super().__init__()
        self.path = path
        self.name = name
        self.log = log or logging.getLogger("lawline.line")
        self.jitter = jitter or JitterBuffer(log=self.log, name=name)
        self.jitter.on_slip = self._mirror
        self._owed = 0          # frames the writer owes the modem: + write twice, - leave out
        self._owed_lock = threading.Lock()
        self.repeated_out = 0
        self.skipped_out = 0
        self._serial: serial.Serial | None = None
        self._fd: int | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.frames_in: float = 0
        self.frames_out = 0
        self.dropped_out = 0
        # optional tap: called with each chunk read (tests, level meter)
        self.on_frame: Callable[[bytes], None] | None = None

    @property
    def reader(self) -> threading.Thread | None:
        """The reader thread (tests measure its CPU time)."""
        return self._thread

    def open(self) -> None:
        if self._serial is not None:
            return
        # the port is ours once it is set up: a port gone between its open and its set-up
        # (a USB modem re-enumerating) must not stay half open, looking open with no reader
        port = serial.Serial(self.path, 115200, timeout=0, write_timeout=0)
        try:
            fd = port.fileno()
            os.set_blocking(fd, False)
            port.reset_input_buffer()
        except BaseException:
            port.close()
            raise
        self._serial, self._fd = port, fd
        self.jitter.clear()
        self._owed = 0
        self._stop.clear()
        self._found()
        self._thread = threading.Thread(target=self._reader, name=f"pcm-{self.name}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._serial is None:
            return
        self._stop.set()
        assert self._thread is not None     # open() started it
        self._thread.join(timeout=1)
        try:
            self._serial.close()
        except (serial.SerialException, OSError):
            pass
        self._serial = None
        self._fd = None
        self.jitter.clear()

    def _reader(self) -> None:
        fd = self._fd
        assert fd is not None       # open() set it before starting this thread
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([fd], [], [], 0.1)
                if not ready:
                    continue
                data = os.read(fd, 4096)
            except BlockingIOError:
                continue          # readable, then nothing after all: select waits again
            except (OSError, ValueError) as exc:
                if not self._stop.is_set():
                    self._lose(str(exc), "audio port", self.path)
                return
            if not data:
                # End of file: the far end hung up (the modem's USB port went away). It
                # stays readable and empty for ever: stop here, never spin on it.
                if not self._stop.is_set():
                    self._lose("end of file (its far end hung up)", "audio port", self.path)
                return
            self.frames_in += len(data) / FRAME_BYTES
            self.jitter.push(data)
            if self.on_frame:
                self.on_frame(data)

    def read_frame(self) -> bytes | None:
        """The next frame for the bridge, or None when the buffer has nothing to play."""
        return self.jitter.pop()

    def _mirror(self, kind: str, frames: int) -> None:
        if kind not in ("fast", "slow"):
            return
        with self._owed_lock:
            self._owed = max(-self.MIRROR_LIMIT, min(self.MIRROR_LIMIT, self._owed - frames))

    def write(self, frame: bytes) -> None:
        fd = self._fd
        if fd is None or self.lost is not None:
            return
        twice = False
        if self._owed:
            with self._owed_lock:
                if self._owed < 0:
                    self._owed += 1
                    self.skipped_out += 1
                    return
                if self._owed > 0:
                    self._owed -= 1
                    twice = True
        try:
            os.write(fd, frame + frame if twice else frame)
            self.frames_out += 1
            if twice:
                self.repeated_out += 1
        except BlockingIOError:
            self.dropped_out += 1     # the port is full: this frame is dropped, not waited for
        except OSError as exc:
            self.dropped_out += 1
            if not self._stop.is_set():       # not our own close() racing this frame
                self._lose(str(exc), "audio port", self.path)
