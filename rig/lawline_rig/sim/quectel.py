"""A simulated Quectel EC25 / EG25-G (reference/modems.md section 2).

What differs from the SIM7600 (modem.py):
- no `VOICE CALL:` lines and no `MISSED_CALL:`; call state comes as +CLCC (AT+CLCC=1) and
  `+QIND: "ccinfo",<idx>,<dir>,<state>,...` after AT+QINDCFG="ccinfo",1 (state -1 = released);
  an unanswered call that the caller gave up ends with NO CARRIER (2.1);
- DTMF as `+QTONEDET: <decimal ASCII>` after AT+QTONEDET=1 (off by default) (2.2);
- call audio on the USB NMEA port after AT+QPCMV=1,0 (mode 2 = USB sound card) (2.3);
- a soft reset is AT+CFUN=1,1; there is no AT+CRESET, AT+CPCMREG or AT+DDET.
"""

from .atparse import unquote
from .modem import ERROR, Reply, SimModem, setting


class QuectelModem(SimModem):
    uac = None  # UacCard (sim/uac.py) on a model with the USB sound card

    def reset_settings(self):
        super().reset_settings()
        if self.uac is not None:
            self.uac.on = False
        self.ccinfo = False
        self.qpcmv = (0, 0)          # (enabled, mode); a reset turns it off
        self.gps = False
        self.gps_outport = "usbnmea"
        self.urcport = "usbat"

    # -- what the network says, the Quectel way ------------------------------------------

    def call_state(self, call, stat):
        super().call_state(call, stat)
        if self.ccinfo:
            far = call.other(self)
            number = call.shown if self is call.target else far.number
            kind = 145 if number.startswith("+") else (129 if number else 128)
            state = -1 if stat == 6 else stat
            direction = 0 if self is call.origin else 1
            self.urc(f'+QIND: "ccinfo",1,{direction},{state},0,0,"{number}",{kind}')

    def answered(self, call):
        super().answered(call)
        if self.qpcmv == (1, 0):
            self.pcm.start()
        elif self.qpcmv == (1, 2) and self.uac is not None:
            self.uac.on = True

    def released(self, call, seconds, by_self=False):
        if self.uac is not None:
            self.uac.on = False
        super().released(call, seconds, by_self)

    def missed(self, call):
        if self.uac is not None:
            self.uac.on = False
        super().missed(call)

    def dtmf_in(self, key):
        if self.uac is not None:
            self.uac.tone(key)   # what the sound card hears; QTONEDET reports it too if on
        return super().dtmf_in(key)

    # -- Quectel commands ------------------------------------------------------------------

    def _qpcmv(self, kind, args):
        if kind == "read":
            enabled, mode = self.qpcmv
            return Reply([f"+QPCMV: {enabled},{mode}" if enabled else "+QPCMV: 0"])
        if kind == "test":
            return Reply(["+QPCMV: (0,1),(0-2)"])
        if kind != "set" or not args or args[0] not in ("0", "1"):
            return ERROR
        if args[0] == "0":
            self.qpcmv = (0, 0)
            if self.uac is not None:
                self.uac.on = False
            return Reply(then=self.pcm.stop)
        mode = args[1] if len(args) > 1 else "0"
        if mode not in ("0", "1", "2"):
            return ERROR
        self.qpcmv = (1, int(mode))
        if mode == "2" and self.uac is not None:
            if self.line.call_active(self):
                self.uac.on = True
            return Reply()
        if mode != "0":
            # Debug UART and UAC are not simulated on a pty; say so rather than pretend.
            self.log_decision(f"AT+QPCMV=1,{mode}: only mode 0 (NMEA port) carries audio here")
            return Reply()
        if self.line.call_active(self):
            return Reply(then=self.pcm.start)
        return Reply()  # audio starts once a call is up

    def _qindcfg(self, kind, args):
        if kind == "test":
            return Reply(['+QINDCFG: ("all","csq","smsfull","ring","smsincoming","ccinfo"),(0,1),(0,1)'])
        if kind == "set" and args:
            what = unquote(args[0])
            if what == "ccinfo":
                if len(args) == 1:
                    return Reply([f'+QINDCFG: "ccinfo",{int(self.ccinfo)}'])
                if args[1] not in ("0", "1"):
                    return ERROR
                self.ccinfo = args[1] == "1"
                return Reply()
            if what in ("all", "csq", "smsfull", "ring", "smsincoming", "act"):
                return Reply()
        return ERROR

    def _qgpscfg(self, kind, args):
        if kind == "set" and args and unquote(args[0]) == "outport":
            if len(args) == 1:
                return Reply([f'+QGPSCFG: "outport","{self.gps_outport}"'])
            port = unquote(args[1])
            if port not in ("none", "usbnmea", "uartdebug"):
                return ERROR
            self.gps_outport = port
            return Reply()
        return Reply() if kind == "test" else ERROR

    def _qurccfg(self, kind, args):
        if kind == "set" and args and unquote(args[0]) == "urcport":
            if len(args) == 1:
                return Reply([f'+QURCCFG: "urcport","{self.urcport}"'])
            self.urcport = unquote(args[1])
            return Reply()
        return Reply() if kind == "test" else ERROR

    def _cfun_quectel(self, kind, args):
        # AT+CFUN=1,1: reset the module (modems.md 2.3: how UAC changes are applied).
        if kind == "set" and len(args) > 1 and args[0] == "1" and args[1] == "1":
            return Reply(then=self.soft_reset)
        return SimModem._cfun(self, kind, args)

    _EXTENDED = {name: handler for name, handler in SimModem._EXTENDED.items()
                 if name not in ("+DDET", "+CPCMREG", "+CPCMFRM", "+CRESET")}
    _EXTENDED.update({
        "+QPCMV": _qpcmv,
        "+QTONEDET": setting("ddet", "+QTONEDET"),
        "+QINDCFG": _qindcfg,
        "+QGPSCFG": _qgpscfg,
        "+QGPS": setting("gps", "+QGPS"),
        "+QURCCFG": _qurccfg,
        "+CFUN": _cfun_quectel,
    })
