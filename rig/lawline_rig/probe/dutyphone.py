"""The on-duty lawyer's mobile, simulated: a pjsua2 user agent in a process of its own.

The box calls it at sip:<number>@127.0.0.1:<port> (UDP, G.711), plays its whisper prompt
("0148 legal-service call; press 1 to accept") and bridges only after the RFC 4733 digit 1.
The duty phone behaves like one kind of person at the other end (`--behaviour`), records what
it hears, and reports every step as a JSON line that tests can tail:

    {"t": 1718000000.12, "event": "incoming", "call": 1, "from": "<sip:box@127.0.0.1:5060>"}

Events: incoming, ringing (180 sent), answered (final answer sent: 200 or 486, in "code"),
confirmed, dtmf_sent, dtmf_received, held and resumed (--hold-after), disconnected (with
"code" and, when recording, the finished WAV's path in "record"). A disconnected line is
written only once that WAV is complete, so a test may read it as soon as it sees the line.

Run as `lawline dutyphone ...` or `python -m lawline_rig.probe.dutyphone ...`. One per process:
a second pjsua2 Endpoint in the same process aborts it (reference/pjsua2.md, Threads).
"""

import argparse
import array
import heapq
import itertools
import json
import logging
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

try:
    import pjsua2 as pj
except ImportError:       # on a Pi pjsua2 is built from source; the CLI must still load
    pj = None

log = logging.getLogger("lawline.dutyphone")

BEHAVIOURS = ("accept", "busy", "no-answer", "decline", "silent")
RATE = 8000
TONE_AMPLITUDE = 8000         # about -12 dBFS: loud, far from clipping after G.711
POLL_MS = 10                  # libHandleEvents() wait; 1-2 % of a core when idle
WAV_FINISH_TIMEOUT = 1.0      # the recorder's header lands ~100 ms after deletion
HANGUP_TIMEOUT = 2.0          # at shutdown, wait this long for BYE/CANCEL transactions
CLICK_PORTS = 8               # --clicks: calls at once that each get their own media port


# -- command line ------------------------------------------------------------------------

