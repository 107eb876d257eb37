"""Reading a duty rota out of a spreadsheet: CSV or XLSX, as an office clerk saves it.

Only the cells come out of here, each with the row number and column letter the clerk sees
in Excel or WPS, so every complaint about a cell can point at it ("rota.xlsx row 7, column
A (date)"). CSV files saved by Chinese Excel are GB18030, others UTF-8 (often with a BOM):
both are read.

XLSX goes through openpyxl: pure Python (plus et-xmlfile), so it installs on a Pi without a
compiler, and read-only mode streams rows instead of loading the workbook's object model.
Writing our own XLSX reader (zip + shared strings + styles to tell dates from numbers) would
be a few hundred lines of somebody else's format to get wrong.
"""

import csv
import datetime as dt
import io
from pathlib import Path

from ..errors import ConfigError


class SheetError(ConfigError):
    """The file cannot be read as a table at all (the message names the file)."""


def column_letter(index):
    """0 -> A, 25 -> Z, 26 -> AA (how spreadsheets label columns)."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


def read_rows(path):
    """[(row_number, [cell, ...]), ...] for every non-empty row, row numbers from 1.
    Cells are str, or datetime/date/int/float as XLSX stores them."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _xlsx_rows(path)
    if suffix in (".csv", ".txt"):
        return _csv_rows(path)
    raise SheetError(f"rota file {path}: unknown kind '{suffix}'; save it as .csv or .xlsx")


def _csv_rows(path):
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SheetError(f"rota file {path}: cannot read it ({exc.strerror})") from None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise SheetError(f"rota file {path}: neither UTF-8 nor GB18030 text")
    rows = []
    for number, cells in enumerate(csv.reader(io.StringIO(text)), start=1):
        if any(c.strip() for c in cells):
            rows.append((number, cells))
    return rows


def _xlsx_rows(path):
    try:
        import openpyxl
    except ImportError:
        raise SheetError(f"rota file {path}: reading .xlsx needs the 'openpyxl' package; "
                         "install it or save the sheet as .csv") from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except OSError as exc:
        raise SheetError(f"rota file {path}: cannot read it ({exc.strerror})") from None
    except Exception as exc:  # noqa: BLE001 - zipfile/XML errors of a damaged file
        raise SheetError(f"rota file {path}: not a readable .xlsx workbook ({exc})") from None
    try:
        sheet = book.worksheets[0]
        rows = []
        for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = ["" if c is None else c for c in cells]
            if any(str(c).strip() for c in cells):
                rows.append((number, cells))
        return rows
    finally:
        book.close()


def cell_text(value):
    """A cell as text: 13900000001.0 (a number cell) -> '13900000001'."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    return str(value).strip()


def cell_date(value):
    """A date cell or text: 2026-12-01, 2026/12/1, 2026.12.1, 2026年12月1日. None if not."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    for ch in "/.年月":
        text = text.replace(ch, "-")
    text = text.rstrip("日").strip("-")
    parts = text.split("-")
    if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
        return None
    try:
        return dt.date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        return None
