"""A simulated V.253 voice modem on an analog line (reference/modems.md section 4, 6.8-6.10).

One pty carries AT commands and, in a data state, the samples. What it does:
- AT+FCLASS=8 voice mode; RING each ring; after the first RING, with AT+VCID=1 (and the
  China country code AT+GCI=26), the caller-ID block DATE/TIME/NMBR[/NAME] with or without
  spaces around '=' (NMBR=P withheld, NMBR=O unavailable);
- AT+VLS=1 goes off-hook (answers a ringing call), AT+VLS=0 or ATH on-hook;
- AT+VSM=? lists the profile's formats, AT+VSM=<cml>,8000,... picks one;
- AT+VTX (play), AT+VRX (record), and AT+VTR (full duplex) only when the profile has it, each
  answered CONNECT; samples are DLE-shielded both ways; DTMF from the far end arrives as
  DLE <digit>; the host leaves with DLE ETX / DLE ! / DLE ^ and the modem closes with DLE ETX
  (not after VTX) and OK;
- when the far end hangs up the modem hears a busy tone: DLE b (the profile's cue), repeated
  every second while the line stays off-hook;
- AT+VSD=<sds>,<sdi> arms its silence detector (reference/modems.md 4.4): in a data state
  that sends the far end's samples (record, duplex), `sdi` tenths of a second without voice
  give DLE q after voice was heard, DLE s when none was; it then listens anew.
"""

import logging
import time

import numpy as np

from lawline.line import voice
from .atparse import frame
from .audio import EARLY, MAX_CATCH_UP, PLAYOUT_PREFILL_MS, Uplink
from .modem import ERROR, Reply, SimModem, fixed, setting

log = logging.getLogger("lawline_rig.sim")

DLE = b"\x10"
# A pattern of sample bytes full of DLE and of bytes that follow DLE in events (ETX, s, b, !,
# SUB): a host that does not undo the shielding byte by byte ends its recording on it.
DLE_STORM = bytes([0x10, 0x03, 0x10, 0x10, 0x73, 0x10, 0x62, 0x10, 0x21, 0x10, 0x1A, 0x10])
# A 20 ms frame of the far end louder than this (RMS of 32768, about -40 dBFS) is voice to
# the silence detector at its nominal sensitivity (128)
VOICE_RMS = 320.0


