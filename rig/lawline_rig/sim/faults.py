"""Named, injectable faults of the loopback line, and the client that injects them.

A request is one JSON object on the control socket:
    {"fault": NAME, "side": "box"|"caller", "count": N, ...parameters}
Parameters nobody reads are refused (a typo must not silently do nothing).
"""

import json
import os
import random
import socket
from collections import deque

from lawline.errors import LawlineError

_REQUIRED = object()


class FaultError(LawlineError, ValueError):
    """A fault request the simulator refused; the message says why."""


class ArmedFaults:
    """Faults waiting for the next command (or URC) of one side, in arrival order."""

    def __init__(self):
        self._queues = {}

    def arm(self, name, count, value=True):
        self._queues.setdefault(name, deque()).extend([value] * count)

    def take(self, name):
        """The armed value for `name` (consuming one), or None if none is armed."""
        queue = self._queues.get(name)
        if queue:
            return queue.popleft()
        return None

    def clear(self):
        self._queues.clear()

    def pending(self):
        return {name: len(q) for name, q in self._queues.items() if q}


def garbage_bursts(count, seed=None):
    """`count` bursts of bytes no AT parser should take for a line: NUL, 0xFF, a cut-off
    "+CL", a lone CR (never followed by LF), and random filler without CR or LF."""
    rng = random.Random(seed)
    fixed = [b"\x00", b"\xff", b"+CL", b"\r"]
    bursts = []
    for _ in range(count):
        parts = list(fixed)
        for _ in range(rng.randint(1, 3)):
            filler = bytes(rng.choice([b for b in range(256) if b not in (0x0A, 0x0D)])
                           for _ in range(rng.randint(2, 12)))
            parts.append(filler)
        rng.shuffle(parts)
        burst = b"".join(parts)
        if burst.endswith(b"\r"):
            burst += b"\x00"  # keep the CR lone even across two bursts
        bursts.append(burst)
    return bursts


# Each fault: what it does, its parameters (name -> default), and how it is applied.
# apply(modem, count, params) acts on one simulated modem.

def _arm(name):
    def apply(modem, count, params):
        modem.faults.arm(name, count)
    return apply


def _arm_urc(modem, count, params):
    modem.faults.arm("urc_in_reply", count, str(params["urc"]))


def _arm_late(modem, count, params):
    ms = params["ms"]
    if not isinstance(ms, (int, float)) or isinstance(ms, bool) or ms < 0:
        raise FaultError(f"fault 'late_reply': 'ms' must be a number of milliseconds >= 0, not {ms!r}")
    modem.faults.arm("late_reply", count, float(ms))


def _arm_sms_refuse(modem, count, params):
    code = params["code"]
    if not isinstance(code, int) or isinstance(code, bool) or not 0 <= code <= 511:
        raise FaultError(f"fault 'sms_refuse': 'code' must be a +CMS ERROR number 0-511, not {code!r}")
    modem.faults.arm("sms_refuse", count, code)


def _dle_storm(modem, count, params):
    seconds = params["seconds"]
    if not hasattr(modem, "dle_storm"):
        raise FaultError("fault 'dle_storm' needs a V.253 side (--profile v253 or v253-halfduplex)")
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 < seconds <= 60:
        raise FaultError(f"fault 'dle_storm': 'seconds' must be above 0 and at most 60, not {seconds!r}")
    modem.dle_storm(float(seconds))


def _port_gone(modem, count, params):
    ms, reset = params["ms"], params["reset"]
    if not isinstance(ms, (int, float)) or isinstance(ms, bool) or not 0 < ms <= 60000:
        raise FaultError(f"fault 'port_gone': 'ms' must be above 0 and at most 60000, not {ms!r}")
    if not isinstance(reset, bool):
        raise FaultError(f"fault 'port_gone': 'reset' must be true or false, not {reset!r}")
    modem.port_gone(ms / 1000.0, reset)


def _audio_gone(modem, count, params):
    ms = params["ms"]
    if not isinstance(ms, (int, float)) or isinstance(ms, bool) or not 0 < ms <= 60000:
        raise FaultError(f"fault 'audio_gone': 'ms' must be above 0 and at most 60000, not {ms!r}")
    modem.audio_gone(ms / 1000.0)


def _garbage(modem, count, params):
    seed = params["seed"]
    for burst in garbage_bursts(count, seed):
        modem.send_garbage(burst)


def _reset(modem, count, params):
    boot_ms = params["boot_ms"]
    if boot_ms is not None and (not isinstance(boot_ms, (int, float)) or boot_ms < 0):
        raise FaultError(f"fault 'reset': 'boot_ms' must be milliseconds >= 0, not {boot_ms!r}")
    modem.line.reset(modem, None if boot_ms is None else boot_ms / 1000.0)


def _clock_skew(modem, count, params):
    ppm = params["ppm"]
    if not isinstance(ppm, (int, float)) or isinstance(ppm, bool) or abs(ppm) >= 100000:
        raise FaultError(f"fault 'clock_skew': 'ppm' must be a number below 100000 in size, not {ppm!r}")
    modem.pcm.set_skew(ppm)


