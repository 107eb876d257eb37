"""The box's SQLite files on the spool (outbox.db, cases.db): is each one usable, and if not,
set it aside and start a fresh one, so damaged storage never stops the box answering.

A power cut, a worn SD card or a careless copy can leave a database that is garbage, cut
short, empty, or with bytes flipped in a page. SQLite notices some of that only when a query
touches the bad page, perhaps in the middle of a call. So each file is checked when the box
opens it, before anything relies on it:

- the write-ahead log (`<db>-wal`) first: SQLite silently ignores a log whose frames stop
  matching their checksums, dropping every transaction from there on. A log whose header is
  not one, or whose frames chain again after a break (a torn last write never does that), is
  damaged;
- then the database: an empty file, a file that does not start with SQLite's header,
  `PRAGMA integrity_check` (b-tree pages, index entries, NOT NULL and CHECK constraints) or
  any sqlite3.DatabaseError while checking, and the tables the box needs missing.

What is damaged is moved to `spool/damaged/<name>.<YYYYmmdd-HHMMSS>` (its log and shared
memory keep their `-wal`/`-shm` suffix, so SQLite can still open the copy with them), never
deleted; the caller opens a fresh file in its place and says so. What the damaged copy still
holds can be read back (`case_numbers_in`), so no case number it gave out is given again.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import struct
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from lawline.errors import LawlineError
from lawline.sync.durable import fsync_dir

log = logging.getLogger("lawline.sync")

HEADER = b"SQLite format 3\x00"
SIDE_FILES = ("-wal", "-shm", "-journal")
_WAL_MAGIC = (0x377F0682, 0x377F0683)   # sqlite.org/fileformat2.html#walformat
_WAL_HEADER, _FRAME_HEADER = 32, 24
_MOVED = re.compile(r".+\.db\.\d{8}-\d{6}(?:\.\d+)?")

# Each long-lived connection's own page cache, in KiB. SQLite's default, 2 MiB a connection,
# fills as the files grow and stays full: the box's RSS rose 3.8 MB over its first thousand
# calls (make soak) and levelled off only once both caches were full. The kernel's page
# cache keeps the files' pages anyway, so the small one costs the writes nothing measurable.
PAGE_CACHE_KIB = 256

PathName = str | os.PathLike[str]
CaseParts = tuple[str, int]     # a case number as (YYMMDD, sequence)
ParseNumber = Callable[[str], CaseParts | None]     # records/cases.parse_number
JsonColumns = Mapping[str, Sequence[str]]           # table -> its columns that hold JSON


class StorageDamaged(LawlineError, IOError):
    """A database on the spool is damaged and was opened by something that may not repair it
    (`lawline check`, `lawline outbox`): the box sets it aside when it starts."""

    def __init__(self, path: PathName, reason: str) -> None:
        super().__init__(f"{path} is damaged: {reason}; at its next start the box sets it "
                         f"aside in {Path(path).parent / 'damaged'} and starts a fresh one")
        self.path = Path(path)
        self.reason = reason


@dataclass
class Damage:
    """A damaged file the box set aside: which, why, and where the copies are now."""

    path: Path
    reason: str
    kept: list[Path] = field(default_factory=list)

    def sentence(self) -> str:
        where = ", ".join(str(p) for p in self.kept)
        return f"{self.path.name} was damaged ({self.reason}); kept as {where}"


def small_page_cache(conn: sqlite3.Connection) -> None:
    """Keep `conn`'s page cache at PAGE_CACHE_KIB, for a connection the box holds open."""
    conn.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")


def problem(path: PathName, tables: Iterable[str] = (),
            json_columns: JsonColumns | None = None) -> str | None:
    """Why the database at `path` (with its log) cannot be trusted, in plain words, or None
    when it is usable or does not exist yet. Reads only; changes nothing on disk but the
    shared-memory file SQLite may create beside it."""
    return wal_problem(path) or database_problem(path, tables, json_columns)


