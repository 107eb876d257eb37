"""Cases: the lifecycle and its history, duty staff acting by SMS, overdue re-alerts, and
the SMS queue sending through a line driver's send_sms."""

import asyncio
import dataclasses
import time

import pytest

from lawline import config as configuration
from lawline.records import messages
from lawline.records.cases import CaseChanged, CaseError, Cases
from lawline.duty.desk import DutyDesk
from lawline.records.office import Office, OfficeSettings
from lawline.clock import Clock
from lawline.sip.dialplan import DialPlan
from lawline.sync.outbox import Outbox

ROTA = ("date,shift,name,role,mobile,staff_no\n"
        "{d},day,张律师,lawyer,13900000001,11\n"
        "{d},day,李调解,mediator,13900000002,12\n"
        "{d},night,张律师,lawyer,13900000001,11\n")


@pytest.fixture
def office(tmp_path):
    from lawline.clock import Clock
    rota = tmp_path / "rota.csv"
    cfg = configuration.from_dict({
        "office": {"head_mobile": "13900000009", "name": "测试县法律服务专线"},
        "duty": {"rota_files": [str(rota)], "shifts": ["day 00:00-12:00", "night 12:00-00:00"],
                 "gap_days": 1},
        "cases": {"due_hours": 1.0, "head_after_hours": 2.0},
        "spool": {"dir": str(tmp_path / "spool")},
    })
    # the rota's dates are the office's ([office] timezone), not the host's
    rota.write_text(ROTA.format(d=Clock(cfg.office.timezone).today()), encoding="utf-8")
    spool = tmp_path / "spool"
    spool.mkdir()
    outbox = Outbox(spool / "outbox.db", spool, [])
    return Office.from_config(cfg, spool, outbox)


def test_the_office_and_its_desk_are_built_from_their_own_sections_only(tmp_path):
    cfg = configuration.from_dict({"office": {"number": "07730148", "name": "测试县法律服务专线"},
                                   "cases": {"next_steps": "律师会在一个工作日内回电"},
                                   "spool": {"dir": str(tmp_path / "spool")}})
    settings = OfficeSettings(office=cfg.office, cases=cfg.cases, limits=cfg.limits,
                              duty=cfg.duty, survey=cfg.survey, report=cfg.report)
    (tmp_path / "spool").mkdir()
    desk = DutyDesk(duty=cfg.duty, hours=cfg.hours, calendar=cfg.calendar,
                    plan=DialPlan.from_config(cfg), clock=Clock(cfg.office.timezone))
    office = Office(settings, tmp_path / "spool", desk=desk)
    for part in (office, desk):
        assert not any(isinstance(v, configuration.Config) for v in vars(part).values())
    assert OfficeSettings.of(cfg) == settings
    case = office.open_case("consultation", "13800138000")
    text = next(r["text"] for r in office.sms.rows() if r["purpose"] == "caller case")
    assert case.number in text and "07730148" in text and "一个工作日" in text
    with pytest.raises(TypeError):
        Office(cfg, tmp_path / "spool")      # the whole config is no longer a way in


def test_lifecycle_and_history(tmp_path):
    cases = Cases(tmp_path / "cases.db")
    number = cases.next()
    assert len(number) == 10
    case = cases.open_case(number, "service_request", "13800000000")
    assert case.state == "new" and case.open
    cases.move(number, "assigned", "张律师", owner="13900000001", owner_name="张律师")
    cases.move(number, "referred", "张律师", "to the labour bureau")
    case = cases.move(number, "resolved", "张律师")
    assert case.resolved and not case.open
    with pytest.raises(CaseError, match=f"case {number} is resolved; it cannot become assigned"):
        cases.move(number, "assigned", "x")
    cases.move(number, "caller_informed", "box")
    states = [h[1] for h in cases.history(number)]
    assert states == ["new", "assigned", "referred", "resolved", "caller_informed"]
    with pytest.raises(CaseError, match="does not exist"):
        cases.move("999999999", "resolved", "x")
    # the history survives reopening the database
    cases.close()
    again = Cases(tmp_path / "cases.db")
    assert [h[1] for h in again.history(number)][-1] == "caller_informed"
    assert again.next() != number


def test_a_move_made_against_an_old_view_of_the_case_writes_nothing(tmp_path):
    """The office page's no-lost-update rule, inside the write's own transaction."""
    cases = Cases(tmp_path / "cases.db")
    number = cases.next()
    seen = cases.open_case(number, "service_request", "13800000000").updated
    cases.move(number, "assigned", "张律师 by SMS", owner="13900000001", now=seen + 5)
    with pytest.raises(CaseChanged, match=f"case {number} changed since it was shown"):
        cases.move(number, "resolved", "clerk on the page", "done", expect_updated=seen)
    case = cases.get(number)
    assert case.state == "assigned" and not case.resolved
    assert [h[1] for h in cases.history(number)] == ["new", "assigned"]
    # against the view as it is now, the same move goes through
    assert cases.move(number, "resolved", "clerk", "done", expect_updated=case.updated).resolved


