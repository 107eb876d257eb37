"""Fuzzing the duty rota (issue 9, point 9): any CSV or XLSX an office saves, damages or is
sent (damaged zip, huge fields, odd Unicode digits, absurd dates, header only) loads, or is
refused with a ConfigError that names the file; a refused rota keeps the last good one in
force and alerts the office head. Every file here is a real file on disk."""

import datetime as dt
import io
import os
import re
import zipfile

import openpyxl
import pytest
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from hypothesis import given, strategies as st

from lawline import config
from lawline.duty import sheets
from lawline.duty.calendar import HolidayCalendar
from lawline.duty.roster import load_file, parse_shifts
from lawline.errors import ConfigError
from lawline.records.office import Office

SHIFTS = parse_shifts(["day 08:30-17:30", "night 17:30-08:30"])
CALENDAR = HolidayCalendar()

headers = st.one_of(
    st.just(["date", "shift", "name", "role", "mobile", "staff_no"]),
    st.just(["日期", "班次", "姓名", "角色", "手机", "工号"]),
    st.just(["weekday", "shift", "name", "role", "mobile", "staff_no", "week"]),
    st.lists(st.sampled_from(["date", "weekday", "week", "shift", "name", "role", "mobile",
                              "staff_no", "日期", "", "x"]), max_size=8))
dates = st.one_of(
    st.dates().map(str), st.dates(dt.date(2026, 11, 20), dt.date(2027, 1, 10)).map(str),
    st.sampled_from(["0001-01-01", "9999-12-31", "2026-02-30", "2026/12/1", "2026年12月1日",
                     "２０２６-１２-０１", "٢٠٢٦-١٢-٠١", "²⁰²⁶-1-1", "99999999999999999999-1-1",
                     "9" * 5000 + "-1-1", "2026-12-01T08:00", "", "2000-01-01", "2099-12-31",
                     "mon", "周一", "7", "８"]))
cell = st.one_of(
    dates, st.sampled_from(["day", "night", "律师", "lawyer", "调解员", "mediator", "张三",
                            "13900000001", "１３９００００００１", "+8613900000002", "1",
                            "１２", "²", "53", "0", "\u202e", "\x00", "=1+1", "x" * 300]),
    st.text(max_size=12))


@st.composite
def rota_rows(draw):
    head = draw(headers)
    rows = draw(st.lists(st.lists(cell, min_size=0, max_size=len(head) + 1), max_size=8))
    return [head] + rows


def csv_bytes(rows, encoding):
    out = io.StringIO()
    for row in rows:
        out.write(",".join('"' + c.replace('"', '""') + '"' for c in row) + "\r\n")
    return out.getvalue().encode(encoding, "replace")


def loads_or_refused(path):
    """load_file gives entries and errors, or a ConfigError naming the file; nothing else."""
    try:
        loaded = load_file(path, SHIFTS, CALENDAR, ("lawyer",))
    except ConfigError as exc:
        assert path.name in str(exc)
        return None
    for e in loaded.entries:
        assert e.person.mobile.isascii() and (not e.person.staff_no or
                                              e.person.staff_no.isascii())
        if e.date is not None:
            assert 2000 <= e.date.year <= 2099
    if not loaded.entries and not loaded.errors:
        raise AssertionError("a rota without rows loaded as an empty rota")
    return loaded


@given(rota_rows(), st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"]))
def test_any_csv_rota_loads_or_is_refused(tmp_path_factory, rows, encoding):
    path = tmp_path_factory.mktemp("rota") / "rota.csv"
    path.write_bytes(csv_bytes(rows, encoding))
    loads_or_refused(path)


@given(st.binary(max_size=2000))
def test_any_bytes_as_csv_load_or_are_refused(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("rota") / "rota.csv"
    path.write_bytes(raw)
    loads_or_refused(path)


xlsx_cell = st.one_of(cell, st.integers(-2 ** 63, 2 ** 63), st.floats(allow_nan=False),
                      st.datetimes(dt.datetime(1900, 3, 1), dt.datetime(9999, 1, 1)),
                      st.dates(dt.date(1900, 3, 1)))


def xlsx_bytes(rows):
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        # control characters cannot be written (they can be read: a damaged file may hold any)
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", c) if isinstance(c, str) else c
                      for c in row])
    book.properties.created = book.properties.modified = dt.datetime(2026, 12, 1)
    saved = io.BytesIO()
    book.save(saved)
    # The same bytes for the same rows (zip entries carry the time they were written), so
    # hypothesis can replay a failing example exactly.
    out = io.BytesIO()
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for member in src.infolist():
            member.date_time = (2026, 12, 1, 0, 0, 0)
            body = src.read(member.filename)
            if member.filename == "docProps/core.xml":  # openpyxl stamps the save time
                body = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2026-12-01T00:00:00Z", body)
            dst.writestr(member, body)
    return out.getvalue()


