"""The composition root's builders: every part made from the configuration the one way.

The box (app.py), the office page (web/), `lawline check` and the shells all hold the whole
configuration and build the parts they need here, each part receiving only its own sections
and the office's clock. Nothing here starts a task or touches the modem or SIP, so the page
and the shells can use it without pjsua2.
"""

from __future__ import annotations

from collections.abc import Callable

from .clock import Clock
from .config import Config
from .duty.desk import DutyDesk
from .records.office import Office, OfficeSettings
from .sip.dialplan import DialPlan
from .sync.outbox import Outbox
from .sync.service import SyncService, SyncSettings
from .status import Status
from .sync.settings import build_targets


def clock(cfg: Config, moved_to: str | None = None) -> Clock:
    """The office's clock, in [office] timezone (`moved_to`: the test rig only)."""
    return Clock(cfg.office.timezone, moved_to)


def desk(cfg: Config, office_clock: Clock) -> DutyDesk:
    """Who is on duty, office hours, the calendar: [duty], [hours], [calendar], the dial plan."""
    return DutyDesk(duty=cfg.duty, hours=cfg.hours, calendar=cfg.calendar,
                    plan=DialPlan.from_config(cfg), clock=office_clock)


def sync(cfg: Config, office_clock: Clock, alert: Callable[[str], object] | None = None,
         status: Status | None = None) -> SyncService:
    """The outbox with its targets, the upload worker and the outbox watch. `alert(text)`
    tells the office head (by SMS); `status` is the box's status file."""
    return SyncService(SyncSettings.of(cfg), build_targets(cfg), alert, status, office_clock)


def outbox(cfg: Config, office_clock: Clock) -> Outbox:
    """The outbox alone, owed to the configured targets (the page and the shells: no worker,
    never a damaged file set aside: that is the box's to do at its start)."""
    targets = build_targets(cfg)
    return Outbox(cfg.spool_dir / "outbox.db", cfg.spool_dir, targets.names,
                  kinds=targets.kinds, clock=office_clock)


def office(cfg: Config, office_clock: Clock, outbox_: Outbox, *,
           box: bool = False) -> Office:
    """The office on `outbox_`: its case book, SMS queue, limits and ledger. `box`: the
    box's own, which sets a damaged case book aside instead of refusing it."""
    spool = cfg.spool_dir
    return Office(OfficeSettings.of(cfg), spool, desk=desk(cfg, office_clock), outbox=outbox_,
                  damaged_dir=spool / "damaged" if box else None)