def test_duty_sms_resolves_and_caller_is_told(office):
    case = office.open_case("service_request", "13800000000", owner="13900000001",
                            owner_name="张律师", state="assigned",
                            notify_duty=["13900000001"])
    queued = office.sms.rows()
    assert [r["number"] for r in queued] == ["13800000000", "13900000001"]
    assert case.number in queued[0]["text"] and "查询进度" in queued[0]["text"]
    assert "13800000000" in queued[1]["text"] and f"结案 {case.number}" in queued[1]["text"]
    assert office.on_sms("+8613900000001", f"结案 {case.number}", "international") is True
    case = office.cases.get(case.number)
    assert case.state == "caller_informed"
    texts = [(r["number"], r["purpose"]) for r in office.sms.rows()]
    assert ("13800000000", "caller resolved") in texts
    assert ("+8613900000001", "command reply") in texts
    by = [h[2] for h in office.cases.history(case.number)]
    assert any("张律师" in b and "SMS" in b for b in by)
    # every change went upstream as a case journal item
    assert office.outbox.get(f"case-{case.number}-1").kind == "case"


def test_unknown_sender_is_ignored_and_logged(office, caplog):
    case = office.open_case("service_request", "13800000000")
    before = len(office.sms.rows())
    assert office.on_sms("13700000000", f"R {case.number}", "unknown") is None
    assert office.cases.get(case.number).state == "new"
    assert len(office.sms.rows()) == before            # no reply to a stranger
    assert "unknown number '13700000000' ignored" in caplog.text


def test_staff_cannot_act_on_complaints(office):
    case = office.open_case("complaint", "13800000000", owner="13900000009")
    assert office.on_sms("13900000001", f"结案 {case.number}", "unknown") is False
    assert office.cases.get(case.number).state == "new"
    assert office.on_sms("13900000009", f"结案 {case.number}", "unknown") is True


def test_command_parsing():
    assert messages.parse_command("结案 261128001") == messages.Command("resolved", "261128001")
    assert messages.parse_command("r261128001").state == "resolved"
    assert messages.parse_command("接：261128001").state == "assigned"
    assert messages.parse_command("转办 261128001 劳动局").note == "劳动局"
    assert messages.parse_command("你好") is None
    # any digits are looked up exactly as sent (office.py); "12345" is simply no case
    assert messages.parse_command("结案 12345").case == "12345"


def test_overdue_alerts_owner_then_head(office):
    now = time.time()
    case = office.open_case("service_request", "", owner="13900000001", owner_name="张律师",
                            state="assigned")
    office.check_overdue(now + 1800)                 # not due yet (due_hours = 1)
    assert not office.sms.rows(purpose="overdue owner")
    office.check_overdue(now + 3700)
    assert [r["number"] for r in office.sms.rows(purpose="overdue owner")] == ["13900000001"]
    office.check_overdue(now + 3800)                 # owner alerted once only
    assert len(office.sms.rows(purpose="overdue owner")) == 1
    assert not office.sms.rows(purpose="overdue head")
    office.check_overdue(now + 3700 + 7300)          # head_after_hours = 2 later
    head = office.sms.rows(purpose="overdue head")
    assert [r["number"] for r in head] == ["13900000009"] and case.number in head[0]["text"]
    office.check_overdue(now + 20000)
    assert len(office.sms.rows(purpose="overdue head")) == 1


def test_gap_alert_goes_to_the_head_once(office, tmp_path):
    # the rota covers today only; gap_days = 1 means today: covered. Tomorrow is not asked.
    office.check_cover()
    assert not office.sms.rows(purpose="cover gap")
    office.desk.duty_cfg = dataclasses.replace(office.desk.duty_cfg, gap_days=3)
    office.check_cover()
    gap = office.sms.rows(purpose="cover gap")
    assert len(gap) == 1 and gap[0]["number"] == "13900000009" and "缺律师" in gap[0]["text"]
    office.check_cover()
    assert len(office.sms.rows(purpose="cover gap")) == 1


