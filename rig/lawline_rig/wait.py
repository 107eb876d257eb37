"""The one way every tier waits: poll a condition until it holds, with a timeout and a message
that names what was awaited. Tests wait on events (a file, a log line, a state), never on
fixed sleeps; this is how they do it.

    wait_until(lambda: ready.exists(), 15, "the duty phone to start")
    await async_wait_until(lambda: line_free(), 20, "line 1's box to hang up")

On timeout: TimeoutError("timed out after 15 s waiting for the duty phone to start"), with
`detail()` appended when given (a log's tail, the last state seen)."""

import asyncio
import time


def _timed_out(timeout, what, detail):
    message = f"timed out after {timeout:g} s waiting for {what}"
    if detail is not None:
        extra = detail()
        if extra:
            message += f": {extra}"
    return TimeoutError(message)


def wait_until(predicate, timeout, what, interval=0.05, detail=None):
    """Call `predicate` every `interval` seconds until it returns something true, and return
    that; after `timeout` seconds raise TimeoutError naming `what` (and `detail()`)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise _timed_out(timeout, what, detail)
        time.sleep(interval)


async def async_wait_until(predicate, timeout, what, interval=0.05, detail=None):
    """wait_until for a coroutine: the event loop goes on serving between the polls."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise _timed_out(timeout, what, detail)
        await asyncio.sleep(interval)
