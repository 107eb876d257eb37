"""The loopback line: two simulated modems on pseudo-terminals, joined by a simulated network.

The box driver opens the box modem's ports with serial.Serial(path) exactly as it opens
/dev/ttyUSB2 and /dev/ttyUSB4; a test "caller" drives the other modem the same way. A
hardware-in-loop rig swaps both for real modems and nothing else changes.

    lawline sim --state-dir DIR [--profile P]  ->  DIR/sim.json once ready:
    {"profile": "simcom-sim7600", "pid": 123,
     "box": {"at": "/dev/pts/3", "audio": "/dev/pts/4", "number": "07730148",
             "at_link": "DIR/box-at", "audio_link": "DIR/box-audio",
             "profile": "simcom-sim7600", "driver_profile": "simcom-sim7600"},
     "caller": {... the same for the caller's modem ...},
     "control": "DIR/control.sock"}

Profiles (profiles.py): simcom-sim7600 and quectel-ec25 on both sides; quectel-ec25-uac adds
the box's USB sound card (uac.py: an ALSA PCM, "sound_device" and "alsa_config" in sim.json);
v253 and v253-halfduplex put a V.253 voice modem (one port: audio = AT) on the box's side,
rung by a SIM7600. The DIR/<side>-at links are the stable names (what udev's /dev/lawline-at
is on the box): after the port_gone fault or AT+CRESET the ptys come back renamed and the
links and sim.json follow.
"""

from .faults import FAULTS, FaultError, inject
from .faults import request as control_request
from .profiles import PROFILES
from .server import run

__all__ = ["run", "add_arguments", "main", "inject", "status", "control_request",
           "sms_sent", "present", "FAULTS", "FaultError", "PROFILES"]


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
    parser.add_argument("--profile", default="simcom-sim7600", choices=sorted(PROFILES),
                        help="modem model to simulate on both sides (default: %(default)s)")
    parser.add_argument("--state-dir", required=True,
                        help="directory for sim.json, control.sock and wire.log")
    parser.add_argument("--box-number", default="07730148",
                        help="phone number of the box's modem (default: %(default)s)")
    parser.add_argument("--caller-number", default="13800138000",
                        help="phone number of the caller's modem (default: %(default)s)")
    parser.add_argument("--ring-interval", type=_positive_seconds, default=2.0,
                        help="seconds between RINGs of an incoming call (default: %(default)s)")
    return parser


def main(args):
    """Run the simulator from parsed `add_arguments` options; return the exit code."""
    return run(args.state_dir, profile=args.profile, box_number=args.box_number,
               caller_number=args.caller_number, ring_interval=args.ring_interval)


def status(state_dir):
    """The running simulator's call and per-side state (for tests and debugging)."""
    return control_request(state_dir, {"status": True})


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
