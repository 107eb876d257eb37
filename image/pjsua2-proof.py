#!/usr/bin/env python3
"""Proof that a pjsua2 build carries audio: two processes on 127.0.0.1, one calls the other and
sends a 1 kHz tone; the callee records what arrives and checks that it is that tone.

    python3 pjsua2-proof.py [--transport udp|tls] [--seconds 4]

Run by image/pjsua2-arm64.sh in the arm64 chroot (both processes are arm64, under qemu-user).
With --transport tls the SIP leg runs over TLS (OpenSSL, a throw-away self-signed certificate
passed with --cert/--key) and the media is SRTP, mandatory on both sides. Codecs: PCMA only,
as the box uses. Exit 0 when the tone arrived, 1 otherwise. Standard library + pjsua2 only.
"""

import argparse
import math
import os
import struct
import subprocess
import sys
import time
import wave

import pjsua2 as pj

TONE_HZ = 1000
RATE = 8000


def endpoint(port, transport, cert=None, key=None):
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.medConfig.clockRate = RATE
    cfg.medConfig.sndClockRate = RATE
    cfg.medConfig.ecTailLen = 0
    cfg.logConfig.level = 1
    cfg.logConfig.consoleLevel = 1
    ep.libInit(cfg)
    tcfg = pj.TransportConfig()
    tcfg.port = port
    tcfg.boundAddress = "127.0.0.1"
    if transport == "tls":
        if cert:
            tcfg.tlsConfig.certFile = cert
            tcfg.tlsConfig.privKeyFile = key
        tcfg.tlsConfig.verifyServer = False
        tcfg.tlsConfig.verifyClient = False
        ep.transportCreate(pj.PJSIP_TRANSPORT_TLS, tcfg)
    else:
        ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
    ep.audDevManager().setNullDev()
    ep.libStart()
    for codec in ep.codecEnum2():
        ep.codecSetPriority(codec.codecId, 255 if codec.codecId.startswith("PCMA/") else 0)
    return ep


def account(ep, uri, transport, cls, rtp_port):
    acfg = pj.AccountConfig()
    acfg.idUri = uri
    acfg.mediaConfig.transportConfig.port = rtp_port   # not pjsua's 4000: other tests use it
    acfg.mediaConfig.transportConfig.portRange = 100
    if transport == "tls":
        acfg.mediaConfig.srtpUse = pj.PJMEDIA_SRTP_MANDATORY
        acfg.mediaConfig.srtpSecureSignaling = 1
    acc = cls()
    acc.create(acfg)
    return acc


def audio_media(call):
    info = call.getInfo()     # keep it alive: its media vector dies with it (SWIG)
    for mi in info.media:
        if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
            return call.getAudioMedia(mi.index), mi.index
    return None, None


