"""`lawline duty`: who is on duty now and next, and whether a rota file is fit to use.

    lawline duty --config FILE                   now, next, gaps in the next [duty] gap_days
    lawline duty --config FILE --at 2026-12-24T20:00
    lawline duty --config FILE --check rota.xlsx [more files]
                                                 every problem, by file, row and column;
                                                 exit 1 when a file has errors
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from .. import build, config as configuration
from ..duty.roster import load_file
from ..errors import ConfigError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="/etc/lawline/lawline.toml")
    p.add_argument("--at", type=dt.datetime.fromisoformat, metavar="YYYY-MM-DDTHH:MM",
                   help="ask about another moment (default: now)")
    p.add_argument("--check", nargs="+", metavar="FILE",
                   help="check rota files (CSV/XLSX) against [duty] shifts, without using them")


def main(args: argparse.Namespace) -> int:
    cfg = configuration.load(args.config)
    desk = build.desk(cfg, build.clock(cfg))
    if args.check:
        bad = 0
        for path in args.check:
            try:
                loaded = load_file(Path(path), desk.shifts, desk.calendar,
                                   tuple(cfg.duty.required_roles),
                                   check_number=desk.dialplan.refusal)
            except ConfigError as exc:
                print(f"ERROR {exc}")
                bad += 1
                continue
            for line in loaded.errors:
                print(f"ERROR {line}")
            for line in loaded.warnings:
                print(f"WARN  {line}")
            bad += bool(loaded.errors)
            people = len({e.person.mobile for e in loaded.entries})
            print(f"{path}: {len(loaded.entries)} row(s), {people} people, "
                  f"{len(loaded.errors)} error(s), {len(loaded.warnings)} gap(s)")
        return 1 if bad else 0
    for line in desk.status_lines(args.at):
        print(line)
    for state, part, message in desk.problems(args.at):
        if state != "ok":
            print(f"{state.upper()} {part}: {message}")
    return 1 if desk.rota_errors else 0
