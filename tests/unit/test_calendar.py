"""The holiday calendar and office hours: national data from chinese_calendar, the office's
own holidays.toml on top, and a warning well before the data runs out."""

import datetime as dt

import pytest

from lawline import config as configuration
from lawline.duty.calendar import HolidayCalendar, OfficeHours, Overrides
from lawline.errors import ConfigError

D = dt.date


def hours(**options):
    cfg = configuration.from_dict({"hours": options} if options else {})
    return cfg


def office(overrides=None, **options):
    cal = HolidayCalendar(overrides)
    return OfficeHours.from_config(hours(**options), cal)


def test_make_up_saturday_is_a_working_day():
    cal = HolidayCalendar()
    # 2026-02-14 (Sat) is worked for the Spring Festival break (State Council notice 2025).
    assert D(2026, 2, 14).weekday() == 5
    assert cal.kind(D(2026, 2, 14)) == "makeup"
    assert cal.is_working_day(D(2026, 2, 14))
    # an ordinary Saturday is not
    assert not cal.is_working_day(D(2026, 2, 7))
    hrs = office()
    assert hrs.is_open(dt.datetime(2026, 2, 14, 10, 0))
    assert not hrs.is_open(dt.datetime(2026, 2, 7, 10, 0))
    assert "make-up working day" in hrs.why(dt.datetime(2026, 2, 14, 10, 0))


def test_holiday_monday_is_not_a_working_day():
    cal = HolidayCalendar()
    # National Day 2026: Monday 5 October is a holiday
    day = D(2026, 10, 5)
    assert day.weekday() == 0
    assert cal.kind(day) == "holiday"
    assert not cal.is_working_day(day)
    assert cal.holiday_name(day) == "National Day"
    hrs = office()
    assert not hrs.is_open(dt.datetime(2026, 10, 5, 10, 0))
    assert "public holiday" in hrs.why(dt.datetime(2026, 10, 5, 10, 0))
    # the Monday after is an ordinary working day, open within hours only
    assert hrs.is_open(dt.datetime(2026, 10, 12, 9, 0))
    assert not hrs.is_open(dt.datetime(2026, 10, 12, 12, 30))  # lunch break
    assert not hrs.is_open(dt.datetime(2026, 10, 12, 17, 30))  # end is exclusive


def test_year_without_data_warns():
    cal = HolidayCalendar()
    assert not cal.known(2027)
    # before warn_from: nothing to say yet
    assert cal.coverage_warning(D(2026, 11, 28)) is None
    # from 1 December, next year's absence is reported
    warning = cal.coverage_warning(D(2026, 12, 1))
    assert warning and "2027" in warning and "holidays_file" in warning
    # inside a year without data: a louder warning, and weekdays count as open
    assert "no public-holiday data for 2027:" in cal.coverage_warning(D(2027, 1, 4))
    assert cal.kind(D(2027, 1, 1)) == "workday"   # Friday, unknown: assumed working
    # a custom warn_from
    assert cal.coverage_warning(D(2026, 11, 20), warn_from=(11, 15))


def test_override_file_wins(tmp_path):
    path = tmp_path / "holidays.toml"
    path.write_text('# local decisions\n'
                    'off = [2026-11-30, "2026-02-14"]\n'
                    'on = [2026-10-05]\n'
                    'years = [2027]\n', encoding="utf-8")
    over = Overrides.load(path)
    cal = HolidayCalendar(over)
    assert not cal.is_working_day(D(2026, 2, 14))     # the make-up Saturday, cancelled
    assert cal.kind(D(2026, 11, 30)) == "holiday"     # an ordinary Monday, closed locally
    assert cal.is_working_day(D(2026, 10, 5))         # a holiday the office works
    assert cal.known(2027)
    assert cal.coverage_warning(D(2026, 12, 15)) is None  # 2027 provided by the file
    hrs = OfficeHours.from_config(hours(), cal)
    assert hrs.is_open(dt.datetime(2026, 10, 5, 9, 0))
    assert not hrs.is_open(dt.datetime(2026, 11, 30, 9, 0))


def test_override_file_errors_name_file_and_key(tmp_path):
    path = tmp_path / "holidays.toml"
    path.write_text("off = [\"2026-02-30\"]\n")
    with pytest.raises(ConfigError, match=r"holidays.toml, off\[0\]: '2026-02-30' is not a date"):
        Overrides.load(path)
    path.write_text("off = [2026-10-01]\non = [2026-10-01]\n")
    with pytest.raises(ConfigError, match="both as off and as on"):
        Overrides.load(path)
    path.write_text("holidays = []\n")
    with pytest.raises(ConfigError, match="unknown key 'holidays'"):
        Overrides.load(path)


def test_hours_config_errors_name_the_option():
    with pytest.raises(ConfigError, match=r"option 'friday' in section \[hours\]"):
        configuration.from_dict({"hours": {"friday": "17:30-08:30"}})
    with pytest.raises(ConfigError, match=r"option 'shifts' in section \[duty\]"):
        configuration.from_dict({"duty": {"shifts": ["day 8-17"]}})


def test_weekend_hours_and_description():
    hrs = office(saturday="09:00-12:00")
    assert hrs.is_open(dt.datetime(2026, 11, 28, 9, 30))     # an ordinary Saturday
    assert not hrs.is_open(dt.datetime(2026, 10, 3, 9, 30))  # a Saturday in National Day
    assert hrs.describe().startswith("周一至周五 08:30-12:00,13:30-17:30；周六 09:00-12:00")
