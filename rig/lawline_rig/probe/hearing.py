"""What a listener heard: find prompts and tones in telephone audio.

Audio is S16LE mono at 8 kHz everywhere, given either as bytes or as numpy int16 arrays.
Tests use this to assert what the caller and the duty phone heard, so it must tolerate what a
telephone path does to audio: a level change, an unknown delay, G.711 quantisation.

Prompts are matched by normalised cross-correlation (Pearson coefficient of the template
against every window of the recording, computed with FFTs): independent of gain by
construction, and a different utterance scores near zero.
"""

import threading
import time
import wave

import numpy as np

RATE = 8000                   # samples per second, everywhere in the box
TEMPLATE_SECONDS = 1.5        # longest template used for matching; enough to tell prompts apart
_SETTLE = RATE // 4           # look this far past the first crossing for the true peak: voiced
                              # speech has sidelobes at its pitch period (2.5-20 ms)
_FLOOR_RMS = 8.0              # windows quieter than this (about -72 dBFS) cannot match anything


# -- conversions -------------------------------------------------------------------------

def samples(pcm):
    """`pcm` (S16LE bytes or an integer array) as a numpy int16 array (no copy if possible)."""
    if isinstance(pcm, (bytes, bytearray, memoryview)):
        data = bytes(pcm)
        if len(data) % 2:
            data = data[:-1]          # half a sample at the end of a chunk is not a sample
        return np.frombuffer(data, dtype="<i2").astype(np.int16, copy=False)
    array = np.asarray(pcm)
    if array.dtype == np.int16:
        return array.reshape(-1)
    if np.issubdtype(array.dtype, np.floating):
        array = np.rint(array)
    return np.clip(array, -32768, 32767).astype(np.int16).reshape(-1)


def load_wav(path):
    """The samples of an 8 kHz mono 16-bit PCM WAV file; ValueError naming the file otherwise."""
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            if (channels, width, rate) != (1, 2, RATE):
                raise ValueError(
                    f"{path}: {channels} channel(s), {8 * width}-bit, {rate} Hz; "
                    f"expected mono 16-bit {RATE} Hz")
            data = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"{path}: not a PCM WAV file ({exc})") from None
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


