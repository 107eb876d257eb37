"""The duty rota: spreadsheets made here (CSV and XLSX), every problem named by row and
column, and who is on duty at the shift boundaries."""

import datetime as dt

import openpyxl
import pytest

from lawline.duty.calendar import HolidayCalendar
from lawline.duty.roster import DutyRoster, load_file, parse_shifts

SHIFTS = parse_shifts(["day 08:30-17:30", "night 17:30-08:30"])
T = dt.datetime

GOOD = [
    ("date", "shift", "name", "role", "mobile", "staff_no"),
    ("2026-12-01", "day", "张律师", "lawyer", "13900000001", "11"),
    ("2026-12-01", "day", "李调解", "mediator", "13900000002", "12"),
    ("2026-12-01", "night", "王律师", "lawyer", "13900000003", "13"),
    ("2026-12-02", "day", "王律师", "律师", "13900000003", "13"),
    ("2026-12-02", "night", "张律师", "lawyer", "13900000001", "11"),
]

BAD = [
    ("date", "shift", "name", "role", "mobile"),
    ("2026-12-01", "day", "张律师", "lawyer", "13900000001"),       # row 2
    ("2026-12-01", "night", "王律师", "lawyer", "13900000003"),     # row 3
    ("2026-12-32", "day", "李律师", "lawyer", "13900000004"),       # row 4: bad date
    ("2026-12-02", "day", "赵律师", "lawyer", ""),                  # row 5: missing mobile
    ("2026-12-02", "night", "王律师", "lawyer", "13900000003"),     # row 6
    ("2026-12-02", "night", "王律师", "lawyer", "13900000003"),     # row 7: duplicated
    ("2026-12-04", "day", "张律师", "lawyer", "13900000001"),       # row 8: 12-03 missing
    ("2026-12-04", "night", "张律师", "lawyer", "13900000001"),     # row 9
]


def write_csv(path, rows):
    path.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8-sig")
    return path


def write_xlsx(path, rows, real_dates=True):
    book = openpyxl.Workbook()
    sheet = book.active
    for i, row in enumerate(rows):
        cells = list(row)
        if i and real_dates:
            try:
                cells[0] = dt.datetime.fromisoformat(cells[0])  # a date cell, as Excel keeps it
            except ValueError:
                pass
        if i and len(cells) > 4 and cells[4].isdigit():
            cells[4] = int(cells[4])                            # a number cell
        sheet.append(cells)
    book.save(path)
    return path


@pytest.fixture(params=["csv", "xlsx"])
def make_sheet(request, tmp_path):
    def make(rows, name="rota"):
        path = tmp_path / f"{name}.{request.param}"
        return write_csv(path, rows) if request.param == "csv" else write_xlsx(path, rows)
    make.kind = request.param
    return make


def test_a_good_rota_loads(make_sheet):
    loaded = load_file(make_sheet(GOOD), SHIFTS)
    assert loaded.errors == [] and loaded.warnings == []
    assert len(loaded.entries) == 5
    first = loaded.entries[0]
    assert first.date == dt.date(2026, 12, 1) and first.person.mobile == "13900000001"
    assert first.person.staff_no == "11"
    assert loaded.entries[3].person.role == "lawyer"     # 律师


def test_bad_rota_names_row_and_column(make_sheet):
    path = make_sheet(BAD)
    loaded = load_file(path, SHIFTS)
    errors = loaded.errors
    assert any(e.startswith(f"{path.name} row 4, column A (date): '2026-12-32' is not a date")
               for e in errors), errors
    assert f"{path.name} row 5, column E (mobile): missing mobile number for 赵律师" in errors
    assert any(e.startswith(f"{path.name} row 7, column B (shift): 王律师 is already on the "
                            "2026-12-02 night shift in row 6") for e in errors), errors
    assert len(errors) == 3, errors


