"""The loopback line: two simulated modems on pseudo-terminals, joined by a simulated network.

The box driver opens the box modem's ports with serial.Serial(path) exactly as it opens
/dev/ttyUSB2 and /dev/ttyUSB4; a test "caller" drives the other modem the same way. A
hardware-in-loop rig swaps both for real modems and nothing else changes.

    lawline sim --state-dir DIR   ->  DIR/sim.json once ready:
    {"profile": "simcom-sim7600", "pid": 123,
     "box": {"at": "/dev/pts/3", "audio": "/dev/pts/4", "number": "07730148"},
     "caller": {"at": "/dev/pts/5", "audio": "/dev/pts/6", "number": "13800138000"},
     "control": "DIR/control.sock"}
"""

from .faults import FAULTS, FaultError, inject
from .faults import request as control_request
from .profiles import PROFILES
from .server import run

__all__ = ["run", "add_arguments", "main", "inject", "status", "control_request",
           "FAULTS", "FaultError", "PROFILES"]


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