class V253Stream:
    """The voice data of a V.253 modem: the far end's audio out to the host in the chosen
    format (paced, 20 ms), the host's samples in to the far end (S16LE uplink)."""

    def __init__(self, modem, port, profile):
        self.modem = modem
        self.side = modem.side
        self.port = port
        self.frame_bytes = profile.frame_bytes          # S16LE 20 ms: what the far end uses
        self.base_period = profile.frame_ms / 1000.0
        self.period = self.base_period
        # one second of the host's samples, played once the same cushion as a GSM module's
        # PCM is queued (sim/audio.py PLAYOUT_PREFILL_MS): without it every late host frame
        # was a 20 ms slip in what the caller heard (a demo missed case_number at 0.50)
        self.uplink = Uplink(profile.pcm_rate * 2,
                             prefill=self.frame_bytes * PLAYOUT_PREFILL_MS // profile.frame_ms)
        self.far = None
        self.on = False                                 # host samples reach the far end
        self.sending = False                            # far-end samples go to the host
        self.frames = self.skipped = 0
        self.storm_until = 0.0
        self._timer = None
        self._next = 0.0
        self.quiet_since = 0.0      # the silence detector: since when no voice, and
        self.voiced = False         # whether voice came since it last listened anew

    @property
    def dropped(self):
        return self.port.dropped

    def set_skew(self, ppm):
        self.period = self.base_period * (1.0 + ppm / 1e6)

    def start(self):
        pass  # the data state decides (play / record / duplex)

    def stop(self):
        self.on = False
        self.sending = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.uplink.clear()

    def data_state(self, mode):
        loop = self.modem._loop
        self.on = mode in ("play", "duplex")
        self.sending = mode in ("record", "duplex")
        if self.sending and self._timer is None:
            self._next = loop.time() + self.period
            self._timer = loop.call_at(self._next, self._tick)
        if self.sending:
            self.quiet_since, self.voiced = loop.time(), False
        if not self.sending and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tick(self):
        loop = self.modem._loop
        now = loop.time()
        if now - self._next > MAX_CATCH_UP:
            missed = int((now - self._next) / self.period)
            self.skipped += missed
            self._next += missed * self.period
        while self._next <= now + EARLY:
            far = self.far
            pcm = far.uplink.take(self.frame_bytes) if far is not None and far.on else \
                bytes(self.frame_bytes)
            self._detect(pcm, now)
            samples = self.modem.format.from_s16(pcm)
            if time.monotonic() < self.storm_until:
                samples = (DLE_STORM * (len(samples) // len(DLE_STORM) + 1))[:len(samples)]
            self.port.write(voice.shield(samples))
            self.frames += 1
            self._next += self.period
        self._timer = loop.call_at(self._next, self._tick)


    def _detect(self, pcm, now):
        """AT+VSD's silence detector over the far end's frame (reference/modems.md 4.4)."""
        sdi = self.modem.vsd_sdi
        if not sdi:
            return
        x = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
        if x.size and float(np.sqrt(np.mean(x * x))) > VOICE_RMS:
            self.quiet_since, self.voiced = now, True
        elif now - self.quiet_since >= sdi / 10:
            code = "q" if self.voiced else "s"
            self.modem.log_decision(f"silence detector: {sdi / 10:g} s without voice: DLE "
                                    f"{code} ({'quiet after voice' if self.voiced else 'no voice'})")
            self.port.write(DLE + code.encode())
            self.quiet_since, self.voiced = now, False


class V253SimModem(SimModem):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sms = None             # an analog line: no SMS
        self.data_mode = None       # None (command state), "play", "record", "duplex"
        self._decoder = voice.DleDecoder()
        self._cue_timer = None
        self.far_gone = False

    def make_pcm(self, port):
        return V253Stream(self, port, self.profile)

    def reset_settings(self):
        super().reset_settings()
        self.fclass = 0
        self.vcid = 0               # some units forget it on reset (modems.md 4.1)
        self.gci = "B5"             # the US, until told otherwise (4.6)
        self.off_hook = False
        self.vit = 10
        self.vsd_sdi = 0            # AT+VSD: the silence period in 0.1 s (0: off)
        formats = voice.parse_vsm(self.profile.vsm_formats)
        self.format = formats[0] if formats else None
        if getattr(self, "data_mode", None):
            self._end_data(quiet=True)

    # -- bytes in: commands, or samples in a data state ---------------------------------------

    def feed(self, data):
        if self.data_mode is None:
            return super().feed(data)
        samples, events, end = self._decoder.feed(data)
        if samples and self.data_mode in ("play", "duplex") and self.format is not None:
            self.pcm.uplink.push(self.format.to_s16(samples))
        for code in events:
            self._host_code(code)
            if self.data_mode is None:
                break
        if end is not None and self.data_mode == "play":
            # VTX ends with the host's DLE ETX; the modem plays out and says OK (4.3)
            self._end_data()
            self._send(frame("OK"))
            rest = data[end:]
            if rest:
                super().feed(rest)

    def _host_code(self, code):
        mode = self.data_mode
        if (mode == "record" and code == "!") or (mode == "duplex" and code == "^"):
            self._end_data()
            self._send(DLE + b"\x03" + frame("OK"))
        elif code == "\x18":  # DLE CAN: flush what is buffered for playing
            self.pcm.uplink.clear()
        else:
            self.log_decision(f"host sent DLE {code!r} in {mode}: ignored")

    def _start_data(self, mode):
        self.data_mode = mode
        self._decoder.reset()
        self.pcm.data_state(mode)
        self.log_decision(f"voice {mode} ({self.format.name}); host samples "
                          f"{'go to the far end' if self.pcm.on else 'ignored'}")
        if self.far_gone:
            self._cue()

    def _end_data(self, quiet=False):
        mode, self.data_mode = self.data_mode, None
        self.pcm.data_state(None)
        if not quiet:
            self.log_decision(f"voice {mode} ends")

    def dle_storm(self, seconds):
        self.pcm.storm_until = time.monotonic() + seconds

    # -- what the network says, the analog way ---------------------------------------------

    def clcc_line(self, call, stat):
        return ""

    def call_state(self, call, stat):
        pass  # no +CLCC on an analog line

    def ring(self, call):
        self.urc(self.profile.ring)
        if call.rings == 1 and self.vcid == 1:
            if self.gci != "26":
                # A US-set modem misreads China's caller ID (4.6, HA #20116): nothing comes.
                self.log_decision("caller ID not decoded: AT+GCI is not 26 (China)")
            else:
                self.urc("", *self._cid_block(call))
        return "RING"

    def _cid_block(self, call):
        p = self.line.presentation
        spaced = (p["cid_spacing"] or self.profile.cid_spacing) == "spaced"
        eq = " = " if spaced else "="
        now = time.localtime()
        number = call.shown.replace("+", "00") if call.shown else p["cid_withheld"]
        lines = [f"DATE{eq}{now.tm_mon:02d}{now.tm_mday:02d}",
                 f"TIME{eq}{now.tm_hour:02d}{now.tm_min:02d}", f"NMBR{eq}{number}"]
        if p["cid_name"]:
            lines.append(f"NAME{eq}{p['cid_name']}")
        return lines

    def answered(self, call):
        self.far_gone = False

    def released(self, call, seconds, by_self=False):
        if by_self or not self.off_hook:
            return
        # The far end hung up: the line gives a busy tone after a moment (China: 450 Hz).
        self.far_gone = True
        self._cue_timer = self._loop.call_later(self.profile.hangup_cue_delay, self._cue)

    def _cue(self):
        self._cue_timer = None
        if not (self.far_gone and self.off_hook):
            return
        if self.data_mode is not None:
            self.log_decision(f"far end gone: DLE {self.profile.hangup_cue} "
                              f"({'busy tone' if self.profile.hangup_cue == 'b' else 'cue'})")
            self.port.write(DLE + self.profile.hangup_cue.encode())
        self._cue_timer = self._loop.call_later(1.0, self._cue)

    def missed(self, call):
        pass  # the rings just stop

    def dtmf_in(self, key):
        if self.data_mode is None:
            return None  # reported only in a data state
        self.port.write(DLE + key.encode())
        return f"DLE {key}"

    def _go_on_hook(self):
        self.off_hook = False
        self.far_gone = False
        if self._cue_timer is not None:
            self._cue_timer.cancel()
            self._cue_timer = None
        self.line.hangup(self)

    # -- commands --------------------------------------------------------------------------

    def _voice(self):
        return self.fclass == 8

    def _ata(self, arg):
        if self._voice() and self.line.can_answer(self):
            self.off_hook = True
            return Reply(then=lambda: self.line.answer(self))
        return SimModem._ata(self, arg)

    def _ath(self, arg):
        if arg not in ("", "0"):
            return ERROR
        return Reply(then=self._go_on_hook)

    def _ati(self, arg):
        return Reply([self.profile.model])

    def _atz(self, arg):
        if arg not in ("", "0"):
            return ERROR
        self.reset_settings()
        if self.off_hook:
            return Reply(then=self._go_on_hook)
        return Reply()

    def _fclass(self, kind, args):
        if kind == "read":
            return Reply([str(self.fclass)])
        if kind == "test":
            return Reply(["0,1,1.0,8"])
        if kind == "set" and args and args[0] in ("0", "1", "8"):
            self.fclass = int(args[0])
            return Reply()
        return ERROR

    def _gci(self, kind, args):
        if kind == "read":
            return Reply([f"+GCI: {self.gci}"])
        if kind == "test":
            return Reply(["+GCI: (00,26,B4,B5)"])
        if kind == "set" and args and args[0].upper() in ("00", "26", "B4", "B5"):
            self.gci = args[0].upper()
            return Reply()
        return ERROR

    def _vsm(self, kind, args):
        if kind == "test":
            return Reply(list(self.profile.vsm_formats))
        if kind == "read":
            return Reply([f"{self.format.cml},8000,0,0"])
        if kind == "set" and args and args[0].isdigit():
            chosen = next((f for f in voice.parse_vsm(self.profile.vsm_formats)
                           if f.cml == int(args[0])), None)
            if chosen is None or (len(args) > 1 and args[1] not in ("", "8000")):
                return ERROR
            self.format = chosen
            return Reply()
        return ERROR

    def _vls(self, kind, args):
        if kind == "read":
            return Reply([str(int(self.off_hook))])
        if kind == "test":
            return Reply(['0,"",00000000,00000000,00000000', '1,"T",0B8433C1,00000000,00000000'])
        if kind != "set" or not args or args[0] not in ("0", "1") or not self._voice():
            return ERROR
        if args[0] == "0":
            return Reply(then=self._go_on_hook)
        self.off_hook = True
        if self.line.can_answer(self):
            return Reply(then=lambda: self.line.answer(self))
        return Reply()

    def _data_command(mode):
        def handler(self, kind, args):
            if kind == "test":
                return Reply() if mode != "duplex" or self.profile.vtr else ERROR
            if kind != "exec":
                return ERROR
            if mode == "duplex" and not self.profile.vtr:
                self.log_decision("AT+VTR refused: this modem has no full duplex")
                return ERROR
            if not self._voice() or not self.off_hook or self.format is None:
                self.log_decision(f"{mode} refused: not off-hook in voice mode")
                return ERROR
            return Reply(final="CONNECT", then=lambda: self._start_data(mode))
        return handler

    def _vsd(self, kind, args):
        """AT+VSD=<sds>,<sdi>: sensitivity (128 nominal) and silence period in 0.1 s."""
        if kind == "test":
            return Reply(["(0-255),(0-255)"])
        if kind == "read":
            return Reply([f"128,{self.vsd_sdi}"])
        if kind == "set" and 1 <= len(args) <= 2 and \
                all(a.isdigit() and 0 <= int(a) <= 255 for a in args):
            self.vsd_sdi = int(args[1]) if len(args) == 2 else self.vsd_sdi
            return Reply()
        return ERROR

    def _number(name, low, high, attr=None):
        def handler(self, kind, args):
            if kind == "test":
                return Reply([f"({low}-{high})"])
            if kind == "read":
                return Reply([str(getattr(self, attr, low) if attr else low)])
            if kind == "set" and all(a.isdigit() and low <= int(a) <= high for a in args if a):
                if attr and args and args[0]:
                    setattr(self, attr, int(args[0]))
                return Reply()
            return ERROR
        return handler

    _BASIC = {**SimModem._BASIC, "A": _ata, "H": _ath, "I": _ati, "Z": _atz, "&F": _atz}

    _EXTENDED = {
        "+FCLASS": _fclass,
        "+GCI": _gci,
        "+VCID": setting("vcid", "+VCID", ("0", "1", "2")),
        "+VSM": _vsm,
        "+VLS": _vls,
        "+VTX": _data_command("play"),
        "+VRX": _data_command("record"),
        "+VTR": _data_command("duplex"),
        "+VIT": _number("+VIT", 0, 255, "vit"),
        "+VSD": _vsd,
        "+VGT": _number("+VGT", 0, 255),
        "+VGR": _number("+VGR", 0, 255),
        "+VRA": _number("+VRA", 0, 255),
        "+VRN": _number("+VRN", 0, 255),
        "+VDR": _number("+VDR", 0, 255),
        "+IFC": _number("+IFC", 0, 2),
        "+GMI": fixed(lambda self: self.profile.manufacturer),
        "+GMM": fixed(lambda self: self.profile.model),
        "+GMR": fixed(lambda self: self.profile.revision),
    }

    del _data_command, _number, _vsd
