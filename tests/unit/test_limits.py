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


def test_the_hourly_cap_holds_texts_back_without_dropping_them(office, caplog):
    sent = []

    async def send(number, text):
        sent.append(text)
        return [len(sent)]
    office.sms.sender = send
    for i in range(6):
        office.sms.queue(HEAD, f"alert {i}", "outbox alert")
    assert asyncio.run(office.sms.send_due()) == 4
    assert asyncio.run(office.sms.send_due()) == 0        # still within the hour
    assert len(office.sms.rows(state="pending")) == 2       # waiting, not lost
    assert caplog.text.count("limit hit: sms_per_hour") == 1   # logged once per hold
    # an hour later the rest go
    office.cases._db.execute("UPDATE sms SET sent = sent - 3601")
    assert asyncio.run(office.sms.send_due()) == 2


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
    today = dt.date.today()
    figures = report.limit_figures(office, today, today + dt.timedelta(days=1))
    assert figures["cases_per_day"] == 1 and figures["menu_tries"] == 1
    assert figures["sms_per_number"] == 2 and figures["call_length"] == 0
    key = report.publish(office, today, today + dt.timedelta(days=1), "week")
    item = office.outbox.get(key)
    assert item.record["limits_hit"]["sms_per_number"] == 2
    page = item.files["report.html"].read_text(encoding="utf-8")
    assert "滥用限制触发次数" in page and "sms_per_number" in page


def test_wrong_pins_are_bounded_per_case_whatever_number_calls(office, caplog):
    """Key 9 with a PIN: a caller who changes the number they call from (spoofed caller ID)
    still has only [limits] wrong_pins_per_case_per_day guesses at one case's PIN."""
    import types
    from lawline.call.driver import CallDriver
    case = office.open_case("service_request", CALLER, notify_caller=False)
    assert case.pin and len(case.pin) == 4
    wrong = "0000" if case.pin != "0000" else "1111"
    cap = office.limits.cfg.wrong_pins_per_case_per_day
    assert cap == 5
    for i in range(cap):                       # each guess from another calling number
        caller = types.SimpleNamespace(p=types.SimpleNamespace(office=office),
                                       caller=f"1370000{i:04d}")
        assert CallDriver._q_pin_matches(caller, case.number, wrong) is False
    assert office.limits.wrong_pins(case.number) == cap
    # the right PIN no longer tells anything today, to anyone
    caller = types.SimpleNamespace(p=types.SimpleNamespace(office=office), caller="13711112222")
    assert CallDriver._q_pin_matches(caller, case.number, case.pin) is False
    assert "limit hit: case_pins_day" in caplog.text
    assert office.limits.hits(0, 2 ** 40).get("case_pins_day") == 1
    # another case is not touched by this one's guesses
    other = office.open_case("service_request", CALLER, notify_caller=False)
    assert CallDriver._q_pin_matches(caller, other.number, other.pin) is True
