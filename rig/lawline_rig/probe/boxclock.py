"""The box with its office clock moved, for tests: `python -m lawline_rig.probe.boxclock
2026-02-14T10:00:00 -v run --config ...` runs `lawline -v run --config ...` in this process
with the box's clock (lawline/clock.Clock) moved to that time. Office hours and the rota then
see that day; records keep the real clock. The shipped box has no such switch (clock.py says
why); only this rig, which is never installed on the box, can move it."""

import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        print("usage: python -m lawline_rig.probe.boxclock WHEN lawline-arguments...",
              file=sys.stderr)
        return 2
    from lawline import cli
    return cli.main(argv[1:], moved_to=argv[0])


if __name__ == "__main__":
    sys.exit(main())
