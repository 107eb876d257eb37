"""Case numbers never run out, old nine-digit numbers stay valid, and every case has a PIN
for status calls from another phone (records/cases.py)."""

import sqlite3
import time

from lawline.records import messages
from lawline.records.cases import Cases, is_case_number, parse_number


def test_the_1000th_case_of_a_day_gets_a_number(tmp_path):
    cases = Cases(tmp_path / "cases.db")
    now = time.mktime((2026, 12, 1, 10, 0, 0, 0, 0, -1))
    numbers = [cases.next(now) for _ in range(1001)]
    assert numbers[0] == "2612010001"
    assert numbers[999] == "2612011000" and numbers[1000] == "2612011001"
    assert len(set(numbers)) == 1001 and all(len(n) == 10 for n in numbers)
    # the 1000th case opens and reads back as its own number
    case = cases.open_case(numbers[999], "consultation", "13800000000")
    assert cases.get("2612011000") == case
    assert parse_number(numbers[999]) == ("261201", 1000)


def test_the_sequence_grows_a_digit_past_9999(tmp_path):
    cases = Cases(tmp_path / "cases.db")
    now = time.mktime((2026, 12, 2, 10, 0, 0, 0, 0, -1))
    cases._db.execute("INSERT INTO case_counter (day, last) VALUES ('261202', 9999)")
    number = cases.next(now)
    assert number == "26120210000" and is_case_number(number)


def test_old_nine_digit_numbers_are_still_cases_and_commands():
    assert parse_number("261128001") == ("261128", 1)
    assert is_case_number("2611280001") and is_case_number("261128001")
    for wrong in ("26112800", "2611280", "", "２６１１２８００１", "261128001a", None):
        assert not is_case_number(wrong), wrong
    assert messages.parse_command("结案 261128001").case == "261128001"
    assert messages.parse_command("R 2611280001 已回电").case == "2611280001"
    assert messages.parse_command("R 2611280001").state == "resolved"


def test_every_case_has_a_pin_and_the_caller_sms_carries_it(tmp_path):
    cases = Cases(tmp_path / "cases.db")
    pins = set()
    for _ in range(20):
        case = cases.open_case(cases.next(), "service_request", "13800000000")
        assert len(case.pin) == 4 and case.pin.isdigit()
        pins.add(case.pin)
    assert len(pins) > 1
    text = messages.caller_case("县法律服务专线", case.number, "service_request", "请等候。",
                                line="07730148", pin=case.pin)
    assert case.number in text and f"查询密码{case.pin}" in text


def test_a_case_book_from_before_the_pin_gets_the_column(tmp_path):
    path = tmp_path / "cases.db"
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE case_counter (day TEXT PRIMARY KEY, last INTEGER NOT NULL);"
                     "CREATE TABLE cases(number TEXT PRIMARY KEY, kind TEXT NOT NULL, "
                     "state TEXT NOT NULL, caller TEXT NOT NULL DEFAULT '', owner TEXT NOT NULL "
                     "DEFAULT '', owner_name TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL "
                     "DEFAULT '', call_id TEXT, opened REAL NOT NULL, updated REAL NOT NULL, "
                     "due REAL, resolved REAL, owner_alerted REAL, head_alerted REAL, "
                     "rating INTEGER);"
                     "INSERT INTO cases (number, kind, state, opened, updated) "
                     "VALUES ('261128001', 'consultation', 'new', 1, 1);")
    db.commit()
    db.close()
    cases = Cases(path)
    old = cases.get("261128001")
    assert old.state == "new" and old.pin == ""