def wal_problem(path: PathName) -> str | None:
    """Why the write-ahead log beside `path` is damaged, or None (absent, empty, intact, or
    only its last, never committed, write torn by a cut)."""
    wal = Path(f"{path}-wal")
    try:
        data = wal.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        return f"its write-ahead log cannot be read ({error.strerror})"
    if not data:
        return None
    if len(data) < _WAL_HEADER:
        return f"its write-ahead log is {len(data)} bytes, shorter than a log header"
    magic, _version, page_size, _seq, salt1, salt2, c1, c2 = struct.unpack(">8I", data[:32])
    if magic not in _WAL_MAGIC:
        return "its write-ahead log does not start with a log header"
    order = ">" if magic & 1 else "<"
    if _checksum(order, data[:24], (0, 0)) != (c1, c2):
        return "its write-ahead log header fails its checksum"
    if page_size < 512 or page_size > 65536 or page_size & (page_size - 1):
        return f"its write-ahead log names an impossible page size {page_size}"
    frame = _FRAME_HEADER + page_size
    count = (len(data) - _WAL_HEADER) // frame
    seed = (c1, c2)
    for n in range(count):
        at = _WAL_HEADER + n * frame
        if not _frame_ok(order, data, at, page_size, salt1, salt2, seed):
            # Only the frames of the transaction being written when the power went may fail;
            # a later frame that still chains from its predecessor's checksum shows the log
            # was complete there, so this frame was damaged afterwards.
            for m in range(n + 1, count):
                later = _WAL_HEADER + m * frame
                before = struct.unpack(">2I", data[later - 8 - page_size:later - page_size])
                if _frame_ok(order, data, later, page_size, salt1, salt2, before):
                    return (f"its write-ahead log is damaged at frame {n + 1} of {count} "
                            "(later frames are intact)")
            return None
        seed = struct.unpack(">2I", data[at + 16:at + 24])
    return None


def _frame_ok(order: str, data: bytes, at: int, page_size: int, salt1: int, salt2: int,
              seed: tuple[int, int]) -> bool:
    head = data[at:at + _FRAME_HEADER]
    _page, _size, s1, s2, c1, c2 = struct.unpack(">6I", head)
    if (s1, s2) != (salt1, salt2):
        return False
    seed = _checksum(order, head[:8], seed)
    page = data[at + _FRAME_HEADER:at + _FRAME_HEADER + page_size]
    return len(page) == page_size and _checksum(order, page, seed) == (c1, c2)


def _checksum(order: str, data: bytes, seed: tuple[int, int]) -> tuple[int, int]:
    # SQLite's WAL checksum: pairs of 32-bit words in the log's own byte order.
    s0, s1 = seed
    words = struct.unpack(f"{order}{len(data) // 4}I", data)
    mask = 0xFFFFFFFF
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & mask
        s1 = (s1 + words[i + 1] + s0) & mask
    return s0, s1


