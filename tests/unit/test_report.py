"""The weekly report, from a generated week of call records committed to a real outbox and
cases in a real case book: every figure is checked against the generated records. Days are
the office's ([office] timezone, Asia/Shanghai), whatever the host's zone is."""

import csv
import datetime as dt
import io
import random
import statistics
import time

import pytest

from lawline import config as configuration
from lawline.records import report
from lawline.records.office import Office
from lawline.sync.outbox import Outbox

WEEK = dt.date(2026, 11, 16)   # a Monday


def iso(t):
    from lawline.clock import Clock
    return Clock("Asia/Shanghai").iso(t)


@pytest.fixture
def office(tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    cfg = configuration.from_dict({"spool": {"dir": str(spool)},
                                   "office": {"name": "测试县法律服务专线"}})
    return Office.from_config(cfg, spool, Outbox(spool / "outbox.db", spool, []))


def generate(office, seed=7):
    """A week of calls (plus some outside it) and their cases; returns what was made."""
    rng = random.Random(seed)
    made = []
    start = office.clock.instant(dt.datetime.combine(WEEK, dt.time()))
    for i in range(60):
        inside = i < 50
        t = start + rng.uniform(0, 7 * 86400) if inside else start - rng.uniform(60, 86400)
        branch = rng.choice(["consultation", "consultation", "service_request", "urgent",
                             "complaint", None])
        outcome = {"consultation": rng.choice(["bridged", "bridged", "voicemail", "abandoned"]),
                   "urgent": rng.choice(["bridged", "abandoned"]),
                   "service_request": "voicemail", "complaint": "complaint",
                   None: rng.choice(["abandoned", "no_input"])}[branch]
        record = {"call_id": f"c{i}", "started": iso(t), "branch": branch, "outcome": outcome,
                  "voicemail": {"case_number": "x"} if outcome in ("voicemail", "complaint")
                  else None, "duty_legs": []}
        if outcome == "bridged":
            record["seconds_to_person"] = round(rng.uniform(10, 60), 1)
            record["rating"] = rng.choice([None, 1, 2, 4, 5])
        office.outbox.commit(f"call-{i}", "call", record, {})
        # the commit time is "now"; the report must go by the call's own start time
        if branch in ("service_request", "complaint", "urgent") and inside:
            number = office.cases.next()
            office.cases.open_case(number, branch, "13800000000", due_hours=24, now=t)
            if rng.random() < 0.5:
                office.cases.move(number, "resolved", "t", now=t + rng.uniform(3600, 3 * 86400))
        made.append((inside, record))
    return made


def test_weekly_report_matches_the_call_records(office):
    made = generate(office)
    start, end = report.last_week(WEEK + dt.timedelta(days=9))
    assert (start, end) == (WEEK, WEEK + dt.timedelta(days=7))
    table, ncalls = report.build(office, start, end)
    inside = [r for ok, r in made if ok]
    assert ncalls == len(inside) == 50
    for category in ("consultation", "service_request", "urgent", "complaint", "none"):
        mine = [r for r in inside if (r["branch"] or "none") == category]
        row = table[category]
        assert row["calls"] == len(mine), category
        assert row["answered"] == sum(r["outcome"] == "bridged" for r in mine), category
        assert row["abandoned"] == sum(r["outcome"] == "abandoned" for r in mine), category
        assert row["voicemails"] == sum(bool(r["voicemail"]) for r in mine), category
        waits = [r["seconds_to_person"] for r in mine if r["outcome"] == "bridged"]
        assert row["median_answer_s"] == (round(statistics.median(waits), 1) if waits else "")
        ratings = [r["rating"] for r in mine if r.get("rating")]
        assert row["ratings"] == len(ratings)
        assert row["low_ratings"] == sum(1 for r in ratings if r <= 2)
    assert table["total"]["calls"] == 50
    # cases: opened in the week, resolved in the week, overdue (resolved late or never)
    lo = office.clock.instant(dt.datetime.combine(start, dt.time()))
    hi = office.clock.instant(dt.datetime.combine(end, dt.time()))
    cases = office.cases.list()
    for kind in ("service_request", "complaint", "urgent"):
        mine = [c for c in cases if c.kind == kind]
        assert table[kind]["cases_opened"] == sum(lo <= c.opened < hi for c in mine)
        assert table[kind]["cases_resolved"] == sum(bool(c.resolved) and lo <= c.resolved < hi
                                                    for c in mine)
        until = min(hi, time.time())
        assert table[kind]["cases_overdue"] == sum((c.resolved or until) > c.due for c in mine)


def test_report_files_and_outbox_item(office):
    generate(office)
    key = report.publish(office, WEEK, WEEK + dt.timedelta(days=7), "week")
    item = office.outbox.get(key)
    assert item.kind == "report"
    text = item.files["report.csv"].read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    total = rows[0]
    assert (total["section"], total["period"], total["offered"]) == ("total", "current", "50")
    assert {r["group"] for r in rows if r["section"] == "topic"} >= {"婚姻家庭", "未分类"}
    page = item.files["report.html"].read_text(encoding="utf-8")
    assert page.count("<svg") == 1 and "法律咨询" in page and "周报" in page
    assert "接通率" in page and "放弃的计数规则" in page and "按主题" in page
    assert item.files["chart.png"].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert 'src="cid:chart.png"' in item.files["email.html"].read_text(encoding="utf-8")
    assert item.record["figures"]["total"]["calls"] == 50
    assert item.record["service"]["now"]["offered"] == 50
    assert "来电 50" in item.record["summary"]


def test_periodic_reports_run_once(office):
    monday = dt.datetime(2026, 11, 23, 6, 30)
    assert len(office.periodic_reports(monday)) == 1
    assert office.periodic_reports(monday) == []
    first = dt.datetime(2026, 12, 1, 7, 0)
    assert office.periodic_reports(first) == ["report-month-2026-11-01"]


def test_lawline_report_week_prints_the_csv(office, tmp_path, capsys):
    from lawline import cli
    generate(office)
    config = tmp_path / "lawline.toml"
    config.write_text(f'[spool]\ndir = "{office.cases.db_path.parent}"\n', encoding="utf-8")
    assert cli.main(["report", "--config", str(config), "--week", "--start",
                     str(WEEK)]) == 0
    out = capsys.readouterr().out
    assert "section,group,period,offered,wanted,answered" in out
    assert "\ntotal,合计,current,50," in out
    assert "# chart: " in out and out.strip().endswith(".html")
