"""The pjsua2 endpoint: SIP stack, conference bridge and the objects that live in it.

Measured pitfalls this file follows (reference/pjsua2.md):
- one `pj.Endpoint` per process; SIP callbacks run inside `libHandleEvents()` on the thread
  that polls it, which here is the asyncio loop's thread (threadCnt 0, mainThreadOnly);
- the bridge is clocked at 8 kHz so telephone audio is never resampled;
- the wheel has no sound devices: `setNullDev()` gives the bridge its clock;
- speex/16000 is preferred by default and garbles tones: G.711 only, PCMA first (China);
- every port, player, recorder and call must be gone before `libDestroy()`, or it aborts;
  Python media ports are created once and reused (deleting one while the clock runs races).
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import os
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

import pjsua2 as pj

from ..errors import SipError
from ..line.audio import FRAME_BYTES, SILENCE
from .door import WILDCARDS, SipDoor
from .registration import TrunkState

log = logging.getLogger("lawline.sip")

POLL_LOST = 2.0         # seconds of failing polls: the SIP stack is lost
POLL_BACKOFF = 1.0      # seconds between polls while it is

_Kept = TypeVar("_Kept")


class FrameSource(Protocol):
    """What a LinePort plays into the bridge: the line's call audio (line/parts.CallAudio)."""
    def read_frame(self) -> bytes | None: ...


class FrameSink(Protocol):
    """Where a LinePort sends what the bridge gives the line: the line's call audio."""
    def write(self, frame: bytes) -> None: ...


class CoreTrunk(Protocol):
    """The SIP trunk as the core holds it (sip/trunk.Trunk, which imports this file): its
    state, and its timers stopped at teardown."""
    @property
    def state(self) -> TrunkState: ...
    def stop(self) -> None: ...


# pjsua2 has no type information: subclassing its classes (Any) is the boundary
class _LogWriter(pj.LogWriter):  # type: ignore[misc]
    def write(self, entry: pj.LogEntry) -> None:
        try:
            log.debug("pjsua2: %s", entry.msg.rstrip())
        except Exception:  # a director callback must never raise (pjsua2.md, Teardown)
            pass


def _vector_reader() -> Callable[[pj.ByteVector], bytes]:
    """A fast copy of a SWIG `ByteVector` into bytes. `bytes(vector)` walks it element by
    element (~400 us a frame, reference/pjsua2.md); std::vector<unsigned char> starts with its
    begin and end pointers in libstdc++, so the bytes can be read in one go (~5 us). Checked
    once at import against the slow path; if the layout differs, the slow path is used."""
    def slow(vector: pj.ByteVector) -> bytes:
        return bytes(bytearray(vector))

    def fast(vector: pj.ByteVector) -> bytes:
        # the two pointers read as addresses (c_size_t: an int, where c_void_p gives None
        # for NULL; the same bytes, and `not begin` still catches NULL)
        begin, end = ctypes.cast(int(vector.this),
                                 ctypes.POINTER(ctypes.c_size_t * 2)).contents
        if not begin or end - begin != vector.size():
            return slow(vector)
        return ctypes.string_at(begin, end - begin)

    try:
        probe = pj.ByteVector(bytes(range(256)) + bytes(64))
        if fast(probe) == slow(probe):
            return fast
    except Exception:  # noqa: BLE001 - any surprise means: use the slow, safe path
        pass
    return slow


vector_bytes = _vector_reader()


# pjsua2 has no type information: subclassing its classes (Any) is the boundary
class LinePort(pj.AudioMediaPort):  # type: ignore[misc]
    """The phone line inside the bridge. Frames the bridge sends to it go to the modem; frames
    it gives the bridge come from the modem's jitter buffer. Runs on pjmedia's clock thread:
    no decisions, no locks held long, no exceptions escaping."""

    def __init__(self) -> None:
        super().__init__()
        self.source: FrameSource | None = None     # the line's audio: read_frame()
        self.sink: FrameSink | None = None         # the line's audio: write(bytes)
        # fed every frame sent to the line (what the caller hears)
        self.taps: list[Callable[[bytes], object]] = []

    def onFrameRequested(self, frame: pj.MediaFrame) -> None:
        try:
            data = self.source.read_frame() if self.source else None
            frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
            frame.buf = pj.ByteVector(data or SILENCE)
            frame.size = FRAME_BYTES
        except Exception:
            pass

    def onFrameReceived(self, frame: pj.MediaFrame) -> None:
        try:
            sink = self.sink
            if sink is None and not self.taps:
                return
            if frame.type != pj.PJMEDIA_FRAME_TYPE_AUDIO or frame.size == 0:
                data = SILENCE
            else:
                data = vector_bytes(frame.buf)
            if sink is not None:
                sink.write(data)
            for tap in self.taps:
                tap(data)
        except Exception:
            pass


