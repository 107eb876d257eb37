"""The baseline every bench figure is a ratio to: a bare two-process pjsua2 call.

Two processes, each a pjsua2 endpoint set up as the box sets up its own (bridge at 8 kHz,
20 ms frames, no echo canceller, no VAD, G.711 only with PCMA first, the null sound device,
SIP events polled on the main thread) and nothing else: no modem, no menu, no asyncio, no
lawline import. One calls the other directly over UDP on 127.0.0.1; each has one Python
`AudioMediaPort` connected both ways with the call, sending a 1 kHz tone with a click every
second (probe/clicks.py) and noting the clicks it receives. So each process does what the
box does for one bridged call: encode and send one direction, receive and decode the other,
one Python port in its bridge. Its CPU per second, its RSS and its port-to-port delay (the
clicks, both ways) are the figures the box is compared with.

    python -m lawline_rig.bare [--seconds S]          the pair on its own: figures as JSON

A peer takes commands on stdin, one per line, and answers each with one JSON line:
    call URI    -> {"ok": true}      once the call is confirmed with audio flowing
    clicks      -> {"sent": [[n, t]...], "heard": [t...], "positions": [...]}
    hangup      -> {"ok": true}      once the call is gone
    quit        -> {"ok": true}      then it exits
"""

import argparse
import ctypes
import json
import os
import select
import statistics
import subprocess
import sys
import time

# Nothing from lawline here: the baseline must not pay for the box's modules.
from .probe import clicks

RATE = 8000
FRAME_BYTES = 320
POLL_MS = 20            # as the box's SIP poller (sip/endpoint.MediaCore.poll_interval)


def _vector_reader(pj):
    """The fast ByteVector copy the box uses (sip/endpoint.vector_bytes), so that the two
    pay the same per frame; the slow path where the layout differs."""
    def slow(vector):
        return bytes(bytearray(vector))

    def fast(vector):
        begin, end = ctypes.cast(int(vector.this),
                                 ctypes.POINTER(ctypes.c_void_p * 2)).contents
        if not begin or end - begin != vector.size():
            return slow(vector)
        return ctypes.string_at(begin, end - begin)
    probe = pj.ByteVector(bytes(range(256)) + bytes(64))
    return fast if fast(probe) == slow(probe) else slow


