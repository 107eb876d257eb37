"""The caller: a phone that dials the box, presses keys, speaks and listens.

It drives the caller-side modem with the box's own line driver (it is a SIM7600 too), so the
same script works on the loopback line and on a hardware-in-loop rig with a real modem. What
it hears is kept whole, so tests can assert which prompts were played and when.
"""

import asyncio
import logging
import os
import select
import threading
import time

import serial

from lawline.line.modem import Modem
from . import hearing

log = logging.getLogger("lawline.caller")
FRAME = 320


class CallerAudio:
    """The caller's PCM port: everything read goes to a Listener; a paced writer sends the
    caller's voice (a tone, or silence) in 20 ms frames as a handset would."""

    def __init__(self, path):
        self.path = path
        self.listener = hearing.Listener()
        self._serial = serial.Serial(path, 115200, timeout=0)
        self._fd = self._serial.fileno()
        os.set_blocking(self._fd, False)
        self._stop = threading.Event()
        self._voice = None          # bytes to loop, or None for silence
        self._voice_pos = 0
        self._lock = threading.Lock()
        self.first_audio_at = None  # monotonic time of the first non-silent frame heard
        self.train = None           # probe/clicks.ClickTrain while speak_clicks() is on
        self.clicks_heard = None    # probe/clicks.ClickLog: clicks heard, with their times
        self.tone_heard = None      # probe/clicks.ToneLog: onsets of a tone heard
        self._train_frame = 0
        # Write one frame per frame read instead of every 20 ms of this machine's clock:
        # the caller's phone then follows its modem's clock, as a handset follows its
        # network's (the soak skews the loopback line's clocks against the box's).
        self.paced_by_reads = False
        self._reads = threading.Semaphore(0)
        self._read_bytes = 0
        self._threads = [threading.Thread(target=self._reader, daemon=True, name="caller-rx"),
                         threading.Thread(target=self._writer, daemon=True, name="caller-tx")]
        for t in self._threads:
            t.start()

    def speak(self, pcm):
        """Loop `pcm` (S16LE bytes) into the call until `quiet()`."""
        with self._lock:
            self._voice = pcm
            self._voice_pos = 0

    def quiet(self):
        with self._lock:
            self._voice = None
            self.train = None

    def speak_clicks(self, train):
        """Send `train` (probe/clicks.ClickTrain) from its first frame, noting when each
        click is written; and note from now on the clicks heard (`clicks_heard`)."""
        from .clicks import ClickLog
        with self._lock:
            self._voice = None
            self._train_frame = 0
            self.train = train
            self.clicks_heard = ClickLog()

    def _next_frame(self):
        with self._lock:
            if self.train is not None:
                i, self._train_frame = self._train_frame, self._train_frame + 1
                return self.train.frame(i), i
            if not self._voice:
                return bytes(FRAME)
            out = bytearray()
            while len(out) < FRAME:
                chunk = self._voice[self._voice_pos:self._voice_pos + FRAME - len(out)]
                out += chunk
                self._voice_pos = (self._voice_pos + len(chunk)) % len(self._voice)
            return bytes(out)

    def _reader(self):
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._fd], [], [], 0.1)
                if not ready:
                    continue
                data = os.read(self._fd, 4096)
            except (OSError, ValueError):
                return
            if data:
                if self.paced_by_reads:
                    self._read_bytes += len(data)
                    while self._read_bytes >= FRAME:
                        self._read_bytes -= FRAME
                        self._reads.release()
                now = time.monotonic()
                if self.first_audio_at is None and any(data):
                    self.first_audio_at = now
                self.listener.feed(data)
                for log_ in (self.clicks_heard, self.tone_heard):
                    if log_ is not None:
                        log_.feed(now, data)

    def _writer(self):
        next_at = time.monotonic()
        while not self._stop.is_set():
            if self.paced_by_reads:
                if not self._reads.acquire(timeout=0.1):
                    continue
                next_at = time.monotonic() - 0.02
            next_at += 0.02
            frame = self._next_frame()
            try:
                if isinstance(frame, tuple):
                    frame, i = frame
                    os.write(self._fd, frame)
                    train = self.train
                    if train is not None:
                        train.note_sent(i, time.monotonic())
                else:
                    os.write(self._fd, frame)
            except (BlockingIOError, OSError):
                pass
            delay = next_at - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                next_at = time.monotonic()

    def close(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=1)
        self._serial.close()