# pjsua2 has no type information: subclassing its classes (Any) is the boundary
class Player(pj.AudioMediaPlayer):  # type: ignore[misc]
    """A prompt. `done` (an asyncio.Future) resolves when the file has played to its end."""

    def __init__(self, loop: asyncio.AbstractEventLoop, path: str | os.PathLike[str],
                 repeat: bool = False) -> None:
        super().__init__()
        self.loop = loop
        self.path = path
        self.done: asyncio.Future[bool] = loop.create_future()
        self.createPlayer(str(path), 0 if repeat else pj.PJMEDIA_FILE_NO_LOOP)

    def onEof2(self) -> None:
        try:
            self.loop.call_soon_threadsafe(self._finish)
        except Exception:
            pass

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(True)


def _wav_header(data_bytes: int) -> bytes:
    """The canonical 44-byte header of 8 kHz mono 16-bit PCM (sync/wavfile.header's form,
    which its repair after a cut expects: a recording starts with data size 0)."""
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE" + b"fmt " +
            struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16) + b"data" +
            struct.pack("<I", data_bytes))


# pjsua2 has no type information: subclassing its classes (Any) is the boundary
class RecordPort(pj.AudioMediaPort):  # type: ignore[misc]
    """Where a voicemail is recorded: the frames the bridge sends to this port go to the
    WAV file in small steps that reach the disk.

    pjsua2's `AudioMediaRecorder` keeps what it records in a buffer of its own and writes
    it out in large pieces: a kill or a power cut loses what that buffer held (measured by
    `python -m lawline_rig.powercut`: up to 0.25 s, over the 0.2 s the box may lose). Here
    the clock thread only appends each frame to a list; a writer thread of the port's own
    writes what came every STEP seconds and fdatasync()s it, so a power cut loses at most
    about STEP plus one write. The header says 0 bytes until the end, as the recorder's did,
    and sync/wavfile.repair_wav mends a file cut short.

    Created once and used again (a Python port deleted while the bridge clock runs races
    with its callback, reference/pjsua2.md, Teardown)."""

    STEP = 0.1

    def __init__(self, name: str) -> None:
        super().__init__()
        self.port_name = name
        self._lock = threading.Lock()        # the pending frames and the file's descriptor
        self._io = threading.Lock()          # one flush at a time (writer thread or close)
        self._pending: list[bytes] = []
        self._fd: int | None = None
        self._bytes = 0
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: OSError | None = None
        self.createPort(name, MediaCore.FORMAT())

    @property
    def busy(self) -> bool:
        return self._fd is not None

    def onFrameRequested(self, frame: pj.MediaFrame) -> None:
        try:
            frame.type = pj.PJMEDIA_FRAME_TYPE_NONE
            frame.size = 0
        except Exception:
            pass

    def onFrameReceived(self, frame: pj.MediaFrame) -> None:
        try:
            if self._fd is None:
                return
            if frame.type != pj.PJMEDIA_FRAME_TYPE_AUDIO or frame.size == 0:
                data = SILENCE
            else:
                data = vector_bytes(frame.buf)
            with self._lock:
                if self._fd is not None:
                    self._pending.append(data)
        except Exception:
            pass

    def open(self, path: str) -> None:
        """Start a recording in `path` (a new file: the spool's mode, from the umask)."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            os.write(fd, _wav_header(0))
            os.fdatasync(fd)
        except OSError:
            os.close(fd)
            raise
        with self._lock:
            self._pending = []
            self._bytes = 0
            self.error = None
            self._fd = fd
        if self._thread is None:
            self._thread = threading.Thread(target=self._writer, daemon=True,
                                            name=f"rec-{self.port_name}")
            self._thread.start()
        self._wake.set()

    def _writer(self) -> None:
        while True:
            self._wake.clear()
            if self._fd is None:
                self._wake.wait()
                continue
            time.sleep(self.STEP)
            self._flush()

    def _flush(self, final: bool = False) -> bool:
        """Write what came since the last step and make it durable. With `final`, also
        the header's sizes, and close the file; returns True when all of it got there."""
        with self._io:
            return self._flush_locked(final)

    def _flush_locked(self, final: bool) -> bool:
        with self._lock:
            fd, chunks, self._pending = self._fd, self._pending, []
            if final:
                self._fd = None
        if fd is None:
            return False
        data = b"".join(chunks)
        try:
            if data and self.error is None:
                os.write(fd, data)
                self._bytes += len(data)
                os.fdatasync(fd)
            if final and self.error is None:
                os.pwrite(fd, _wav_header(self._bytes), 0)
                os.fsync(fd)
        except OSError as exc:
            self.error = exc        # logged by whoever finishes the recording
        finally:
            if final:
                os.close(fd)
        return self.error is None

    def close(self) -> bool:
        """End the recording: the last frames, the header, closed. True when complete."""
        return self._flush(final=True)


