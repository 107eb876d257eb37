"""Visibility: `lawline outbox`, the stuck-delivery alert, the spool-full alert."""

import asyncio
import logging
import time

from lawline import cli
from lawline import config as configuration
from lawline.sync import Outbox
from lawline.sync.backlog import describe
from lawline.sync.spool import SpoolGuard
from lawline.sync.watch import OutboxWatch

from .helpers import commit_voicemail


def test_alert_fires_once_when_the_oldest_item_is_too_old_and_clears(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="lawline.sync")
    outbox = Outbox(tmp_path / "spool" / "outbox.db", tmp_path / "spool", ["upstream"])
    commit_voicemail(outbox, "260112001")
    item = outbox.get("260112001")
    outbox.mark_failed(item.item_id, "upstream", "connection refused by https://up.example")
    alerts = []
    watch = OutboxWatch(outbox, None, alerts.append, alert_after=3600, alert_every=6 * 3600)
    now = time.time()
    asyncio.run(watch.check(now + 600))
    assert alerts == []  # ten minutes: not yet
    asyncio.run(watch.check(now + 2 * 3600))
    asyncio.run(watch.check(now + 3 * 3600))  # still stuck, but alerted an hour ago
    assert len(alerts) == 1 and "最早的已等待 2 h 0 min" in alerts[0]
    assert ("outbox: 1 item not delivered to upstream; the oldest has waited 2 h 0 min; "
            "last error: connection refused by https://up.example") in caplog.text
    asyncio.run(watch.check(now + 9 * 3600))
    assert len(alerts) == 2  # repeated after alert_every
    outbox.mark_done(item.item_id, "upstream")
    asyncio.run(watch.check(now + 10 * 3600))
    assert "deliveries to upstream caught up" in caplog.text
    outbox.close()


def test_spool_full_alert(tmp_path, caplog):
    spool = tmp_path / "spool"
    outbox = Outbox(spool / "outbox.db", spool, ["upstream"])
    guard = SpoolGuard(spool, max_mb=0.1, min_free_mb=0, message_bytes=200_000)
    alerts = []
    asyncio.run(OutboxWatch(outbox, guard, alerts.append).check())
    assert len(alerts) == 1 and "留言空间已满" in alerts[0]
    assert "callers are told the box cannot take messages" in caplog.text
    outbox.close()


def test_outbox_report_in_plain_words(tmp_path):
    outbox = Outbox(tmp_path / "spool" / "outbox.db", tmp_path / "spool",
                    ["upstream", "email"], kinds={"email": {"voicemail"}})
    commit_voicemail(outbox, "260112001")
    outbox.commit("call-260112-0930-ab12", "call", {"outcome": "bridged"}, {})
    item = outbox.get("260112001")
    outbox.mark_failed(item.item_id, "upstream", "HTTP 401 Unauthorized from https://up/x")
    outbox.mark_done(item.item_id, "email")
    text = describe(outbox, ["upstream", "email"], now=time.time() + 7200)
    lines = text.splitlines()
    assert lines[0] == "upstream: 2 waiting, oldest 2 h 0 min"
    assert "260112001" in lines[1] and "voicemail" in lines[1] and "waiting 2 h 0 min" in lines[1]
    assert "1 attempt, next now; last error: HTTP 401 Unauthorized from https://up/x" in lines[1]
    assert "call-260112-0930-ab12" in lines[2] and "not tried yet" in lines[2]
    assert lines[3] == "email: nothing waiting"
    outbox.close()


def test_lawline_outbox_command(tmp_path, capsys):
    spool = tmp_path / "spool"
    outbox = Outbox(spool / "outbox.db", spool, ["upstream"])
    commit_voicemail(outbox, "260112001")
    outbox.close()
    path = tmp_path / "lawline.toml"
    path.write_text(configuration.dump({"spool": {"dir": str(spool)},
                                        "upstream": {"url": "https://up.example/dav"}}))
    assert cli.main(["outbox", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "upstream: 1 waiting, oldest" in out and "260112001" in out
    assert f"spool {spool}:" in out
