"""The box's health, told to the office: once a day, and when it changes.

A short status by SMS to [office] head_mobile and, through the outbox, by e-mail (the mail
target takes "health" items; the upstream gets the same record as JSON): signal strength and
its trend over the last day, trunk registration, the outbox backlog and its age, and the disk
left on the spool's partition. Nobody looks at a box in a cupboard until the line is dead;
this is how the office hears about a weak antenna or a full card first.

A change is a move between bands (signal good/weak/none, trunk up/down, backlog none/waiting/
overdue, disk ok/low) that holds for two samples in a row, so one bad reading does not page
anyone. The "upstream" part of the box's status (systemd STATUS=, lawline check) is set from
the same sample.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Awaitable, Callable, Iterable, Protocol, TypedDict

from ..clock import Clock
from ..settings import HealthSection, OfficeSection, OutboxSection
from ..sip.registration import TrunkState
from ..status import OK, WARN, Status

if TYPE_CHECKING:
    from ..line.parts import LineModem
    from ..sync.outbox import Outbox
    from .smsqueue import SmsQueue

log = logging.getLogger("lawline.health")

DAY = 86400.0
WEAK_DBM = -95          # CSQ 9: calls break up below this (reference/modems.md, signal)
LOW_DISK_MB = 200       # what lawline check calls low, too
TREND_DB = 6            # a change of this much over the day is a trend, less is steady

Signal = Callable[[], Awaitable[int | None]]       # async () -> dBm or None


class SipTrunk(Protocol):
    """The SIP trunk (sip/trunk.Trunk, which loads pjsua2: named here by its shape)."""
    @property
    def state(self) -> TrunkState: ...


class Bands(TypedDict):
    """Where each part of a report stands; a move between them is a change."""
    signal: str             # "good", "weak", "none"
    trunk: bool | None      # registered; None: no trunk
    backlog: str            # "none", "waiting", "overdue"
    disk: str               # "ok", "low"


@dataclass
class HealthReport:
    at: float
    signal_dbm: int | None          # None: no reading (modem busy in a call, or no network)
    signal_trend: str               # "rising", "falling", "steady" or "" (not enough data)
    trunk: bool | None              # None: no trunk configured (duty phones called directly)
    trunk_text: str
    backlog: int                    # deliveries waiting
    oldest_hours: float | None      # age of the oldest waiting one
    disk_free_mb: float
    overdue_hours: float = 4.0      # [outbox] alert_after_hours

    def bands(self) -> Bands:
        signal = ("none" if self.signal_dbm is None else
                  "weak" if self.signal_dbm < WEAK_DBM else "good")
        backlog = ("none" if not self.backlog else
                   "overdue" if (self.oldest_hours or 0) > self.overdue_hours else "waiting")
        return {"signal": signal, "trunk": self.trunk, "backlog": backlog,
                "disk": "low" if self.disk_free_mb < LOW_DISK_MB else "ok"}

    def troubles(self) -> list[str]:
        b = self.bands()
        out = []
        if b["signal"] != "good":
            out.append("信号弱" if b["signal"] == "weak" else "无信号")
        if b["trunk"] is False:
            out.append("中继未注册")
        if b["backlog"] == "overdue":
            out.append("上传积压")
        if b["disk"] == "low":
            out.append("磁盘将满")
        return out

    def text(self, office_name: str, clock: Clock) -> str:
        """The SMS and e-mail body: one line per part, Chinese, short; the time the office's
        (`clock`)."""
        when = clock.local(self.at).strftime("%m-%d %H:%M")
        trend = {"rising": "上升", "falling": "下降", "steady": "稳定"}.get(self.signal_trend, "")
        signal = ("无读数" if self.signal_dbm is None else
                  f"{self.signal_dbm} dBm" + (f"（{trend}）" if trend else ""))
        trunk = {None: "未配置（直拨）", True: "已注册", False: "未注册"}[self.trunk]
        if self.backlog:
            backlog = f"{self.backlog} 件，最早 {self.oldest_hours:.1f} 小时前"
        else:
            backlog = "0 件"
        troubles = self.troubles()
        head = f"【{office_name}】设备状态 {when}" + (f" 异常：{'、'.join(troubles)}"
                                                    if troubles else " 正常")
        return "\n".join([head, f"信号：{signal}", f"中继：{trunk}", f"待上传：{backlog}",
                          f"磁盘剩余：{self.disk_free_mb / 1024:.1f} GB"])


def trend(readings: Iterable[tuple[float, int | None]], now: float, window: float = DAY) -> str:
    """'rising', 'falling' or 'steady' from (time, dBm) readings of the last `window`."""
    recent = [(t, d) for t, d in readings if now - t <= window and d is not None]
    if len(recent) < 2:
        return ""
    change = recent[-1][1] - recent[0][1]
    return "rising" if change >= TREND_DB else "falling" if change <= -TREND_DB else "steady"


class Health:
    """Samples the parts every [health] check_minutes; tells the office when due. It gets
    its own sections only: [health], [office] (name, head), [outbox] (alert_after_hours)."""

    def __init__(self, *, health: HealthSection, office: OfficeSection,
                 outbox_cfg: OutboxSection, spool_dir: Path, outbox: Outbox | None,
                 sms: SmsQueue | None = None, status: Status | None = None,
                 signal: Signal | None = None, trunk: SipTrunk | None = None,
                 mail: Callable[[], None] | None = None, clock: Clock | None = None) -> None:
        self.clock = clock or Clock(office.timezone)    # the office's (clock.py)
        self.health = health
        self.office = office
        self.outbox_cfg = outbox_cfg
        self.spool_dir = spool_dir
        self.outbox = outbox
        self.sms = sms                  # records/smsqueue.SmsQueue (retries until the modem sends)
        self.status = status
        self.signal = signal            # async () -> dBm or None
        self.trunk = trunk              # sip/trunk.Trunk or None
        self.mail = mail                # commit health items for the mail target
        self.readings: collections.deque[tuple[float, int | None]] = \
            collections.deque(maxlen=24 * 60)
        self.reported: Bands | None = None          # bands of the last report sent
        self._pending_change: Bands | None = None   # seen once, different from `reported`
        self.last_daily: dt.date | None = None      # date of the last daily report

    async def sample(self, now: float | None = None) -> HealthReport:
        now = time.time() if now is None else now
        dbm = None
        if self.signal is not None:
            try:
                dbm = await self.signal()
            except Exception as exc:  # noqa: BLE001 (a reading is never worth a crash)
                log.info("health: no signal reading: %s", exc)
        self.readings.append((now, dbm))
        trunk_state = getattr(self.trunk, "state", None)
        trunk = None if trunk_state is None else bool(trunk_state.registered)
        trunk_text = trunk_state.sentence() if trunk_state is not None else "no trunk"
        backlog, oldest = 0, None
        if self.outbox is not None:
            backlog = len(self.outbox.pending())
            first = self.outbox.oldest_pending()
            oldest = None if first is None else (now - first) / 3600
        try:
            free = shutil.disk_usage(self.spool_dir).free / 2**20
        except OSError:
            free = 0.0
        report = HealthReport(now, dbm, trend(self.readings, now), trunk, trunk_text,
                              backlog, oldest, free, self.outbox_cfg.alert_after_hours)
        self._set_upstream_status(report)
        return report

    def _set_upstream_status(self, report: HealthReport) -> None:
        if self.status is None:
            return
        band = report.bands()["backlog"]
        if band == "none":
            self.status.set("upstream", OK, "everything delivered")
        else:
            self.status.set("upstream", WARN if band == "overdue" else OK,
                            f"{report.backlog} upload(s) waiting, the oldest "
                            f"{report.oldest_hours:.1f} h")

    def due(self, report: HealthReport) -> str | None:
        """Why a report is due now ('daily', 'changed'), or None."""
        bands = report.bands()
        at = self.health.at
        today = self.clock.today()
        if self.reported is None:
            # The first sample is the baseline, not a change; a box started after today's
            # time reports tomorrow (a restart does not send a second daily report).
            self.reported = bands
            if at and self.clock.now().strftime("%H:%M") >= at:
                self.last_daily = today
        if at and self.clock.now().strftime("%H:%M") >= at and self.last_daily != today:
            self.last_daily = today
            return "daily"
        if bands != self.reported:
            if self._pending_change == bands:   # seen twice in a row: real
                return "changed"
            self._pending_change = bands
        else:
            self._pending_change = None
        return None

    def send(self, report: HealthReport, reason: str) -> None:
        self.reported = report.bands()
        self._pending_change = None
        text = report.text(self.office.name, self.clock)
        log.info("health: %s report to the office: %r", reason, text.replace("\n", "; "))
        head = self.office.head_mobile
        if self.health.sms and head and self.sms is not None:
            self.sms.queue(head, text, "health")
        if self.health.email and self.outbox is not None:
            key = "health-" + self.clock.local(report.at).strftime("%Y%m%d-%H%M%S")
            record = {"kind": "health", "reason": reason, "text": text, **asdict(report)}
            self.outbox.commit(key, "health", record, {})
            if self.mail is not None:
                self.mail()

    async def run(self, stop: asyncio.Event) -> None:
        every = self.health.check_minutes * 60
        while not stop.is_set():
            try:
                report = await self.sample()
                reason = self.due(report)
                if reason:
                    self.send(report, reason)
            except Exception as exc:  # noqa: BLE001 (health must never stop the box)
                log.warning("health: check failed: %s", exc)
            try:
                await asyncio.wait_for(stop.wait(), every)
            except asyncio.TimeoutError:
                pass


def modem_signal(modem: LineModem | None, timeout: float = 3.0) -> Signal:
    """An async reader of the modem's signal in dBm (AT+CSQ), None while a call is up or the
    network is unknown (CSQ 99)."""
    async def read() -> int | None:
        if modem is None or modem.in_call or getattr(modem, "ringing", False):
            return None
        reply = " ".join(await modem.at.command("AT+CSQ", timeout=timeout, expect="+CSQ:"))
        rssi = int(reply.split(":")[1].split(",")[0])
        return None if rssi == 99 else -113 + 2 * rssi
    return read
