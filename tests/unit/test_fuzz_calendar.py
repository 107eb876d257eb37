"""Fuzzing the office's holiday file (issue 9, point 9): any holidays.toml loads as
overrides, or is refused with a ConfigError that names the file."""

import datetime as dt

import pytest
from hypothesis import given, strategies as st

from lawline.duty.calendar import MAX_FILE_BYTES, HolidayCalendar, Overrides
from lawline.errors import ConfigError

values = st.sampled_from([
    "2026-12-31", '"2026-12-31"', '"２０２６-１２-３１"', '"٢٠٢٦-١٢-٣١"', "0001-01-01",
    "9999-12-31", "2026-02-30", "1979-05-27T07:32:00Z", "07:32:00", "2027", "true", "nan",
    "inf", "99999999999999999999", '"2026-13-01"', '""', "[]", "{a = 1}", '" 2026-12-31 "',
    "9" * 5000, "[" * 3000 + "]" * 3000])
lists = st.lists(values, max_size=5).map(lambda vs: "[" + ", ".join(vs) + "]")
keys = st.sampled_from(["off", "on", "years", "x", "OFF", "off.x"])
toml = st.one_of(
    st.lists(st.tuples(keys, st.one_of(lists, values)), max_size=4).map(
        lambda kv: "\n".join(f"{k} = {v}" for k, v in kv) + "\n"),
    st.text(max_size=200))


@given(st.one_of(toml.map(lambda t: t.encode("utf-8", "surrogatepass")),
                 st.binary(max_size=300)))
def test_any_holiday_file_loads_or_is_refused(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("cal") / "holidays.toml"
    path.write_bytes(raw)
    try:
        overrides = Overrides.load(path)
    except ConfigError as exc:
        assert str(path) in str(exc)
        return
    calendar = HolidayCalendar(overrides)
    for day in overrides.off | overrides.on:
        assert calendar.kind(day) in ("workday", "makeup", "holiday")
    assert all(2000 <= y <= 2100 for y in overrides.years)
    calendar.coverage_warning(dt.date(2026, 12, 1))


def test_a_deeply_nested_or_huge_holiday_file_is_refused(tmp_path):
    path = tmp_path / "holidays.toml"
    path.write_text("off = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match="nested too deeply"):
        Overrides.load(path)
    path.write_text("# x\n" * (MAX_FILE_BYTES // 4 + 1))
    with pytest.raises(ConfigError, match="larger than"):
        Overrides.load(path)
    path.write_text("years = [" + "9" * 5000 + "]\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Overrides.load(path)
