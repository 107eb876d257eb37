"""Call audio through a sound card (PortAudio via `sounddevice`): an EC25 in USB-audio mode
(AT+QPCMV=1,2; ALSA card "Android", reference/modems.md 2.3), or a codec HAT wired to an
analog-audio modem.

Same face to the media bridge as SerialPcm: `read_frame()` (20 ms of S16LE at 8 kHz, or None)
and `write(frame)`. PortAudio calls back on its own thread: the callback only moves frames
between the card and two bounded buffers and never blocks. The card runs at 8 kHz when it
can; otherwise at 16 or 48 kHz with integer resampling here (chan_quectel opens the EC25's card
as 48 kHz "slin48" [?]). DTMF is detected in-band on what the card hears (dtmf.py): the keys go
to `on_digit` (called on PortAudio's thread; the modem posts them to its loop).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, ClassVar, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from typing_extensions import Buffer

from .audio import FRAME_BYTES, JitterBuffer, PortLoss
from .dtmf import DtmfDetector

RATES = (8000, 16000, 48000)
START_TIMEOUT = 1.0     # seconds for a started card to call back for the first time
PREFILL = 3             # frames (60 ms) queued before the card plays: absorbs bridge jitter
# A card that went away (USB unplugged, re-enumerated by the supervisor's reset or power
# cycle) shows in one of three ways: PortAudio's stream stops with an error (its finished
# callback), its callbacks stop coming, or, when its capture reads end of file (the ALSA
# `file` plugin over a FIFO whose writer left: the simulated card), they come as fast as the
# CPU goes, with nothing in them. Each is the card lost (audio.PortLoss).
SILENT_LOST = 2.0       # seconds without a callback from a started card
CLOCK_WINDOW = 0.5      # seconds over which the card's pace is measured
TOO_FAST = 4.0          # callbacks delivering this many times real time: no clock behind it

# Samples on their way through the resampler: the card's S16 as read, or filtered floats.
Samples = npt.NDArray[np.int16] | npt.NDArray[np.float64]


class Stream(Protocol):
    """What this file does with a sounddevice.RawStream."""
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def abort(self) -> None: ...
    def close(self) -> None: ...


class CardBuffer(Protocol):
    """The buffer a RawStream callback fills for the card to play (cffi's buffer)."""
    def __len__(self) -> int: ...
    def __setitem__(self, key: slice, value: bytes, /) -> None: ...


def _lowpass(factor: int, taps: int = 48) -> npt.NDArray[np.float64]:
    """A windowed-sinc low-pass at 3.4 kHz for resampling by `factor` from/to 8 kHz."""
    rate = 8000 * factor
    n = np.arange(taps * factor) - (taps * factor - 1) / 2
    h = np.sinc(2 * 3400 / rate * n) * np.hamming(len(n))
    taps_scaled: npt.NDArray[np.float64] = h / h.sum()
    return taps_scaled


class Resampler:
    """8 kHz <-> 8 kHz * factor through one FIR low-pass, filter state kept across blocks."""

    def __init__(self, factor: int) -> None:
        self.factor = factor
        self.h = _lowpass(factor) if factor > 1 else None
        keep = len(self.h) - 1 if self.h is not None else 0
        self._down_tail = np.zeros(keep)
        self._up_tail = np.zeros(keep)
        self._phase = 0

    def down(self, x: Samples) -> Samples:
        if self.h is None:     # factor 1
            return x
        full = np.concatenate([self._down_tail, x.astype(np.float64)])
        y = np.convolve(full, self.h, mode="valid")      # one output per input sample
        self._down_tail = full[len(full) - len(self._down_tail):]
        out = y[self._phase::self.factor]
        self._phase = (self._phase - len(y)) % self.factor
        return out

    def up(self, x: Samples) -> Samples:
        if self.h is None:     # factor 1
            return x
        z = np.zeros(len(x) * self.factor)
        z[::self.factor] = x.astype(np.float64) * self.factor
        full = np.concatenate([self._up_tail, z])
        y = np.convolve(full, self.h, mode="valid")
        self._up_tail = full[len(full) - len(self._up_tail):]
        return y


class SoundCardPcm(PortLoss):
    _open_cards: ClassVar[set[SoundCardPcm]] = set()  # every card with a stream open here
    _rescan: ClassVar[bool] = False  # a card was lost: PortAudio's device list may be stale

    def __init__(self, device: str | int, name: str = "box", log: logging.Logger | None = None,
                 jitter: JitterBuffer | None = None, rates: tuple[int, ...] = RATES) -> None:
        super().__init__()
        self.device = device
        self.name = name
        self.log = log or logging.getLogger("lawline.line")
        self.jitter = jitter or JitterBuffer()
        self.rates = rates
        self.rate: int | None = None
        self.stream: Stream | None = None
        # frames from the bridge, 160 ms at most
        self._out: collections.deque[bytes] = collections.deque(maxlen=8)
        self._lock = threading.Lock()
        self._dtmf = DtmfDetector()
        self._resampler: Resampler | None = None
        # called with each key heard in-band (PortAudio's thread)
        self.on_digit: Callable[[str], object] | None = None
        self.on_frame: Callable[[bytes], None] | None = None
        self.frames_in: float = 0
        self.frames_out = 0
        self.underruns = 0
        self.overflows = 0     # frames from the bridge dropped: the card was not taking them
        self.status_flags = 0
        self._running = threading.Event()   # set by the first callback: the card's clock runs
        self._playing = False  # PREFILL frames were queued; False again after an underrun
        self._closing = False  # our own close(): the stream's end is no loss
        self._abort: type[BaseException] = Exception  # sounddevice.CallbackAbort, once imported
        self.last_callback = 0.0  # monotonic time of the card's last callback
        self._pace_from = 0.0     # CLOCK_WINDOW: when it began, and the frames since
        self._pace_frames = 0

    def open(self) -> None:
        if self.stream is not None:
            return
        import sounddevice as sd
        self._abort = sd.CallbackAbort
        if SoundCardPcm._rescan and not SoundCardPcm._open_cards:
            # PortAudio lists devices once, at start: a USB card that came back after a loss
            # is only found by name once it looks again (which it cannot while another
            # card's stream is open: that stream would end). Until a card opens, every try
            # looks again.
            sd._terminate()
            sd._initialize()
        device = self._device(sd)
        errors: list[str] = []
        for rate in self.rates:
            try:
                stream = sd.RawStream(device=device, samplerate=rate, channels=1,
                                      dtype="int16", blocksize=rate // 50, latency="low",
                                      callback=self._callback,
                                      finished_callback=self._finished)
            except (sd.PortAudioError, ValueError) as exc:
                errors.append(f"{rate} Hz: {exc}")
                continue
            self.rate = rate
            self._resampler = Resampler(rate // 8000)
            self.jitter.clear()
            self._out.clear()
            self._playing = False
            self._running.clear()
            self._closing = False
            self._found()
            self.last_callback = self._pace_from = time.monotonic()
            self._pace_frames = 0
            stream.start()
            self.stream = stream
            SoundCardPcm._open_cards.add(self)
            SoundCardPcm._rescan = False
            # Until the card's first callback, nothing takes frames: a prompt written now
            # would overflow the short queue and lose its first words. Wait for the clock.
            if not self._running.wait(START_TIMEOUT):
                self.log.warning("modem %s: sound card %r has not started within %g s",
                                 self.name, self.device, START_TIMEOUT)
            self.log.info("modem %s: call audio on sound card %r at %d Hz%s", self.name,
                          self.device, rate, "" if rate == 8000 else
                          " (resampled to 8000 Hz here)")
            return
        raise OSError(f"sound card {self.device!r} cannot be opened: {'; '.join(errors)}")

    def _device(self, sd: ModuleType) -> str | int:
        """The PortAudio device: by its exact name when the list has it (sounddevice would
        otherwise take the first name that contains it: `lawline_box_playback` for a
        `lawline_box` whose capture is gone), which must then both capture and play."""
        if not isinstance(self.device, str):
            return self.device
        for index, info in enumerate(sd.query_devices()):
            if info["name"] == self.device:
                if info["max_input_channels"] < 1 or info["max_output_channels"] < 1:
                    raise OSError(f"sound card {self.device!r} is there without capture or "
                                  "playback (is it plugged in?)")
                return index
        return self.device

    def close(self) -> None:
        stream, self.stream = self.stream, None
        if stream is not None:
            self._closing = True
            try:
                # abort, not stop: a lost card has nothing left to play out, and stop()
                # would wait for it
                (stream.abort if self.lost is not None else stream.stop)()
                stream.close()
            except Exception as exc:  # noqa: BLE001 (PortAudio errors on a card that went away)
                self.log.info("modem %s: closing sound card %r: %s", self.name, self.device, exc)
        SoundCardPcm._open_cards.discard(self)
        self.jitter.clear()

    def _finished(self) -> None:
        """PortAudio: the stream ended (its thread: our close, our abort, or an error)."""
        if not self._closing:
            self._card_lost("its stream stopped (the device went away?)")

    def _card_lost(self, why: str) -> None:
        if self._lose(why, "sound card", repr(self.device)):
            SoundCardPcm._rescan = True

    def check(self) -> str | None:
        """Why the card is lost, or None; a started card that has not called back for
        SILENT_LOST seconds is lost too (the supervisor asks at each health check)."""
        if self.lost is None and self.stream is not None and \
                time.monotonic() - self.last_callback > SILENT_LOST:
            self._card_lost(f"no audio from it for {SILENT_LOST:g} s")
        return self.lost

    def _paced(self, frames: int) -> bool:
        """False when the card delivers far faster than real time (see TOO_FAST)."""
        now = time.monotonic()
        self.last_callback = now
        self._pace_frames += frames
        span = now - self._pace_from
        if span < CLOCK_WINDOW:
            return True
        assert self.rate is not None    # open() sets it before the stream starts
        speed = self._pace_frames / (self.rate * span)
        self._pace_from, self._pace_frames = now, 0
        if speed < TOO_FAST:
            return True
        self._card_lost(f"it delivers audio {speed:.0f} times faster than real time, with no "
                        "clock behind it (its capture reads end of file: the device is gone)")
        return False

    def _callback(self, indata: Buffer, outdata: CardBuffer, frames: int, time_info: object,
                  status: object) -> None:
        self._running.set()
        resampler = self._resampler
        assert resampler is not None    # open() sets it before the stream starts
        if not self._paced(frames) or self.lost is not None:
            outdata[:] = bytes(len(outdata))
            raise self._abort      # PortAudio stops calling back; close() tidies up
        if status:
            self.status_flags += 1
        heard = np.frombuffer(bytes(indata), dtype="<i2")
        pcm = np.clip(np.rint(resampler.down(heard)), -32768, 32767).astype("<i2").tobytes()
        if pcm:
            self.jitter.push(pcm)
            self.frames_in += len(pcm) / FRAME_BYTES
            if self.on_frame:
                self.on_frame(pcm)
            for key in self._dtmf.feed(pcm):
                if self.on_digit:
                    self.on_digit(key)
        need = len(outdata)
        with self._lock:
            # The bridge's clock and the card's are two clocks: play only once PREFILL frames
            # wait, so a bridge tick that comes late does not cut a 20 ms hole in a prompt
            # (each hole shifts everything after it). An empty queue starts the wait again.
            if not self._playing and len(self._out) >= PREFILL:
                self._playing = True
            frame = self._out.popleft() if self._playing and self._out else None
            if frame is None and self._playing:
                self._playing = False
                self.underruns += 1
        if frame is None:
            outdata[:] = bytes(need)
            return
        self.frames_out += 1
        say = np.frombuffer(frame, dtype="<i2")
        up = np.clip(np.rint(resampler.up(say)), -32768, 32767).astype("<i2").tobytes()
        outdata[:] = (up + bytes(need))[:need]

    def read_frame(self) -> bytes | None:
        frame: bytes | None = self.jitter.pop()
        return frame

    def write(self, frame: bytes) -> None:
        with self._lock:
            full = len(self._out) == self._out.maxlen
            self._out.append(bytes(frame))
        if full:
            self.overflows += 1
            if self.overflows in (1, 10, 100) or self.overflows % 1000 == 0:
                self.log.warning("modem %s: sound card %r is not taking call audio fast "
                                 "enough; %d frames of 20 ms dropped so far", self.name,
                                 self.device, self.overflows)
