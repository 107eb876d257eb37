"""A simulated USB sound card (EC25 in UAC mode, AT+QPCMV=1,2; modems.md 2.3), reached by the
box through real ALSA (alsa-lib) and PortAudio, without a kernel sound card.

The simulator writes DIR/asoundrc defining the PCM `lawline_box` (`lawline_box2`... for the
box modems of further lines, `lawline sim --lines N`, all in the one file): an `asym` of two ALSA `file`
plugins over `null`: capture reads DIR/box-uac-in (a FIFO the simulator feeds, 20 ms of S16LE
at a time in real time, which is what paces the box's capture and so its whole duplex
stream), playback writes DIR/box-uac-out (a FIFO the simulator reads). The box runs with
ALSA_CONFIG_PATH=/usr/share/alsa/alsa.conf:DIR/asoundrc and sound_device "lawline_box".

While the card is idle it carries silence, like a real card; during a call with QPCMV=1,2 it
carries the far end's voice, with the far end's DTMF mixed in as tones (a network plays them
in-band), and what the box plays goes to the far end. The FIFOs block, so their I/O runs on two
threads; every frame is built and every uplink byte pushed on the event loop.
"""

import errno
import logging
import os
import queue
import select
import threading
import time

from lawline.line import dtmf
from .audio import EARLY, MAX_CATCH_UP, Uplink

log = logging.getLogger("lawline_rig.sim")

PCM_NAME = "lawline_box"
ASOUNDRC = """# written by the lawline simulator: the box's simulated EC25 sound card (sim/uac.py)
pcm.{name}_capture {{
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "{infile}"
    format "raw"
}}
pcm.{name}_playback {{
    type file
    slave.pcm "null"
    file "{outfile}"
    format "raw"
}}
pcm.{name} {{
    type asym
    playback.pcm "{name}_playback"
    capture.pcm "{name}_capture"
    hint {{ show on description "lawline simulated EC25 USB audio" }}
}}
"""


def write_config(cards):
    """DIR/asoundrc with every card's PCM (one file: the box reads one ALSA_CONFIG_PATH)."""
    with open(cards[0].config, "w", encoding="utf-8") as f:
        f.write("\n".join(card.definition() for card in cards))


class UacCard:
    def __init__(self, modem, state_dir, profile):
        self.modem = modem
        self.side = modem.side
        self.name = PCM_NAME if modem.side == "box" else f"lawline_{modem.side}"
        self.dir = os.path.abspath(state_dir)
        self.infile = os.path.join(self.dir, f"{self.side}-uac-in")
        self.outfile = os.path.join(self.dir, f"{self.side}-uac-out")
        self.config = os.path.join(self.dir, "asoundrc")
        self.frame_bytes = profile.frame_bytes
        self.period = profile.frame_ms / 1000.0
        self.uplink = Uplink(profile.uplink_limit_bytes)
        self.far = None
        self.on = False               # a call with QPCMV=1,2: audio flows both ways
        self.frames = 0
        self._tones = bytearray()
        self._frames = queue.Queue(maxsize=10)
        self._stop = threading.Event()
        self._away_until = 0.0        # monotonic time the card is back (gone())
        self._loop = None
        self._timer = None
        self._next = 0.0
        self._threads = []

    def create(self):
        for path in (self.infile, self.outfile):
            if os.path.exists(path):
                os.unlink(path)
            os.mkfifo(path)
        write_config([self])

    def definition(self):
        return ASOUNDRC.format(name=self.name, infile=self.infile, outfile=self.outfile)

    def start(self, loop):
        self._loop = loop
        self._threads = [threading.Thread(target=self._writer, daemon=True, name="uac-in"),
                         threading.Thread(target=self._reader, daemon=True, name="uac-out")]
        for t in self._threads:
            t.start()
        self._next = loop.time() + self.period
        self._timer = loop.call_at(self._next, self._tick)

    def close(self):
        self._stop.set()
        if self._timer is not None:
            self._timer.cancel()
        for t in self._threads:
            t.join(1)
        for path in (self.infile, self.outfile, self.config):
            try:
                os.unlink(path)
            except OSError:
                pass

    def gone(self, seconds):
        """USB re-enumeration: the card goes away for `seconds`. Nothing feeds its capture
        any more (the box's reads of it end: end of file, as from a card unplugged) and it
        cannot be opened (its FIFO is gone), then it is back under the same name."""
        self._away_until = time.monotonic() + seconds
        log.info("sim %s: sound card %s gone for %g s", self.side, self.name, seconds)

    def tone(self, key):
        """The far end pressed `key`: the network plays the tone into the call."""
        if self.on:
            self._tones += dtmf.tone(key, 0.1) + bytes(self.frame_bytes)

    # -- the loop side ------------------------------------------------------------------------

    def _tick(self):
        now = self._loop.time()
        if now - self._next > MAX_CATCH_UP:
            self._next += int((now - self._next) / self.period) * self.period
        while self._next <= now + EARLY:
            frame = bytes(self.frame_bytes)
            far = self.far
            if self.on and far is not None and far.on:
                frame = far.uplink.take(self.frame_bytes)
            if self._tones:
                tone, self._tones = bytes(self._tones[:self.frame_bytes]), \
                    self._tones[self.frame_bytes:]
                frame = tone + frame[len(tone):]
            try:
                self._frames.put_nowait(frame)
            except queue.Full:
                pass  # nobody is reading the card: frames are lost, as on real hardware
            self.frames += 1
            self._next += self.period
        self._timer = self._loop.call_at(self._next, self._tick)

    def _from_box(self, data):
        if self.on:
            self.uplink.push(data)

    # -- the FIFO threads ---------------------------------------------------------------------

    def _writer(self):
        fd = None
        while not self._stop.is_set():
            try:
                frame = self._frames.get(timeout=0.1)
            except queue.Empty:
                continue
            if time.monotonic() < self._away_until:
                if fd is not None:
                    os.close(fd)   # the box's capture reads end of file
                    fd = None
                if os.path.exists(self.infile):
                    os.unlink(self.infile)   # and cannot open the card again while it is away
                continue
            if not os.path.exists(self.infile):
                os.mkfifo(self.infile)
            if fd is None:
                try:
                    fd = os.open(self.infile, os.O_WRONLY | os.O_NONBLOCK)
                except OSError as exc:
                    if exc.errno != errno.ENXIO:  # ENXIO: no reader yet (the card is closed)
                        log.warning("sim %s: sound card FIFO: %s", self.side, exc)
                    continue
                os.set_blocking(fd, True)
            try:
                os.write(fd, frame)
            except (BrokenPipeError, OSError):
                os.close(fd)       # the box closed the card (PortAudio probes by opening)
                fd = None
        if fd is not None:
            os.close(fd)

    def _reader(self):
        fd = os.open(self.outfile, os.O_RDONLY | os.O_NONBLOCK)
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([fd], [], [], 0.1)
                if not ready:
                    continue
                data = os.read(fd, 4096)
                if not data:          # no writer at the moment: wait for the box
                    self._stop.wait(0.02)
                    continue
                self._loop.call_soon_threadsafe(self._from_box, data)
        finally:
            os.close(fd)
