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
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from ..errors import ConfigError


class SheetError(ConfigError):
    """The file cannot be read as a table at all (the message names the file)."""


# What a rota never needs more of (a year of two shifts for twenty people is ~15,000 rows):
# a damaged or hostile file fails fast with its name in the error instead of keeping the box
# busy. An XLSX is a zip; its members' unpacked sizes are checked before any is unpacked.
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
MAX_ROWS = 20000
MAX_COLUMNS = 64
MAX_CELL = 256

# One row as it comes out: its number as the clerk sees it, and its cells (str from CSV; str,
# datetime, date, int, float... as openpyxl gives an XLSX cell's value)
Row = tuple[int, Sequence[object]]
_Cells = TypeVar("_Cells")


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA (how spreadsheets label columns)."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


def read_rows(path: str | os.PathLike[str]) -> list[Row]:
    """[(row_number, [cell, ...]), ...] for every non-empty row, row numbers from 1.
    Cells are str, or datetime/date/int/float as XLSX stores them."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        reader: Callable[[Path], list[Row]] = _xlsx_rows
    elif suffix in (".csv", ".txt"):
        reader = _csv_rows
    else:
        raise SheetError(f"rota file {path}: unknown kind '{suffix}'; save it as .csv or .xlsx")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SheetError(f"rota file {path}: cannot read it ({exc.strerror})") from None
    if size > MAX_FILE_BYTES:
        raise SheetError(f"rota file {path}: {size} bytes; a rota is at most "
                         f"{MAX_FILE_BYTES // (1024 * 1024)} MB")
    return [(number, _bounded(path, number, cells)) for number, cells in reader(path)]


def _bounded(path: Path, number: int, cells: Iterable[object]) -> list[object]:
    """The row's cells, or SheetError naming the first cell no rota has."""
    cells = list(cells)
    while len(cells) > MAX_COLUMNS and cell_text(cells[-1]) == "":
        cells.pop()   # XLSX rows come padded to the sheet's widest row
    if len(cells) > MAX_COLUMNS:
        raise SheetError(f"rota file {path} row {number}: {len(cells)} columns; a rota has "
                         f"at most {MAX_COLUMNS}")
    for i, c in enumerate(cells):
        if isinstance(c, str) and len(c) > MAX_CELL:
            raise SheetError(f"rota file {path} row {number}, column {column_letter(i)}: "
                             f"a cell of {len(c)} characters; at most {MAX_CELL}")
    return cells


def _counted(path: Path, rows: Iterable[tuple[int, _Cells]]) -> Iterator[tuple[int, _Cells]]:
    """Rows up to MAX_ROWS (empty ones count: a sheet of a million blank rows is no rota)."""
    for number, cells in rows:
        if number > MAX_ROWS:
            raise SheetError(f"rota file {path}: more than {MAX_ROWS} rows")
        yield number, cells


def _csv_rows(path: Path) -> list[Row]:
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
    rows: list[Row] = []
    try:
        for number, cells in _counted(path, enumerate(csv.reader(io.StringIO(text)), start=1)):
            if any(c.strip() for c in cells):
                rows.append((number, cells))
    except csv.Error as exc:  # a cell past csv's own limit (128 KiB), a NUL byte...
        raise SheetError(f"rota file {path}: not a readable CSV table ({exc})") from None
    return rows


def _xlsx_rows(path: Path) -> list[Row]:
    try:
        import openpyxl
    except ImportError:
        raise SheetError(f"rota file {path}: reading .xlsx needs the 'openpyxl' package; "
                         "install it or save the sheet as .csv") from None
    import zipfile      # with its bz2, lzma and shutil: an XLSX rota only
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except Exception as exc:  # noqa: BLE001 - BadZipFile, and NotImplementedError for a
        # damaged version field, EOFError, ValueError...: all mean a damaged file
        raise SheetError(f"rota file {path}: not a readable .xlsx workbook ({exc})") from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise SheetError(f"rota file {path}: unpacks to {unpacked} bytes; a rota workbook is "
                         f"at most {MAX_UNPACKED_BYTES // (1024 * 1024)} MB unpacked")
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except OSError as exc:
        raise SheetError(f"rota file {path}: cannot read it ({exc.strerror})") from None
    except Exception as exc:  # noqa: BLE001 - zipfile/XML errors of a damaged file
        raise SheetError(f"rota file {path}: not a readable .xlsx workbook ({exc})") from None
    try:
        sheet = book.worksheets[0]
        rows: list[Row] = []
        for number, cells in _counted(path, enumerate(sheet.iter_rows(values_only=True),
                                                      start=1)):
            cells = ["" if c is None else c for c in cells]
            if any(str(c).strip() for c in cells):
                rows.append((number, cells))
        return rows
    except SheetError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged sheet fails while it is read:
        # zlib, XML, CRC, and cell values openpyxl cannot convert (a date past year 9999)
        raise SheetError(f"rota file {path}: damaged .xlsx workbook ({type(exc).__name__}: "
                         f"{str(exc)[:120]})") from None
    finally:
        book.close()


def cell_text(value: object) -> str:
    """A cell as text: 13900000001.0 (a number cell) -> '13900000001'."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    return str(value).strip()


def cell_date(value: object) -> dt.date | None:
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
    except (ValueError, OverflowError):  # "²" is a digit to isdigit, not to int; 10**20
        return None
