"""The network between the simulated modems: dialling, ringing, answer, hang-up, DTMF, SMS.

One network for every line of the loopback line (`lawline sim --lines N`: a box modem and a
caller modem per line). Any modem may dial any other's number, one call per modem, so N calls
can run at once; the one dialling is the call's origin. A call joins the audio of its two
modems (and only theirs) when it is placed. The network decides what happens; each modem decides how it
says so (its own URCs: SIM7600 `VOICE CALL: BEGIN`, EC25 `+CLCC`/`+QIND: "ccinfo"`, a V.253
modem's RING and caller-ID block), so the two sides may be different models. URC order for the
SIM7600 follows a real SIM7600G-H log (modems.md 1.2, 6.1).
"""

import logging
import time

from . import sms

log = logging.getLogger("lawline_rig.sim")

# How the network presents the caller (set through the control socket for caller-ID tests).
PRESENTATION_DEFAULTS = {
    "number": None,        # what is shown instead of the caller's own number: "+86138...",
                           # or any text a spoofing gateway sends ("CALLBACK 168... NOW")
    "withheld": False,     # the network withholds it (as if the caller sent AT+CLIR=1)
    "clip_tail": None,     # +CLIP trailing fields: "long", "short", "quoted", "none"
    "cid_spacing": None,   # V.253 caller-ID block: "spaced" (NMBR = x) or "tight" (NMBR=x)
    "cid_name": None,      # V.253 caller-ID block: a NAME line
    "cid_withheld": "P",   # V.253: NMBR=P (private) or NMBR=O (unavailable) when withheld
}


def missed_call_time(now=None):
    """12-hour clock with AM/PM and no space, as in `MISSED_CALL: 08:48AM +27839776374`.
    Built by hand so the C locale's %p is not relied upon."""
    t = time.localtime(now)
    hour = t.tm_hour % 12 or 12
    return f"{hour:02d}:{t.tm_min:02d}{'AM' if t.tm_hour < 12 else 'PM'}"


class Call:
    def __init__(self, origin, target, shown):
        self.origin = origin  # the SimModem that dialled
        self.target = target  # the SimModem being rung
        self.shown = shown    # the caller's number as presented to the target ("" withheld)
        self.state = "ringing"  # then "active"
        self.rings = 0
        self.answered_at = None
        self.ring_timer = None
        self.timeout_timer = None

    def other(self, modem):
        return self.target if modem is self.origin else self.origin

    def cancel_timers(self):
        for timer in (self.ring_timer, self.timeout_timer):
            if timer is not None:
                timer.cancel()
        self.ring_timer = self.timeout_timer = None


