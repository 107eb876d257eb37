"""python -m lawline_rig.sim --state-dir DIR [...]: the loopback line without the lawline CLI."""

import argparse
import sys

from . import add_arguments, main

parser = argparse.ArgumentParser(prog="python -m lawline_rig.sim", description=__doc__.split(":", 1)[1].strip())
sys.exit(main(add_arguments(parser).parse_args()))