def peer(port):
    import pjsua2 as pj

    read_vector = _vector_reader(pj)
    train = clicks.ClickTrain()
    heard = clicks.ClickLog()
    silence = bytes(FRAME_BYTES)

    class Port(pj.AudioMediaPort):
        def __init__(self):
            super().__init__()
            self.n = 0
            self.muted = False
            self.tone = None        # clicks.ToneLog while the press test listens

        def onFrameRequested(self, frame):
            try:
                frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
                frame.size = FRAME_BYTES
                if self.muted:
                    frame.buf = pj.ByteVector(silence)
                    return
                i, self.n = self.n, self.n + 1
                frame.buf = pj.ByteVector(train.frame(i))
                train.note_sent(i, time.monotonic())
            except Exception:       # noqa: BLE001 - a director callback never raises
                pass

        def onFrameReceived(self, frame):
            try:
                if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO and frame.size:
                    now, data = time.monotonic(), read_vector(frame.buf)
                    heard.feed(now, data)
                    if self.tone is not None:
                        self.tone.feed(now, data)
            except Exception as exc:       # noqa: BLE001
                print(f"bare: {exc!r}", file=sys.stderr)

    state = {"call": None, "confirmed": False, "media": None, "gone": False}

    class Call(pj.Call):
        def onCallState(self, prm):
            try:
                info = self.getInfo()
                if info.state == pj.PJSIP_INV_STATE_CONFIRMED:
                    state["confirmed"] = True
                elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
                    state["gone"] = True
            except Exception as exc:       # noqa: BLE001
                print(f"bare: {exc!r}", file=sys.stderr)

        def onCallMediaState(self, prm):
            try:
                info = self.getInfo()   # held: its media vector dies with it
                for media in info.media:
                    if media.type == pj.PJMEDIA_TYPE_AUDIO and \
                            media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                        state["media"] = media.index
            except Exception as exc:       # noqa: BLE001
                print(f"bare: {exc!r}", file=sys.stderr)

    class Account(pj.Account):
        def onIncomingCall(self, prm):
            try:
                call = Call(self, prm.callId)
                state.update(call=call, confirmed=False, media=None, gone=False)
                op = pj.CallOpParam()
                op.statusCode = 200
                call.answer(op)
            except Exception as exc:       # noqa: BLE001
                print(f"bare: {exc!r}", file=sys.stderr)

    # pjsip's console log goes to stdout: the replies get a descriptor of their own, and
    # stdout is stderr from here on
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.logConfig.level = cfg.logConfig.consoleLevel = 1
    if os.environ.get("BARE_LOG"):      # pjsip's log at level 5 in that file, to debug
        cfg.logConfig.level, cfg.logConfig.filename = 5, os.environ["BARE_LOG"] + f".{os.getpid()}"
    cfg.medConfig.clockRate = RATE
    cfg.medConfig.sndClockRate = RATE
    cfg.medConfig.channelCount = 1
    cfg.medConfig.audioFramePtime = 20
    cfg.medConfig.ecTailLen = 0
    cfg.medConfig.noVad = True
    ep.libInit(cfg)
    tcfg = pj.TransportConfig()
    tcfg.port = port
    tcfg.boundAddress = "127.0.0.1"
    transport = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
    ep.libStart()
    if not port:                    # the port the system chose
        port = int(ep.transportGetInfo(transport).localName.rsplit(":", 1)[1])
    ep.audDevManager().setNullDev()
    for codec in ep.codecEnum2():
        cid = codec.codecId
        ep.codecSetPriority(cid, 255 if cid.startswith("PCMA/8000") else
                            254 if cid.startswith("PCMU/8000") else 0)
    acfg = pj.AccountConfig()
    acfg.idUri = f"sip:bare@127.0.0.1:{port}"
    acfg.regConfig.registerOnAdd = False
    acfg.sipConfig.transportId = transport
    acfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    account = Account()
    account.create(acfg)
    fmt = pj.MediaFormatAudio()
    fmt.type = pj.PJMEDIA_TYPE_AUDIO
    fmt.id = pj.PJMEDIA_FORMAT_PCM
    fmt.clockRate = RATE
    fmt.channelCount = 1
    fmt.bitsPerSample = 16
    fmt.frameTimeUsec = 20000
    media_port = Port()
    media_port.createPort("bare", fmt)
    connected = []

    def reply(obj):
        replies.write(json.dumps(obj) + "\n")
        replies.flush()

    def wait(predicate, seconds):
        deadline = time.monotonic() + seconds
        while not predicate() and time.monotonic() < deadline:
            ep.libHandleEvents(POLL_MS)
        return predicate()

    def connect():
        if state["confirmed"] and state["media"] is not None and not state["gone"] \
                and not connected:
            audio = state["call"].getAudioMedia(state["media"])
            media_port.startTransmit(audio)
            audio.startTransmit(media_port)
            connected.append(audio)

    reply({"ok": True, "port": port, "pid": os.getpid()})
    stdin = sys.stdin.fileno()
    buf = b""
    running = True
    while running:
        ep.libHandleEvents(POLL_MS)
        connect()
        if state["gone"] and connected:
            connected.clear()
        ready, _, _ = select.select([stdin], [], [], 0)
        if not ready:
            continue
        chunk = os.read(stdin, 4096)
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            command, _, arg = line.decode().strip().partition(" ")
            if command == "call":
                # only `state` holds the call: it must go before libDestroy
                state.update(call=Call(account), confirmed=False, media=None, gone=False)
                state["call"].makeCall(arg, pj.CallOpParam(True))
                ok = wait(lambda: state["confirmed"] and state["media"] is not None, 10)
                connect()
                reply({"ok": ok})
            elif command == "wait":
                ok = wait(lambda: bool(connected) or (connect() or bool(connected)), 10)
                reply({"ok": ok})
            elif command == "deaf":            # the call's audio goes to nothing here
                connected[0].stopTransmit(media_port)
                reply({"ok": True})
            elif command == "hear":
                connected[0].startTransmit(media_port)
                reply({"t": time.monotonic()})
            elif command == "mute":
                media_port.muted = True
                reply({"ok": True})
            elif command == "listen":          # tone onsets from now on
                media_port.tone = clicks.ToneLog(clicks.TONE_HZ)
                reply({"ok": True})
            elif command == "press":           # the duty person's 1, then their voice
                state["call"].dialDtmf("1")
                t = time.monotonic()
                media_port.n = 0
                media_port.muted = False
                reply({"t": t})
            elif command == "onsets":
                reply({"onsets": media_port.tone.onsets if media_port.tone else []})
            elif command == "clicks":
                reply({"sent": train.sent, "heard": heard.times,
                       "positions": heard.positions})
            elif command == "hangup":
                if state["call"] is not None and not state["gone"]:
                    try:
                        state["call"].hangup(pj.CallOpParam(True))
                    except pj.Error:
                        pass
                wait(lambda: state["gone"], 5)
                reply({"ok": True})
            elif command == "quit":
                running = False
                reply({"ok": True})
                break
    try:
        ep.hangupAllCalls()
    except pj.Error:
        pass
    for _ in range(10):
        ep.libHandleEvents(10)
    connected.clear()
    state["call"] = None
    ep.audDevManager().setNoDev()
    media_port = None  # the clock is stopped: the port may go
    account.shutdown()
    del account
    ep.libDestroy(pj.PJSUA_DESTROY_NO_NETWORK)
    return 0