def write_wav(path, pcm):
    """Write `pcm` as an 8 kHz mono 16-bit WAV file."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(samples(pcm).astype("<i2").tobytes())


def make_tone(freq_hz, seconds, amplitude=8000):
    """A sine tone as S16LE bytes (amplitude 8000 is about -12 dBFS)."""
    t = np.arange(int(round(seconds * RATE))) / RATE
    wave_ = amplitude * np.sin(2 * np.pi * freq_hz * t)
    return np.rint(wave_).astype("<i2").tobytes()


# -- levels and tones --------------------------------------------------------------------

def rms(pcm):
    """Root mean square of the samples, in sample units (0 for no samples)."""
    x = samples(pcm).astype(np.float64)
    return float(np.sqrt(np.mean(x * x))) if len(x) else 0.0


def silence_ratio(pcm, threshold=100.0, frame_ms=20):
    """Fraction (0..1) of `frame_ms` frames whose RMS is below `threshold` (sample units;
    100 is about -50 dBFS, well above G.711's idle noise). 1.0 for no complete frame."""
    x = samples(pcm).astype(np.float64)
    size = RATE * frame_ms // 1000
    count = len(x) // size
    if count == 0:
        return 1.0
    frames = x[:count * size].reshape(count, size)
    levels = np.sqrt(np.mean(frames * frames, axis=1))
    return float(np.mean(levels < threshold))


def tone_level(pcm, freq_hz):
    """Power near `freq_hz` as a fraction (0..1) of the total power (DC excluded).

    Hann-windowed FFT; the band is +-2.5 bins (at least +-15 Hz) around the frequency, which
    holds the whole main lobe of a pure tone, so a clean tone scores about 1.0 even after
    G.711 and a tone 300 Hz away scores about 0."""
    x = samples(pcm).astype(np.float64)
    if len(x) < 32:
        return 0.0
    x = x - x.mean()
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    total = spectrum.sum()
    if total <= len(x):           # digital silence (rms well under one LSB)
        return 0.0
    freqs = np.fft.rfftfreq(len(x), 1.0 / RATE)
    half = max(2.5 * RATE / len(x), 15.0)
    return float(spectrum[np.abs(freqs - freq_hz) <= half].sum() / total)


def has_tone(pcm, freq_hz, min_fraction=0.5):
    """True when at least `min_fraction` of the power of `pcm` is at `freq_hz`."""
    return tone_level(pcm, freq_hz) >= min_fraction


# -- prompt matching ---------------------------------------------------------------------

class Template:
    """A prompt prepared for matching: leading silence trimmed, at most 1.5 s, zero mean.

    `trim` is how many leading samples were dropped, so a match of the prepared samples at
    position p means the prompt itself started at p - trim."""

    def __init__(self, pcm, name="prompt", max_seconds=TEMPLATE_SECONDS):
        x = samples(pcm).astype(np.float64)
        self.name = name
        self.trim = _first_sound(x)
        x = x[self.trim:self.trim + int(max_seconds * RATE)]
        if len(x) < RATE // 50:
            raise ValueError(f"{name}: template has no sound to match")
        self.samples = x - x.mean()
        self.norm = float(np.sqrt(np.dot(self.samples, self.samples)))
        if self.norm == 0.0:
            raise ValueError(f"{name}: template is silent")
        self._spectra = {}

    def __len__(self):
        return len(self.samples)

    def spectrum(self, size):
        """FFT of the reversed template at `size` points (cached: a Listener reuses it)."""
        if size not in self._spectra:
            self._spectra[size] = np.fft.rfft(self.samples[::-1], size)
        return self._spectra[size]


def _first_sound(x, frame=RATE // 100):
    """Index of the first 10 ms frame louder than a tenth of the loudest frame (and above
    the noise floor): the start of the prompt after its leading silence."""
    count = len(x) // frame
    if count == 0:
        return 0
    frames = x[:count * frame].reshape(count, frame)
    levels = np.sqrt(np.mean(frames * frames, axis=1))
    threshold = max(0.1 * levels.max(), 2 * _FLOOR_RMS)
    loud = np.flatnonzero(levels >= threshold)
    return int(loud[0]) * frame if len(loud) else 0


def _template(template):
    return template if isinstance(template, Template) else Template(template)


def _sliding_dot(tpl, r):
    """dot[k] = sum(tpl.samples * r[k:k+n]) for every k where the template fits.

    Overlap-save with FFT blocks of at most 2**17 points: one 2**19-point FFT of a minute of
    audio is four times slower than the same work in cache-sized blocks."""
    n = len(tpl)
    size = min(1 << (len(r) + n - 1).bit_length(), max(1 << 17, 1 << (8 * n).bit_length()))
    spectrum = tpl.spectrum(size)
    hop = size - n + 1
    count = -(-(len(r) - n + 1) // hop)
    padded = np.zeros(count * hop + n - 1)
    padded[:len(r)] = r
    blocks = np.lib.stride_tricks.sliding_window_view(padded, size)[::hop]
    out = np.fft.irfft(np.fft.rfft(blocks, axis=1) * spectrum, size, axis=1)[:, n - 1:]
    return out.reshape(-1)[:len(r) - n + 1]


def correlate(template, recording):
    """Normalised correlation (0..1) of the template at every position of `recording`
    where it fits entirely: element k compares the prepared template with recording[k:k+n].

    The absolute value is taken so that an analogue path that inverts polarity still
    matches; a different utterance stays near zero either way."""
    tpl = _template(template)
    r = samples(recording).astype(np.float64)
    n = len(tpl)
    if len(r) < n:
        return np.zeros(0)
    dot = _sliding_dot(tpl, r)
    # Window energy about its own mean, from running sums (the template has zero mean, so
    # the dot product already ignores the window's mean). In place: fresh multi-megabyte
    # temporaries cost more page faults than arithmetic on a minute of audio.
    sums = np.empty(len(r) + 1)
    sums[0] = 0.0
    np.cumsum(r, out=sums[1:])
    mean_part = sums[n:] - sums[:-n]
    np.square(r, out=r)
    np.cumsum(r, out=sums[1:])
    energy = sums[n:] - sums[:-n]
    np.square(mean_part, out=mean_part)
    mean_part /= n
    energy -= mean_part
    np.maximum(energy, n * _FLOOR_RMS ** 2, out=energy)
    np.sqrt(energy, out=energy)
    energy *= tpl.norm
    np.abs(dot, out=dot)
    dot /= energy
    return np.minimum(dot, 1.0, out=dot)


def _first_peak(scores, min_score, start=0, complete=True):
    """The first occurrence whose peak is at index `start` or later.

    An occurrence's peak is the maximum within _SETTLE positions of a crossing of
    `min_score`; the next occurrence is looked for only _SETTLE positions after a peak, so the
    shoulders and pitch-period sidelobes of one occurrence never count as another. Returns
    ("found", index, score); ("pending", index) when complete=False and a crossing is too
    close to the end to see its whole settle window (look again from there with more audio);
    or ("none", resume), where resume is the first index still worth searching."""
    i = 0
    while True:
        above = np.flatnonzero(scores[i:] >= min_score)
        if len(above) == 0:
            return ("none", max(i, len(scores)))
        crossing = i + int(above[0])
        if not complete and crossing + _SETTLE > len(scores):
            return ("pending", crossing)
        peak = crossing + int(np.argmax(scores[crossing:crossing + _SETTLE]))
        if peak >= start:
            return ("found", peak, float(scores[peak]))
        i = peak + _SETTLE


def find(template, recording, min_score=0.6):
    """Where `template` first occurs in `recording`: (offset_samples, score) or None.

    offset_samples is the index in `recording` where the template's first sample sits (it
    can be negative if the recording starts inside the template's leading silence); score
    is the normalised correlation at that point, 0..1 (a clean match through G.711 scores
    above 0.95, a different prompt under 0.3)."""
    tpl = _template(template)
    found = _first_peak(correlate(tpl, recording), min_score)
    if found[0] != "found":
        return None
    return (found[1] - tpl.trim, found[2])


# -- streaming ---------------------------------------------------------------------------

class Listener:
    """A recording that grows while a test waits for prompts in it.

    One thread (an audio callback, a socket reader) calls feed(); any thread may call
    wait_for(). Each wait searches only audio it has not searched yet, plus an overlap of one
    template length, so waiting through a long call stays cheap."""

    def __init__(self, name="listener"):
        self.name = name
        self._pcm = bytearray()
        self._changed = threading.Condition()

    def feed(self, pcm):
        """Append S16LE bytes (any length; chunks need not be whole samples)."""
        with self._changed:
            self._pcm += pcm
            self._changed.notify_all()

    def __len__(self):
        with self._changed:
            return len(self._pcm) // 2

    def seconds(self):
        """Length of the recording so far, in seconds."""
        return len(self) / RATE

    def recording(self):
        """Everything fed so far, as an int16 array (a copy)."""
        with self._changed:
            data = bytes(self._pcm[:len(self._pcm) & ~1])
        return np.frombuffer(data, dtype="<i2").astype(np.int16)

    def _window(self, start):
        with self._changed:
            data = bytes(self._pcm[2 * start:len(self._pcm) & ~1])
        return np.frombuffer(data, dtype="<i2")

    def wait_for(self, template, timeout, after_sample=0, min_score=0.6, name=None):
        """Block until `template` is heard at or after `after_sample`; return its offset
        (known once the first 1.5 s of the prompt, plus a quarter second, have been fed).

        Raises TimeoutError naming the prompt and the best score seen if it is not heard
        within `timeout` seconds."""
        tpl = template if isinstance(template, Template) else Template(template, name or "prompt")
        name = name or tpl.name
        n = len(tpl)
        # Positions are in prepared-template coordinates: the prompt's own first sample is
        # at position - trim. `wanted` is the first position the caller asked about; `cursor`
        # the first not yet searched. The search starts _SETTLE early so that the tail of an
        # occurrence just before `wanted` is recognised as that occurrence, not a new one.
        wanted = max(0, after_sample + tpl.trim)
        cursor = max(0, wanted - _SETTLE)
        best = 0.0
        deadline = time.monotonic() + timeout
        while True:
            final = time.monotonic() >= deadline
            available = len(self)
            # Search once a tenth of a second of new positions has arrived, or at the end.
            if available - n + 1 - cursor >= RATE // 10 or (final and available - cursor >= n):
                scores = correlate(tpl, self._window(cursor))
                if len(scores) > wanted - cursor:
                    best = max(best, float(scores[max(0, wanted - cursor):].max()))
                found = _first_peak(scores, min_score, wanted - cursor, complete=final)
                if found[0] == "found":
                    return cursor + found[1] - tpl.trim
                cursor += found[1]      # "pending": look at that crossing again with more audio
            if final:
                raise TimeoutError(
                    f"{self.name}: did not hear {name} within {timeout:g} s "
                    f"(best score {best:.2f}, needed {min_score:.2f}, "
                    f"{self.seconds():.1f} s heard)")
            with self._changed:
                if len(self._pcm) // 2 == available:
                    self._changed.wait(max(0.0, min(0.1, deadline - time.monotonic())))


# -- slips -------------------------------------------------------------------------------

def click_slips(pcm, period_samples, after=0, threshold=None):
    """Slips in a recording of a click train (probe/clicks.py: a tone with a click every
    `period_samples`): every pair of neighbouring clicks that is not exactly a period apart
    (a frame dropped or put in on the way), from sample `after` on. Returns
    probe/clicks.slips' summary: clicks found, slips [(position, samples)], net samples,
    clicks lost."""
    from .clicks import CLICK_THRESHOLD, slips

    x = samples(pcm)[after:]
    loud = np.flatnonzero(np.abs(x.astype(np.int32)) >= (threshold or CLICK_THRESHOLD))
    if len(loud) == 0:
        return slips([], period_samples)
    starts = loud[np.concatenate(([True], np.diff(loud) > RATE // 500))]
    return slips([int(p) + after for p in starts], period_samples)