class Recording:
    """A voicemail being recorded from one source (the line's port) through the core's
    RecordPort (see there)."""

    def __init__(self, core: MediaCore, path: str | os.PathLike[str], source: pj.AudioMedia,
                 *also: pj.AudioMedia) -> None:
        """`also`: more sources mixed into the same file (a bridged call, both ways)."""
        self.core = core
        self.path = path
        self.source = source
        self.also = list(also)
        self.started = time.monotonic()
        port = core.record_port()
        try:
            port.open(str(path))
            for media in (source, *also):       # the bridge mixes them into the port
                media.startTransmit(port)
        except (pj.Error, OSError) as exc:
            if port.busy:
                port.close()
            why = exc.info() if isinstance(exc, pj.Error) else str(exc)
            raise SipError(f"cannot record to {path}: {why}") from None
        self._port: RecordPort | None = port

    def follow(self, old: pj.AudioMedia, new: pj.AudioMedia) -> None:
        """A source's bridge slot changed (a re-INVITE gave the call's audio a new one):
        record the new slot in its place. One that cannot be joined leaves the rest of the
        recording going."""
        port = self._port
        if port is None:
            return
        try:
            old.stopTransmit(port)
        except pj.Error:
            pass                # the old slot is usually gone already
        if self.source is old:
            self.source = new
        self.also = [new if media is old else media for media in self.also]
        try:
            new.startTransmit(port)
        except pj.Error as exc:
            log.error("recording %s: the new audio of the call cannot be recorded: %s",
                      self.path, exc.info())

    async def finish(self, timeout: float = 2.0) -> bool:
        """Stop, and write the last frames and the header (off the loop: it syncs the
        file); True when the file is complete."""
        port, self._port = self._port, None
        if port is None:
            return wav_complete(self.path)
        for media in (self.source, *self.also):
            try:
                media.stopTransmit(port)
            except pj.Error:
                pass
        self.source = None
        self.also = []
        try:
            done = await asyncio.wait_for(asyncio.to_thread(port.close), timeout)
        except asyncio.TimeoutError:
            done = False
        if port.error is not None:
            log.error("recording %s: %s", self.path, port.error)
        return bool(done) and wav_complete(self.path)


