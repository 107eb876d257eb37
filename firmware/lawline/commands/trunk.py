"""`lawline trunk --config FILE`: register once with the [trunk] and say how it went
(`SIP trunk sip:... registered as ...` or `unregistered: 401 wrong password for user ...`).
One pjsua2 endpoint per process: run it beside the box, never inside it (the running box
writes its own registration to its state for `lawline check`)."""

from __future__ import annotations

import argparse

from .. import config as configuration
from ..sip.trunk import configured, probe


def main(args: argparse.Namespace) -> int:
    cfg = configuration.load(args.config)
    if not configured(cfg):
        print("no [trunk] registrar configured: duty phones are called directly")
        return 0
    state = probe(cfg, args.timeout)
    print(state.sentence())
    return 0 if state.registered else 1
