"""The ingest in a child process that SIGKILLs itself at a named step (the kill test's
harness, like the box's crashbox): python killchild.py DB FOLDER STEP N [BATCH]. STEP is
one of the ingest's steps (listed, fetched, before commit, committed) or "none"; the child
dies the N-th time it reaches it."""

import os
import signal
import sys

from lawline_centre.ingest import Ingest, cleanup_temp
from lawline_centre.source import DirSource
from lawline_centre.store import Store


def main(db, folder, step, nth, batch="200"):
    seen = {"n": 0}

    def hook(name):
        if name == step:
            seen["n"] += 1
            if seen["n"] == int(nth):
                os.kill(os.getpid(), signal.SIGKILL)
    cleanup_temp()
    store = Store.duckdb(db)
    report = Ingest(DirSource(folder), store, batch=int(batch), step=hook).run()
    print(report.line())
    store.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