def test_gap_is_reported_with_row_and_column(make_sheet):
    # the same sheet without its bad rows: what is left has a gap on 2026-12-03 and a
    # missing day shift on 2026-12-02
    rows = [r for i, r in enumerate(BAD) if i not in (3, 4, 6)]
    path = make_sheet(rows)
    loaded = load_file(path, SHIFTS)
    assert loaded.errors == []
    gaps = loaded.warnings
    # 12-02 has a night row (row 4 now) but no day lawyer: placed at that date's last row
    assert f"{path.name} row 4, column B (shift): gap: no lawyer on 2026-12-02 day 08:30-17:30" \
        in gaps, gaps
    # 12-03 has no rows at all: placed at the first row of 12-04, in the date column
    assert f"{path.name} row 5, column A (date): gap: no lawyer on 2026-12-03 day 08:30-17:30" \
        in gaps, gaps
    assert f"{path.name} row 5, column A (date): gap: no lawyer on 2026-12-03 night 17:30-08:30" \
        in gaps, gaps
    assert len(gaps) == 3, gaps


def test_header_and_role_errors(make_sheet):
    path = make_sheet([("date", "shift", "name", "mobile"), ("2026-12-01", "day", "x", "1390")])
    assert "header lacks column(s) role" in load_file(path, SHIFTS).errors[0]
    path = make_sheet([("date", "shift", "name", "role", "mobile"),
                       ("2026-12-01", "evening", "张", "judge", "13900000001")], name="r2")
    errors = load_file(path, SHIFTS).errors
    assert errors[0].startswith(f"{path.name} row 2, column B (shift): 'evening' is not a shift")
    assert errors[1].startswith(f"{path.name} row 2, column D (role): 'judge' is not a role")


def test_on_duty_at_shift_boundaries(tmp_path):
    roster = DutyRoster(SHIFTS, load_file(write_csv(tmp_path / "r.csv", GOOD), SHIFTS).entries)

    def names(when, role=None):
        return [e.person.name for e in roster.on_duty(when, role)]

    assert names(T(2026, 12, 1, 8, 29)) == []                      # before the first shift
    assert names(T(2026, 12, 1, 8, 30)) == ["张律师", "李调解"]     # start is inclusive
    assert names(T(2026, 12, 1, 17, 29, 59)) == ["张律师", "李调解"]
    assert names(T(2026, 12, 1, 17, 30)) == ["王律师"]              # end exclusive, night begins
    assert names(T(2026, 12, 2, 0, 0)) == ["王律师"]                # the night runs past midnight
    assert names(T(2026, 12, 2, 8, 29)) == ["王律师"]
    assert names(T(2026, 12, 2, 8, 30)) == ["王律师"]               # now the 12-02 day shift
    assert roster.shifts_at(T(2026, 12, 2, 8, 30))[0][1].name == "day"
    assert names(T(2026, 12, 2, 17, 30)) == ["张律师"]
    assert roster.numbers("lawyer", T(2026, 12, 1, 9, 0)) == ["13900000001"]
    assert roster.numbers("mediator", T(2026, 12, 1, 9, 0)) == ["13900000002"]
    assert roster.numbers("mediator", T(2026, 12, 1, 18, 0)) == []
    begin, shift, people = roster.next_shift(T(2026, 12, 1, 9, 0))
    assert begin == T(2026, 12, 1, 17, 30) and shift.name == "night"
    assert [e.person.name for e in people] == ["王律师"]
    assert roster.by_staff_no("12").name == "李调解"
    assert roster.person("+8613900000003").name == "王律师"


def test_no_rota_falls_back_to_configured_numbers():
    roster = DutyRoster(SHIFTS, [], fallback=["13900000001"])
    assert not roster.configured
    assert roster.numbers("lawyer", T(2026, 12, 1, 3, 0)) == ["13900000001"]
    assert roster.gaps(dt.date(2026, 12, 1), 7) == []


