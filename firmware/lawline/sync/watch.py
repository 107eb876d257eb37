"""Keeping an eye on the outbox: stuck deliveries, a filling spool, and retention.

Runs on the event loop next to the upload worker. Each finding is one log line when it
starts and one when it ends; the ones the office must act on also go to `alert(text)`
(the box logs them and, with `[office] head_mobile` set and a modem that sends SMS, texts
the office head). Quiet while nothing changes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from lawline.sync import retention
from lawline.sync.spool import FULL, OK

if TYPE_CHECKING:
    from lawline.sync.outbox import Outbox
    from lawline.sync.spool import SpoolGuard

log = logging.getLogger("lawline.sync")
HOUR = 3600.0


def plain_age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} days {seconds % 86400 // 3600} h"


class OutboxWatch:
    def __init__(self, outbox: Outbox, guard: SpoolGuard | None, alert: Callable[[str], object],
                 *, alert_after: float = 4 * HOUR,
                 alert_every: float = 12 * HOUR, retention_days: float = 30.0,
                 interval: float = 60.0, retention_every: float = 6 * HOUR,
                 kinds_days: dict[str, float] | None = None) -> None:
        self.outbox = outbox
        self.guard = guard
        self.alert = alert
        self.alert_after = alert_after
        self.alert_every = alert_every
        self.retention_days = retention_days
        self.kinds_days = kinds_days or {}     # kinds kept their own days (recordings)
        self.interval = interval
        self.retention_every = retention_every
        self._stuck_since_alert: dict[str, float] = {}   # target -> time of the last alert
        self._spool_level = OK
        self._last_retention: float | None = None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.check()
            except Exception as error:  # the watch must never take the box down
                log.error("outbox watch: check failed: %s", error)
            try:
                await asyncio.wait_for(stop.wait(), self.interval)
            except asyncio.TimeoutError:
                pass

    async def check(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        await self._check_spool()
        await self._check_stuck(now)
        if self._last_retention is None or now - self._last_retention >= self.retention_every:
            self._last_retention = now
            await asyncio.to_thread(retention.purge, self.outbox, self.retention_days, now,
                                    self.kinds_days)
        if not self.outbox.reserve.held and await asyncio.to_thread(self.outbox.reserve.ensure):
            log.info("outbox: room again on the spool partition; reserve restored")

    async def _check_spool(self) -> None:
        if self.guard is None:
            return
        state = await asyncio.to_thread(self.guard.state, True)
        if state.level == self._spool_level:
            return
        before, self._spool_level = self._spool_level, state.level
        if state.level == FULL:
            log.error("%s; callers are told the box cannot take messages. Nothing "
                      "undelivered is deleted: bring the upstream back or free the partition",
                      state.reason)
            self.alert(f"法律服务专线留言空间已满，暂停录音。{state.reason}")
        elif state.level == OK:
            log.info("%s; back to normal (was %s)", state.reason, before)
        else:
            log.warning("%s", state.reason)

    async def _check_stuck(self, now: float) -> None:
        for target in self.outbox.targets:
            oldest = await asyncio.to_thread(self.outbox.oldest_pending, target)
            if oldest is None or now - oldest < self.alert_after:
                if target in self._stuck_since_alert:
                    del self._stuck_since_alert[target]
                    log.info("outbox: deliveries to %s caught up", target)
                continue
            last = self._stuck_since_alert.get(target)
            if last is not None and now - last < self.alert_every:
                continue
            self._stuck_since_alert[target] = now
            pending = await asyncio.to_thread(self.outbox.pending, target, now)
            error = next((p.last_error for p in pending if p.last_error), None)
            text = (f"{len(pending)} item{'s' if len(pending) != 1 else ''} not delivered to "
                    f"{target}; the oldest has waited {plain_age(now - oldest)}"
                    + (f"; last error: {error}" if error else ""))
            log.error("outbox: %s", text)
            self.alert(f"法律服务专线：{len(pending)} 条记录未能上传到 {target}，"
                       f"最早的已等待 {plain_age(now - oldest)}。")
