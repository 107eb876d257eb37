"""Abuse limits ([limits], records/limits.py): SMS per number per day and per hour in total,
cases per number per day, and every hit counted in the periodic report. Real SQLite, the real
SMS queue and office; the line driver's send_sms is a coroutine that keeps what it was
given."""

import asyncio
import datetime as dt

import pytest

from lawline import config as configuration
from lawline.records import report
from lawline.records.office import Office
from lawline.sync.outbox import Outbox

CALLER, HEAD = "13800000000", "13900000009"


@pytest.fixture
def office(tmp_path):
    cfg = configuration.from_dict({
        "office": {"head_mobile": HEAD},
        "limits": {"sms_per_number_per_day": 3, "sms_per_hour": 4,
                   "cases_per_number_per_day": 2},
        "spool": {"dir": str(tmp_path / "spool")},
    })
    spool = tmp_path / "spool"
    spool.mkdir()
    return Office.from_config(cfg, spool, Outbox(spool / "outbox.db", spool, []))


def test_the_limits_section_has_safe_defaults_in_the_example():
    cfg = configuration.from_dict({})
    assert cfg.limits.max_call_seconds == 3600.0
    assert cfg.limits.sms_per_hour == 60
    example = configuration.example()
    assert "[limits]" in example and "max_call_seconds = 3600.0" in example
    assert "(unit: s)" in example.split("[limits]")[1].split("\n\n")[0]
    with pytest.raises(configuration.ConfigError, match=r"'sms_per_hour' in section \[limits\]"):
        configuration.from_dict({"limits": {"sms_per_hour": 0}})


def test_a_number_gets_at_most_its_daily_sms_and_staff_are_not_capped(office, caplog):
    ids = [office.sms.queue("+86" + CALLER if i % 2 else CALLER, f"text {i}", "caller case")
           for i in range(5)]
    assert all(ids[:3]) and ids[3:] == [None, None]
    assert [r["state"] for r in office.sms.rows()] == ["pending"] * 3 + ["limited"] * 2
    assert "limit hit: sms_per_number by 13800000000" in caplog.text
    for i in range(6):    # the office head is told everything
        assert office.sms.queue(HEAD, f"alert {i}", "outbox alert")


def test_the_hourly_cap_holds_callers_texts_back_without_dropping_them(office, caplog):
    sent = []

    async def send(number, text):
        sent.append(text)
        return [len(sent)]
    office.sms.sender = send
    for i in range(6):
        office.sms.queue(f"1370000000{i}", f"receipt {i}", "caller case")
    assert asyncio.run(office.sms.send_due()) == 4
    assert asyncio.run(office.sms.send_due()) == 0        # still within the hour
    assert len(office.sms.rows(state="pending")) == 2       # waiting, not lost
    assert caplog.text.count("limit hit: sms_per_hour") == 1   # logged once per hold
    # staff alerts are not counted and not held: the head is told at once
    office.sms.queue(HEAD, "alert", "outbox alert")
    assert asyncio.run(office.sms.send_due()) == 1 and sent[-1] == "alert"
    # an hour later the rest go
    office.cases._db.execute("UPDATE sms SET sent = sent - 3601")
    assert asyncio.run(office.sms.send_due()) == 2


def test_an_urgent_escalation_is_the_next_sms_out_behind_a_hundred_receipts(tmp_path):
    """Issue 15.2: strangers' texts never hold back staff alerts."""
    cfg = configuration.from_dict({"office": {"head_mobile": HEAD},
                                   "duty": {"mediators": ["13900000002"]},
                                   "spool": {"dir": str(tmp_path / "spool")}})
    (tmp_path / "spool").mkdir()
    office = Office.from_config(cfg, tmp_path / "spool")
    for i in range(100):
        office.sms.queue(f"137{i:08d}", f"您的案件编号{i}", "caller case")
    office.sms.queue(HEAD, "值班表有空缺", "cover gap")
    office.sms.queue("13900000002", "紧急纠纷无人接听！", "urgent escalation")
    office.sms.queue("13600000000", "您的案件编号x", "caller case")
    sent = []

    async def send(number, text):
        sent.append((number, text))
        return [len(sent)]
    office.sms.sender = send
    asyncio.run(office.sms.send_due())
    assert sent[0] == ("13900000002", "紧急纠纷无人接听！")        # urgent first
    assert sent[1] == (HEAD, "值班表有空缺")                       # then staff
    assert [n for n, _ in sent[2:5]] == ["13700000000", "13700000001", "13700000002"]
    # the hourly cap (60) counts callers' texts only, and holds only them
    assert len(sent) == 2 + 60
    office.sms.queue("13900000002", "紧急纠纷无人接听！第二起", "urgent escalation")
    office.sms.queue(HEAD, "案件超时", "overdue head")
    assert asyncio.run(office.sms.send_due()) == 2
    assert [n for n, _ in sent[-2:]] == ["13900000002", HEAD]


def test_withheld_callers_are_each_their_own_caller(office):
    """Issue 15.1: more withheld calls than the daily case limit (2 here), each gets its case;
    ring-alls and status tries count per call too."""
    limits = office.limits
    for i in range(5):
        call = f"261207-1000{i:02d}-ab{i:02d}"
        assert limits.cases_left(office.cases, "", call_id=call) == 2
        office.open_case("consultation", "", call_id=call)
        assert limits.cases_left(office.cases, "", call_id=call) == 1
        assert limits.take("ring_alls", "", call_id=call) == 1
        assert limits.used("status_tries", "", call_id=call) == 0
    assert len(office.cases.list()) == 5
    # a caller with a number is counted by the number, whatever the call
    office.open_case("consultation", CALLER, call_id="a")
    assert limits.cases_left(office.cases, CALLER, call_id="b") == 1