class MediaCore:
    """Owns the pjsua2 Endpoint. Create it on the loop's thread; poll it with `run()`."""

    def __init__(self, bind: str = "127.0.0.1", port: int = 5060, log_level: int = 1,
                 poll_interval: float = 0.02, transport: str = "udp",
                 ca_file: str | None = None,
                 trusted: Iterable[tuple[str, int | None]] = ()) -> None:
        self.bind = bind
        self.port = port
        self.log_level = log_level
        self.poll_interval = poll_interval
        self.transport = transport      # "udp", or "tls" towards a trunk (sip/trunk.py)
        self.ca_file = ca_file          # CA of the trunk's TLS certificate
        self.trusted = frozenset(trusted)   # the trunk's (IP, port): sip/door.trunk_addresses
        self.door: SipDoor | None = None    # which requests reach pjsua
        self.transport_id: int | None = None
        self.ep: pj.Endpoint | None = None
        self.account: pj.Account | None = None
        self.trunk: CoreTrunk | None = None     # when a [trunk] registrar is set
        self.line: LinePort | None = None   # line 1's port; every line's in self.lines
        self.lines: list[LinePort] = []
        self._record_ports: list[RecordPort] = []   # made once, used again
        # players, recorders, calls: destroyed before libDestroy
        self._objects: set[object] = set()
        self._log_writer: _LogWriter | None = None
        self._running = False
        # The event poller (run): why pjsua2 is failing, while it keeps failing, and who is
        # told (on_lost(why) on the loop, once a failure lasts POLL_LOST seconds; on_lost(None)
        # when polling works again).
        self.lost: str | None = None
        self.on_lost: Callable[[str | None], object] | None = None

    def start(self) -> None:
        ep = pj.Endpoint()
        stdout_to_stderr(ep.libCreate)    # it prints ~6 lines to stdout (pjsua2.md)
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.userAgent = "lawline"
        self._log_writer = _LogWriter()
        cfg.logConfig.writer = self._log_writer
        cfg.logConfig.level = self.log_level
        cfg.logConfig.consoleLevel = self.log_level
        cfg.logConfig.decor = 0
        cfg.medConfig.clockRate = 8000
        cfg.medConfig.sndClockRate = 8000
        cfg.medConfig.channelCount = 1
        cfg.medConfig.audioFramePtime = 20
        cfg.medConfig.ecTailLen = 0  # the modem and the mobile network cancel echo
        cfg.medConfig.noVad = True
        ep.libInit(cfg)
        # The only SIP socket the box opens: UDP, or with a TLS trunk a TLS listener (pjsip
        # has no client-only TLS transport), on [sip] bind:port (sip/trunk.py, "What the
        # box binds").
        tcfg = pj.TransportConfig()
        tcfg.port = self.port
        tcfg.boundAddress = self.bind
        kind = pj.PJSIP_TRANSPORT_UDP
        if self.transport == "tls":
            kind = pj.PJSIP_TRANSPORT_TLS
            tcfg.tlsConfig.CaListFile = str(self.ca_file or "")
            tcfg.tlsConfig.verifyServer = True     # chain and name (subjectAltName)
            tcfg.tlsConfig.method = pj.PJSIP_TLSV1_2_METHOD
        try:
            self.transport_id = ep.transportCreate(kind, tcfg)
            local = ep.transportGetInfo(self.transport_id).localName
            self.port = int(local.rsplit(":", 1)[1])
        except pj.Error as exc:
            ep.libDestroy()
            raise SipError(f"SIP: cannot listen on {self.bind}:{self.port} "
                           f"({self.transport.upper()}): {exc.info()}") from None
        ep.libStart()
        # After libStart every module has added its methods to Allow: the door trims them
        # and refuses REFER, Replaces and strangers' requests before pjsua sees them.
        self.door = SipDoor(self.trusted).install()
        if self.bind in WILDCARDS:
            log.warning("SIP: listening on every interface (%s:%d): set [sip] bind to the "
                        "address facing the trunk (lawline check says the same)", self.bind,
                        self.port)
        ep.audDevManager().setNullDev()
        g711_only(ep)
        self.ep = ep
        self._format = self.FORMAT()
        self.line = self.line_port(1)
        log.info("SIP: endpoint up on %s:%d (%s), bridge at 8 kHz, G.711 only", self.bind,
                 self.port, self.transport.upper())

    @staticmethod
    def FORMAT() -> pj.MediaFormatAudio:
        """The media format of every Python port: 8 kHz mono 16-bit, 20 ms frames."""
        fmt = pj.MediaFormatAudio()
        fmt.type = pj.PJMEDIA_TYPE_AUDIO
        fmt.id = pj.PJMEDIA_FORMAT_PCM
        fmt.clockRate = 8000
        fmt.channelCount = 1
        fmt.bitsPerSample = 16
        fmt.frameTimeUsec = 20000
        return fmt

    def record_port(self) -> RecordPort:
        """A RecordPort not recording now: one of those made before, or a new one (as
        many as recordings at once, one per line at most)."""
        for port in self._record_ports:
            if not port.busy:
                return port
        port = RecordPort(f"rec{len(self._record_ports) + 1}")
        self._record_ports.append(port)
        return port

    def line_port(self, number: int) -> LinePort:
        """One AudioMediaPort per line (several lines share this one bridge)."""
        port = LinePort()
        port.createPort("line" if number == 1 else f"line{number}", self._format)
        self.lines.append(port)
        return port

    def add_account(self, account: pj.Account) -> None:
        self.account = account

    @property
    def trunk_state(self) -> TrunkState | None:
        """The trunk's registration state, None without a trunk."""
        return self.trunk.state if self.trunk is not None else None

    async def run(self, stop: asyncio.Event) -> None:
        """Poll pjsua2 on the loop thread until `stop` is set. A poll that raises is never the
        poller's end (nothing would handle SIP again, silently): the first failure is logged,
        a failure lasting POLL_LOST seconds is the SIP stack lost (logged once, `lost` set,
        `on_lost` told), and while it lasts the poller slows to POLL_BACKOFF, so a failing
        stack never spins nor fills the log; when a poll works again, that is logged too."""
        self._running = True
        failing_since: float | None = None
        try:
            while not stop.is_set():
                try:
                    # stop() may have ended the endpoint: a failing poll, as before
                    assert self.ep is not None
                    self.ep.libHandleEvents(0)
                except Exception as exc:  # noqa: BLE001 (pj.Error, or a SWIG error)
                    failing_since = self._poll_failed(exc, failing_since)
                else:
                    if failing_since is not None:
                        failing_since = None
                        self._poll_works()
                await asyncio.sleep(self.poll_interval if failing_since is None or
                                    self.lost is None else POLL_BACKOFF)
        finally:
            self._running = False

    def _poll_failed(self, exc: Exception, since: float | None) -> float:
        why = exc.info() if hasattr(exc, "info") else f"{type(exc).__name__}: {exc}"
        now = time.monotonic()
        if since is None:
            log.error("SIP: handling pjsua2's events failed: %s; trying again", why)
            return now
        if self.lost is None and now - since >= POLL_LOST:
            self.lost = f"handling pjsua2's events fails for {now - since:.0f} s: {why}"
            log.error("SIP: the SIP stack is lost: %s; polling every %g s until it answers",
                      self.lost, POLL_BACKOFF)
            if self.on_lost is not None:
                self.on_lost(self.lost)
        return since

    def _poll_works(self) -> None:
        was, self.lost = self.lost, None
        log.warning("SIP: handling pjsua2's events works again%s",
                    f" (after: {was})" if was else "")
        if was is not None and self.on_lost is not None:
            self.on_lost(None)

    def handle_events(self) -> None:
        if self.ep is not None:
            self.ep.libHandleEvents(0)

    # -- media objects -------------------------------------------------------------------

    def census(self) -> dict[str, int | None]:
        """What the core holds now, for leak watching: the bridge's ports in use (line
        ports, players, recorders, calls' streams), the pjsua2 objects the box keeps
        (players, legs), and the recorder ports made so far."""
        try:
            ports = self.ep.mediaActivePorts() if self.ep is not None else None
        except pj.Error:
            ports = None
        return {"bridge_ports": ports, "objects": len(self._objects),
                "record_ports": len(self._record_ports)}

    def keep(self, obj: _Kept) -> _Kept:
        self._objects.add(obj)
        return obj

    def release(self, obj: object) -> None:
        self._objects.discard(obj)

    def player(self, path: str | os.PathLike[str], repeat: bool = False) -> Player:
        loop = asyncio.get_running_loop()
        try:
            return self.keep(Player(loop, path, repeat))
        except pj.Error as exc:
            raise SipError(f"cannot play {path}: {exc.info()}") from None

    def stop_player(self, player: Player, *targets: pj.AudioMedia) -> None:
        for target in targets:
            try:
                player.stopTransmit(target)
            except pj.Error:
                pass
        self.release(player)

    def recorder(self, path: str | os.PathLike[str], source: pj.AudioMedia,
                 *also: pj.AudioMedia) -> Recording:
        """Record what `source` (an AudioMedia) sends, and `also` mixed in, into a WAV file;
        see Recording."""
        return Recording(self, path, source, *also)

    # -- teardown ------------------------------------------------------------------------

    def stop(self) -> None:
        """Tear down in the order that does not abort: calls hung up, then every media
        object and the line port released with the bridge clock stopped, then libDestroy."""
        if self.ep is None:
            return
        ep = self.ep
        try:
            ep.hangupAllCalls()
        except pj.Error:
            pass
        for _ in range(20):
            ep.libHandleEvents(10)
        self._objects.clear()
        try:
            ep.audDevManager().setNoDev()  # stop the bridge clock before ports go away
        except pj.Error:
            pass
        self.line = None
        self.lines = []
        for port in self._record_ports:
            if port.busy:
                port.close()
        self._record_ports = []
        account, self.account = self.account, None
        if self.trunk is not None:
            self.trunk.stop()
            # An OPTIONS still in flight when its account is deleted aborts the process when
            # it ends (pjsua_acc_get_user_data assertion, measured): the trunk account stays
            # until libDestroy has ended every transaction and unregistered.
        elif account is not None:
            try:
                account.shutdown()
            except pj.Error:
                pass
            account = None
        gc.collect()
        # Anything still referenced somewhere would be destroyed after libDestroy and abort
        # the process: hand it to C++ (a leak at exit) and say so, so the holder gets fixed.
        for obj in gc.get_objects():
            if isinstance(obj, (pj.AudioMedia, pj.Call)) and getattr(obj, "thisown", False):
                log.warning("SIP: %s still referenced at shutdown; left to the process exit",
                            type(obj).__name__)
                obj.thisown = False
        ep.libDestroy()
        self.ep = None
        self.door = None        # pjsip held pointers into it until libDestroy
        del account


