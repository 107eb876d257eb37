"""`lawline-rig`: the loopback line and the test rig (never installed on the box).

    lawline-rig sim --state-dir DIR                    the loopback line (simulated modems)
    lawline-rig demo [--serve] [--state-dir DIR]       the box end to end on the loopback line
    lawline-rig dutyphone --port P ...                 a duty phone for tests and the demo
    lawline-rig receiver --dir DIR ...                 a local upstream for tests and the demo
    lawline-rig report-month --config C --month M      a generated month and its report

On a development machine `lawline sim|demo|dutyphone|receiver` hand over to this command, so
the documented `lawline sim` / `lawline demo` keep working where the rig is installed.
"""

import argparse
import sys

from lawline.cli import run_command

COMMANDS = ("sim", "demo", "dutyphone", "receiver")


def build_parser(prog="lawline-rig"):
    parser = argparse.ArgumentParser(prog=prog, description="the loopback line and test rig")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug log (AT wire log)")
    sub = parser.add_subparsers(dest="command", required=True)

    from . import sim
    p = sub.add_parser("sim", help="the loopback line: simulated modems on pseudo-terminals")
    sim.add_arguments(p)
    p.set_defaults(func=sim.main)

    from . import demo
    p = sub.add_parser("demo", help="the box end to end on the loopback line")
    demo.add_arguments(p)
    p.set_defaults(func=demo.main)

    from .probe import dutyphone
    p = sub.add_parser("dutyphone", help="a duty phone (pjsua2 user agent) for tests and demo")
    dutyphone.add_arguments(p)
    p.set_defaults(func=dutyphone.main)

    from . import receiver
    p = sub.add_parser("receiver", help="a local upstream (HTTP PUT) for tests and demo")
    receiver.add_arguments(p)
    p.set_defaults(func=receiver.main)

    from . import reportmonth
    p = sub.add_parser("report-month", help="generate a month of calls and cases into a "
                       "spool, then write its monthly report (lawline report's files)")
    reportmonth.add_arguments(p)
    p.set_defaults(func=reportmonth.main)
    return parser


def main(argv=None, prog="lawline-rig"):
    return run_command(build_parser(prog), argv)


if __name__ == "__main__":
    sys.exit(main())