# -- the pair, from the bench's side ------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def memory_mb(pid):
    """A process's memory in MB, from /proc: "rss" and its "anon" and "file" parts, "pss"
    (shared pages divided among their sharers) and "private" (its own pages alone)."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile"):
                out[{"VmRSS": "rss", "RssAnon": "anon", "RssFile": "file"}[key]] = \
                    int(value.split()[0]) / 1024
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("Pss", "Private_Clean", "Private_Dirty"):
                    name = "pss" if key == "Pss" else "private"
                    out[name] = out.get(name, 0.0) + int(value.split()[0]) / 1024
    except OSError:
        pass
    return {k: round(v, 1) for k, v in out.items()}


class Peer:
    def __init__(self, name, log_dir):
        self.name = name
        self._log = open(os.path.join(log_dir, f"bare-{name}.log"), "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lawline_rig.bare", "--peer", "--port", "0"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
            start_new_session=True)
        hello = self._read(15)
        self.pid, self.port = hello["pid"], hello["port"]

    def _read(self, timeout):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError(f"bare pjsua2 {self.name}: no answer within {timeout} s")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"bare pjsua2 {self.name} ended: see {self._log.name}")
        return json.loads(line)

    def ask(self, command, timeout=20):
        self.proc.stdin.write(command.encode() + b"\n")
        self.proc.stdin.flush()
        return self._read(timeout)

    def close(self):
        if self.proc.poll() is None:
            try:
                self.ask("quit", 10)
            except (OSError, TimeoutError, RuntimeError, ValueError):
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


def cpu_rate(pids, seconds):
    before = {pid: cpu_seconds(pid) for pid in pids}
    t0 = time.monotonic()
    time.sleep(seconds)
    span = time.monotonic() - t0
    return {pid: (cpu_seconds(pid) - before[pid]) / span for pid in pids}


def measure(log_dir, seconds=20.0, idle_seconds=5.0):
    """The bare pair's figures: idle CPU, CPU per second of call, RSS during the call (each
    process), and the port-to-port delay both ways (ms)."""
    a = b = None
    try:
        a, b = Peer("caller", log_dir), Peer("callee", log_dir)
        idle = cpu_rate([a.pid, b.pid], idle_seconds)
        if not a.ask(f"call sip:bare@127.0.0.1:{b.port}")["ok"]:
            raise RuntimeError("bare pjsua2: the call did not connect")
        b.ask("wait")
        time.sleep(1.0)                 # past the jitter buffers' start
        busy = cpu_rate([a.pid, b.pid], seconds)
        memory = {"caller": memory_mb(a.pid), "callee": memory_mb(b.pid)}
        ca, cb = a.ask("clicks"), b.ask("clicks")
        # the duty person's 1: silence, then the key (RFC 4733, as the duty phone sends it)
        # and their voice at once; when does the far port hear the voice begin?
        presses = []
        for _ in range(3):
            a.ask("mute")
            b.ask("listen")
            time.sleep(0.6)
            pressed = a.ask("press")["t"]
            time.sleep(0.8)
            onset = next((t for t in b.ask("onsets")["onsets"] if t >= pressed), None)
            presses.append(None if onset is None else onset - pressed)
        a.ask("hangup")
        b.ask("hangup")
    finally:
        for p in (a, b):
            if p is not None:
                p.close()
    period = clicks.ClickTrain().period_frames * 0.02
    one = [d for _, d in clicks.delays(ca["sent"], cb["heard"], period)]
    two = [d for _, d in clicks.delays(cb["sent"], ca["heard"], period)]
    return {
        "cpu_s_per_s_idle": round(statistics.mean(idle.values()), 4),
        "cpu_s_per_s_call": round(statistics.mean(busy.values()), 4),
        "cpu_s_per_s_call_each": [round(busy[a.pid], 4), round(busy[b.pid], 4)],
        "rss_mb": max(m["rss"] for m in memory.values()),
        "pss_mb": max(m.get("pss", 0) for m in memory.values()),
        "memory_mb": memory,
        "delay_ms": summary(one + two),
        "press_1_to_voice_heard_ms": summary(presses),
        "delay_ms_each_way": [summary(one), summary(two)],
        "slips": [clicks.slips(cb["positions"], 50 * 160)["slips"],
                  clicks.slips(ca["positions"], 50 * 160)["slips"]],
        "window_s": seconds,
    }


def summary(values, scale=1000.0, digits=1):
    values = [v * scale for v in values if v is not None]
    if not values:
        return None
    values.sort()
    return {"median": round(statistics.median(values), digits),
            "min": round(values[0], digits), "max": round(values[-1], digits),
            "p95": round(values[min(len(values) - 1, int(0.95 * len(values)))], digits),
            "n": len(values)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    if args.peer:
        return peer(args.port)
    import tempfile
    print(json.dumps(measure(tempfile.mkdtemp(prefix="lawline-bare-"), args.seconds),
                     indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
