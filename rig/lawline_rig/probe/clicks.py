"""Clicks on the line: a tone with a loud click every `period` seconds, sent by one party and
found by another, each noting when (CLOCK_MONOTONIC, which every process on the machine
shares). The difference is the one-way delay between the two points; the spacing of the
clicks a listener finds tells every slip (a frame dropped or put in) between two clicks.

Times follow one convention everywhere: a frame handed over at time t (written to a port,
given to or by a pjmedia bridge tick) has its sample j at t + j / 8000. A reader that gets
several frames in one read dates the last one at the read and the earlier ones 20 ms apart.

Pure Python (`array`), no numpy: the simulator and the duty phone use it on every frame.
"""

import array
import math
import sys

RATE = 8000
FRAME_SAMPLES = 160
FRAME_BYTES = 2 * FRAME_SAMPLES
TONE_HZ = 1000.0             # the caller's tone and the duty's are told apart by frequency,
TONE_AMPLITUDE = 3000        # not here: a click is anything above the threshold
CLICK_AMPLITUDE = 24000      # a click is 1 ms: a Hann-windowed burst at 2 kHz
CLICK_THRESHOLD = 15000      # above any tone of TONE_AMPLITUDE, below a click through G.711
CLICK_SAMPLES = 8


def _click():
    out = []
    for i in range(CLICK_SAMPLES):
        window = 0.5 - 0.5 * math.cos(2 * math.pi * (i + 0.5) / CLICK_SAMPLES)
        # the peak at sample CLICK_SAMPLES // 2 - 1 or so; found by argmax, and every party
        # finds the same shape, so the offset cancels in a delay
        out.append(CLICK_AMPLITUDE * window * (1 if i % 4 < 2 else -1))
    return out