def add_arguments(parser):
    """Add the duty phone's options to an argparse parser."""
    parser.add_argument("--port", type=int, required=True,
                        help="UDP SIP port on 127.0.0.1 (0: any free port, see --ready-file)")
    parser.add_argument("--behaviour", "--behavior", choices=BEHAVIOURS, default="accept",
                        help="what the person on duty does with a call (default: accept)")
    parser.add_argument("--behaviour-of", action="append", default=[], type=_number_behaviour,
                        metavar="NUMBER=BEHAVIOUR",
                        help="the person behind NUMBER (the user part of the called URI: "
                             "one phone stands for several duty numbers) behaves so; "
                             "repeat for more numbers; others: --behaviour")
    parser.add_argument("--answer-after", type=_seconds, default=0.5, metavar="SECONDS",
                        help="ring (180) this long before answering (default: 0.5)")
    parser.add_argument("--key-delay", type=_seconds, default=1.0, metavar="SECONDS",
                        help="after the call is confirmed, wait this long before pressing "
                             "a key (accept: 1, decline: 2; default: 1.0)")
    parser.add_argument("--tone-hz", type=float, default=1000.0, metavar="HZ",
                        help="accept: tone played into the call after pressing 1 "
                             "(default: 1000)")
    parser.add_argument("--clicks", type=Path, metavar="FILE",
                        help="accept: after pressing 1 send the tone with a click every "
                             "second (probe/clicks.py) from a Python media port instead of "
                             "a player, note the clicks heard, and append both to FILE as "
                             "JSON lines with their CLOCK_MONOTONIC times (for the benches)")
    parser.add_argument("--announcement-hz", type=float, default=440.0, metavar="HZ",
                        help="silent: beeps (0.4 s on, 0.2 s off) played like a recorded "
                             "announcement (default: 440)")
    parser.add_argument("--record", type=_wav_path, metavar="FILE.wav",
                        help="record what the phone hears, from confirmation to hang-up: "
                             "call N to FILE-N.wav (N from 1), and FILE.wav is replaced "
                             "by a copy of each call's recording when that call ends")
    parser.add_argument("--events", type=Path, metavar="FILE",
                        help="append one JSON line per event (flushed per line)")
    parser.add_argument("--registrar", metavar="URI",
                        help="register as --user at this registrar (digest auth with "
                             "--password) and take calls through it, as a mobile behind a "
                             "SIP trunk; 'registered' is then an event and the ready file "
                             "waits for it; unregisters when stopped")
    parser.add_argument("--user", help="with --registrar: user name (the duty number)")
    parser.add_argument("--password", default="", help="with --registrar: digest password")
    parser.add_argument("--dtmf", choices=("rfc4733", "info"), default="rfc4733",
                        help="how keys are sent: RFC 4733 events (default) or SIP INFO")
    parser.add_argument("--srtp", choices=("off", "optional", "mandatory"), default="off",
                        help="SRTP (SDES) for the call audio (default: off)")
    parser.add_argument("--call", metavar="URI",
                        help="place one call to URI once started (registered, with "
                             "--registrar): the phone is then a caller, as the prefecture's "
                             "switchboard transferring a caller down; it keys --keys, then "
                             "speaks its tone (--tone-hz) and records what it hears")
    parser.add_argument("--header", action="append", default=[], metavar="NAME:VALUE",
                        help="with --call: a header of the INVITE (repeat for more)")
    parser.add_argument("--keys", default="", metavar="DIGITS",
                        help="with --call: keys sent after the answer (--key-delay), 0.3 s "
                             "apart")
    parser.add_argument("--hang-up-after", type=_seconds, default=0.0, metavar="SECONDS",
                        help="with --call: hang up this long after the answer (0: wait for "
                             "the far end)")
    parser.add_argument("--hold-after", type=_seconds, default=0.0, metavar="SECONDS",
                        help="accept: put the call on hold (a re-INVITE, sendonly) this long "
                             "after pressing 1, as a lawyer's phone does; with --call, this "
                             "long after the answer (0: never)")
    parser.add_argument("--hold-for", type=_seconds, default=2.0, metavar="SECONDS",
                        help="with --hold-after: take the call off hold (a re-INVITE, "
                             "sendrecv) this long later (default: 2)")
    parser.add_argument("--ready-file", type=Path, metavar="FILE",
                        help="written atomically once the SIP transport listens: "
                             '{"pid", "port", "uri", "behaviour"}')
    return parser


def _seconds(text):
    value = float(text)
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"{text} s is outside 0..3600")
    return value


def _number_behaviour(text):
    number, sep, behaviour = text.partition("=")
    if not sep or behaviour not in BEHAVIOURS:
        raise argparse.ArgumentTypeError(f"{text}: NUMBER=BEHAVIOUR, one of "
                                         f"{', '.join(BEHAVIOURS)}")
    return number.strip(), behaviour


def _called_user(uri):
    """The user part of a SIP URI ("<sip:13900000002@127.0.0.1:5070>" -> 13900000002)."""
    rest = uri.split("sip:", 1)[-1]
    return rest.split("@", 1)[0] if "@" in rest else ""


def _wav_path(text):
    if not text.lower().endswith(".wav"):
        # pjmedia picks the recorder's format from the extension
        raise argparse.ArgumentTypeError(f"{text}: the recording must be a .wav file")
    return Path(text)


def record_path(base, n):
    """Where call `n` (from 1) is recorded: FILE.wav -> FILE-n.wav."""
    base = Path(base)
    return base.with_name(f"{base.stem}-{n}{base.suffix}")


def main(args=None):
    """Run the duty phone until SIGTERM or SIGINT; return the exit status.

    `args` is an argparse Namespace from add_arguments(), or a list of strings (None: the
    process's own arguments)."""
    if not isinstance(args, argparse.Namespace):
        parser = argparse.ArgumentParser(prog="lawline dutyphone", description=__doc__.split("\n")[0])
        args = add_arguments(parser).parse_args(args)
    if not logging.getLogger().handlers:
        logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                            format="dutyphone[%(process)d] %(levelname)s %(message)s")
    if pj is None:
        log.error("pjsua2 is not installed (see reference/pjsua2.md for building it on a Pi)")
        return 2
    phone = DutyPhone(args)
    stop = lambda signum, frame: phone.request_stop(signal.Signals(signum).name)  # noqa: E731
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return phone.run()


