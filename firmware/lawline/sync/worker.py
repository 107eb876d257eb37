"""The upload worker: moves due outbox deliveries to their targets from the event loop.

Each target has its own task, so a slow or dead upstream never delays another one. Uploads
and outbox writes (which fsync) run in threads; the loop only decides. When nothing is due a
target's task sleeps until the earliest retry time, or until `kick()` says a new item was
committed, so a voicemail starts uploading as soon as the caller hangs up.

When an upstream as a whole is failing (no answer, 5xx, refused credentials) the task stops
after the first failure and waits for that item's retry time: the oldest item probes the
upstream, the others keep their attempt counts at zero and go the moment it comes back, and
the log gets one line per retry instead of one per queued item. A failure that belongs to one
item (another 4xx, a missing spool file) does not hold back the items behind it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from lawline.sync.http import UploadError
from lawline.sync.recovery import check_item_files

if TYPE_CHECKING:
    from lawline.sync.outbox import DueItem, Outbox

# Statuses that say the upstream (or our standing with it) is the problem, not the item.
_TARGET_STATUSES = frozenset({401, 403, 407, 408, 429})
_MAX_IDLE = 60.0  # re-read the outbox at least this often, whatever the schedule says
_OUTBOX_RETRY = 10.0


class Sink(Protocol):
    """What the worker needs of a target: HttpPutTarget, S3Target, EmailTarget."""

    def put_item(self, item: DueItem) -> None:
        """Deliver every file of `item`; return once the target has all of them. Raise
        UploadError when the target refused or did not answer, OSError for a local fault."""


class UploadWorker:
    """Delivers outbox items to targets: `targets` maps a target name to an object with
    `put_item(item)` (an HttpPutTarget, or any sink with the same contract)."""

    def __init__(self, outbox: Outbox, targets: Mapping[str, Sink],
                 log: logging.Logger | None = None, batch: int = 20) -> None:
        self.outbox = outbox
        self.targets = dict(targets)
        self.log = log or logging.getLogger("lawline.sync")
        self.batch = batch
        self._loop: asyncio.AbstractEventLoop | None = None
        # target name -> asyncio.Event, made inside the running loop
        self._wake: dict[str, asyncio.Event] = {}
        # set whenever a delivery is decided, for drain(); made inside the running loop
        self._changed: asyncio.Event | None = None
        self._stop: asyncio.Event | None = None
        # target -> why its task cannot read or write the outbox, while that lasts (logged
        # when it begins and when it ends, never per try); on_outbox_error(target, why or
        # None) is told the same, on the loop.
        self.outbox_errors: dict[str, str] = {}
        self.on_outbox_error: Callable[[str, str | None], object] | None = None
        self.outbox_retry = _OUTBOX_RETRY     # seconds to the first retry; doubles to _MAX_IDLE

    # -- control ----------------------------------------------------------------------------

    def kick(self) -> None:
        """Look at the outbox now (the call flow calls this right after a commit). Safe to
        call from the loop or from another thread, and before `run` started."""
        loop = self._loop
        if loop is None:
            return  # run() reads the outbox when it starts
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._set_all()
            return
        try:
            loop.call_soon_threadsafe(self._set_all)
        except RuntimeError:
            pass  # that loop has closed; the next run() reads the outbox when it starts

    def _set_all(self) -> None:
        for event in self._wake.values():
            event.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Upload until `stop` is set. An upload in flight when it is set finishes (each
        file is bounded by the target's timeout) and is recorded before run returns."""
        self._bind()
        self._stop = stop
        self._warn_unserved()
        tasks = [asyncio.ensure_future(self._serve(name, stop)) for name in self.targets]
        try:
            await stop.wait()
            self._set_all()
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()

    def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._wake = {name: asyncio.Event() for name in self.targets}
            self._changed = asyncio.Event()

    def _warn_unserved(self) -> None:
        for name, counts in self.outbox.stats()["targets"].items():
            if counts["pending"] and name not in self.targets:
                self.log.warning("outbox holds %d deliveries for target %s, which is not "
                                 "configured; they wait until it is", counts["pending"], name)

    async def _serve(self, name: str, stop: asyncio.Event) -> None:
        wake = self._wake[name]
        retry = self.outbox_retry
        while not stop.is_set():
            wake.clear()
            try:
                next_time = await self.run_once(name)
            except Exception as error:  # the outbox itself failed (disk error, full spool)
                self._outbox_failed(name, error, retry)
                next_time = time.time() + retry
                retry = min(retry * 2, _MAX_IDLE)   # a lasting fault: ever fewer tries
            else:
                retry = self.outbox_retry
                if name in self.outbox_errors:
                    self._outbox_works(name)
            if stop.is_set():
                return
            delay = _MAX_IDLE if next_time is None else next_time - time.time()
            if delay <= 0:
                continue
            try:
                await asyncio.wait_for(wake.wait(), min(delay, _MAX_IDLE))
            except asyncio.TimeoutError:
                pass

    def _outbox_failed(self, name: str, error: Exception, retry: float) -> None:
        why = f"{type(error).__name__}: {error}"
        first = name not in self.outbox_errors
        self.outbox_errors[name] = why
        if first:
            self.log.error("uploads to %s paused: outbox error: %s; retrying in %.0f s, then "
                           "less and less often (up to every %.0f s) until it works",
                           name, why, retry, _MAX_IDLE)
            if self.on_outbox_error is not None:
                self.on_outbox_error(name, why)
        else:
            self.log.debug("uploads to %s still paused: %s", name, why)

    def _outbox_works(self, name: str) -> None:
        why = self.outbox_errors.pop(name)
        self.log.warning("uploads to %s resumed: the outbox works again (it failed with %s)",
                         name, why)
        if self.on_outbox_error is not None:
            self.on_outbox_error(name, None)

    # -- one round --------------------------------------------------------------------------

    async def run_once(self, target: str | None = None) -> float | None:
        """Deliver what is due now to `target` (or to every target, side by side) and return
        the earliest time anything is due next, or None when nothing is pending."""
        self._bind()
        names = list(self.targets) if target is None else [target]
        results = await asyncio.gather(*(self._round(name) for name in names))
        due = [t for t in results if t is not None]
        return min(due) if due else None

    async def _round(self, name: str) -> float | None:
        sink = self.targets[name]
        items = await asyncio.to_thread(self.outbox.due, name, None, self.batch)
        for item in items:
            if self._stop is not None and self._stop.is_set():
                break
            try:
                size = await asyncio.to_thread(_put, sink, item)
            except Exception as error:  # any sink failure is a state, never the worker's end
                pause_until = await self._failed(name, item, error)
                if pause_until is not None:
                    return pause_until
            else:
                await asyncio.to_thread(self.outbox.mark_done, item.item_id, name)
                count = len(item.files)
                self.log.info("upload %s to %s: done (%d file%s, %s)", item.key, name, count,
                              "" if count == 1 else "s", _size(size))
                assert self._changed is not None    # _bind made it
                self._changed.set()
        return await asyncio.to_thread(self.outbox.next_due, name)

    async def _failed(self, name: str, item: DueItem, error: Exception) -> float | None:
        """Record a failed attempt; when the whole target should wait, return until when."""
        if isinstance(error, UploadError):
            reason = error.reason
            whole_target = error.status is None or error.status >= 500 \
                or error.status in _TARGET_STATUSES
            if error.whole_target is not None:
                whole_target = error.whole_target
            level = logging.WARNING
        else:
            reason = f"{type(error).__name__}: {error}"
            whole_target = False
            level = logging.ERROR  # a local fault, e.g. a spool file gone missing
        retry = await asyncio.to_thread(self.outbox.mark_failed, item.item_id, name, reason)
        assert self._changed is not None    # _bind made it
        self._changed.set()
        if retry is None:
            return None
        self.log.log(level, "upload %s to %s failed (attempt %d, next try in %s): %s",
                     item.key, name, retry.attempts, _seconds(retry.delay), reason)
        return retry.next_attempt if whole_target else None

    # -- for tests and the demo -------------------------------------------------------------

    async def drain(self, timeout: float) -> bool:
        """Wait until no delivery is pending (True) or `timeout` seconds passed (False)."""
        self._bind()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        assert self._changed is not None    # _bind made it
        while True:
            self._changed.clear()
            if not await asyncio.to_thread(self.outbox.pending):
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass


def _put(sink: Sink, item: DueItem) -> int:
    check_item_files(item)
    size = sum(os.stat(path).st_size for path in item.files.values())
    sink.put_item(item)
    return size


def _seconds(delay: float) -> str:
    return f"{delay:.0f} s" if delay >= 10 else f"{delay:.1f} s"


def _size(n: int) -> str:
    if n < 1000:
        return f"{n} B"
    if n < 1000 * 1000:
        return f"{n / 1000:.0f} kB"
    return f"{n / 1000 / 1000:.1f} MB"