class Line:
    def __init__(self, loop, profile, modems, ring_interval):
        self.loop = loop
        self.profile = profile  # the network's timings (the box side's profile)
        self.modems = list(modems)
        self.ring_interval = ring_interval
        self.calls = []  # every call in progress, oldest first
        self.presentation = dict(PRESENTATION_DEFAULTS)
        self.mailbox = sms.Mailbox()
        self._hears = {}  # modem -> the modem its host hears (join_audio)
        self._unreachable = {}  # side -> timer that will say NO CARRIER to a dial that went nowhere
        for modem in self.modems:
            modem.line = self

    # -- questions the modems ask -------------------------------------------------

    @property
    def call(self):
        """The oldest call in progress, or None (a one-line loopback line has at most one)."""
        return self.calls[0] if self.calls else None

    def party(self, modem):
        """The call `modem` takes part in, or None."""
        for call in self.calls:
            if modem in (call.origin, call.target):
                return call
        return None

    def _end(self, call):
        if call in self.calls:
            self.calls.remove(call)

    def join_audio(self, a, b):
        """`a`'s host hears `b` and the other way round; whoever listened to either before
        stops (a frame taken by a stale listener would be lost to the call)."""
        for m, heard in list(self._hears.items()):
            if m not in (a, b) and heard in (a, b):
                for ear in m.ears():
                    ear.far = None
                del self._hears[m]
        for me, other in ((a, b), (b, a)):
            for ear in me.ears():
                ear.far = other.voice()
            self._hears[me] = other

    def busy(self, modem):
        return self.party(modem) is not None or modem.side in self._unreachable

    def can_answer(self, modem):
        call = self.party(modem)
        return call is not None and call.state == "ringing" and call.target is modem

    def call_active(self, modem):
        call = self.party(modem)
        return call is not None and call.state == "active"

    def network_ready(self, modem):
        return not modem.booting()

    def clcc_lines(self, modem):
        call = self.party(modem)
        if call is None:
            return []
        return [modem.clcc_line(call, self._stat(modem, call))]

    def _stat(self, modem, call):
        """27.007 +CLCC <stat> (modems.md 1.3) of `call` as `modem` sees it."""
        if call.state == "active":
            return 0
        if modem is call.target:
            return 4  # incoming
        return 3 if call.rings else 2  # alerting once the far end rings, dialling before

    def _states(self, call, stat_by_side):
        for modem in (call.origin, call.target):
            stat = stat_by_side.get(modem.side)
            if stat is not None:
                modem.call_state(call, stat)

    def set_presentation(self, changes):
        unknown = set(changes) - set(PRESENTATION_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown presentation setting(s) {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(PRESENTATION_DEFAULTS)}")
        for key in ("number", "cid_name"):
            if key in changes and not (changes[key] is None or isinstance(changes[key], str)):
                raise ValueError(f"presentation {key!r} must be text or null, not "
                                 f"{changes[key]!r}")
        self.presentation.update(changes)
        log.info("sim: the network now presents callers with %s", self.presentation)

    def _shown(self, origin):
        if origin.clir or self.presentation["withheld"]:
            return ""
        return self.presentation["number"] or origin.number

    # -- actions (each runs after the acting side got its reply) -----------------------

    def dial(self, modem, number):
        target = next((m for m in self.modems
                       if sms.same_subscriber(m.number, number) and m is not modem), None)
        if target is None or target.booting():
            delay = self.profile.unknown_number_delay
            why = "no such subscriber" if target is None else f"{target.side} is off"
            modem.log_decision(f"ATD{number}; goes nowhere ({why}); NO CARRIER in {delay:g} s")
            self._unreachable[modem.side] = self.loop.call_later(delay, self._went_nowhere, modem)
            return
        if self.busy(target):
            # Several lines: the dialled modem is in another call (no call waiting). V.250's
            # BUSY result [?: what a real SIM7600 prints for a busy subscriber is unverified].
            delay = self.profile.unknown_number_delay
            modem.log_decision(f"ATD{number}; {target.side} is in another call; BUSY in {delay:g} s")
            self._unreachable[modem.side] = self.loop.call_later(delay, self._found_busy, modem)
            return
        call = Call(modem, target, self._shown(modem))
        self.calls.append(call)
        self.join_audio(modem, target)
        modem.log_decision(f"dials {number} ({target.side}); it rings every {self.ring_interval:g} s"
                           + ("" if call.shown == modem.number else
                              f"; presented as {call.shown or 'withheld'}"))
        self._states(call, {modem.side: 2})
        call.timeout_timer = self.loop.call_later(self.profile.network_ring_timeout, self._no_answer, call)
        self._ring(call)

    def _went_nowhere(self, modem):
        self._unreachable.pop(modem.side, None)
        modem.log_decision("NO CARRIER: the dialled number does not exist")
        modem.no_carrier()

    def _found_busy(self, modem):
        self._unreachable.pop(modem.side, None)
        modem.log_decision("BUSY: the dialled modem is in another call")
        modem.urc("BUSY")

    def _ring(self, call):
        if call not in self.calls or call.state != "ringing":
            return
        call.rings += 1
        target, origin = call.target, call.origin
        if call.rings == 1:
            self._states(call, {origin.side: 3, target.side: 4})
        said = target.ring(call)
        target.log_decision(f"{said} {call.rings} to {target.number} from {call.shown or 'a withheld number'}")
        call.ring_timer = self.loop.call_later(self.ring_interval, self._ring, call)

    def _no_answer(self, call):
        if call not in self.calls or call.state != "ringing":
            return
        call.target.log_decision(f"network gives up after {call.rings} rings "
                                 f"({self.profile.network_ring_timeout:g} s unanswered)")
        self._finish_unanswered(call, gave_up=True)

    def answer(self, modem):
        call = self.party(modem)
        call.cancel_timers()
        call.state = "active"
        call.answered_at = self.loop.time()
        modem.log_decision(f"answers {call.shown or 'a withheld number'} after {call.rings} rings")
        self._states(call, {call.origin.side: 0, call.target.side: 0})
        modem.answered(call)
        call.origin.answered(call)  # on an outgoing call: the far end answered

    def hangup(self, modem):
        timer = self._unreachable.pop(modem.side, None)
        if timer is not None:
            timer.cancel()
            modem.log_decision("hangs up a dial that went nowhere")
            return
        call = self.party(modem)
        if call is None:
            modem.log_decision("hangs up with no call; nothing to do")
            return
        if call.state == "active":
            self._finish_active(call, modem)
        elif modem is call.origin:
            modem.log_decision(f"gives up after {call.rings} rings; {call.target.side} misses the call")
            self._finish_unanswered(call, gave_up=True)
        else:
            modem.log_decision(f"rejects the call from {call.origin.number}; NO CARRIER to {call.origin.side}")
            self._finish_unanswered(call, gave_up=False)

    def _finish_active(self, call, by, dropped=False):
        call.cancel_timers()
        self._end(call)
        seconds = int(self.loop.time() - call.answered_at)
        ends = [m for m in (call.origin, call.target) if not (dropped and m is by)]
        by.log_decision(("drops off" if dropped else "hangs up") + f" after {seconds} s; "
                        f"the call ends for {' and '.join(m.side for m in ends)}")
        for m in (call.origin, call.target):
            m.pcm.stop()
        self._states(call, {m.side: 6 for m in ends})
        for m in ends:
            m.released(call, seconds, by_self=m is by)

    def _finish_unanswered(self, call, gave_up):
        call.cancel_timers()
        self._end(call)
        self._states(call, {call.origin.side: 6, call.target.side: 6})
        if gave_up:
            call.target.missed(call)
        call.origin.no_carrier()

    def dtmf(self, modem, key):
        call = self.party(modem)
        far = call.other(modem)
        said = far.dtmf_in(key)
        modem.log_decision(f"sends DTMF {key}; {far.side} " +
                           (f"gets {said}" if said else "does not report it (detection off)"))

    def reset(self, modem, boot_time=None):
        """The module reboots (AT+CRESET, AT+CFUN=1,1 or the reset fault): its call drops for
        the far end."""
        timer = self._unreachable.pop(modem.side, None)
        if timer is not None:
            timer.cancel()
        call = self.party(modem)
        if call is not None:
            if call.state == "active":
                self._finish_active(call, modem, dropped=True)
            elif modem is call.origin:
                call.cancel_timers()
                self._end(call)
                self._states(call, {call.target.side: 6})
                call.target.missed(call)
            else:
                call.cancel_timers()
                self._end(call)
                self._states(call, {call.origin.side: 6})
                call.origin.no_carrier()
        modem.pcm.stop()
        modem.reboot(boot_time)

    # -- SMS (modems.md section 3) -----------------------------------------------------------

    def send_sms(self, modem, message, mr):
        """An SMS-SUBMIT the network accepted from `modem`: to any modem of the loopback line
        (any line), or outside."""
        target = next((m for m in self.modems
                       if m is not modem and sms.same_subscriber(m.number, message.number)), None)
        if target is not None and getattr(target, "sms", None) is not None:
            sms.deliver(target, modem.number, message)
            return
        entry = self.mailbox.add(modem.number, message, mr)
        part = f" part {message.concat.seq} of {message.concat.total}" if message.concat else ""
        modem.log_decision(f"SMS{part} to {message.number} (outside the loopback line) "
                           f"kept in the mailbox{'; complete' if entry['complete'] else ''}")

    def sms_from_outside(self, side, sender, text, sender_type=None):
        """Deliver a text from an outside number (or, `sender_type` "alphanumeric", a name) to
        `side` (control socket)."""
        from lawline.line import pdu as codec
        modem = next(m for m in self.modems if m.side == side)
        if getattr(modem, "sms", None) is None:
            raise ValueError(f"the {side} modem has no SMS")
        ref = len(self.mailbox.messages) % 256
        for pdu in codec.encode_submit(modem.number, text, ref=ref):
            sms.deliver(modem, sender, codec.decode_pdu(pdu.hex), sender_type=sender_type)

    def sms_room(self, modem):
        """A message was deleted: the network delivers what it held while the store was full."""
        s = modem.sms
        while s.waiting and s.free_index() is not None:
            sender, message, sender_type = s.waiting.pop(0)
            sms.deliver(modem, sender, message, sender_type=sender_type)