# -- files -------------------------------------------------------------------------------

class EventLog:
    """JSON lines appended to a file, flushed per line so a test can tail it."""

    def __init__(self, path):
        self._file = open(path, "a", encoding="utf-8") if path else None

    def write(self, event, call, t=None, **fields):
        record = {"t": round(time.time() if t is None else t, 4), "event": event, "call": call}
        if t is None:       # CLOCK_MONOTONIC, shared by every process: the benches' clock
            record["mono"] = round(time.monotonic(), 5)
        record.update((key, value) for key, value in fields.items() if value is not None)
        details = "".join(f" {k}={v}" for k, v in record.items() if k not in ("t", "event", "call"))
        log.info("call %s: %s%s", call, event, details)
        if self._file:
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._file.flush()

    def close(self):
        if self._file:
            self._file.close()


def write_tone_wav(path, freq_hz, seconds, on_seconds=None, period=None):
    """A looping tone as an 8 kHz mono 16-bit WAV. The length is a whole number of cycles
    so that the player's loop joins without a click (a click would smear tone detection).
    With on_seconds/period, the tone is gated into beeps."""
    import wave

    cycles = max(1, round(freq_hz * seconds))
    count = round(cycles * RATE / freq_hz)
    step = 2 * math.pi * freq_hz / RATE
    data = array.array("h", (
        round(TONE_AMPLITUDE * math.sin(step * i))
        if on_seconds is None or (i / RATE) % period < on_seconds else 0
        for i in range(count)))
    if sys.byteorder != "little":
        data.byteswap()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(data.tobytes())


def wav_is_complete(path):
    """True once a WAV's RIFF and data sizes match the file (pjmedia fills them in when the
    recorder port is finally destroyed, asynchronously)."""
    try:
        with open(path, "rb") as f:
            header = f.read(44)
            size = os.fstat(f.fileno()).st_size
    except OSError:
        return False
    if len(header) < 44 or header[:4] != b"RIFF" or header[36:40] != b"data":
        return False
    riff = int.from_bytes(header[4:8], "little")
    data = int.from_bytes(header[40:44], "little")
    return riff == size - 8 and data == size - 44


def _write_atomically(path, text):
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# -- pjsua2 ------------------------------------------------------------------------------

def _guarded(method):
    """Director callbacks must never raise: pjsua2 swallows the exception but keeps the
    traceback (and with it the Call) alive until libDestroy, which then aborts
    (reference/pjsua2.md, Teardown)."""
    def wrapper(self, *args):
        try:
            method(self, *args)
        except Exception:                       # noqa: BLE001 - see docstring
            log.exception("error in %s", method.__name__)
    wrapper.__name__ = method.__name__
    return wrapper


class _StderrLog(pj.LogWriter if pj else object):
    """pjsua's own log, to stderr so stdout stays clean. Must outlive libDestroy()."""

    def write(self, entry):
        sys.stderr.write(entry.msg if entry.msg.endswith("\n") else entry.msg + "\n")


class _Account(pj.Account if pj else object):
    def __init__(self, phone):
        super().__init__()
        self.phone = phone

    @_guarded
    def onIncomingCall(self, prm):
        self.phone.incoming(prm.callId)

    @_guarded
    def onRegState(self, prm):
        self.phone.registration(prm.code, prm.reason, prm.expiration)


class _Call(pj.Call if pj else object):
    """Only reports to the DutyPhone; decisions are made in its loop."""

    def __init__(self, account, call_id, phone, n):
        super().__init__(account, call_id)
        self.phone = phone
        self.n = n

    @_guarded
    def onCallState(self, prm):
        info = self.getInfo()
        self.phone.post(self.n, "state", info.state, info.lastStatusCode, info.lastReason)

    @_guarded
    def onCallMediaState(self, prm):
        info = self.getInfo()
        active = any(m.type == pj.PJMEDIA_TYPE_AUDIO and m.status == pj.PJSUA_CALL_MEDIA_ACTIVE
                     for m in info.media)
        self.phone.post(self.n, "media", active)

    @_guarded
    def onDtmfDigit(self, prm):
        self.phone.post(self.n, "dtmf", prm.digit)