def database_problem(path: PathName, tables: Iterable[str] = (),
                     json_columns: JsonColumns | None = None) -> str | None:
    """Why the database file itself is damaged, or None. `json_columns` ({table: columns})
    names text that must parse as JSON: SQLite keeps no checksum of a row's bytes, so a flip
    inside a record is found only by reading it."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(100)
    except FileNotFoundError:
        return None
    except OSError as error:
        return f"it cannot be read ({error.strerror})"
    if size == 0:
        return "it is empty (0 bytes)"
    if not head.startswith(HEADER):
        return f"it is not an SQLite database (it starts with {head[:16]!r})"
    if len(head) < 100:
        return f"it is cut short ({size} bytes, less than SQLite's header)"
    try:
        conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=10.0)
    except sqlite3.Error as error:
        return f"SQLite cannot open it ({error})"
    try:
        rows = [row[0] for row in conn.execute("PRAGMA integrity_check(5)")]
        if rows != ["ok"]:
            return "SQLite's integrity check failed: " + "; ".join(map(str, rows))
        names = {row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        for table, columns in (json_columns or {}).items():
            if table in names:
                bad = _bad_json(conn, table, columns)
                if bad:
                    return bad
    except sqlite3.OperationalError as error:
        if "locked" in str(error) or "busy" in str(error):
            return None     # another process holds it (the running box): not damage
        return f"SQLite cannot read it ({error})"
    except sqlite3.DatabaseError as error:
        return f"SQLite cannot read it ({error})"
    finally:
        conn.close()
    missing = [name for name in tables if name not in names]
    # A file with no table at all and one page is what a cut during the very first start
    # leaves: nothing was ever stored in it.
    if missing and (names or pages > 1):
        return f"its table{'s' if len(missing) > 1 else ''} {', '.join(missing)} " \
               f"{'are' if len(missing) > 1 else 'is'} missing"
    return None


def _bad_json(conn: sqlite3.Connection, table: str, columns: Sequence[str]) -> str | None:
    for row in conn.execute(f"SELECT rowid, {', '.join(columns)} FROM {table}"):
        for column, value in zip(columns, row[1:]):
            try:
                json.loads(value)
            except (TypeError, ValueError):
                return f"row {row[0]} of its table {table} is damaged ({column} is not JSON)"
    return None


def set_aside(path: PathName, damaged_dir: PathName, *, log_only: bool = False,
              now: float | None = None) -> list[Path]:
    """Move the database at `path` and its side files into `damaged_dir` under a time stamp
    (never deleting anything); with `log_only` only the log and shared memory go. Returns
    the new paths."""
    path = Path(path)
    damaged_dir = Path(damaged_dir)
    damaged_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    base = damaged_dir / f"{path.name}.{stamp}"
    n = 1
    while any(Path(f"{base}{s}").exists() for s in ("",) + SIDE_FILES):
        base = damaged_dir / f"{path.name}.{stamp}.{n}"
        n += 1
    moved = []
    for suffix in (SIDE_FILES if log_only else ("",) + SIDE_FILES):
        source = Path(f"{path}{suffix}")
        if source.exists():
            target = Path(f"{base}{suffix}")
            os.replace(source, target)
            moved.append(target)
    fsync_dir(damaged_dir)
    fsync_dir(path.parent)
    return moved


def open_checked(path: PathName, tables: Iterable[str], damaged_dir: PathName | None = None,
                 json_columns: JsonColumns | None = None) -> Damage | None:
    """Check the database at `path` before it is opened. Without `damaged_dir` a damaged
    file raises StorageDamaged; with it, the damaged log and/or database are set aside (one
    log line each) and the Damage is returned; the caller then creates a fresh file."""
    path = Path(path)
    reason = wal_problem(path)
    if reason is not None:
        if damaged_dir is None:
            raise StorageDamaged(path, reason)
        # The database without its log holds everything up to the last checkpoint; it is
        # checked on its own next, and set aside as well if that is not enough.
        kept = set_aside(path, damaged_dir, log_only=True)
        log.error("storage: %s: %s; its log set aside as %s (nothing deleted); the database "
                  "is used without it", path, reason, ", ".join(map(str, kept)))
        damage = Damage(path, reason, kept)
    else:
        damage = None
    reason = database_problem(path, tables, json_columns)
    if reason is None:
        return damage
    if damaged_dir is None:
        raise StorageDamaged(path, reason)
    kept = set_aside(path, damaged_dir)
    log.error("storage: %s: %s; set aside as %s (nothing deleted); a fresh one is started",
              path, reason, ", ".join(map(str, kept)))
    if damage is not None:
        return Damage(path, f"{damage.reason}; then {reason}", damage.kept + kept)
    return Damage(path, reason, kept)


def set_aside_copies(damaged_dir: PathName) -> list[Path]:
    """The databases set aside so far in `damaged_dir` (without their side files)."""
    damaged_dir = Path(damaged_dir)
    if not damaged_dir.is_dir():
        return []
    return sorted(p for p in damaged_dir.iterdir() if p.is_file() and _MOVED.fullmatch(p.name))


def case_numbers_in(path: PathName, parse: ParseNumber) -> set[CaseParts]:
    """Every case number a (damaged) database still shows, as (YYMMDD, sequence) pairs:
    through SQLite where it can read (outbox item keys, the case register and its counter),
    else from the digit runs in its raw bytes that `parse` (records/cases.parse_number)
    accepts. Used only to keep new numbers above them."""
    found = set()
    queries = ("SELECT key FROM items", "SELECT number FROM cases",
               "SELECT day, last FROM case_counter")
    readable = False
    try:
        conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=2.0)
    except sqlite3.Error:
        conn = None
    for query in queries if conn is not None else ():
        assert conn is not None     # no query without a connection
        try:
            for row in conn.execute(query):
                readable = True
                if len(row) == 2:   # the counter: (day, last number drawn that day)
                    if isinstance(row[1], int) and parse(f"{row[0]}{row[1]:04d}"):
                        found.add((str(row[0]), row[1]))
                else:
                    found.update(numbers_in_name(str(row[0]), parse))
        except sqlite3.Error:
            continue
    if conn is not None:
        conn.close()
    if not readable:
        try:
            data = Path(path).read_bytes()
        except OSError:
            return found
        for run in re.findall(rb"(?<![0-9])[0-9]{9,12}(?![0-9])", data):
            parts = parse(run.decode("ascii"))
            if parts:
                found.add(parts)
    return found


def numbers_in_name(name: str, parse: ParseNumber) -> set[CaseParts]:
    """Case numbers in an outbox key or spool file name, as (YYMMDD, sequence) pairs:
    "<case>" (a voicemail), "case-<case>-<n>" (a case journal), with or without ".json"."""
    stem = name[:-5] if name.endswith(".json") else name
    return {parts for piece in stem.split("-") if (parts := parse(piece))}
