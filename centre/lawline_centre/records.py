"""What the boxes upload, read into rows: one function per kind, every record format.

A box uploads each outbox item as objects `{office}/{YYYY-MM-DD}/{key}/{file}` (firmware
sync/http.py, sync/s3.py): the item's record as `record.json`, and its media (a voicemail's
`voicemail.wav`, a report's CSV) beside it. The record JSON is written in one place on the
box (sync/outbox.py, `Outbox.commit`), which adds `record_format` since format 2; a record
without it is format 1 (boxes before that field). Both read the same way today; a record of
a newer format than this centre knows is read for the fields it has and counted apart
(`newer_format`), never refused: an office updates its boxes before its centre as often as
the other way round.

Nothing here trusts the object: it comes from a county box, a network and a bucket others
write to. Size, nesting, types and every field are checked; a record that is not a JSON
object of a known kind with its key fields is refused with a reason (RecordRefused), which
the ingest keeps and shows (ingest.py), and the next object is read.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from zoneinfo import ZoneInfo

KNOWN_FORMAT = 2            # the newest record format this centre reads field by field
MAX_RECORD_BYTES = 256 * 1024
MAX_TEXT = 2000             # longest text field kept (a note, a detail)
OFFICE_TZ = ZoneInfo("Asia/Shanghai")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class RecordRefused(ValueError):
    """An object that is not a record this centre can read; the message says why (English,
    for the log; the page shows it as it is, quoted)."""


def split_key(object_key: str):
    """(office, day, item key, file name) of an object key, or RecordRefused. The office and
    the item key follow the box's rules for path segments (sync/outbox.py _SAFE_NAME)."""
    parts = object_key.split("/")
    if len(parts) != 4:
        raise RecordRefused(f"not in the boxes' layout office/day/key/file: {object_key!r}")
    office, day, key, name = parts
    if not _NAME.fullmatch(office) or not _NAME.fullmatch(key) or not _NAME.fullmatch(name):
        raise RecordRefused(f"names outside the boxes' rules: {object_key!r}")
    if not _DAY.fullmatch(day) or not _valid_day(day):
        raise RecordRefused(f"folder {day!r} is not a date")
    return office, day, key, name


def _valid_day(day):
    try:
        datetime.date.fromisoformat(day)
        return True
    except ValueError:
        return False


def kind_of(key: str, record: dict) -> str:
    """The item's kind from its key and record (the box's keys: call-<id>, case-<n>-<k>,
    health-<stamp>, audit-..., report names; a voicemail's key is its case number)."""
    if key.startswith("call-"):
        return "call"
    if key.startswith("case-"):
        return "case"
    if key.startswith("health-") or record.get("kind") == "health":
        return "health"
    if key.startswith("audit-") or ("action" in record and "user" in record):
        return "audit"
    if key.isdigit() or ("case_number" in record and "duration_s" in record
                         and "box" in record):
        return "voicemail"
    if key.startswith("callback-"):
        return "callback"
    if key.startswith("report") or record.get("kind") == "report":
        return "report"
    return "other"


def parse(body: bytes) -> dict:
    """The record JSON of an object, checked for size and shape."""
    if len(body) > MAX_RECORD_BYTES:
        raise RecordRefused(f"record of {len(body)} bytes, more than {MAX_RECORD_BYTES}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordRefused(f"not UTF-8 text (byte {exc.start})") from None
    try:
        record = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise RecordRefused("JSON nested too deep") from None
    except ValueError as exc:
        raise RecordRefused(f"not JSON: {str(exc)[:120]}") from None
    if not isinstance(record, dict):
        raise RecordRefused(f"a JSON {type(record).__name__}, not an object")
    return record


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def format_of(record: dict) -> int:
    value = record.get("record_format", 1)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
        raise RecordRefused(f"record_format {value!r} is not a format number")
    return value


# -- field readers: each returns None for absent, refuses a wrong type -----------------------

def _text(record, name, most=MAX_TEXT):
    value = record.get(name)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise RecordRefused(f"field {name!r} is a {type(value).__name__}, not text")
    return value[:most]


def _number(record, name, low=-1e12, high=1e12):
    value = record.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value) or not low <= value <= high:
        raise RecordRefused(f"field {name!r} is {str(value)[:40]!r}, not a number in range")
    return float(value)


