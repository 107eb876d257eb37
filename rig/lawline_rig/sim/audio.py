"""A side's USB PCM port (modems.md 1.5): frames out on a real-time clock, host audio in to a FIFO.

While PCM is on, the module writes one frame (320 bytes: 160 samples S16LE mono 8 kHz = 20 ms)
every 20 ms to the host. Each frame carries what the far side's host wrote to its own audio
port, or silence when the far side's PCM is off or its FIFO ran dry. Deadlines are absolute
(start + n * period on the monotonic loop clock), so the stream does not drift.
"""

import logging
import time

log = logging.getLogger("lawline_rig.sim")

# If the loop stalls for longer than this, skip the missed frames instead of bursting them out.
# A real module's USB bulk endpoint and the kernel's tty buffer hold about a second, so a
# short stall of the host is caught up, not lost; only a longer one loses audio.
MAX_CATCH_UP = 1.0
# A timer may fire a hair before its deadline; treat that as on time.
EARLY = 0.001


# A module plays host audio out through a small buffer: it starts once this much is queued,
# and fills it again after an underrun. Without it, a host frame that arrives a few ms after
# the module's tick is played one slot late with a silent frame before it: a 20 ms slip in
# the far end's audio whenever the two clocks' phases meet (seen under load in the tests).
# 60 ms was not enough on 2 cores running four test files at once: the box's media clock
# came more than 60 ms late twice in one prompt (two 20 ms slips; the caller's hearing check
# scored 0.38). 120 ms is still less than a USB modem's own audio buffering [?].
PLAYOUT_PREFILL_MS = 120


class Uplink:
    """Host audio waiting to be sent to the far end, bounded; the oldest is dropped on overflow.
    With `prefill` bytes, playout waits until that much is queued (see PLAYOUT_PREFILL_MS)."""

    def __init__(self, limit, prefill=0):
        self.limit = limit
        self.prefill = prefill
        self._buf = bytearray()
        self._primed = prefill == 0
        self.dropped = 0
        self.underruns = 0

    def __len__(self):
        return len(self._buf)

    def push(self, data):
        self._buf += data
        excess = len(self._buf) - self.limit
        if excess > 0:
            excess += excess & 1  # keep whole 16-bit samples
            del self._buf[:excess]
            self.dropped += excess

    def take(self, n):
        """n bytes: what is buffered (whole samples), padded with silence on underrun."""
        if not self._primed:
            if len(self._buf) < max(self.prefill, n):
                return bytes(n)
            self._primed = True
        if self.prefill and len(self._buf) < n:
            self._primed = False      # underrun: build the cushion up again
            self.underruns += 1
        k = min(n, len(self._buf)) & ~1
        chunk = bytes(self._buf[:k])
        del self._buf[:k]
        return chunk + bytes(n - k)

    def clear(self):
        self._buf.clear()
        self._primed = self.prefill == 0


class PcmStream:
    def __init__(self, side, port, profile):
        self.side = side
        self.port = port
        self.frame_bytes = profile.frame_bytes
        self.base_period = profile.frame_ms / 1000.0
        self.period = self.base_period
        self.uplink = Uplink(profile.uplink_limit_bytes,
                             prefill=self.frame_bytes * PLAYOUT_PREFILL_MS // profile.frame_ms)
        self.far = None  # the other side's PcmStream
        self.on = False
        self.frames = 0
        self.skipped = 0
        self._loop = None
        self._timer = None
        self._next = 0.0
        self.tap = None  # MarkerTap while a bench listens for clicks at this port

    def attach(self, loop):
        self._loop = loop
        self.port.start(loop, self._from_host)

    def _from_host(self, data):
        # While PCM is off the module reads and discards what the host writes.
        if self.on:
            self.uplink.push(data)
            if self.tap is not None:
                self.tap.feed("out_of_host", time.monotonic(), data)

    def set_skew(self, ppm):
        self.period = self.base_period * (1.0 + ppm / 1e6)
        log.info("sim %s: PCM clock skewed by %+g ppm (frame every %.6f s)", self.side, ppm, self.period)

    def start(self):
        if self.on:
            return
        self.on = True
        self.frames = self.skipped = 0
        self.uplink.clear()
        # Nothing was sent while PCM was off; drop anything left over from an earlier stream.
        self.port.discard_unread()
        self._next = self._loop.time() + self.period
        self._timer = self._loop.call_at(self._next, self._tick)
        log.info("sim %s: PCM on; %d-byte frames every %g ms", self.side, self.frame_bytes, self.period * 1000)

    def stop(self):
        if not self.on:
            return
        self.on = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.uplink.clear()
        log.info("sim %s: PCM off after %d frames (%d dropped by a full port, %d skipped by a stall, "
                 "%d playout underruns)", self.side, self.frames,
                 self.port.dropped // self.frame_bytes, self.skipped, self.uplink.underruns)

    def _frame(self):
        far = self.far
        if far is not None and far.on:
            return far.uplink.take(self.frame_bytes)
        return bytes(self.frame_bytes)

    def _tick(self):
        now = self._loop.time()
        if now - self._next > MAX_CATCH_UP:
            missed = int((now - self._next) / self.period)
            self.skipped += missed
            self._next += missed * self.period
        while self._next <= now + EARLY:
            frame = self._frame()
            self.port.write(frame)
            if self.tap is not None:
                self.tap.feed("into_host", time.monotonic(), frame)
            self.frames += 1
            self._next += self.period
        self._timer = self._loop.call_at(self._next, self._tick)


class FarSide:
    """What the far end hears of a side that has two audio paths (serial PCM and USB sound
    card): whichever is on."""

    def __init__(self, pcm, card):
        self.pcm, self.card = pcm, card

    @property
    def on(self):
        return self.card.on or self.pcm.on

    @property
    def uplink(self):
        return self.card.uplink if self.card.on else self.pcm.uplink


class MarkerTap:
    """Clicks (probe/clicks.py) seen at one side's audio port, with their times: those the
    simulator wrote to the host (`into_host`) and those the host wrote to it (`out_of_host`).
    A bench uses them to keep the loopback line's own buffering (the playout cushion) out of
    what it measures of the box: the box's share of a delay starts or ends here."""

    def __init__(self, tones=None):
        from ..probe.clicks import ClickLog, ToneLog
        self.into_host = ClickLog()
        self.out_of_host = ClickLog()
        # optional tone onsets per direction, {"into_host": HZ, "out_of_host": HZ}
        self.tones = {way: ToneLog(float(hz)) for way, hz in (tones or {}).items()}
        self.started = time.monotonic()

    def feed(self, way, t, data):
        getattr(self, way).feed(t, data)
        tone = self.tones.get(way)
        if tone is not None:
            tone.feed(t, data)

    def report(self, stream):
        return {"into_host": {"times": self.into_host.times,
                              "positions": self.into_host.positions},
                "out_of_host": {"times": self.out_of_host.times,
                                "positions": self.out_of_host.positions},
                "tone_onsets": {way: log.onsets for way, log in self.tones.items()},
                "since": self.started,
                "playout_underruns": stream.uplink.underruns,
                "uplink_dropped_bytes": stream.uplink.dropped,
                "skipped_frames": stream.skipped,
                "port_dropped_bytes": stream.port.dropped}