FAULTS = {
    "no_reply": ("the next `count` commands are swallowed: echoed, not executed, never answered",
                 {}, _arm("no_reply")),
    "garbage": ("write `count` bursts of non-AT bytes (NUL, 0xFF, cut-off '+CL', lone CR) now",
                {"seed": None}, _garbage),
    "urc_in_reply": ("splice a URC (param 'urc', default '+CREG: 1') into the next `count` replies, "
                     "after the first information line or else before the final result",
                     {"urc": "+CREG: 1"}, _arm_urc),
    "cpcmreg_refuse": ("the next `count` AT+CPCMREG=1 answer ERROR (modems.md 1.5: too early)",
                       {}, _arm("cpcmreg_refuse")),
    "late_reply": ("the next `count` replies come 'ms' milliseconds late (default 1500)",
                   {"ms": 1500}, _arm_late),
    "double_cr": ("the next `count` URCs are framed \\r\\r\\n...\\r\\r\\n (modems.md 1.2.1)",
                  {}, _arm("double_cr")),
    "reset": ("the module reboots now: the call drops, settings return to defaults, "
              "boot URCs follow after 'boot_ms' (default: the profile's boot time)",
              {"boot_ms": None}, _reset),
    "clock_skew": ("that side's PCM clock runs 'ppm' parts per million fast (negative: slow)",
                   {"ppm": _REQUIRED}, _clock_skew),
    "dle_storm": ("V.253: for 'seconds' (default 2) the samples sent to the host are a pattern full of "
                  "DLE, DLE ETX, DLE s, DLE b and DLE ! look-alikes (shielded, so still only data)",
                  {"seconds": 2.0}, _dle_storm),
    "port_gone": ("USB re-enumeration: that side's ports vanish for 'ms' (default 1000) and come back "
                  "under new names (sim.json and the DIR/<side>-at links follow); with 'reset' "
                  "(default true) the module reboots as well",
                  {"ms": 1000, "reset": True}, _port_gone),
    "audio_gone": ("the call audio's far end hangs up for 'ms' (default 1000): the audio pty closes "
                   "(the host reads end of file) and comes back under a new name (the "
                   "DIR/<side>-audio link follows); a USB sound card goes away instead; a V.253 "
                   "modem's one port goes",
                   {"ms": 1000}, _audio_gone),
    "sms_refuse": ("the next `count` AT+CMGS answer +CMS ERROR: 'code' (default 500) after the body",
                   {"code": 500}, _arm_sms_refuse),
}


def apply(request, modems):
    """Carry out one fault request on the simulated modems (a dict side -> SimModem).

    Raises FaultError with a message fit to send back to the client."""
    name = request.get("fault")
    if name not in FAULTS:
        raise FaultError(f"unknown fault {name!r}; known: {', '.join(sorted(FAULTS))}")
    side = request.get("side", "box")
    if side not in modems:
        raise FaultError(f"fault {name!r}: side must be one of {', '.join(sorted(modems))}, not {side!r}")
    count = request.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise FaultError(f"fault {name!r}: count must be a whole number >= 1, not {count!r}")
    _doc, accepted, action = FAULTS[name]
    given = {k: v for k, v in request.items() if k not in ("fault", "side", "count", "line")}
    unknown = sorted(set(given) - set(accepted))
    if unknown:
        takes = ", ".join(sorted(accepted)) or "no parameters"
        raise FaultError(f"fault {name!r} does not take {', '.join(map(repr, unknown))}; it takes: {takes}")
    params = dict(accepted)
    params.update(given)
    missing = [k for k, v in params.items() if v is _REQUIRED]
    if missing:
        raise FaultError(f"fault {name!r} needs {', '.join(map(repr, missing))}")
    modem = modems[side]
    action(modem, count, params)
    modem.log_decision(f"fault {name} injected" + (f" x{count}" if count != 1 else "")
                       + (f" {given}" if given else ""))


def request(state_dir, message, timeout=5.0, line=None):
    """Send one request to the simulator running in `state_dir`; return its JSON reply.
    `line`: which line a fault, status or sms_deliver is for (default: the message's own
    "line", else 1)."""
    if line is not None:
        message = {**message, "line": line}
    ready = os.path.join(state_dir, "sim.json")
    try:
        with open(ready, encoding="utf-8") as f:
            path = json.load(f)["control"]
    except FileNotFoundError:
        raise FileNotFoundError(f"no loopback line ready in {state_dir}: {ready} does not exist") from None
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(json.dumps(message).encode("utf-8") + b"\n")
        reply = bytearray()
        while not reply.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    return json.loads(reply.decode("utf-8"))


def inject(state_dir, fault, side="box", count=1, line=1, **params):
    """Inject fault `fault` into `side` of line `line` of the loopback line running in
    `state_dir`.

    Returns the simulator's reply ({"ok": true}); raises FaultError if it refused."""
    message = {"fault": fault, "side": side, "count": count}
    if line != 1:
        message["line"] = line
    message.update(params)
    reply = request(state_dir, message)
    if not reply.get("ok"):
        raise FaultError(reply.get("error", f"simulator refused {message!r}"))
    return reply