def g711_only(ep: pj.Endpoint) -> None:
    """G.711 only, PCMA first (China): speex/16000 leads by default and garbled a pure tone in
    9 of 11 calls (reference/pjsua2.md, The package). Used by the box and the duty phone."""
    for codec in ep.codecEnum2():
        cid = codec.codecId
        priority = (255 if cid.startswith("PCMA/8000") else
                    254 if cid.startswith("PCMU/8000") else 0)
        ep.codecSetPriority(cid, priority)


def _flush_c_stdio() -> None:
    """Flush the C library's stdio buffers (fflush(NULL)).

    pjlib prints its start-up lines with printf(). When stdout is a pipe (a test, systemd,
    `$(...)`) C stdio buffers them in the process, and without PYTHONUNBUFFERED nothing
    flushes that buffer until exit: by then fd 1 is stdout again and the lines land after the
    command's own output. Flushing inside the guard sends them to stderr, where they belong."""
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):    # no libc symbol table: nothing buffered we can reach
        pass


def stdout_to_stderr(fn: Callable[[], object]) -> None:
    """Run `fn` with file descriptor 1 pointing at stderr: stdout stays for command output
    (`python -m lawline.sip.trunk` prints one sentence, the duty phone its JSON report).
    Whatever `fn` printed through C stdio is flushed before fd 1 is given back."""
    sys.stdout.flush()
    _flush_c_stdio()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        fn()
    finally:
        _flush_c_stdio()
        os.dup2(saved, 1)
        os.close(saved)


def wav_complete(path: str | os.PathLike[str]) -> bool:
    """True when a RIFF/WAVE file's header sizes agree with the bytes on disk."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(44)
    except OSError:
        return False
    if len(head) < 44 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return False
    riff = int.from_bytes(head[4:8], "little")
    return riff == size - 8 and riff > 36
