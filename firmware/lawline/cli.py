"""`lawline`: the box's one command.

    lawline run --config /etc/lawline/lawline.toml     the box itself (systemd runs this)
    lawline check --config ...                         validate config, probe modem, prompts
    lawline config --example                           every option with its default
    lawline outbox --config ...                        what is waiting to go upstream
    lawline duty --config ... [--at T] [--check F]     who is on duty now and next; rota check
    lawline case list|show|resolve|assign ...          the office's cases
    lawline report --week|--month --config ...         the periodic report (CSV + chart)
    lawline prompts [DIR]                              render missing prompt audio
    lawline web --config ...                           the office's web page (HTTPS)
    lawline web user add|list|unlock|passwd ...        its accounts
    lawline update FILE|URL | --poll | --status        field updates (RAUC, on the SD-card image)

The loopback line, the demo and the test rig are a separate package (`lawline-rig`, in rig/),
never installed on the box. Where it is installed, `lawline sim|demo|dutyphone|receiver`
hand over to it; elsewhere they say so.
"""

import argparse
import importlib.util
import os
import logging
import sys
from collections.abc import Sequence

from .errors import ConfigError, LawlineError

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(message)s"


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=LOG_FORMAT,
                        stream=sys.stderr)
    if not verbose:
        logging.getLogger("lawline.wire").setLevel(logging.INFO)


def _cmd_run(args: argparse.Namespace) -> int:
    from . import config
    cfg = config.load(args.config)
    try:
        from . import app
    except ModuleNotFoundError as exc:
        if exc.name != "pjsua2":
            raise
        from .check import PJSUA2_FIX
        raise LawlineError(f"cannot run the box: {PJSUA2_FIX}") from None
    from . import build
    return app.run(cfg, build.clock(cfg, args.moved_to))


def _cmd_check(args: argparse.Namespace) -> int:
    from . import check
    return check.main(args)


def _cmd_config(args: argparse.Namespace) -> int:
    from . import config
    if args.example:
        print(config.example())
        return 0
    if args.config:
        config.load(args.config)
        print(f"{args.config}: OK")
        return 0
    print("use --example or --config FILE", file=sys.stderr)
    return 2


def _cmd_outbox(args: argparse.Namespace) -> int:
    from . import config
    from .commands.outbox import main
    return main(config.load(args.config))


def _cmd_trunk(args: argparse.Namespace) -> int:
    try:
        from .commands import trunk
    except ModuleNotFoundError as exc:
        if exc.name != "pjsua2":
            raise
        from .check import PJSUA2_FIX
        raise LawlineError(f"cannot probe the trunk: {PJSUA2_FIX}") from None
    return trunk.main(args)


def _cmd_prompts(args: argparse.Namespace) -> int:
    from . import prompts
    return prompts.main(args.rest)


def main(argv: Sequence[str] | None = None, moved_to: str | None = None) -> int:
    """`moved_to`: the office clock's moved "now" for `run` (the test rig only, in-process:
    rig/lawline_rig/probe/boxclock.py; no option or variable reaches it)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    words = [a for a in argv if not a.startswith("-")]
    if words and words[0] in RIG_COMMANDS:
        return _rig(argv)
    parser = argparse.ArgumentParser(prog="lawline", description="the 0148 legal-service line box")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug log (AT wire log)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run the box")
    p.add_argument("--config", default="/etc/lawline/lawline.toml")
    p.set_defaults(func=_cmd_run, moved_to=moved_to)

    p = sub.add_parser("check", help="validate the config and probe modem, prompts, upstream")
    p.add_argument("--config", default="/etc/lawline/lawline.toml")
    p.add_argument("--no-modem", action="store_true", help="skip the modem probe")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("config", help="show the example config or validate one")
    p.add_argument("--example", action="store_true")
    p.add_argument("--config")
    p.set_defaults(func=_cmd_config)

    p = sub.add_parser("outbox", help="list what is waiting to go upstream")
    p.add_argument("--config", default="/etc/lawline/lawline.toml")
    p.set_defaults(func=_cmd_outbox)

    from .commands import cases as case_commands, duty as duty_command
    p = sub.add_parser("duty", help="who is on duty now and next; check rota files")
    duty_command.add_arguments(p)
    p.set_defaults(func=duty_command.main)
    p = sub.add_parser("case", help="list, show, resolve or assign cases")
    case_commands.add_case_arguments(p)
    p.set_defaults(func=case_commands.case_main)
    p = sub.add_parser("report", help="the weekly or monthly report (CSV and chart)")
    case_commands.add_report_arguments(p)
    p.set_defaults(func=case_commands.report_main)

    p = sub.add_parser("trunk", help="register once with the [trunk] and say how it went")
    p.add_argument("--config", default="/etc/lawline/lawline.toml")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds (default: [trunk] reply_timeout + 1)")
    p.set_defaults(func=_cmd_trunk)

    from .web import server as web_server
    p = sub.add_parser("web", help="the office's web page (HTTPS); 'web user ...' accounts")
    web_server.add_arguments(p)
    p.set_defaults(func=web_server.main)

    from .commands import update
    p = sub.add_parser("update", help="install a signed update bundle (file, URL, USB "
                       "stick) into the other root slot; --status")
    update.add_arguments(p)
    p.set_defaults(func=update.main)

    p = sub.add_parser("prompts", help="render missing prompt audio")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=_cmd_prompts)

    return run_command(parser, argv)


RIG_COMMANDS = ("sim", "demo", "dutyphone", "receiver")


def _rig(argv: list[str]) -> int:
    """`lawline sim ...` on a development machine: hand over to the rig's own command, in
    its own program (the rig builds on the box's package; the box never imports the rig)."""
    if importlib.util.find_spec("lawline_rig") is None:
        print(f"lawline {argv[0]}: the loopback line and test rig are not installed on this "
              "machine (they are never on the box); on a development machine run "
              "`make deps`, which installs the lawline-rig package from rig/", file=sys.stderr)
        return 2
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "lawline_rig", *argv])


def run_command(parser: argparse.ArgumentParser, argv: Sequence[str]) -> int:
    """Parse, set up the log, run the chosen command, and turn typed errors into exit codes."""
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        return args.func(args) or 0
    except ConfigError as exc:
        print(f"lawline: config error: {exc}", file=sys.stderr)
        return 2
    except LawlineError as exc:
        print(f"lawline: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
