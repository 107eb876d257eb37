"""One simulated GSM modem (SIM7600 by default): its AT interpreter and settings, speaking bytes
on a pty. quectel.py and v253.py derive the other models from it.

Framing follows V.250 (modems.md, top): a command line ends with CR (LF is ignored), echo is
on after boot (`AT\\r` -> `AT\\r\\r\\nOK\\r\\n`), every response line is `\\r\\nTEXT\\r\\n`.
Command lines are handled one at a time in arrival order; the echo of a line is written when
its turn comes, so an echo never lands inside another command's reply. Each reply and each
URC is one write, so a URC never lands inside a line.
"""

import asyncio
import inspect
import logging
import re

from . import profiles
from . import sms as sms_commands
from .atparse import (CR, EXTENDED_COMMAND, LF, MAX_LINE, S_REGISTER, edit_line, frame, split_args,
                      split_commands, unquote)
from . import line as line_mod
from .faults import ArmedFaults
from .replies import ERROR, Reply, _flag, fixed, setting  # noqa: F401 (re-exported)

log = logging.getLogger("lawline_rig.sim")


class SimModem:
    def __init__(self, side, number, profile, port, wire, role=None, line_no=1):
        self.side = side            # unique name in logs: box, caller (line 1), box2, caller2...
        self.role = role or side    # "box" or "caller"
        self.line_no = line_no      # which line of the loopback line (1, 2, ...)
        self.number = number
        self.profile = profile
        self.port = port
        self.wire = wire
        self.imei = profiles.imei(profile, self.role, line_no)
        self.imsi = profiles.imsi(profile, self.role, line_no)
        self.smsc = profile.smsc  # kept on the SIM: survives a reset
        self.line = None  # the Line joining both modems; set by Line
        self.renew_ports = None  # set by the server: replace this side's ptys
        self.pcm = None  # this side's PcmStream
        self.faults = ArmedFaults()
        self.sms = sms_commands.SmsState(profile)
        self._rx = bytearray()
        self._body = None  # AT+CMGS input: (future, bytearray) until Ctrl-Z or ESC
        self._queue = asyncio.Queue()
        self._loop = None
        self._boot_until = 0.0
        self._boot_timer = None
        self.reset_settings()

    # -- settings ---------------------------------------------------------------

    def reset_settings(self):
        """Factory defaults, as after power-up, ATZ or AT&F."""
        self.echo = True
        self.clip = False
        self.crc = False
        self.cmee = 0
        self.clcc_report = False
        self.ddet = self.profile.dtmf_detect_default
        self.creg_n = 0
        self.cvhu = 0
        self.pcm_frm = 0
        self.vtd = 1
        self.clir = 0
        self.sregs = {0: 0, 3: 13, 4: 10, 5: 8}
        if self.sms is not None:
            self.sms.reset()

    def make_pcm(self, port):
        """This model's call-audio stream on `port` (USB PCM: S16LE frames, modems.md 1.5)."""
        from .audio import PcmStream
        return PcmStream(self.side, port, self.profile)

    def ears(self):
        """Where the far end's voice goes to this side's host: the PCM stream (and, on the
        EC25 with its USB sound card, the card); each has a `far`."""
        card = getattr(self, "uac", None)
        return [self.pcm] if card is None else [self.pcm, card]

    def voice(self):
        """What the far end hears of this side (something with `on` and `uplink`)."""
        card = getattr(self, "uac", None)
        if card is None:
            return self.pcm
        from .audio import FarSide
        return FarSide(self.pcm, card)

    def log_decision(self, text):
        log.info("sim %s: %s", self.side, text)

    # -- bytes in ---------------------------------------------------------------

    def attach(self, loop):
        self._loop = loop
        self.port.start(loop, self.feed)

    def feed(self, data):
        for b in data:
            if self._body is not None:
                self._body_byte(b)
                continue
            if b == CR:
                self._queue.put_nowait(bytes(self._rx))
                self._rx.clear()
            elif b == LF:
                continue  # hosts that end lines with CR LF: the LF means nothing here
            elif len(self._rx) < MAX_LINE:
                self._rx.append(b)

    def _body_byte(self, b):
        future, body = self._body
        if b in (sms_commands.CTRL_Z, sms_commands.ESC):
            self._body = None
            if not future.done():
                future.set_result(bytes(body) if b == sms_commands.CTRL_Z else None)
            return
        body.append(b)
        if self.echo:
            self.port.write(bytes([b]))

    async def read_body(self, prompt):
        """Send the prompt, then collect what the host types up to Ctrl-Z (None on ESC)."""
        future = self._loop.create_future()
        self._body = (future, bytearray())
        self._send(prompt)
        return await future

    def booting(self):
        return self._loop is not None and self._loop.time() < self._boot_until

    async def serve(self):
        while True:
            raw = await self._queue.get()
            try:
                await self._handle_line(raw)
            except Exception:  # a bug in one command must not deafen the modem
                log.exception("sim %s: failed handling %r", self.side, raw)
                self._send(frame("ERROR"))

    async def _handle_line(self, raw):
        if self.booting():
            self.wire.received(self.side, raw, "ignored: booting")
            return
        self.wire.received(self.side, raw)
        if self.echo:
            self.port.write(raw + b"\r")
        text = edit_line(raw)
        at = text.upper().find("AT")
        if at < 0:
            return  # V.250: nothing without the "AT" prefix is a command
        body = text[at + 2:]
        shown = text[at:]
        if self.faults.take("no_reply") is not None:
            self.log_decision(f"no_reply fault swallows {shown!r}")
            return
        late = self.faults.take("late_reply")
        if late is not None:
            self.log_decision(f"late_reply fault holds {shown!r} for {late:g} ms")
            await asyncio.sleep(late / 1000.0)
            if self.booting():
                return
        lines, final, thens = await self._execute(body)
        if self.booting():
            return  # the module reset while this command ran: nobody is left to answer
        urc = self.faults.take("urc_in_reply")
        frames = [frame(x) for x in lines]
        if urc is not None:
            frames.insert(1 if frames else 0, frame(urc))
            self.log_decision(f"urc_in_reply fault puts {urc!r} inside the reply to {shown!r}")
        frames.append(frame(final))
        self._send(b"".join(frames))
        for then in thens:
            then()

    async def _execute(self, body):
        try:
            commands = split_commands(body)
        except ValueError:
            return [], "ERROR", []
        lines, thens, final = [], [], "OK"
        for command in commands:
            reply = self._dispatch(command)
            if inspect.isawaitable(reply):
                reply = await reply
            lines += reply.lines
            if reply.then is not None:
                thens.append(reply.then)
            if not reply.ok:
                return lines, reply.final or "ERROR", thens
            if reply.final:
                final = reply.final  # V.253 +VTX/+VRX/+VTR succeed with CONNECT
        return lines, final, thens

    # -- bytes out --------------------------------------------------------------

    def _send(self, data):
        # logged first: a client that reads the bytes and acts may look at wire.log at once
        self.wire.sent(self.side, data)
        self.port.write(data)

    def urc(self, *lines):
        """Send unsolicited lines in one write (RING and +CLIP together, as python-gsmmodem
        needs them: modems.md 5.6)."""
        if self.booting():
            return
        if self.faults.take("double_cr") is not None:
            data = b"".join(b"\r\r\n" + x.encode("latin-1") + b"\r\r\n" for x in lines)
        else:
            data = b"".join(frame(x) for x in lines)
        self._send(data)

    def send_garbage(self, data):
        self.wire.garbage(self.side, data)
        self.port.write(data)

    def reboot(self, boot_time=None):
        """Power-cycle: settings to defaults, input dropped until the boot URCs are out."""
        boot_time = self.profile.boot_time if boot_time is None else boot_time
        self.reset_settings()
        self.faults.clear()
        self._rx.clear()
        while not self._queue.empty():
            self._queue.get_nowait()
        self._boot_until = self._loop.time() + boot_time
        if self._boot_timer is not None:
            self._boot_timer.cancel()
        self._boot_timer = self._loop.call_at(self._boot_until, self._booted)
        self.log_decision(f"module resets; deaf for {boot_time:g} s, then {', '.join(self.profile.boot_urcs)}")

    def port_gone(self, seconds, reset=True):
        """USB re-enumeration: the ports vanish for `seconds` and come back renamed; with
        `reset` the module reboots too (the call drops)."""
        if reset:
            self.line.reset(self, max(self.profile.boot_time, seconds))
        card = getattr(self, "uac", None)
        if card is not None:
            card.gone(seconds)          # the USB sound card is on the same USB device
        self.renew_ports("close")
        self.log_decision(f"USB re-enumeration: the ports are gone for {seconds:g} s")
        self._loop.call_later(seconds, self._ports_back)

    def audio_gone(self, seconds):
        """The call audio's far end hangs up for `seconds`: the audio pty closes and comes
        back under a new name (a USB audio interface re-enumerated, the AT port staying);
        on a model with a USB sound card, the card goes away instead; a V.253 modem's audio
        is its AT port, which goes (without a reset)."""
        card = getattr(self, "uac", None)
        if card is not None:
            card.gone(seconds)
            return
        if self.pcm.port is self.port:
            self.port_gone(seconds, reset=False)
            return
        self.renew_ports("close", ("audio",))
        self.log_decision(f"the audio port's far end hangs up; back in {seconds:g} s")
        self._loop.call_later(seconds, self._audio_back)

    def _audio_back(self):
        self.renew_ports("open", ("audio",))
        self.log_decision(f"audio port back: {self.pcm.port.path}")

    def _ports_back(self):
        self.renew_ports("open")
        self.log_decision(f"USB ports back: AT {self.port.path}")

    def _booted(self):
        self._boot_timer = None
        self._boot_until = 0.0
        self.urc(*self.profile.boot_urcs)

    # -- what the network tells this modem (called by Line) -------------------------
    # Each returns nothing but says it the way this model does; subclasses change the words.

    def clcc_line(self, call, stat):
        far = call.other(self)
        number = call.shown if self is call.target else far.number
        kind = profiles.number_type(self.profile, number) if number else 128
        direction = 0 if self is call.origin else 1
        return f'+CLCC: 1,{direction},{stat},0,0,"{number}",{kind}'

    def call_state(self, call, stat):
        # With AT+CLCC=1 SIMCom pushes a +CLCC line on every state change; 6 = released
        # (modems.md 1.3). Models without stat 6 say nothing at release.
        if self.clcc_report and (stat != 6 or self.profile.clcc_released):
            self.urc(self.clcc_line(call, stat))

    def clip_line(self, shown):
        return profiles.clip_line(self.profile, shown, self.line.presentation["clip_tail"])

    def ring(self, call):
        lines = [self.profile.cring if self.crc else self.profile.ring]
        if self.clip:
            lines.append(self.clip_line(call.shown))
        self.urc(*lines)
        return lines[0]

    def answered(self, call):
        if self.profile.call_begin:
            self.urc(self.profile.call_begin)

    def released(self, call, seconds, by_self=False):
        end = self.profile.call_end.format(seconds=seconds) if self.profile.call_end else None
        self.urc(*([end] if end else []), self.profile.no_carrier)

    def missed(self, call):
        if self.profile.missed_call:
            self.urc(self.profile.missed_call.format(time=line_mod.missed_call_time(),
                                                     number=call.shown))
        else:
            self.urc(self.profile.no_carrier)

    def no_carrier(self):
        self.urc(self.profile.no_carrier)

    def dtmf_in(self, key):
        """The far end sent DTMF `key`; returns the URC if it was reported."""
        if not self.ddet:
            return None
        text = self.profile.rxdtmf.format(key=key, code=ord(key))
        self.urc(text)
        return text

    # -- commands ---------------------------------------------------------------

    def _dispatch(self, command):
        first = command[0].upper()
        if first == "D":
            return self._dial(command[1:])
        if first == "S":
            return self._s_register(command)
        if first in "+^$*#%!":
            m = EXTENDED_COMMAND.fullmatch(command)
            if not m:
                return ERROR
            name, form, value = m.group(1).upper(), m.group(2), m.group(3)
            handler = self._EXTENDED.get(name)
            if handler is None:
                return ERROR
            if form is None:
                return handler(self, "exec", [])
            if form.endswith("?"):
                return handler(self, "test" if form.startswith("=") else "read", [])
            return handler(self, "set", split_args(value))
        if first == "&":
            name, arg = command[:2].upper(), command[2:]
        else:
            name, arg = first, command[1:]
        handler = self._BASIC.get(name)
        if handler is None:
            return ERROR
        return handler(self, arg)

    # Basic commands -------------------------------------------------------------

    def _ata(self, arg):
        if not self.line.can_answer(self):
            self.log_decision("ATA refused: nothing is ringing")
            return ERROR
        return Reply(then=lambda: self.line.answer(self))

    def _dial(self, dial_string):
        text = re.sub(r"[\s\-()]", "", dial_string)
        if not text.endswith(";"):
            self.log_decision(f"ATD{dial_string} refused: only voice calls (ending in ';') are simulated")
            return ERROR
        number = text[:-1]
        if not number or not re.fullmatch(r"\+?[0-9*#]+", number):
            return ERROR
        if self.line.busy(self):
            self.log_decision(f"ATD{number}; refused: a call is already in progress")
            return ERROR
        return Reply(then=lambda: self.line.dial(self, number))

    def _ate(self, arg):
        if arg not in ("", "0", "1"):
            return ERROR
        self.echo = arg == "1"
        return Reply()

    def _ath(self, arg):
        if arg not in ("", "0"):
            return ERROR
        return Reply(then=lambda: self.line.hangup(self))

    def _ati(self, arg):
        if arg not in ("", "0"):
            return ERROR
        p = self.profile
        block = "\r\n".join([f"Manufacturer: {p.manufacturer}", f"Model: {p.model}",
                             f"Revision: {p.revision}", f"IMEI: {self.imei}", "+GCAP: +CGSM"])
        return Reply([block])

    def _atq(self, arg):
        return Reply() if arg in ("", "0") else ERROR

    def _atv(self, arg):
        # Numeric result codes (ATV0) are not simulated.
        return Reply() if arg == "1" else ERROR

    def _atx(self, arg):
        return Reply()

    def _atz(self, arg):
        if arg not in ("", "0"):
            return ERROR
        self.reset_settings()
        return Reply()

    def _at_amp_w(self, arg):
        return Reply()

    def _s_register(self, command):
        m = S_REGISTER.fullmatch(command)
        reg = int(m.group(1))
        if m.group(2) == "?":
            return Reply([f"{self.sregs.get(reg, 0):03d}"])
        if m.group(2) and len(m.group(2)) > 1:
            value = int(m.group(2)[1:])
            if value > 255:
                return ERROR
            self.sregs[reg] = value
        return Reply()

    _BASIC = {
        "A": _ata, "E": _ate, "H": _ath, "I": _ati, "Q": _atq, "V": _atv, "X": _atx, "Z": _atz,
        "&F": _atz, "&W": _at_amp_w,
    }

    # Extended commands ----------------------------------------------------------

    def _cpin(self, kind, args):
        if kind == "read":
            return Reply(["+CPIN: READY"])
        return Reply() if kind == "test" else ERROR

    def _csq(self, kind, args):
        if kind == "exec":
            return Reply([self.profile.csq])
        if kind == "test":
            return Reply(["+CSQ: (0-31,99),(0-7,99)"])
        return ERROR

    def _creg(self, kind, args):
        if kind == "read":
            return Reply([f"+CREG: {self.creg_n},1"])
        if kind == "set" and _flag(args, ("0", "1", "2")) is not None:
            self.creg_n = int(args[0])
            return Reply()
        if kind == "test":
            return Reply(["+CREG: (0-2)"])
        return ERROR

    def _cops(self, kind, args):
        if kind == "read":
            return Reply([f'+COPS: 0,0,"{self.profile.operator}",7'])
        if kind in ("set", "test"):
            return Reply()
        return ERROR

    def _cfun(self, kind, args):
        if kind == "read":
            return Reply(["+CFUN: 1"])
        if kind == "set" and _flag(args, ("0", "1", "4")) is not None:
            return Reply()
        if kind == "test":
            return Reply(["+CFUN: (0,1,4),(0-1)"])
        return ERROR

    def _clip(self, kind, args):
        if kind == "read":
            return Reply([f"+CLIP: {int(self.clip)},1"])
        return self._CLIP_SET(kind, args)

    def _clcc(self, kind, args):
        if kind == "exec":
            return Reply(self.line.clcc_lines(self))
        return self._CLCC_SET(kind, args)

    def _ddet(self, kind, args):
        # AT+DDET=<mode>[,<interval>[,<reportMode>[,<ssdet>]]]: only <mode> matters here.
        if kind == "set" and _flag(args) is not None:
            self.ddet = args[0] == "1"
            return Reply()
        if kind == "read":
            return Reply([f"+DDET: {int(self.ddet)}"])
        if kind == "test":
            return Reply(["+DDET: (0-1)"])
        return ERROR

    def _cpcmreg(self, kind, args):
        if kind == "read":
            return Reply([f"+CPCMREG: {int(self.pcm.on)}"])
        if kind == "test":
            return Reply(["+CPCMREG: (0-1)"])
        if kind != "set" or _flag(args) is None:
            return ERROR
        # A second parameter (RoEdAl sends "=0,0"; meaning [?], modems.md 1.5) is accepted and ignored.
        if args[0] == "0":
            return Reply(then=self.pcm.stop)
        if not self.line.call_active(self):
            # modems.md 1.5: ERROR when sent before the call is fully up.
            self.log_decision("AT+CPCMREG=1 refused: no active call")
            return ERROR
        if self.faults.take("cpcmreg_refuse") is not None:
            self.log_decision("cpcmreg_refuse fault answers ERROR to AT+CPCMREG=1")
            return ERROR
        return Reply(then=self.pcm.start)

    def _vts(self, kind, args):
        if kind == "test":
            return Reply(["+VTS: (0-9,*,#,A,B,C,D)"])
        if kind != "set" or not args or not args[0]:
            return ERROR
        keys = unquote(args[0]).upper()
        if not keys or any(k not in self.profile.dtmf_keys for k in keys):
            return ERROR
        if not self.line.call_active(self):
            self.log_decision(f"AT+VTS={args[0]} refused: no active call")
            return ERROR
        if len(keys) == 1:
            return Reply(then=lambda: self.line.dtmf(self, keys))
        return self._vts_string(keys)

    async def _vts_string(self, keys):
        for i, key in enumerate(keys):
            if i:
                await asyncio.sleep(self.profile.vts_digit_gap)
                if not self.line.call_active(self):
                    return ERROR
            self.line.dtmf(self, key)
        return Reply()

    def _vtd(self, kind, args):
        if kind == "set" and args and args[0].isdigit() and 0 <= int(args[0]) <= 255:
            self.vtd = int(args[0])
            return Reply()
        if kind == "read":
            return Reply([f"+VTD: {self.vtd}"])
        if kind == "test":
            return Reply(["+VTD: (0-255)"])
        return ERROR

    def _chup(self, kind, args):
        if kind == "exec":
            return Reply(then=lambda: self.line.hangup(self))
        return Reply() if kind == "test" else ERROR

    def _creset(self, kind, args):
        if kind == "exec":
            return Reply(then=self.soft_reset)
        return Reply() if kind == "test" else ERROR

    def soft_reset(self):
        """AT+CRESET (SIMCom) / AT+CFUN=1,1 (Quectel): the module reboots; on USB it also
        re-enumerates, so the ports come back under new names (modems.md 5.1 callpilot #121)."""
        self.line.reset(self)
        if self.profile.reset_renames_ports:
            self.port_gone(min(0.5, self.profile.boot_time), reset=False)

    def _csca(self, kind, args):
        # SMS centre address; python-gsmmodem reads it while connecting.
        if kind == "read":
            number = self.smsc
            return Reply([f'+CSCA: "{number}",{profiles.number_type(self.profile, number)}'])
        if kind == "set" and args and unquote(args[0]):
            self.smsc = unquote(args[0])
            return Reply()
        return Reply() if kind == "test" else ERROR

    _CLIP_SET = setting("clip", "+CLIP")
    _CLCC_SET = setting("clcc_report", "+CLCC")

    _EXTENDED = {
        "+CGMI": fixed(lambda self: self.profile.manufacturer),
        "+CGMM": fixed(lambda self: self.profile.model),
        "+CGMR": fixed(lambda self: f"+CGMR: {self.profile.revision}"),
        "+CGSN": fixed(lambda self: self.imei),
        "+CIMI": fixed(lambda self: self.imsi),
        "+CPIN": _cpin,
        "+CSQ": _csq,
        "+CREG": _creg,
        "+COPS": _cops,
        "+CFUN": _cfun,
        "+CMEE": setting("cmee", "+CMEE", ("0", "1", "2")),
        "+CLIP": _clip,
        "+CRC": setting("crc", "+CRC"),
        "+CLCC": _clcc,
        "+DDET": _ddet,
        "+CPCMFRM": setting("pcm_frm", "+CPCMFRM"),
        "+CPCMREG": _cpcmreg,
        "+VTS": _vts,
        "+VTD": _vtd,
        "+CHUP": _chup,
        "+CRESET": _creset,
        "+CVHU": setting("cvhu", "+CVHU"),
        "+CSCA": _csca,
        # 27.007 7.7: CLIR 1 withholds this side's number on its outgoing calls.
        "+CLIR": setting("clir", "+CLIR", ("0", "1", "2")),
        **sms_commands.COMMANDS,
    }