@st.composite
def damaged(draw, data):
    """`data` truncated, with bytes flipped, or whole. Positions are drawn independent of
    the length (an XLSX's size varies with the time stamps inside it)."""
    how = draw(st.sampled_from(["whole", "truncated", "flipped"]))
    position = st.integers(0, 2 ** 20)
    if how == "truncated":
        return data[:draw(position) % (len(data) + 1)]
    if how == "flipped":
        data = bytearray(data)
        for _ in range(draw(st.integers(1, 8))):
            data[draw(position) % len(data)] ^= draw(st.integers(1, 255))
        return bytes(data)
    return data


@given(st.data())
def test_any_xlsx_rota_whole_or_damaged_loads_or_is_refused(tmp_path_factory, data):
    head = data.draw(headers, label="header")
    rows = data.draw(st.lists(st.lists(xlsx_cell, max_size=len(head) + 1), max_size=6),
                     label="rows")
    raw = data.draw(damaged(xlsx_bytes([head] + rows)), label="file")
    path = tmp_path_factory.mktemp("rota") / "rota.xlsx"
    path.write_bytes(raw)
    loads_or_refused(path)


def write_xlsx(path, rows):
    path.write_bytes(xlsx_bytes(rows))
    return path


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_header_only_rota_is_an_error_not_an_empty_rota(tmp_path, kind):
    head = ["date", "shift", "name", "role", "mobile"]
    path = tmp_path / f"rota.{kind}"
    if kind == "csv":
        path.write_bytes(csv_bytes([head], "utf-8"))
    else:
        write_xlsx(path, [head])
    loaded = load_file(path, SHIFTS, CALENDAR)
    assert not loaded.entries
    assert loaded.errors == [f"rota.{kind} row 1: only the header row; the rota has no duty "
                             "rows"]


def test_a_huge_field_is_refused_by_name(tmp_path):
    path = tmp_path / "rota.csv"
    path.write_text("date,shift,name,role,mobile\n2026-12-01,day," + "张" * 200000 +
                    ",lawyer,13900000001\n", encoding="utf-8")
    with pytest.raises(sheets.SheetError, match="rota.csv"):
        load_file(path, SHIFTS)
    path.write_text("date,shift,name,role,mobile\n2026-12-01,day," + "张" * 300 +
                    ",lawyer,13900000001\n", encoding="utf-8")
    with pytest.raises(sheets.SheetError, match="row 2, column C: a cell of 300 characters"):
        load_file(path, SHIFTS)


def test_a_huge_file_and_a_zip_bomb_are_refused_unread(tmp_path):
    path = tmp_path / "rota.csv"
    with open(path, "wb") as f:
        f.truncate(sheets.MAX_FILE_BYTES + 1)
    with pytest.raises(sheets.SheetError, match="at most 8 MB"):
        load_file(path, SHIFTS)
    bomb = tmp_path / "rota.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/worksheets/sheet1.xml", b"\0" * (sheets.MAX_UNPACKED_BYTES + 1))
    with pytest.raises(sheets.SheetError, match="unpacks to"):
        load_file(bomb, SHIFTS)


def test_absurd_dates_and_odd_digits_are_cell_errors(tmp_path):
    path = tmp_path / "rota.csv"
    rows = [["date", "shift", "name", "role", "mobile", "staff_no"],
            ["0026-12-01", "day", "甲", "lawyer", "13900000001", "1"],
            ["99999999999999999999-1-1", "day", "乙", "lawyer", "13900000002", "2"],
            ["2026-12-01", "day", "丙", "lawyer", "１３９００００００３", "²"],
            ["２０２６-１２-０２", "day", "丁", "lawyer", "١٣٩٠٠٠٠٠٠٠٤", "３"]]
    path.write_bytes(csv_bytes(rows, "utf-8"))
    loaded = load_file(path, SHIFTS)
    text = "\n".join(loaded.errors)
    assert "row 2, column A (date): 0026-12-01 is not a date a rota can cover" in text
    assert "row 3, column A (date): '99999999999999999999-1-1' is not a date" in text
    assert "row 4, column F (staff_no): '²' is not a staff number" in text
    assert "row 5, column E (mobile): '١٣٩٠٠٠٠٠٠٠٤' is not a phone number" in text
    assert not loaded.entries
    path.write_bytes(csv_bytes([rows[0], ["2000-01-01", "day", "甲", "lawyer", "13900000001"],
                                ["2099-12-31", "day", "甲", "lawyer", "13900000001"]], "utf-8"))
    loaded = load_file(path, SHIFTS)
    assert loaded.errors == ["rota.csv: dates from 2000-01-01 (rota.csv row 2) to 2099-12-31 "
                             "(rota.csv row 3); one rota file covers at most two years"]