def tone_ratio(path):
    """Share of the signal's energy at TONE_HZ (Goertzel over 20 ms blocks), and its RMS."""
    with wave.open(path) as w:
        assert w.getframerate() == RATE and w.getsampwidth() == 2, (w.getframerate(), w.getsampwidth())
        data = w.readframes(w.getnframes())
    samples = struct.unpack("<%dh" % (len(data) // 2), data)
    samples = samples[RATE // 2:]          # skip the first half second (jitter buffer fill)
    n = 160
    coeff = 2 * math.cos(2 * math.pi * TONE_HZ / RATE)
    tone = total = 0.0
    for i in range(0, len(samples) - n, n):
        s1 = s2 = 0.0
        block = samples[i:i + n]
        for x in block:
            s1, s2 = x + coeff * s1 - s2, s1
        tone += (s1 * s1 + s2 * s2 - coeff * s1 * s2) * 2 / n
        total += sum(x * x for x in block)
    rms = math.sqrt(total / max(1, len(samples)))
    return (tone / total if total else 0.0), rms, len(samples) / RATE


def callee(args):
    state = {"call": None, "rec": None, "media": None, "done": False, "srtp": None, "codec": None}

    class Call(pj.Call):
        def onCallMediaState(self, prm):
            am, idx = audio_media(self)
            print("callee: media state, audio %s" % ("active" if am is not None else "not active"),
                  file=sys.stderr, flush=True)
            if am is not None and state["rec"] is None:
                try:
                    self._record(am, idx)
                except Exception:  # a director callback must not raise: say it
                    import traceback
                    traceback.print_exc()

        def _record(self, am, idx):
            if True:
                rec = pj.AudioMediaRecorder()
                rec.createRecorder(args.wav)
                am.startTransmit(rec)
                state["rec"], state["media"] = rec, am
                si = self.getStreamInfo(idx)
                state["codec"] = si.codecName
                try:
                    state["srtp"] = self.getMedTransportInfo(idx).localRtpName
                except Exception:
                    pass

        def onCallState(self, prm):
            if self.getInfo().state == pj.PJSIP_INV_STATE_DISCONNECTED:
                state["done"] = True

    class Acc(pj.Account):
        def onIncomingCall(self, prm):
            call = Call(self, prm.callId)
            state["call"] = call
            op = pj.CallOpParam()
            op.statusCode = 200
            call.answer(op)

    ep = endpoint(args.port, args.transport, args.cert, args.key)
    acc = account(ep, "sip:callee@127.0.0.1:%d" % args.port, args.transport, Acc, 20000 + 2 * (args.port % 1000) * 10)
    print("READY", flush=True)
    deadline = time.monotonic() + args.seconds + 60
    while not state["done"] and time.monotonic() < deadline:
        ep.libHandleEvents(20)
    if state["rec"] is not None:
        try:
            state["media"].stopTransmit(state["rec"])
        except pj.Error:
            pass
    state["rec"] = None
    t_end = time.monotonic() + 1.0
    while time.monotonic() < t_end:
        ep.libHandleEvents(20)
    if not os.path.exists(args.wav):
        print("FAIL: no call media recorded (call %s)" % ("answered" if state["call"] else "never arrived"))
        os._exit(1)
    ratio, rms, secs = tone_ratio(args.wav)
    ok = ratio > 0.9 and rms > 300 and secs >= args.seconds - 2
    print("%s: transport=%s codec=%s received %.1f s, %.1f%% of energy at %d Hz, rms %.0f"
          % ("PASS" if ok else "FAIL", args.transport, state["codec"], secs, 100 * ratio,
             TONE_HZ, rms), flush=True)
    os._exit(0 if ok else 1)


def caller(args):
    state = {"confirmed": False, "done": False, "tone": None}

    class Call(pj.Call):
        def onCallMediaState(self, prm):
            am, _ = audio_media(self)
            if am is not None and state["tone"] is None:
                tone = pj.ToneGenerator()
                tone.createToneGenerator(RATE, 1)
                td = pj.ToneDesc()
                td.freq1, td.freq2 = TONE_HZ, 0
                td.on_msec, td.off_msec, td.volume = 30000, 0, 0
                tones = pj.ToneDescVector()
                tones.append(td)
                tone.play(tones, True)
                tone.startTransmit(am)
                state["tone"] = tone

        def onCallState(self, prm):
            st = self.getInfo().state
            if st == pj.PJSIP_INV_STATE_CONFIRMED:
                state["confirmed"] = time.monotonic()
            elif st == pj.PJSIP_INV_STATE_DISCONNECTED:
                state["done"] = True

    ep = endpoint(args.port + 1, args.transport)
    acc = account(ep, "sip:caller@127.0.0.1", args.transport, pj.Account, 21000 + 2 * (args.port % 1000) * 10)
    call = Call(acc)
    suffix = ";transport=tls" if args.transport == "tls" else ""
    call.makeCall("sip:callee@127.0.0.1:%d%s" % (args.port, suffix), pj.CallOpParam(True))
    deadline = time.monotonic() + 30
    while not state["done"] and time.monotonic() < deadline:
        ep.libHandleEvents(20)
        if state["confirmed"] and time.monotonic() - state["confirmed"] > args.seconds:
            break
    if not state["confirmed"]:
        print("FAIL: call not confirmed", flush=True)
        os._exit(1)
    call.hangup(pj.CallOpParam())
    t_end = time.monotonic() + 2
    while not state["done"] and time.monotonic() < t_end:
        ep.libHandleEvents(20)
    print("caller: call confirmed, tone sent %.1f s" % args.seconds, flush=True)
    os._exit(0)


def main():
    sys.stdout.reconfigure(line_buffering=True)   # results must survive os._exit()
    ap = argparse.ArgumentParser()
    ap.add_argument("--role", choices=["both", "callee", "caller"], default="both")
    ap.add_argument("--transport", choices=["udp", "tls"], default="udp")
    ap.add_argument("--port", type=int, default=5071)
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--wav", default="/tmp/pjsua2-proof.wav")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    args = ap.parse_args()
    if args.role == "callee":
        return callee(args)
    if args.role == "caller":
        return caller(args)
    if os.path.exists(args.wav):
        os.unlink(args.wav)
    base = [sys.executable, os.path.abspath(__file__), "--transport", args.transport,
            "--port", str(args.port), "--seconds", str(args.seconds), "--wav", args.wav]
    extra = ["--cert", args.cert, "--key", args.key] if args.cert else []
    t0 = time.monotonic()
    callee_p = subprocess.Popen(base + ["--role", "callee"] + extra, stdout=subprocess.PIPE, text=True)
    for line in callee_p.stdout:            # pjsua2 logs to stdout too
        if line.strip() == "READY":
            break
        sys.stdout.write(line)
    else:
        print("FAIL: callee did not start")
        return 1
    caller_rc = subprocess.call(base + ["--role", "caller"])
    out = callee_p.stdout.read()
    rc = callee_p.wait()
    sys.stdout.write(out)
    print("two-process %s call: caller rc %d, callee rc %d, %.1f s wall"
          % (args.transport, caller_rc, rc, time.monotonic() - t0))
    return 0 if rc == 0 and caller_rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
