"""The loopback line: simulated modems on pseudo-terminals, joined by a simulated network.

The box driver opens the box modem's ports with serial.Serial(path) exactly as it opens
/dev/ttyUSB2 and /dev/ttyUSB4; a test "caller" drives the other modem the same way. A
hardware-in-loop rig swaps both for real modems and nothing else changes.

    lawline sim --state-dir DIR [--profile P]  ->  DIR/sim.json once ready:
    {"profile": "simcom-sim7600", "pid": 123,
     "box": {"at": "/dev/pts/3", "audio": "/dev/pts/4", "number": "07730148",
             "at_link": "DIR/box-at", "audio_link": "DIR/box-audio",
             "profile": "simcom-sim7600", "driver_profile": "simcom-sim7600"},
     "caller": {... the same for the caller's modem ...},
     "control": "DIR/control.sock",
     "lines": [{"line": 1, "profile": "simcom-sim7600", "box": {...}, "caller": {...}}, ...]}

Several lines (`--lines N`): N box modems, each with its own caller modem, so N callers can
call at once (any modem may dial any other). `--profile` names one profile for every line or
one per line, comma-separated (`--profile simcom-sim7600,v253`; --lines then defaults to the
count). Line k's box number and caller number count up from --box-number and
--caller-number (07730148, 07730149...; or give comma-separated lists); its modems are named
boxK and callerK (logs, wire.log, links DIR/box2-at, DIR/caller2-audio...). The top-level
"box", "caller" and "profile" are line 1's, exactly as lines[0]. Control requests take
"line": K (the Python helpers: line=K); "side" stays "box" or "caller" of that line.

Profiles (profiles.py): simcom-sim7600 and quectel-ec25 on both sides; quectel-ec25-uac adds
the box's USB sound card (uac.py: an ALSA PCM, "sound_device" and "alsa_config" in sim.json);
v253 and v253-halfduplex put a V.253 voice modem (one port: audio = AT) on the box's side,
rung by a SIM7600. The DIR/<side>-at links are the stable names (what udev's /dev/lawline-at
is on the box): after the port_gone fault or AT+CRESET the ptys come back renamed (after
audio_gone the audio pty alone; a USB sound card goes away and comes back instead) and the
links and sim.json follow.
"""

from .faults import FAULTS, FaultError, inject
from .faults import request as control_request
from .profiles import PROFILES
from .server import run

__all__ = ["run", "add_arguments", "main", "inject", "status", "control_request",
           "sms_sent", "deliver_sms", "present", "FAULTS", "FaultError", "PROFILES"]


def _positive_seconds(text):
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, not {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0 seconds, not {text}")
    return value


def add_arguments(parser):
    """Add the `lawline sim` options to an argparse parser."""
    parser.add_argument("--profile", default="simcom-sim7600", type=profiles_argument,
                        help="modem model to simulate on both sides of every line, or one per "
                             "line comma-separated, e.g. simcom-sim7600,v253 (known: "
                             f"{', '.join(sorted(PROFILES))}; default: %(default)s)")
    parser.add_argument("--lines", type=lines_argument, default=None,
                        help="how many lines: box modems, each with its own caller modem "
                             "(default: 1, or one per profile named)")
    parser.add_argument("--state-dir", required=True,
                        help="directory for sim.json, control.sock and wire.log")
    parser.add_argument("--box-number", default="07730148",
                        help="phone number of line 1's box modem; further lines count up "
                             "from it, or give one per line comma-separated (default: %(default)s)")
    parser.add_argument("--caller-number", default="13800138000",
                        help="phone number of line 1's caller modem; further lines count up "
                             "(default: %(default)s)")
    parser.add_argument("--ring-interval", type=_positive_seconds, default=2.0,
                        help="seconds between RINGs of an incoming call (default: %(default)s)")
    return parser


def main(args):
    """Run the simulator from parsed `add_arguments` options; return the exit code."""
    return run(args.state_dir, profile=args.profile, box_number=args.box_number,
               caller_number=args.caller_number, ring_interval=args.ring_interval,
               lines=args.lines)


def profiles_argument(text):
    import argparse

    names = [n.strip() for n in text.split(",")]
    unknown = [n for n in names if n not in PROFILES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown modem profile {unknown[0]!r}; known: {', '.join(sorted(PROFILES))}")
    return text


def lines_argument(text):
    import argparse
    from .server import MAX_LINES

    if not text.isdigit() or not 1 <= int(text) <= MAX_LINES:
        raise argparse.ArgumentTypeError(f"expected a number of lines from 1 to {MAX_LINES}, "
                                         f"not {text!r}")
    return int(text)


def status(state_dir, line=1):
    """The running simulator's call and per-side state of line `line` (for tests and
    debugging); "calls" lists every call in progress."""
    return control_request(state_dir, {"status": True}, line=line)


def deliver_sms(state_dir, sender, text, to="box", line=1, from_type=None):
    """An SMS from an outside number (or name) to line `line`'s box (or caller) modem."""
    spec = {"to": to, "from": sender, "text": text}
    if from_type:
        spec["from_type"] = from_type
    reply = control_request(state_dir, {"sms_deliver": spec}, line=line)
    if not reply.get("ok"):
        raise FaultError(reply.get("error", "the simulator refused sms_deliver"))
    return reply


def sms_sent(state_dir):
    """SMS the simulated modems sent to numbers outside the loopback line (duty phones...)."""
    reply = control_request(state_dir, {"sms_sent": True})
    if not reply.get("ok"):
        raise FaultError(reply.get("error", "the simulator refused sms_sent"))
    return reply["sms_sent"]


def present(state_dir, **settings):
    """Change how the network presents callers (number, withheld, clip_tail, cid_spacing...)."""
    reply = control_request(state_dir, {"presentation": settings})
    if not reply.get("ok"):
        raise FaultError(reply.get("error", "the simulator refused the presentation"))
    return reply["presentation"]