class Caller:
    def __init__(self, at_port, audio_port, prompts, profile="simcom-sim7600"):
        self.modem = Modem(profile, at_port, audio_port, name="caller",
                           log=logging.getLogger("lawline.caller"))
        self.prompts = prompts
        self.audio = None
        self.audio_port = audio_port
        self.dialled_at = None
        self.answered_at = None
        self.ended = asyncio.Event()
        # awaited before each dial (the rig: the box's line back on-hook after the last call)
        self.before_dial = None
        self.transcript = []
        self._pump = None
        self.keys_heard = []
        self.sms = []                # PartEvent "sms" events the caller's phone received
        self._templates = {}

    def note(self, text):
        self.transcript.append((time.monotonic(), text))
        log.info("caller: %s", text)

    async def start(self):
        await self.modem.start()
        self.audio = CallerAudio(self.audio_port)

    async def _pump_events(self):
        while True:
            event = await self.modem.events.get()
            if event.kind == "ended":
                self.ended.set()
                self.note(f"line: {event.detail}")
                return
            if event.kind == "dtmf":
                self.keys_heard.append(event.digit)
            elif event.kind == "sms":
                self.sms.append(event)

    async def call(self, number, answer_timeout=30):
        self.ended.clear()
        self._heard_upto = 0
        self.audio.listener = hearing.Listener()
        self.audio.first_audio_at = None
        if self.before_dial is not None:
            await self.before_dial()
        await self.modem.dial(number)
        self.dialled_at = time.monotonic()
        self.note(f"dialled {number}")
        while not self.modem.in_call:
            event = await asyncio.wait_for(self.modem.events.get(), answer_timeout)
            if event.kind == "ended":
                raise AssertionError(f"the box did not answer: {event.detail}")
            if event.kind == "sms":
                self.sms.append(event)
        self.answered_at = time.monotonic()
        self.note(f"answered after {self.answered_at - self.dialled_at:.1f} s")
        await self.modem.open_audio()
        self._pump = asyncio.ensure_future(self._pump_events())

    async def press(self, digits):
        await self.modem.send_dtmf(digits)
        self.note(f"pressed {digits}")

    def template(self, name):
        if name not in self._templates:
            self._templates[name] = hearing.load_wav(self.prompts.path(name))
        return self._templates[name]

    async def hear(self, name, timeout=30):
        """Wait until prompt `name` is heard; returns the second of the call it started at."""
        start = getattr(self, "_heard_upto", 0)
        offset = await asyncio.to_thread(self.audio.listener.wait_for, self.template(name),
                                         timeout, start, 0.55, name)
        self._heard_upto = offset + 1
        self.note(f"heard '{name}' at {offset / 8000:.1f} s")
        return offset / 8000

    async def hear_tone(self, hz, timeout=30, window=0.5):
        """Wait until the last `window` seconds heard are mostly a tone of `hz`."""
        n = int(window * 8000)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pcm = self.audio.listener.recording()
            if len(pcm) >= n and hearing.has_tone(pcm[-n:], hz):
                self.note(f"heard a {hz} Hz tone at {len(pcm) / 8000:.1f} s")
                return len(pcm) / 8000
            if self.ended.is_set():
                break
            await asyncio.sleep(0.1)
        raise AssertionError(f"never heard a {hz} Hz tone within {timeout:g} s")

    def heard_audio(self):
        return self.audio.listener.recording()

    async def hang_up(self):
        await self.modem.hangup()
        self.note("hung up")

    async def wait_ended(self, timeout=30):
        await asyncio.wait_for(self.ended.wait(), timeout)
        self._heard_upto = 0

    async def close(self):
        if self._pump:
            self._pump.cancel()
        if self.modem.in_call:
            await self.modem.hangup()
        if self.audio:
            self.audio.close()
        self.modem.close()
