"""The monthly report for leadership (issue 17.5) on real SQLite: two generated months of
calls and cases, each committed through the office's ledger at its own time
(lawline_rig.reportmonth), then the report: by topic and by duty person, against the month
before, with the service levels. Every figure checked here is counted from what the
generator made, not with records/measures.py."""

import csv
import datetime as dt
import io
import statistics
import time

import pytest

from lawline import config as configuration
from lawline.clock import Clock
from lawline.records import report
from lawline.records.office import Office
from lawline.sync.outbox import Outbox
from lawline_rig import reportmonth

NOVEMBER = dt.date(2026, 11, 1)
OCTOBER = dt.date(2026, 10, 1)
DECEMBER = dt.date(2026, 12, 1)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    spool = tmp_path_factory.mktemp("report") / "spool"
    spool.mkdir()
    cfg = configuration.from_dict({
        "office": {"name": "测试县法律服务专线", "head_mobile": "13900000009"},
        "duty": {"numbers": [m for m, _ in reportmonth.LAWYERS]},
        "spool": {"dir": str(spool)}})
    office = Office.from_config(cfg, spool, Outbox(spool / "outbox.db", spool, ["upstream"]),
                                clock=Clock(cfg.office.timezone, moved_to="2026-12-02T09:00"))
    made = reportmonth.generate(office, OCTOBER, 61, calls_per_day=4, seed=5)
    return office, made


def month(office, made, first, last):
    lo = office.clock.instant(dt.datetime.combine(first, dt.time()))
    hi = office.clock.instant(dt.datetime.combine(last, dt.time()))
    return [m for m in made if lo <= m.started < hi]


def short(m):
    return m.waited_s is not None and m.waited_s < 5


def test_the_month_and_the_month_before_count_what_was_made(generated):
    office, made = generated
    data = report.leadership(office, NOVEMBER, DECEMBER, "month", now=time.time())
    for figures, mine in ((data["total"], month(office, made, NOVEMBER, DECEMBER)),
                          (data["total_before"], month(office, made, OCTOBER, NOVEMBER))):
        assert figures["offered"] == len(mine) > 30
        answered = [m for m in mine if m.outcome == "bridged"]
        assert figures["answered"] == len(answered)
        waits = sorted(m.wait_s for m in answered)
        assert figures["answered_15s"] == sum(w <= 15 for w in waits)
        assert figures["service_level"] == round(100 * figures["answered_15s"] / len(waits), 1)
        assert figures["wait_p50"] == round(statistics.median(waits), 1)
        gave_up = [m for m in mine if m.outcome in ("missed", "abandoned")]
        assert figures["short_abandons"] == sum(short(m) for m in gave_up)
        assert figures["abandoned"] == sum(not short(m) for m in gave_up)
        assert figures["missed"] == sum(m.outcome == "missed" for m in mine)
        assert figures["abandon_rate"] == round(
            100 * figures["abandoned"] / (len(mine) - figures["short_abandons"]), 1)
        wanted = [m for m in mine if m.wanted]
        assert figures["connection_rate"] == round(
            100 * len(answered) / (len(wanted) - sum(short(m) for m in wanted)), 1)
        rated = [m.rating for m in mine if m.rating]
        assert figures["rated"] == len(rated)
        assert figures["satisfaction"] == round(100 * sum(r >= 4 for r in rated) / len(rated),
                                                1)
        listed = [m for m in gave_up]
        assert figures["callbacks"] == len({(m.caller) for m in listed})
        assert figures["called_back"] == len({m.caller for m in listed if m.called_back})


def test_cases_by_topic_with_the_month_before(generated):
    office, made = generated
    data = report.leadership(office, NOVEMBER, DECEMBER, "month", now=time.time())
    assert list(data["topics"])[:7] == office.topics and list(data["topics"])[-1] == "未分类"
    lo = office.clock.instant(dt.datetime.combine(NOVEMBER, dt.time()))
    hi = office.clock.instant(dt.datetime.combine(DECEMBER, dt.time()))
    for topic, both in data["topics"].items():
        key = "" if topic == "未分类" else topic
        mine = [m for m in month(office, made, NOVEMBER, DECEMBER) if m.topic == key]
        before = [m for m in month(office, made, OCTOBER, NOVEMBER) if m.topic == key]
        assert both["now"]["offered"] == len(mine), topic
        assert both["before"]["offered"] == len(before), topic
        assert both["now"]["cases_opened"] == sum(bool(m.case) for m in mine), topic
        closed = [m for m in made if m.case and m.topic == key and m.resolved_at and
                  lo <= m.resolved_at < hi]
        assert both["now"]["cases_closed"] == len(closed), topic
    assert sum(b["now"]["offered"] for b in data["topics"].values()) == \
        data["total"]["offered"]


def test_by_duty_person_with_the_rota_names(generated):
    office, made = generated
    data = report.leadership(office, NOVEMBER, DECEMBER, "month", now=time.time())
    mine = month(office, made, NOVEMBER, DECEMBER)
    for mobile, name in reportmonth.LAWYERS:
        answered = [m for m in mine if m.person == mobile]
        if not answered:
            continue
        # no rota here: a person is shown by the name the call's outcome named, or number
        row = data["people"].get(name) or data["people"][mobile]
        assert row["answered"] == len(answered)


def test_the_files_and_the_item_for_upstream_and_the_leadership(generated):
    office, made = generated
    key = report.publish(office, NOVEMBER, DECEMBER, "month")
    item = office.outbox.get(key)
    assert key == "report-month-2026-11-01" and item.kind == "report"
    assert set(item.files) == {"report.csv", "report.html", "chart.png", "email.html",
                               "record"} or set(item.files) >= {"report.csv", "chart.png"}
    rows = list(csv.DictReader(io.StringIO(item.files["report.csv"].read_text("utf-8"))))
    assert [(r["section"], r["period"]) for r in rows[:2]] == [("total", "current"),
                                                              ("total", "previous")]
    assert {r["group"] for r in rows if r["section"] == "topic"} >= set(office.topics)
    page = item.files["report.html"].read_text("utf-8")
    for words in ("测试县法律服务专线 月报", "本期：2026-11-01 至 2026-11-30",
                  "上期：2026-10-01 至 2026-10-31", "15秒接听率", "接通率", "按主题",
                  "按值班人员", "回拨名单", "放弃的计数规则", "婚姻家庭", "劳动争议"):
        assert words in page, words
    png = item.files["chart.png"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    assert int.from_bytes(png[16:20], "big") == 640
    record = item.record
    assert record["service"]["now"]["offered"] == len(month(office, made, NOVEMBER, DECEMBER))
    assert record["subject"] == "【测试县法律服务专线】月报 2026-11-01 至 2026-11-30"
    assert "接通率" in record["summary"] and "短时放弃" in record["summary"]


def test_periods_are_the_offices_days(generated):
    office, made = generated
    assert report.previous(NOVEMBER, DECEMBER, "month") == (OCTOBER, NOVEMBER)
    week = dt.date(2026, 11, 16)
    assert report.previous(week, week + dt.timedelta(days=7), "week") == \
        (dt.date(2026, 11, 9), week)
    # a call at 00:30 office time on 1 November (16:30 UTC the day before) is November's
    first = [m for m in made if office.clock.local(m.started).date() == NOVEMBER]
    data = report.leadership(office, NOVEMBER, NOVEMBER + dt.timedelta(days=1), "week")
    assert data["total"]["offered"] == len(first)
