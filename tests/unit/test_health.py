"""Health to the office (records/health.py): a real outbox, the real SMS queue on SQLite and
the box's status; the signal readings and the trunk state are fed as the modem and the trunk
would report them."""

import asyncio
import sqlite3
import types

from lawline import config as configuration
from lawline.clock import Clock
from lawline.records import health
from lawline.records.smsqueue import SmsQueue
from lawline.status import Status
from lawline.sync.mail import EmailTarget
from lawline.sync.outbox import Outbox


def make(tmp_path, readings, trunk=True, **health_options):
    spool = tmp_path / "spool"
    spool.mkdir()
    cfg = configuration.from_dict({
        "office": {"name": "测试县法律服务专线", "head_mobile": "13800000009"},
        "spool": {"dir": str(spool)}, "health": {"at": "", **health_options}})
    outbox = Outbox(spool / "outbox.db", spool, ["upstream", "email"],
                    kinds={"email": set(EmailTarget.kinds)})
    sms = SmsQueue(sqlite3.connect(":memory:", isolation_level=None,
                                   check_same_thread=False))
    values = iter(readings)

    async def signal():
        return next(values)
    state = types.SimpleNamespace(registered=trunk, sentence=lambda: "trunk sentence")
    h = health.Health(health=cfg.health, office=cfg.office, outbox_cfg=cfg.outbox,
                      spool_dir=cfg.spool_dir, outbox=outbox, sms=sms, status=Status(None),
                      signal=signal, trunk=types.SimpleNamespace(state=state),
                      clock=Clock(cfg.office.timezone))
    return h, outbox, sms


def sms_texts(sms):
    return [row[0] for row in sms._db.execute("SELECT text FROM sms WHERE purpose = 'health'")]


def step(h, now):
    report = asyncio.run(h.sample(now))
    reason = h.due(report)
    if reason:
        h.send(report, reason)
    return report, reason


def test_the_text_names_each_part(tmp_path):
    h, outbox, _ = make(tmp_path, [-71, -75])
    report, _ = step(h, 1000.0)
    text = report.text("测试县法律服务专线", Clock("Asia/Shanghai"))
    assert text.startswith("【测试县法律服务专线】设备状态") and "正常" in text
    assert "信号：-71 dBm" in text and "中继：已注册" in text and "待上传：0 件" in text
    assert "磁盘剩余：" in text and " GB" in text


def test_a_change_that_holds_is_told_once_by_sms_and_email(tmp_path):
    h, outbox, sms = make(tmp_path, [-71, -101, -103, -104])
    assert step(h, 0.0)[1] is None          # baseline
    assert step(h, 300.0)[1] is None        # weak once: not yet
    report, reason = step(h, 600.0)         # weak twice: told
    assert reason == "changed"
    assert "异常：信号弱" in report.text("x", Clock("Asia/Shanghai"))
    assert report.signal_trend == "falling"
    assert step(h, 900.0)[1] is None        # still weak: nothing new
    [text] = sms_texts(sms)
    assert "信号弱" in text
    items = [i for i in outbox.pending("email")]
    assert len(items) == 1 and items[0].kind == "health"


def test_one_bad_reading_pages_nobody(tmp_path):
    h, _, sms = make(tmp_path, [-71, None, -70, -72])
    for t in (0.0, 300.0, 600.0, 900.0):
        assert step(h, t)[1] is None
    assert sms_texts(sms) == []


def test_the_daily_report_comes_once_a_day(tmp_path):
    h, _, sms = make(tmp_path, [-71] * 4, at="08:00")
    h.clock.move_to("2026-12-01T07:59:00")
    assert step(h, 0.0)[1] is None
    h.clock.move_to("2026-12-01T08:00:30")
    assert step(h, 300.0)[1] == "daily"
    assert step(h, 600.0)[1] is None
    h.clock.move_to("2026-12-02T08:01:00")
    assert step(h, 900.0)[1] == "daily"
    assert len(sms_texts(sms)) == 2


def test_a_box_started_after_the_hour_waits_for_tomorrow(tmp_path):
    h, _, sms = make(tmp_path, [-71] * 2, at="08:00")
    h.clock.move_to("2026-12-01T09:30:00")
    assert step(h, 0.0)[1] is None
    assert step(h, 300.0)[1] is None


def test_backlog_and_trunk_show_in_the_report_and_the_status(tmp_path):
    h, outbox, _ = make(tmp_path, [-71], trunk=False)
    outbox.commit("k1", "call", {"x": 1}, {})
    report = asyncio.run(h.sample())
    assert report.backlog == 1 and report.trunk is False    # a call record: upstream only
    assert "中继：未注册" in report.text("x", Clock("Asia/Shanghai"))
    assert h.status.get("upstream")["message"].startswith("1 upload(s) waiting")


def test_trend():
    assert health.trend([(0, -80), (100, -70)], 100) == "rising"
    assert health.trend([(0, -80), (100, -78)], 100) == "steady"
    assert health.trend([(0, -60), (health.DAY + 10, -80), (health.DAY + 20, -79)],
                        health.DAY + 20) == "steady"     # older than a day: left out
    assert health.trend([(0, -80)], 0) == ""


def test_the_mail_target_builds_the_health_mail(tmp_path):
    target = EmailTarget("email", "127.0.0.1", 25, "box@county.example", ["office@x.cn"],
                         security="none", office_name="测试县")
    item = types.SimpleNamespace(kind="health", key="health-20261201-080000", created=0.0,
                                 record={"text": "【测试县】设备状态 12-01 08:00 正常\n信号：-71 dBm"},
                                 files={})
    msg = target.build(item)
    assert msg["Subject"] == "【测试县】设备状态 12-01 08:00 正常"
    assert "信号：-71 dBm" in msg.get_content()