def _flag(record, name):
    value = record.get(name)
    return None if value is None else bool(value)


def _time(record, name):
    """A time as the box writes it (epoch seconds, or ISO 8601 with its offset) as the
    office's local time, naive (the centre's tables are all in office time)."""
    value = record.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or not 946684800 <= value <= 4102444800:   # 2000..2100
            raise RecordRefused(f"field {name!r}: {value!r} is no time between 2000 and 2100")
        return datetime.datetime.fromtimestamp(value, OFFICE_TZ).replace(tzinfo=None)
    if isinstance(value, str) and len(value) <= 40:
        text = value.strip()
        if re.fullmatch(r".*[+-]\d{4}", text):          # +0800 -> +08:00 for fromisoformat
            text = text[:-2] + ":" + text[-2:]
        try:
            when = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise RecordRefused(f"field {name!r}: {value!r} is no time") from None
        if when.tzinfo is not None:
            when = when.astimezone(OFFICE_TZ).replace(tzinfo=None)
        if not 2000 <= when.year < 2100:
            raise RecordRefused(f"field {name!r}: {value!r} is no time between 2000 and 2100")
        return when
    raise RecordRefused(f"field {name!r}: {str(value)[:40]!r} is no time")


def _case_number(record, name="case_number"):
    value = _text(record, name, 16)
    if value is not None and not value.isdigit():
        raise RecordRefused(f"field {name!r}: {value!r} is no case number")
    return value or None


# -- one row per kind ----------------------------------------------------------------------

def call_row(record):
    """A call record (call/script.py builds it; call/driver.py stores it)."""
    call_id = _text(record, "call_id", 64)
    if not call_id:
        raise RecordRefused("a call record without call_id")
    started = _time(record, "started")
    if started is None:
        raise RecordRefused("a call record without its start time")
    voicemail = record.get("voicemail")
    voicemail_s = None
    if isinstance(voicemail, dict):
        voicemail_s = _number(voicemail, "seconds", 0, 86400)
    legs = record.get("duty_legs")
    legs = legs if isinstance(legs, list) else []
    rating = _number(record, "rating", 0, 5)
    # time to answer as the box defines it (lawline.records.measures: from the first duty
    # phone ringing for this caller); a box from before the field: the accepted phone's ring
    wait_s = _number(record, "wait_s", 0, 86400)
    for leg in legs if wait_s is None else ():
        if isinstance(leg, dict) and leg.get("outcome") == "accepted":
            wait_s = _number(leg, "seconds_to_accept", 0, 86400)
    return {
        "call_id": call_id, "caller": _text(record, "caller", 32) or "",
        "line": _text(record, "line", 32), "started": started,
        "answered": _time(record, "answered"), "ended": _time(record, "ended"),
        "duration_s": _number(record, "duration_s", 0, 864000),
        "branch": _text(record, "branch", 32), "outcome": _text(record, "outcome", 32) or "",
        "bridged_to": _text(record, "bridged_to", 32),
        "seconds_to_person": _number(record, "seconds_to_person", 0, 864000),
        "bridged_s": _number(record, "bridged_s", 0, 864000),
        "rating": int(rating) if rating is not None else None,
        "case_number": _case_number(record),
        "voicemail_s": voicemail_s, "queued": bool(record.get("queued")),
        "legs": len(legs), "wait_s": wait_s, "topic": _text(record, "topic", 40),
        "wanted_person": _flag(record, "wanted_person"),
        "abandoned_in": _text(record, "abandoned_in", 16),
        "abandoned_after_s": _number(record, "abandoned_after_s", 0, 864000),
        "callback": _text(record, "callback", 16),
        "ring_started": _time(record, "ring_started"),
        "error": _text(record, "error", 300),
    }


CASE_STATES = ("new", "assigned", "referred", "resolved", "caller_informed")