def test_an_office_may_pool_withheld_callers(tmp_path):
    cfg = configuration.from_dict({"limits": {"cases_per_number_per_day": 2,
                                              "withheld_callers": "pooled"},
                                   "spool": {"dir": str(tmp_path / "spool")}})
    (tmp_path / "spool").mkdir()
    office = Office.from_config(cfg, tmp_path / "spool")
    for i in range(2):
        office.open_case("consultation", "", call_id=f"call-{i}")
    assert office.limits.cases_left(office.cases, "", call_id="call-9") == 0
    with pytest.raises(configuration.ConfigError, match="withheld_callers"):
        configuration.from_dict({"limits": {"withheld_callers": "each"}})


def test_cases_per_number_and_the_report_counts_every_hit(office):
    assert office.limits.cases_left(office.cases, CALLER) == 2
    office.open_case("consultation", CALLER)
    office.open_case("service_request", "+86" + CALLER)
    assert office.limits.cases_left(office.cases, CALLER) == 0
    assert office.limits.cases_left(office.cases, "13700000000") == 2
    office.limits.hit("cases_per_day", CALLER, "test")
    office.limits.hit("menu_tries", "", "test")
    for i in range(3):    # the two cases' SMS and this one make the day's 3
        office.sms.queue(CALLER, "x", "caller case")
    today = office.clock.today()      # the office's day, not the host's
    figures = report.limit_figures(office, today, today + dt.timedelta(days=1))
    assert figures["cases_per_day"] == 1 and figures["menu_tries"] == 1
    assert figures["sms_per_number"] == 2 and figures["call_length"] == 0
    key = report.publish(office, today, today + dt.timedelta(days=1), "week")
    item = office.outbox.get(key)
    assert item.record["limits_hit"]["sms_per_number"] == 2
    page = item.files["report.html"].read_text(encoding="utf-8")
    assert "滥用限制触发次数" in page and "sms_per_number" in page


def test_wrong_pins_from_strangers_never_lock_the_rightful_caller_out(office, caplog):
    """Issue 15.5: five wrong PINs from five numbers change the case's PIN (sent to its
    caller) and tell the office head; the rightful caller's new PIN works at once."""
    case = office.open_case("service_request", CALLER, notify_caller=False)
    assert case.pin and len(case.pin) == 4
    cap = office.limits.cfg.wrong_pins_per_case_per_day
    assert cap == 5
    old = case.pin
    wrong = "0000" if old != "0000" else "1111"
    for i in range(cap):                       # each guess from another calling number
        assert office.try_pin(case.number, wrong, f"1370000{i:04d}", f"call-{i}") is False
    new = office.cases.get(case.number).pin
    assert new != old or new == old == wrong    # (a new PIN may repeat by chance: 1 in 10^4)
    told = office.sms.rows(purpose="caller new pin")
    assert len(told) == 1 and told[0]["number"] == CALLER and new in told[0]["text"]
    alert = office.sms.rows(purpose="pins guessed")
    assert len(alert) == 1 and alert[0]["number"] == HEAD and case.number in alert[0]["text"]
    assert "limit hit: case_pins_day" in caplog.text
    # the rightful caller, from a borrowed phone, gets in with the PIN they were sent
    assert office.try_pin(case.number, new, "13711112222", "call-x") is True
    # a guesser goes on: another five wrong ones change it again, the head is not re-told
    for i in range(cap):
        office.try_pin(case.number, wrong if wrong != new else "2222", f"1360000{i:04d}", "c")
    assert len(office.sms.rows(purpose="caller new pin")) == 2
    assert len(office.sms.rows(purpose="pins guessed")) == 1


def test_wrong_pins_are_bounded_per_calling_number(office, caplog):
    a = office.open_case("service_request", CALLER, notify_caller=False)
    b = office.open_case("service_request", "13600000000", notify_caller=False)
    cap = office.limits.cfg.wrong_pins_per_number_per_day
    guesser = "13500000000"
    for i in range(cap):
        case = (a, b)[i % 2]
        assert office.try_pin(case.number, "9999" if case.pin != "9999" else "8888", guesser,
                              f"call-{i}") is False
    # that number has used its day: even a right PIN tells it nothing now
    assert office.try_pin(a.number, office.cases.get(a.number).pin, guesser, "call-z") is False
    assert "limit hit: pins_per_number_day" in caplog.text
    # other numbers, and the case's own caller, are not touched
    assert office.try_pin(a.number, office.cases.get(a.number).pin, "13711112222", "y") is True


def test_withheld_guessers_lose_their_tries_once_a_case_was_renewed_three_times(office):
    from lawline.records.office import PIN_RENEWALS_PER_DAY
    case = office.open_case("service_request", CALLER, notify_caller=False)
    cap = office.limits.cfg.wrong_pins_per_case_per_day
    for n in range(PIN_RENEWALS_PER_DAY * cap):
        pin = office.cases.get(case.number).pin
        office.try_pin(case.number, "0000" if pin != "0000" else "1111", "", f"w-{n}")
    assert len(office.sms.rows(purpose="caller new pin")) == PIN_RENEWALS_PER_DAY
    pin = office.cases.get(case.number).pin
    assert office.try_pin(case.number, pin, "", "w-last") is False      # withheld: no more
    assert office.try_pin(case.number, pin, "13711112222", "z") is True  # a number: still