def test_sms_queue_sends_and_retries(office):
    sent, fail = [], [True]

    async def send_sms(number, text):
        if fail[0]:
            fail[0] = False
            raise OSError("+CMS ERROR: 500")
        sent.append((number, text))
        return [7, 8]

    async def main():
        office.sms.sender = send_sms
        office.sms.queue("13800000000", "你好" * 50, "test")
        assert await office.sms.send_due() == 0        # refused: retried later
        row = office.sms.rows()[0]
        assert row["state"] == "pending" and row["attempts"] == 1 and "CMS" in row["last_error"]
        office.sms._db.execute("UPDATE sms SET next_attempt = 0")
        assert await office.sms.send_due() == 1
    asyncio.run(main())
    assert sent == [("13800000000", "你好" * 50)]
    assert office.sms.rows()[0]["state"] == "sent"


def test_daily_summary_once_a_day_to_the_head(office):
    import datetime as dt
    office.open_case("service_request", "13800000000")
    early = dt.datetime.combine(office.clock.today(), dt.time(17, 0))
    assert office.daily_summary(early) is False            # summary_at is 18:00
    late = early.replace(hour=18, minute=5)
    assert office.daily_summary(late) is True
    assert office.daily_summary(late) is False             # once per day
    rows = office.sms.rows(purpose="daily summary")
    assert [r["number"] for r in rows] == ["13900000009"]
    assert "新案件1" in rows[0]["text"]


def test_missing_calendar_year_alerts_the_head_once(office):
    import datetime as dt
    office.check_cover(dt.datetime(2026, 11, 28, 9, 0))
    assert not office.sms.rows(purpose="calendar")
    office.check_cover(dt.datetime(2026, 12, 2, 9, 0))
    office.check_cover(dt.datetime(2026, 12, 3, 9, 0))
    rows = office.sms.rows(purpose="calendar")
    assert len(rows) == 1 and "2027" in rows[0]["text"]


def test_referral_tables_in_the_config():
    from lawline.errors import ConfigError
    cfg = configuration.from_dict({"referral": [
        {"name": "县劳动保障监察大队", "phone": "07731234567", "address": "县府路1号",
         "hours": "周一至周五"}]})
    assert cfg.referral[0].name == "县劳动保障监察大队"
    with pytest.raises(ConfigError, match=r"\[\[referral\]\] number 1: option 'phone' is missing"):
        configuration.from_dict({"referral": [{"name": "x", "address": "y", "hours": "z"}]})
    with pytest.raises(ConfigError, match="unknown option 'fax'"):
        configuration.from_dict({"referral": [{"name": "x", "phone": "1", "address": "y",
                                               "hours": "z", "fax": "2"}]})
    assert "[[referral]]" in configuration.dump({"referral": [{"name": "x"}]})


def test_a_page_of_the_list_is_the_list_filtered_and_cut(tmp_path):
    """Cases.page (the office page's list, counted and cut in SQL) gives what filtering
    every case in Python gave: the same count and the same cases, newest first."""
    cases = Cases(tmp_path / "cases.db")
    now = time.time()
    kinds = ("consultation", "service_request", "complaint")
    owners = (("", ""), ("13900000001", "张律师"), ("13900000002", "李调解"))
    for i in range(250):
        owner, name = owners[i % 3] if i % 5 else ("", "")
        state = ("new", "assigned", "resolved", "referred")[i % 4]
        # due in the past for every other case: overdue while open
        cases.open_case(cases.next(now=now), kinds[i % 3], f"138{i:08d}", owner, name,
                        state=state, due_hours=-1.0 if i % 2 else 72.0, now=now - 7200)
    everything = list(reversed(cases.list()))          # newest first

    def expected(states=None, kinds=None, owner="", overdue=False):
        rows = [c for c in everything if (not states or c.state in states) and
                (not kinds or c.kind in kinds) and
                (not owner or owner in c.owner or owner in c.owner_name) and
                (not overdue or c.overdue(now))]
        return len(rows), rows

    for query in ({}, {"states": ("new", "assigned", "referred")}, {"kinds": ("complaint",)},
                  {"owner": "李"}, {"owner": "0001"}, {"overdue": True},
                  {"states": ("resolved",), "kinds": ("consultation", "complaint")}):
        total, rows = expected(**query)
        assert total > 0, query
        owner = query.get("owner", "")
        owner_numbers = [n for n in cases.owners() if owner in n] if owner else None
        for offset in (0, 40, total - 1):
            got_total, got = cases.page(query.get("states"), query.get("kinds"),
                                        owner_numbers, owner or None,
                                        now if query.get("overdue") else None,
                                        limit=40, offset=offset)
            assert got_total == total, query
            assert [c.number for c in got] == [c.number for c in rows[offset:offset + 40]]
    assert sorted(cases.owners()) == ["13900000001", "13900000002"]