def test_weekly_pattern_with_rotation_and_calendar(tmp_path):
    shifts = parse_shifts(["day 08:30-17:30 workdays", "night 17:30-08:30",
                           "rest 08:30-17:30 restdays"])
    path = write_csv(tmp_path / "weekly.csv", [
        ("weekday", "shift", "name", "role", "mobile", "week"),
        ("mon", "day", "甲", "lawyer", "13900000011", ""),
        ("sat", "day", "乙", "lawyer", "13900000012", ""),
        ("mon", "night", "丙", "lawyer", "13900000013", "1"),
        ("mon", "night", "丁", "lawyer", "13900000014", "2"),
    ])
    loaded = load_file(path, shifts)
    assert loaded.errors == []
    cal = HolidayCalendar()
    roster = DutyRoster(shifts, loaded.entries, cal, anchor=dt.date(2026, 11, 30))
    assert [e.person.name for e in roster.on_duty(T(2026, 11, 30, 9, 0))] == ["甲"]
    assert [e.person.name for e in roster.on_duty(T(2026, 11, 30, 20, 0))] == ["丙"]   # week 1
    assert [e.person.name for e in roster.on_duty(T(2026, 12, 7, 20, 0))] == ["丁"]    # week 2
    assert [e.person.name for e in roster.on_duty(T(2026, 12, 14, 20, 0))] == ["丙"]
    # a holiday Monday has no day shift (workdays), the rest-day shift instead: nobody on it
    assert roster.on_duty(T(2026, 10, 5, 9, 0)) == []
    assert any(d == dt.date(2026, 10, 5) and s.name == "rest"
               for d, s, _ in roster.gaps(dt.date(2026, 10, 5), 1))
    # a make-up Saturday has the day shift, and the Saturday pattern row works it
    assert [e.person.name for e in roster.on_duty(T(2026, 2, 14, 9, 0))] == ["乙"]


def test_dated_rows_replace_the_pattern_for_their_shift(tmp_path):
    weekly = write_csv(tmp_path / "weekly.csv", [
        ("weekday", "shift", "name", "role", "mobile"),
        ("tue", "day", "甲", "lawyer", "13900000011"),
        ("tue", "night", "乙", "lawyer", "13900000012")])
    dated = write_csv(tmp_path / "dec.csv", [
        ("date", "shift", "name", "role", "mobile"),
        ("2026-12-01", "day", "丙", "lawyer", "13900000013")])
    entries = load_file(weekly, SHIFTS).entries + load_file(dated, SHIFTS, order_base=1000).entries
    roster = DutyRoster(SHIFTS, entries)
    assert [e.person.name for e in roster.on_duty(T(2026, 12, 1, 9, 0))] == ["丙"]
    assert [e.person.name for e in roster.on_duty(T(2026, 12, 1, 20, 0))] == ["乙"]
    assert [e.person.name for e in roster.on_duty(T(2026, 12, 8, 9, 0))] == ["甲"]


def test_gbk_csv_from_chinese_excel(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes("日期,班次,姓名,角色,手机\n2026/12/1,day,张律师,律师,139 0000 0001\n"
                     .encode("gb18030"))
    loaded = load_file(path, SHIFTS)
    assert loaded.errors == []
    assert loaded.entries[0].person.name == "张律师"
    assert loaded.entries[0].person.mobile == "13900000001"


def test_lawline_duty_check_and_now(tmp_path, capsys):
    from lawline import cli
    rota = write_xlsx(tmp_path / "rota.xlsx", BAD)
    good = write_csv(tmp_path / "good.csv", GOOD)
    config = tmp_path / "lawline.toml"
    config.write_text(f'[duty]\nrota_files = ["{good}"]\n[spool]\ndir = "{tmp_path}"\n',
                      encoding="utf-8")
    assert cli.main(["duty", "--config", str(config), "--check", str(rota)]) == 1
    out = capsys.readouterr().out
    assert "ERROR rota.xlsx row 5, column E (mobile): missing mobile number for 赵律师" in out
    assert "3 error(s)" in out
    assert cli.main(["duty", "--config", str(config), "--at", "2026-12-01T17:30"]) == 0
    out = capsys.readouterr().out
    assert "on duty now: night 17:30-08:30 (from 2026-12-01): 王律师 (lawyer, 13900000003" in out
    assert "next: day 08:30-17:30 from 2026-12-02 08:30: 王律师" in out