class _ClickPort(pj.AudioMediaPort if pj else object):
    """--clicks: what the duty person says is a tone with a click every second, sent from
    this port on pjmedia's clock thread (each click's time noted as it is handed over), and
    what they hear is searched for clicks (each dated at the tick that delivered it). The
    main loop appends both to the clicks file; the callbacks only append to lists."""

    def __init__(self, path, tone_hz, index=0):
        super().__init__()
        from .clicks import ClickLog, ClickTrain
        from lawline.sip.endpoint import vector_bytes     # needs pjsua2: import here
        self._read = vector_bytes
        self._make_train = lambda: ClickTrain(tone_hz=tone_hz)
        self._make_log = ClickLog
        self.path = path
        self.call = None
        self.media = None
        self.train = self._make_train()
        self.heard = self._make_log()
        self.n = 0
        self._written = (0, 0)
        fmt = pj.MediaFormatAudio()
        fmt.type = pj.PJMEDIA_TYPE_AUDIO
        fmt.id = pj.PJMEDIA_FORMAT_PCM
        fmt.clockRate = RATE
        fmt.channelCount = 1
        fmt.bitsPerSample = 16
        fmt.frameTimeUsec = 20000
        self.createPort(f"clicks{index}", fmt)

    def attach(self, call, media):
        if self.call != call:
            self.flush()
            self.call, self.train, self.heard, self.n = call, self._make_train(), \
                self._make_log(), 0
            self._written = (0, 0)
        self.media = media
        self.startTransmit(media)
        media.startTransmit(self)

    def detach(self, call):
        """Disconnect from `call` (None: whatever call); the port is free again once its
        clicks are flushed."""
        if call is not None and call != self.call:
            return
        if self.media is not None:
            for a, b in ((self, self.media), (self.media, self)):
                try:
                    a.stopTransmit(b)
                except pj.Error:
                    pass
            self.media = None
        self.flush()
        self.call = None

    def onFrameRequested(self, frame):
        try:
            i, self.n = self.n, self.n + 1
            frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
            frame.buf = pj.ByteVector(self.train.frame(i))
            frame.size = 2 * 160
            self.train.note_sent(i, time.monotonic())
        except Exception:                   # noqa: BLE001 - see _guarded
            pass

    def onFrameReceived(self, frame):
        try:
            if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO and frame.size:
                self.heard.feed(time.monotonic(), self._read(frame.buf))
        except Exception:                   # noqa: BLE001
            pass

    def flush(self):
        """Append the clicks sent and heard since the last flush to the file."""
        if self.call is None:
            return
        sent, heard = self._written
        new_sent = self.train.sent[sent:]
        new_heard = list(zip(self.heard.times[heard:], self.heard.positions[heard:]))
        if not new_sent and not new_heard:
            return
        self._written = (sent + len(new_sent), heard + len(new_heard))
        with open(self.path, "a", encoding="utf-8") as f:
            for marker, t in new_sent:
                f.write(json.dumps({"call": self.call, "sent": marker, "mono": t}) + "\n")
            for t, position in new_heard:
                f.write(json.dumps({"call": self.call, "heard": position, "mono": t}) + "\n")


class _Leg:
    """One call as the duty phone sees it."""

    def __init__(self, n, call, remote):
        self.n = n
        self.call = call
        self.remote = remote
        self.answered = False       # a final answer (200 or 486) was sent
        self.confirmed = False
        self.media_active = False
        self.recorder = None
        self.record = None          # this call's WAV, once recording started
        self.behaviour = None       # what the person behind the called number does
        self.playing = None         # name of the player connected into the call
        self.ended = False