def test_full_width_digits_are_read_as_digits(tmp_path):
    path = tmp_path / "rota.csv"
    path.write_bytes(csv_bytes([["date", "shift", "name", "role", "mobile", "staff_no"],
                                ["２０２６-１２-０１", "day", "甲", "律师", "１３９０００００００１",
                                 "１２"]], "utf-8"))
    loaded = load_file(path, SHIFTS)
    assert loaded.errors == []
    (entry,) = loaded.entries
    assert (entry.date, entry.person.mobile, entry.person.staff_no) == \
        (dt.date(2026, 12, 1), "13900000001", "12")


GOOD_ROWS = [["date", "shift", "name", "role", "mobile"],
             ["2026-12-01", "day", "张律师", "律师", "13900000011"],
             ["2026-12-01", "night", "张律师", "律师", "13900000011"]]
HEAD = "13900000099"
WHEN = dt.datetime(2026, 12, 1, 10, 0)


def _office(tmp_path, rota):
    cfg = config.from_dict({"office": {"head_mobile": HEAD},
                            "duty": {"rota_files": [str(rota)], "numbers": ["13900000001"]},
                            "spool": {"dir": str(tmp_path / "spool")}})
    (tmp_path / "spool").mkdir(exist_ok=True)
    return Office.from_config(cfg, tmp_path / "spool")


def _alerts(office):
    return [(r["number"], r["text"]) for r in office.sms.rows(purpose="rota refused")]


def _replace(path, raw):
    """Write a new version of the file (a newer mtime even on a coarse clock)."""
    before = path.stat().st_mtime_ns
    path.write_bytes(raw)
    os.utime(path, ns=(before + 10 ** 9, before + 10 ** 9))


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_rota_that_fails_to_load_keeps_the_last_good_one_and_alerts_the_office(tmp_path,
                                                                                  kind):
    rota = tmp_path / f"rota.{kind}"
    rota.write_bytes(csv_bytes(GOOD_ROWS, "utf-8") if kind == "csv" else xlsx_bytes(GOOD_ROWS))
    office = _office(tmp_path, rota)
    assert office.desk.numbers("lawyer", WHEN) == ["13900000011"]
    assert _alerts(office) == []

    # header only (the clerk saved an empty template over it)
    _replace(rota, csv_bytes(GOOD_ROWS[:1], "utf-8") if kind == "csv" else
             xlsx_bytes(GOOD_ROWS[:1]))
    assert office.desk.numbers("lawyer", WHEN) == ["13900000011"]
    ((number, sms),) = _alerts(office)
    assert number == HEAD
    assert f"值班表rota.{kind}有1处错误，未启用" in sms and "仍按上一版值班表" in sms

    # a damaged file: still the last good rota, and one more alert (not one per call)
    good = csv_bytes(GOOD_ROWS, "utf-8") if kind == "csv" else xlsx_bytes(GOOD_ROWS)
    _replace(rota, good[:len(good) // 2] if kind == "xlsx" else b"\xff\xfe\x00garbage,\n" * 3)
    for _ in range(3):
        assert office.desk.numbers("lawyer", WHEN) == ["13900000011"]
    assert len(_alerts(office)) == 2

    # fixed: the new rota is in force, no alert
    _replace(rota, good)
    assert office.desk.numbers("lawyer", WHEN) == ["13900000011"]
    assert office.desk.rota_failure is None and len(_alerts(office)) == 2


def test_a_rota_bad_at_start_rings_duty_numbers_and_alerts_the_office(tmp_path):
    rota = tmp_path / "rota.csv"
    rota.write_bytes(csv_bytes(GOOD_ROWS[:1], "utf-8"))
    office = _office(tmp_path, rota)
    assert office.desk.numbers("lawyer", WHEN) == ["13900000001"]
    ((number, sms),) = _alerts(office)
    assert number == HEAD and "暂按配置中的值班号码呼叫" in sms


def test_a_zip_from_an_unknown_version_is_refused_by_name(tmp_path):
    """Found by make fuzz: a flipped 'version needed' field made zipfile raise
    NotImplementedError before openpyxl ever saw the file."""
    data = bytearray(xlsx_bytes(GOOD_ROWS))
    entry = data.index(b"PK\x01\x02")         # the first central directory entry
    data[entry + 6:entry + 8] = b"\xd6\x00"   # needs zip version 21.4
    path = write_xlsx(tmp_path / "rota.xlsx", GOOD_ROWS)
    path.write_bytes(bytes(data))
    with pytest.raises(sheets.SheetError, match="rota.xlsx: not a readable .xlsx workbook"):
        load_file(path, SHIFTS)
