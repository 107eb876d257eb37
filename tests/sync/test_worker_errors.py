"""The upload worker's loop when the outbox itself fails (issue 15, point 8): it never spins
and never fills the log. The first failure is logged and told (on_outbox_error), the next
ones only counted, each try further apart (doubling from outbox_retry up to a minute); when
the outbox works again that is logged and told too, and what waited goes up (to real nginx).
"""

import asyncio
import logging

from lawline.sync import Outbox, UploadWorker
from lawline.sync.http import HttpPutTarget
from lawline.sync.settings import LAYOUT

from ..line.cpu import threads_seconds as thread_cpu
from .conftest import DAV_PASSWORD, DAV_USER
from .helpers import commit_voicemail

IDLE = 0.15


def test_an_outbox_that_keeps_failing_is_said_once_tried_ever_less_and_found_again(
        tmp_path, nginx, test_ca, caplog):
    outbox = Outbox(tmp_path / "spool" / "outbox.db", tmp_path / "spool", ["upstream"])
    target = HttpPutTarget("upstream", f"{nginx.url}/dav/werr/county-0148", timeout=5,
                           cafile=test_ca.ca, username=DAV_USER, password=DAV_PASSWORD,
                           layout=LAYOUT)
    worker = UploadWorker(outbox, {"upstream": target})
    worker.outbox_retry = 0.05
    told = []
    worker.on_outbox_error = lambda name, why: told.append((name, why))

    async def main():
        stop = asyncio.Event()
        running = asyncio.ensure_future(worker.run(stop))
        try:
            commit_voicemail(outbox, "261201001")
            worker.kick()
            assert await worker.drain(20)
            outbox.close()                      # from here every read of it raises
            worker.kick()
            await asyncio.sleep(0.5)
            before = thread_cpu()
            await asyncio.sleep(1.5)            # tries at 0.05, 0.1, 0.2, 0.4, 0.8 s...
            after = thread_cpu()
            busiest = max(after[t] - before.get(t, 0.0) for t in after)
            failing = dict(worker.outbox_errors)
            outbox._open()                      # the outbox answers again
            commit_voicemail(outbox, "261201002")
            worker.kick()
            assert await worker.drain(20), "what waited went up once the outbox worked"
            return busiest, failing
        finally:
            stop.set()
            await asyncio.wait_for(running, 10)

    with caplog.at_level(logging.DEBUG, logger="lawline.sync"):
        busiest, failing = asyncio.run(main())
    outbox.close()
    assert busiest < IDLE, f"a thread used {busiest:.2f} s of 1.5 s"
    assert list(failing) == ["upstream"] and "closed database" in failing["upstream"]
    assert told == [("upstream", failing["upstream"]), ("upstream", None)], told
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].startswith("uploads to upstream paused: outbox "
                                                     "error: ProgrammingError"), errors
    tries = [r for r in caplog.records if "still paused" in r.getMessage()]
    assert 2 <= len(tries) <= 8, f"{len(tries)} quiet retries in 2 s: backoff doubles"
    resumed = [r.getMessage() for r in caplog.records if "resumed" in r.getMessage()]
    assert len(resumed) == 1 and worker.outbox_errors == {}, resumed
    stored = sorted(p.name for p in (nginx.root / "dav" / "werr" / "county-0148").glob("*/*"))
    assert stored == ["261201001", "261201002"], stored