class DutyPhone:
    """The user agent and its loop. Callbacks post to `_inbox`; only run() acts on them."""

    def __init__(self, args):
        self.args = args
        self.events = EventLog(args.events)
        self.legs = {}
        self._inbox = []
        self._timers = []
        self._seq = itertools.count()
        self._calls = itertools.count(1)
        self._stop_reason = None
        self._finishing = []        # (deadline, leg, t, code, reason): WAVs awaiting their header
        self.ep = None
        self.account = None
        self.players = {}
        self._click_ports = []

    # ---- events in

    def request_stop(self, reason):
        self._stop_reason = self._stop_reason or reason

    def post(self, n, kind, *values):
        self._inbox.append((n, kind, values))

    def later(self, seconds, action, *values):
        heapq.heappush(self._timers, (time.monotonic() + seconds, next(self._seq), action, values))

    def incoming(self, call_id):
        """onIncomingCall: the Call object must exist before the callback returns, and
        sending 180 right away is what a handset does."""
        n = next(self._calls)
        call = _Call(self.account, call_id, self, n)
        info = call.getInfo()
        remote = info.remoteUri
        leg = self.legs[n] = _Leg(n, call, remote)
        called = _called_user(info.localUri)
        leg.behaviour = dict(self.args.behaviour_of).get(called, self.args.behaviour)
        self.events.write("incoming", n, **{"from": remote, "to": called or None,
                                             "behaviour": leg.behaviour})
        behaviour = leg.behaviour
        if self._stop_reason:
            self._answer(leg, 480)
        elif behaviour == "busy":
            self._answer(leg, 486)
        else:
            self._answer(leg, 180)
            if behaviour != "no-answer":
                self.later(self.args.answer_after, self._answer, leg, 200)

    # ---- the loop

    def run(self):
        try:
            self._start()
        except pj.Error as exc:
            log.error("cannot start the duty phone on 127.0.0.1:%s: %s",
                      self.args.port, exc.info())
            self._teardown()
            return 1
        try:
            while self._stop_reason is None:
                self._pump()
            log.info("stopping (%s)", self._stop_reason)
            self._hang_up_all()
            self._unregister()
        finally:
            self._teardown()
        return 0

    def _pump(self):
        self.ep.libHandleEvents(POLL_MS)
        while self._inbox:
            n, kind, values = self._inbox.pop(0)
            leg = self.legs.get(n)
            if leg is not None and not leg.ended:
                getattr(self, f"_on_{kind}")(leg, *values)
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, action, values = heapq.heappop(self._timers)
            leg = values[0] if values and isinstance(values[0], _Leg) else None
            if leg is None or not leg.ended:
                action(*values)
        self._finish_recordings()
        for port in self._click_ports:
            port.flush()

    # ---- call events

    def _on_state(self, leg, state, code, reason):
        if state == pj.PJSIP_INV_STATE_CONFIRMED and not leg.confirmed:
            leg.confirmed = True
            self.events.write("confirmed", leg.n)
            self._media_ready(leg)
            if leg.behaviour in ("accept", "decline"):
                self.later(self.args.key_delay, self._press_key, leg,
                           "1" if leg.behaviour == "accept" else "2")
            elif leg.behaviour == "caller":
                self._caller_answered(leg)
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self._ended(leg, code, reason)

    def _on_media(self, leg, active):
        leg.media_active = active
        self._media_ready(leg)

    def _on_dtmf(self, leg, digit):
        self.events.write("dtmf_received", leg.n, digit=digit)

    def _media_ready(self, leg):
        """Once the call is confirmed with audio flowing (early media is ignored): start
        recording, and for `silent` the announcement. Called again after every media
        change, because a re-INVITE may give the call a new bridge slot; connecting ports
        that are already connected is harmless."""
        if not (leg.confirmed and leg.media_active):
            return
        if leg.behaviour == "silent":
            leg.playing = "announcement"
        media = leg.call.getAudioMedia(-1)
        if self.args.record and leg.recorder is None and leg.record is None:
            leg.record = record_path(self.args.record, leg.n)
            try:
                recorder = pj.AudioMediaRecorder()
                recorder.createRecorder(str(leg.record))
                leg.recorder = recorder
            except pj.Error as exc:
                log.error("call %s: cannot record to %s: %s", leg.n, leg.record, exc.info())
                leg.record = None
        if leg.recorder is not None:
            media.startTransmit(leg.recorder)
        if leg.playing == "clicks":
            port = next((p for p in self._click_ports if p.call in (None, leg.n)), None)
            if port is None:
                log.error("call %s: no click port free (%d in use)", leg.n,
                          len(self._click_ports))
            else:
                port.attach(leg.n, media)
        elif leg.playing:
            self.players[leg.playing].startTransmit(media)

    # ---- actions

    def _answer(self, leg, code):
        if leg.answered or leg.ended:
            return
        prm = pj.CallOpParam()
        prm.statusCode = code
        try:
            leg.call.answer(prm)
        except pj.Error as exc:
            log.warning("call %s: answering %s failed: %s", leg.n, code, exc.info())
            return
        if code == 180:
            self.events.write("ringing", leg.n, code=code)
        else:
            leg.answered = True
            self.events.write("answered", leg.n, code=code)

    def _press_key(self, leg, digit, tries=0):
        if not leg.media_active:
            # dialDtmf needs the audio stream; a re-INVITE can briefly take it away
            if tries < 100:
                self.later(0.05, self._press_key, leg, digit, tries + 1)
            return
        try:
            if self.args.dtmf == "info":
                prm = pj.CallSendDtmfParam()
                prm.method = pj.PJSUA_DTMF_METHOD_SIP_INFO
                prm.digits = digit
                leg.call.sendDtmf(prm)
            else:
                leg.call.dialDtmf(digit)  # RFC 4733 when the far end offered telephone-event
        except pj.Error as exc:
            log.warning("call %s: sending DTMF %s failed: %s", leg.n, digit, exc.info())
            return
        self.events.write("dtmf_sent", leg.n, digit=digit)
        if digit == "1" and leg.behaviour != "caller":
            leg.playing = "clicks" if self.args.clicks else "tone"
            self._media_ready(leg)
            if self.args.hold_after:
                self.later(self.args.hold_after, self._hold, leg, True)
                self.later(self.args.hold_after + self.args.hold_for, self._hold, leg, False)

    def _hold(self, leg, hold):
        """Put the call on hold or take it off (each a re-INVITE): pjsua gives the call's
        audio a new bridge slot when the direction changes, on this side and the box's."""
        prm = pj.CallOpParam(True)
        try:
            if hold:
                leg.call.setHold(prm)
            else:
                prm.opt.flag = pj.PJSUA_CALL_UNHOLD
                leg.call.reinvite(prm)
        except pj.Error as exc:
            log.warning("call %s: %s failed: %s", leg.n, "hold" if hold else "resume",
                        exc.info())
            return
        self.events.write("held" if hold else "resumed", leg.n)

    # ---- a call this phone places (--call)

    def _dial(self):
        """One call to --call, as the switchboard transferring a caller down does."""
        self._dialled = True
        n = next(self._calls)
        call = _Call(self.account, pj.PJSUA_INVALID_ID, self, n)
        leg = self.legs[n] = _Leg(n, call, self.args.call)
        leg.behaviour = "caller"
        leg.answered = True
        prm = pj.CallOpParam(True)
        for spec in self.args.header:
            name, _, value = spec.partition(":")
            header = pj.SipHeader()
            header.hName = name.strip()
            header.hValue = value.strip()
            prm.txOption.headers.append(header)
        try:
            call.makeCall(self.args.call, prm)
        except pj.Error as exc:
            log.error("call %s: cannot call %s: %s", n, self.args.call, exc.info())
            self._disconnected(leg, time.time(), 0, exc.info())
            return
        self.events.write("calling", n, to=self.args.call)

    def _caller_answered(self, leg):
        """The far end answered: key the digits, speak (the tone), hang up later."""
        delay = self.args.key_delay
        for i, digit in enumerate(self.args.keys):
            self.later(delay + 0.3 * i, self._press_key, leg, digit)
        self.later(delay + 0.3 * len(self.args.keys), self._speak, leg)
        if self.args.hang_up_after:
            self.later(self.args.hang_up_after, self._hang_up, leg)
        if self.args.hold_after:    # as the switchboard putting the transferred call on hold
            self.later(self.args.hold_after, self._hold, leg, True)
            self.later(self.args.hold_after + self.args.hold_for, self._hold, leg, False)

    def _speak(self, leg):
        leg.playing = "tone"
        self._media_ready(leg)

    def _hang_up(self, leg):
        try:
            leg.call.hangup(pj.CallOpParam())
        except pj.Error as exc:
            log.warning("call %s: hangup failed: %s", leg.n, exc.info())
        self.events.write("hung_up", leg.n)

    # ---- the end of a call

    def _ended(self, leg, code, reason):
        leg.ended = True
        t = time.time()
        if leg.playing == "clicks":
            for port in self._click_ports:
                port.detach(leg.n)
        if leg.recorder is not None:
            # Deleting the recorder queues its removal from the bridge; the clock thread
            # destroys it and only then writes the WAV header (reference/pjsua2.md).
            leg.recorder = None
            self._finishing.append((time.monotonic() + WAV_FINISH_TIMEOUT, leg, t, code, reason))
        else:
            self._disconnected(leg, t, code, reason)

    def _finish_recordings(self):
        if not self._finishing:
            return
        now = time.monotonic()
        still = []
        for item in self._finishing:
            deadline, leg, t, code, reason = item
            if wav_is_complete(leg.record) or now >= deadline:
                if not wav_is_complete(leg.record):
                    log.warning("call %s: %s has no complete header", leg.n, leg.record)
                self._copy_latest(leg.record)
                self._disconnected(leg, t, code, reason)
            else:
                still.append(item)
        self._finishing = still

    def _copy_latest(self, path):
        """--record FILE.wav also names the latest call, for single-call users."""
        target = Path(self.args.record)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            shutil.copyfile(path, tmp)
            os.replace(tmp, target)
        except OSError as exc:
            log.warning("cannot copy %s to %s: %s", path, target, exc)

    def _disconnected(self, leg, t, code, reason):
        self.events.write("disconnected", leg.n, t=t, code=code, reason=reason or None,
                          record=str(leg.record) if leg.record else None)
        # Drop the Call only now, outside its own callback and with nothing else holding it
        del self.legs[leg.n]
        leg.call = None

    # ---- start and stop

    def _start(self):
        args = self.args
        self.ep = pj.Endpoint()
        from lawline.sip.endpoint import g711_only, stdout_to_stderr   # needs pjsua2: import here
        stdout_to_stderr(self.ep.libCreate)       # libCreate prints ~6 lines to stdout
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.userAgent = "lawline-dutyphone"
        cfg.logConfig.level = 2
        cfg.logConfig.consoleLevel = 2
        self._log_writer = _StderrLog()
        cfg.logConfig.writer = self._log_writer
        cfg.logConfig.decor = 0
        cfg.medConfig.clockRate = RATE              # no resampling, less delay and CPU
        cfg.medConfig.sndClockRate = RATE
        cfg.medConfig.channelCount = 1
        # No voice activity detection, as on the box: pjsua's adaptive silence detector
        # takes a steady test tone for background noise after about a minute and stops
        # sending, so the benches' duty clicks stopped reaching the caller at 57 s
        cfg.medConfig.noVad = True
        self.ep.libInit(cfg)
        tcfg = pj.TransportConfig()
        tcfg.port = args.port
        tcfg.boundAddress = "127.0.0.1"
        transport = self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        self.ep.libStart()
        # The wheel has no sound device: without the null device, startTransmit fails with
        # PJMEDIA_EAUD_NODEFDEV and nothing clocks the bridge.
        self.ep.audDevManager().setNullDev()
        g711_only(self.ep)
        port = int(self.ep.transportGetInfo(transport).localName.rsplit(":", 1)[1])
        self.port = port
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:duty@127.0.0.1:{port}"
        if args.registrar:
            host = args.registrar.split(":", 1)[1].split(";")[0].rsplit(":", 1)[0]
            acfg.idUri = f"sip:{args.user}@{host}"
            acfg.regConfig.registrarUri = args.registrar
            acfg.regConfig.timeoutSec = 300
            acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", args.user, 0,
                                                            args.password))
        acfg.sipConfig.transportId = transport
        # RTP on loopback too, so the SDP offers 127.0.0.1 and nothing listens outside
        acfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
        if args.srtp != "off":
            acfg.mediaConfig.srtpUse = (pj.PJMEDIA_SRTP_MANDATORY if args.srtp == "mandatory"
                                        else pj.PJMEDIA_SRTP_OPTIONAL)
            acfg.mediaConfig.srtpSecureSignaling = 0    # SDES keys over UDP: a test phone
        self.account = _Account(self)
        self.account.create(acfg, True)
        self._make_players()
        log.info("%s listening on sip:duty@127.0.0.1:%s", args.behaviour, port)
        self._ready = {"pid": os.getpid(), "port": port, "uri": acfg.idUri,
                       "behaviour": args.behaviour}
        if args.ready_file and not args.registrar:
            _write_atomically(args.ready_file, json.dumps(self._ready) + "\n")
        if args.call and not args.registrar:
            self.later(0.1, self._dial)

    def registration(self, code, reason, expiration):
        """onRegState (on this loop's thread: mainThreadOnly). With --registrar the ready
        file is written once registered, so a caller may ring the phone from then on."""
        ok = 200 <= code < 300
        event = "registered" if ok and expiration > 0 else \
            "unregistered" if ok else "registration_failed"
        self.events.write(event, 0, code=code, reason=reason)
        self._registered = ok and expiration > 0
        if event == "registered" and self.args.ready_file and \
                not self.args.ready_file.exists():
            _write_atomically(self.args.ready_file, json.dumps(self._ready) + "\n")
        if event == "registered" and self.args.call and not getattr(self, "_dialled", False):
            self.later(0.1, self._dial)

    def _unregister(self):
        """Remove this phone's contact from the registrar, so a phone started later under
        the same user is the only one rung."""
        if not (self.args.registrar and getattr(self, "_registered", False)):
            return
        try:
            self.account.setRegistration(False)
        except pj.Error as exc:
            log.warning("unregistering failed: %s", exc.info())
            return
        deadline = time.monotonic() + HANGUP_TIMEOUT
        while self._registered and time.monotonic() < deadline:
            self.ep.libHandleEvents(POLL_MS)

    def _make_players(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="lawline-dutyphone-")
        tone = Path(self._tmp.name) / "tone.wav"
        beeps = Path(self._tmp.name) / "announcement.wav"
        write_tone_wav(tone, self.args.tone_hz, 1.0)
        write_tone_wav(beeps, self.args.announcement_hz, 0.6, on_seconds=0.4, period=0.6)
        for name, path in (("tone", tone), ("announcement", beeps)):
            player = pj.AudioMediaPlayer()
            player.createPlayer(str(path))        # loops by default
            self.players[name] = player
        if self.args.clicks:
            # ports for the phone's life, one per call at once: deleting a Python port while
            # the bridge clock runs races with its callback (reference/pjsua2.md, Teardown)
            self._click_ports = [_ClickPort(self.args.clicks, self.args.tone_hz, k)
                                 for k in range(CLICK_PORTS)]

    def _hang_up_all(self):
        for leg in list(self.legs.values()):
            if leg.ended:
                continue
            prm = pj.CallOpParam()
            if not leg.answered:
                prm.statusCode = 480       # still ringing: refuse it (pjsua sends the final answer)
            try:
                leg.call.hangup(prm)
            except pj.Error as exc:
                log.warning("call %s: hangup failed: %s", leg.n, exc.info())
        deadline = time.monotonic() + HANGUP_TIMEOUT
        while (self.legs or self._finishing) and time.monotonic() < deadline:
            self._pump()

    def _teardown(self):
        """Players, recorders and calls go before libDestroy(), or it aborts the process
        (reference/pjsua2.md, Teardown)."""
        for leg in self.legs.values():
            leg.recorder = None
            leg.call = None
        self.legs.clear()
        self._finishing = []
        self._inbox.clear()
        self._timers.clear()
        self.players.clear()
        if self._click_ports:
            for port in self._click_ports:
                port.detach(None)
                port.flush()
            try:
                self.ep.audDevManager().setNoDev()   # the clock stops before the port goes
            except pj.Error:
                pass
            self._click_ports = []
        if self.account is not None:
            try:
                self.account.shutdown()
            except pj.Error:
                pass
            self.account = None
        if self.ep is not None:
            try:
                # Calls are already hung up and there is no registration to undo; without
                # NO_NETWORK, pjsua_destroy() sleeps a fixed second "for unregistration".
                self.ep.libDestroy(pj.PJSUA_DESTROY_NO_NETWORK)
            except pj.Error as exc:
                log.warning("libDestroy: %s", exc.info())
            self.ep = None
        if getattr(self, "_tmp", None) is not None:
            self._tmp.cleanup()
        self.events.close()


if __name__ == "__main__":
    sys.exit(main())
