"""The network between the two simulated modems: dialling, ringing, answer, hang-up, DTMF.

One call at a time (two modems, one line). Either side may dial the other's number; the one
dialling is the call's origin. URC order follows a real SIM7600G-H log (modems.md 1.2, 6.1):
RING/+CRING then +CLIP each ring; after ATA: OK then VOICE CALL: BEGIN on both ends; at hang-up:
VOICE CALL: END: NNNNNN then NO CARRIER on both; unanswered: MISSED_CALL on the called side.
"""

import logging
import time

from . import profiles

log = logging.getLogger("lawline.sim")


def missed_call_time(now=None):
    """12-hour clock with AM/PM and no space, as in `MISSED_CALL: 08:48AM +27839776374`.
    Built by hand so the C locale's %p is not relied upon."""
    t = time.localtime(now)
    hour = t.tm_hour % 12 or 12
    return f"{hour:02d}:{t.tm_min:02d}{'AM' if t.tm_hour < 12 else 'PM'}"


class Call:
    def __init__(self, origin, target):
        self.origin = origin  # the SimModem that dialled
        self.target = target  # the SimModem being rung
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
        self.profile = profile
        self.modems = list(modems)
        self.ring_interval = ring_interval
        self.call = None
        self._unreachable = {}  # side -> timer that will say NO CARRIER to a dial that went nowhere
        for modem in self.modems:
            modem.line = self

    # -- questions the modems ask -------------------------------------------------

    def party(self, modem):
        """The call `modem` takes part in, or None."""
        call = self.call
        if call is not None and modem in (call.origin, call.target):
            return call
        return None

    def busy(self, modem):
        return self.party(modem) is not None or modem.side in self._unreachable

    def can_answer(self, modem):
        call = self.party(modem)
        return call is not None and call.state == "ringing" and call.target is modem

    def call_active(self, modem):
        call = self.party(modem)
        return call is not None and call.state == "active"

    def clcc_lines(self, modem):
        call = self.party(modem)
        if call is None:
            return []
        return [self._clcc(modem, call, self._stat(modem, call))]

    # -- +CLCC (27.007; modems.md 1.3) -----------------------------------------------

    def _stat(self, modem, call):
        if call.state == "active":
            return 0
        if modem is call.target:
            return 4  # incoming
        return 3 if call.rings else 2  # alerting once the far end rings, dialling before

    def _clcc(self, modem, call, stat):
        far = call.other(modem).number
        direction = 0 if modem is call.origin else 1
        return f'+CLCC: 1,{direction},{stat},0,0,"{far}",{profiles.number_type(self.profile, far)}'

    def _push_clcc(self, call, stat_by_side):
        # With AT+CLCC=1 SIMCom pushes a +CLCC line on every state change; 6 = released.
        for modem in (call.origin, call.target):
            stat = stat_by_side.get(modem.side)
            if stat is not None and modem.clcc_report:
                modem.urc(self._clcc(modem, call, stat))

    # -- actions (each runs after the acting side got its reply) -----------------------

    def dial(self, modem, number):
        target = next((m for m in self.modems if m.number == number and m is not modem), None)
        if target is None or target.booting():
            delay = self.profile.unknown_number_delay
            why = "no such subscriber" if target is None else f"{target.side} is off"
            modem.log_decision(f"ATD{number}; goes nowhere ({why}); NO CARRIER in {delay:g} s")
            self._unreachable[modem.side] = self.loop.call_later(delay, self._went_nowhere, modem)
            return
        call = self.call = Call(modem, target)
        modem.log_decision(f"dials {number} ({target.side}); it rings every {self.ring_interval:g} s")
        self._push_clcc(call, {modem.side: 2})
        call.timeout_timer = self.loop.call_later(self.profile.network_ring_timeout, self._no_answer, call)
        self._ring(call)

    def _went_nowhere(self, modem):
        self._unreachable.pop(modem.side, None)
        modem.log_decision("NO CARRIER: the dialled number does not exist")
        modem.urc(self.profile.no_carrier)

    def _ring(self, call):
        if self.call is not call or call.state != "ringing":
            return
        call.rings += 1
        target, origin = call.target, call.origin
        if call.rings == 1:
            self._push_clcc(call, {origin.side: 3, target.side: 4})
        lines = [self.profile.cring if target.crc else self.profile.ring]
        if target.clip:
            lines.append(self.profile.clip.format(
                number=origin.number, type=profiles.number_type(self.profile, origin.number)))
        target.urc(*lines)
        target.log_decision(f"{lines[0]} {call.rings} to {target.number} from {origin.number}")
        call.ring_timer = self.loop.call_later(self.ring_interval, self._ring, call)

    def _no_answer(self, call):
        if self.call is not call or call.state != "ringing":
            return
        call.target.log_decision(f"network gives up after {call.rings} rings "
                                 f"({self.profile.network_ring_timeout:g} s unanswered)")
        self._finish_unanswered(call, gave_up=True)

    def answer(self, modem):
        call = self.party(modem)
        call.cancel_timers()
        call.state = "active"
        call.answered_at = self.loop.time()
        modem.log_decision(f"answers {call.origin.number} after {call.rings} rings; "
                           f"{self.profile.call_begin} to both")
        self._push_clcc(call, {call.origin.side: 0, call.target.side: 0})
        modem.urc(self.profile.call_begin)
        call.origin.urc(self.profile.call_begin)  # on an outgoing call: the far end answered

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
            modem.log_decision(f"gives up after {call.rings} rings; {call.target.side} gets MISSED_CALL")
            self._finish_unanswered(call, gave_up=True)
        else:
            modem.log_decision(f"rejects the call from {call.origin.number}; NO CARRIER to {call.origin.side}")
            self._finish_unanswered(call, gave_up=False)

    def _finish_active(self, call, by, dropped=False):
        call.cancel_timers()
        self.call = None
        seconds = int(self.loop.time() - call.answered_at)
        end = self.profile.call_end.format(seconds=seconds)
        ends = [m for m in (call.origin, call.target) if not (dropped and m is by)]
        by.log_decision(("drops off" if dropped else "hangs up") + f" after {seconds} s; "
                        f"{end} and {self.profile.no_carrier} to {' and '.join(m.side for m in ends)}")
        for m in (call.origin, call.target):
            m.pcm.stop()
        self._push_clcc(call, {m.side: 6 for m in ends})
        for m in ends:
            m.urc(end, self.profile.no_carrier)

    def _finish_unanswered(self, call, gave_up):
        call.cancel_timers()
        self.call = None
        self._push_clcc(call, {call.origin.side: 6, call.target.side: 6})
        if gave_up:
            missed = self.profile.missed_call.format(time=missed_call_time(), number=call.origin.number)
            call.target.urc(missed)
        call.origin.urc(self.profile.no_carrier)

    def dtmf(self, modem, key):
        call = self.party(modem)
        far = call.other(modem)
        if far.ddet:
            far.urc(self.profile.rxdtmf.format(key=key))
            modem.log_decision(f"sends DTMF {key}; {far.side} gets {self.profile.rxdtmf.format(key=key)}")
        else:
            modem.log_decision(f"sends DTMF {key}; {far.side} has DTMF detection off (AT+DDET=0)")

    def reset(self, modem, boot_time=None):
        """The module reboots (AT+CRESET or the reset fault): its call drops for the far end."""
        timer = self._unreachable.pop(modem.side, None)
        if timer is not None:
            timer.cancel()
        call = self.party(modem)
        if call is not None:
            if call.state == "active":
                self._finish_active(call, modem, dropped=True)
            elif modem is call.origin:
                call.cancel_timers()
                self.call = None
                call.target.urc(self.profile.missed_call.format(time=missed_call_time(),
                                                                number=call.origin.number))
            else:
                call.cancel_timers()
                self.call = None
                call.origin.urc(self.profile.no_carrier)
        modem.pcm.stop()
        modem.reboot(boot_time)