def case_row(record):
    """A case's journal entry (records/office.py _journal; sync/message.py for voicemails):
    the case as it stands after one event, with its whole history."""
    number = _case_number(record)
    if not number:
        raise RecordRefused("a case record without case_number")
    state = _text(record, "state", 32)
    if state not in CASE_STATES:
        raise RecordRefused(f"case {number}: state {state!r} is not one of the box's")
    history = record.get("history")
    history = history if isinstance(history, list) else []
    last_at = None
    for entry in history[-1:]:
        if isinstance(entry, dict):
            last_at = _time(entry, "at")
    opened = _time(record, "opened")
    return {
        "case_number": number, "event": _text(record, "event", 32) or "",
        "kind": _text(record, "kind", 32) or "", "state": state,
        "caller": _text(record, "caller", 32) or "", "owner": _text(record, "owner", 32) or "",
        "owner_name": _text(record, "owner_name", 64) or "",
        "call_id": _text(record, "call_id", 64), "opened": opened,
        "due": _time(record, "due"), "at": last_at or opened, "steps": len(history),
        "topic": _text(record, "topic", 40), "rating": _rating(record),
        "detail": _text(record, "detail", 500),
    }


def _rating(record):
    value = _number(record, "rating", 0, 5)
    return int(value) if value is not None else None


def voicemail_row(record):
    number = _case_number(record)
    if not number:
        raise RecordRefused("a voicemail record without case_number")
    return {"case_number": number, "caller": _text(record, "caller", 32) or "",
            "box": _text(record, "box", 32) or "", "call_id": _text(record, "call_id", 64),
            "started": _time(record, "started"),
            "duration_s": _number(record, "duration_s", 0, 86400),
            "interrupted": bool(record.get("interrupted")), "short": bool(record.get("short"))}


def health_row(record):
    at = _time(record, "at")
    if at is None:
        raise RecordRefused("a health record without its time")
    signal = _number(record, "signal_dbm", -200, 0)
    return {"at": at, "signal_dbm": int(signal) if signal is not None else None,
            "signal_trend": _text(record, "signal_trend", 16),
            "trunk": _flag(record, "trunk"), "backlog": int(_number(record, "backlog", 0,
                                                                       1e9) or 0),
            "oldest_hours": _number(record, "oldest_hours", 0, 1e6),
            "disk_free_mb": _number(record, "disk_free_mb", 0, 1e9),
            "reason": _text(record, "reason", 32)}


def audit_row(record):
    return {"at": _time(record, "at"), "user": _text(record, "user", 64) or "",
            "role": _text(record, "role", 16) or "", "action": _text(record, "action", 40)
            or "", "target": _text(record, "target", 200) or ""}


def callback_row(record):
    """A missed caller called back (records/outcomes.py _called_back: item
    callback-<day>-<number>-<n>): the callback-list entry of that number and office day."""
    caller = _text(record, "caller", 32)
    day = _text(record, "day", 10)
    if not caller or not day or not _valid_day(day):
        raise RecordRefused("a callback record without its caller or day")
    return {"caller": caller, "listed_day": day,                  # DATE in the table
            "calls": _number(record, "calls", 0, 100000),
            "first_missed": _time(record, "first_missed"), "done": _time(record, "done"),
            "done_by": _text(record, "done_by", 32), "how": _text(record, "how", 16)}


ROWS = {"call": call_row, "case": case_row, "voicemail": voicemail_row,
        "health": health_row, "audit": audit_row, "callback": callback_row}


def read(object_key: str, body: bytes):
    """(table, row) for one record object, or RecordRefused. The row carries the office,
    the day folder, the item key and the record format."""
    office, day, key, _name = split_key(object_key)
    record = parse(body)
    version = format_of(record)
    office_in_record = record.get("office")
    if isinstance(office_in_record, str) and office_in_record and \
            office_in_record != office and _NAME.fullmatch(office_in_record):
        # a record that claims another county than the folder it is in: the folder is where
        # that box's credentials may write, so the folder wins and the claim is refused
        raise RecordRefused(f"record says office {office_in_record!r} but lies under "
                            f"{office!r}")
    kind = kind_of(key, record)
    build = ROWS.get(kind)
    if build is None:
        return kind, {"office": office, "day": day, "item": key, "format": version}
    row = build(record)
    row.update(office=office, day=day, item=key, format=version)
    return kind, row