class ClickTrain:
    """The signal: a tone with a click at the start of every `period_frames`-th frame.

    `frame(i)` is frame i (S16LE bytes) of the stream; `sent` lists (marker number, time)
    for every click a sender handed over (call `note_sent(i, t)` with the time it did)."""

    def __init__(self, period_frames=50, tone_hz=TONE_HZ, amplitude=TONE_AMPLITUDE):
        self.period_frames = period_frames
        self.tone_hz = tone_hz
        self.amplitude = amplitude
        self.sent = []
        self._click = _click()
        # the tone is periodic over the whole period: the stream joins without a click of
        # its own at the loop (a whole number of cycles per period)
        n = period_frames * FRAME_SAMPLES
        cycles = max(1, round(tone_hz * n / RATE))
        step = 2 * math.pi * cycles / n
        period = []
        for k in range(period_frames):
            samples = [amplitude * math.sin(step * (k * FRAME_SAMPLES + j))
                       for j in range(FRAME_SAMPLES)]
            if k == 0:
                for j, c in enumerate(self._click):
                    samples[j] = c
            frame = array.array("h", (int(round(s)) for s in samples))
            if sys.byteorder != "little":
                frame.byteswap()
            period.append(frame.tobytes())
        self._frames = period

    def frame(self, i):
        return self._frames[i % self.period_frames]

    def is_marker(self, i):
        return i % self.period_frames == 0

    def note_sent(self, i, t):
        if self.is_marker(i):
            self.sent.append((i // self.period_frames, t))

    def pcm(self, periods=1):
        """`periods` whole periods of the signal as bytes (to loop with CallerAudio.speak)."""
        return b"".join(self._frames) * periods


def find_clicks(data, threshold=CLICK_THRESHOLD):
    """Sample offsets of the clicks in `data` (S16LE): the first sample of each run above
    the threshold, runs at least 2 ms apart."""
    samples = array.array("h")
    samples.frombytes(bytes(data[:len(data) & ~1]))
    if sys.byteorder != "little":
        samples.byteswap()
    if not samples or (max(samples) < threshold and -min(samples) < threshold):
        return []
    out, last = [], None
    for j, s in enumerate(samples):
        if s >= threshold or -s >= threshold:
            if last is None or j - last > RATE // 500:
                out.append(j)
            last = j
    return out


class ClickLog:
    """Where a listener found clicks: `times` (monotonic, per the convention above) and
    `positions` (the sample index in everything this listener was fed)."""

    def __init__(self, threshold=CLICK_THRESHOLD):
        self.threshold = threshold
        self.times = []
        self.positions = []
        self.samples = 0
        self._tail = b""

    def feed(self, t, data):
        """`data` arrived at `t` (a frame from a bridge tick, or a read of a port)."""
        data = self._tail + bytes(data)
        usable = len(data) & ~1
        self._tail = data[usable:]
        n = usable // 2
        if n == 0:
            return
        # the last whole frame of this chunk arrived at t; what is before it, earlier
        end = t + (n % FRAME_SAMPLES or FRAME_SAMPLES) / RATE
        start = end - n / RATE
        for j in find_clicks(data[:usable], self.threshold):
            self.times.append(start + j / RATE)
            self.positions.append(self.samples + j)
        self.samples += n


def delays(sent, heard, period_s, limit=None):
    """One-way delays (seconds): each click heard is paired with the last click sent before
    it, if that is less than a period earlier (or `limit` seconds). `sent`: times, or
    (marker, time) pairs; `heard`: times. Returns [(sent time, delay)]."""
    times = sorted(t for _, t in sent) if sent and isinstance(sent[0], (tuple, list)) \
        else sorted(sent)
    limit = period_s if limit is None else limit
    out, k = [], 0
    for h in sorted(heard):
        while k + 1 < len(times) and times[k + 1] <= h:
            k += 1
        if times and times[k] <= h and h - times[k] < limit:
            out.append((times[k], h - times[k]))
    return out


def slips(positions, period_samples, tolerance=12):
    """Slips between clicks a listener found: for each pair of neighbouring clicks, how far
    their spacing is from the sender's (`period_samples`), in samples, when more than
    `tolerance` (1.5 ms: a click's own edge through G.711 moves less). A lost click (spacing
    about two periods) is not a slip but a gap and is reported as such.

    Returns {"clicks", "slips": [(position, samples)], "slipped_samples" (net), "gaps"}."""
    out = {"clicks": len(positions), "slips": [], "slipped_samples": 0, "gaps": 0}
    for a, b in zip(positions, positions[1:]):
        spacing = b - a
        periods = max(1, round(spacing / period_samples))
        error = spacing - periods * period_samples
        if periods > 1:
            out["gaps"] += periods - 1
        if abs(error) > tolerance:
            out["slips"].append((b, error))
            out["slipped_samples"] += error
    return out


def tone_fraction(samples, hz):
    """The share (0..1) of a frame's power at `hz` (Goertzel over the frame; about 1.0 for a
    clean tone through G.711, about 0 for another tone or for silence)."""
    n = len(samples)
    if n == 0:
        return 0.0
    coeff = 2 * math.cos(2 * math.pi * hz / RATE)
    s1 = s2 = 0.0
    energy = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
        energy += x * x
    if energy < n * 100.0:          # quieter than about -50 dBFS: not a tone
        return 0.0
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    return min(1.0, 2 * power / (n * energy))


class ToneLog:
    """When a tone of `hz` began, frame by frame: `onsets` are the times (per the convention
    above) of each first frame that is mostly that tone after one that is not. The duty
    phone's tone after pressing 1 is told from the box's ringback by its frequency."""

    def __init__(self, hz, min_fraction=0.5):
        self.hz = hz
        self.min_fraction = min_fraction
        self.onsets = []
        self._on = False
        self._tail = b""

    def feed(self, t, data):
        data = self._tail + bytes(data)
        usable = len(data) - len(data) % FRAME_BYTES
        self._tail = data[usable:]
        frames = usable // FRAME_BYTES
        for f in range(frames):
            samples = array.array("h")
            samples.frombytes(data[f * FRAME_BYTES:(f + 1) * FRAME_BYTES])
            if sys.byteorder != "little":
                samples.byteswap()
            on = tone_fraction(samples, self.hz) >= self.min_fraction
            if on and not self._on:
                self.onsets.append(t - (frames - 1 - f) * FRAME_SAMPLES / RATE)
            self._on = on

    def first_after(self, t):
        return next((x for x in self.onsets if x >= t), None)
