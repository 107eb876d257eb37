"""Reading one uploaded record: every format the boxes have written, and what a damaged or
hostile object gets (a reason, never an exception other than RecordRefused)."""

import datetime
import json

import pytest
from hypothesis import given, settings, strategies as st

from lawline.sync.outbox import RECORD_FORMAT
from lawline_centre import records
from lawline_centre.records import RecordRefused

CALL = {"call_id": "261201-100000-abcd", "line": "0773001", "caller": "13812345678",
        "started": "2026-12-01T10:00:00+0800", "answered": "2026-12-01T10:00:01+0800",
        "ended": "2026-12-01T10:05:00+0800", "duration_s": 300.0, "branch": "consultation",
        "outcome": "bridged", "bridged_to": "13900000001", "seconds_to_person": 31.0,
        "duty_legs": [{"number": "13900000001", "outcome": "accepted", "sip_code": 200,
                       "seconds_to_accept": 7.5, "setup_s": 0.3}],
        "rating": 5, "case_number": "2612010001", "voicemail": None}
KEY = "county-001/2026-12-01/call-261201-100000-abcd/record.json"


def body(record):
    return json.dumps(record, ensure_ascii=False).encode()


def test_format_1_and_2_read_alike_and_the_box_writes_2():
    assert RECORD_FORMAT == 2
    kind1, row1 = records.read(KEY, body(CALL))
    kind2, row2 = records.read(KEY, body(dict(CALL, record_format=2)))
    assert kind1 == kind2 == "call"
    assert row1.pop("format") == 1 and row2.pop("format") == 2
    assert row1 == row2
    assert row1["started"] == datetime.datetime(2026, 12, 1, 10, 0)
    assert row1["wait_s"] == 7.5 and row1["office"] == "county-001"


def test_a_newer_format_is_read_for_the_fields_it_has():
    kind, row = records.read(KEY, body(dict(CALL, record_format=7, new_field={"x": 1})))
    assert kind == "call" and row["format"] == 7 and row["outcome"] == "bridged"


def test_times_as_epoch_seconds_are_office_time():
    kind, row = records.read(KEY, body(dict(CALL, started=1796090400.0)))   # 2026-12-01 02:00Z
    assert row["started"] == datetime.datetime(2026, 12, 1, 10, 0)


@pytest.mark.parametrize("raw, why", [
    (b"\xff\xfe{", "not UTF-8"),
    (b'{"call_id": "x", ', "not JSON"),
    (b"[1, 2]", "not an object"),
    (b"[" * 100000 + b"]" * 100000, "nested too deep"),
    (b'{"call_id": "x", "started": NaN}', "not JSON"),
    (b" " * 300000, "more than"),
    (body(dict(CALL, started="yesterday")), "no time"),
    (body(dict(CALL, started=1e30)), "no time"),
    (body(dict(CALL, duration_s="long")), "not a number"),
    (body(dict(CALL, record_format="2")), "not a format number"),
    (body(dict(CALL, call_id=None)), "without call_id"),
    (body(dict(CALL, office="county-002")), "lies under"),
    (body(dict(CALL, case_number="1; DROP TABLE calls")), "no case number"),
])
def test_damaged_and_hostile_records_are_refused_with_a_reason(raw, why):
    with pytest.raises(RecordRefused, match=why):
        records.read(KEY, raw)


@pytest.mark.parametrize("key", ["county-001/2026-13-01/call-1/record.json",
                                 "county-001/2026-12-01/record.json",
                                 "../etc/2026-12-01/call-1/record.json",
                                 "county-001/2026-12-01/call 1/record.json"])
def test_keys_outside_the_boxes_layout_are_refused(key):
    with pytest.raises(RecordRefused):
        records.read(key, body(CALL))


def test_a_case_journal_entry_gives_its_state_and_times():
    case = {"case_number": "2612010001", "event": "resolved", "kind": "consultation",
            "state": "resolved", "caller": "13812345678", "owner": "13900000001",
            "owner_name": "张律师", "office": "county-001", "opened": 1796090400.0,
            "due": 1796349600.0, "history": [{"at": 1796090400.0, "state": "assigned"},
                                             {"at": 1796097600.0, "state": "resolved"}]}
    kind, row = records.read("county-001/2026-12-01/case-2612010001-2/record.json",
                             body(case))
    assert kind == "case" and row["state"] == "resolved" and row["steps"] == 2
    assert row["at"] == datetime.datetime(2026, 12, 1, 12, 0)
    with pytest.raises(RecordRefused, match="state"):
        records.read("county-001/2026-12-01/case-2612010001-2/record.json",
                     body(dict(case, state="deleted")))


@settings(max_examples=200, deadline=1000, derandomize=True)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=12),
                                                                        c, max_size=6),
                    max_leaves=30),
       st.sampled_from(["call-1", "case-2612010001-1", "2612010001", "health-1", "audit-1",
                        "report-x"]))
def test_anything_json_is_read_or_refused(value, item):
    try:
        raw = json.dumps(value, allow_nan=True).encode()
    except (ValueError, RecursionError):
        return
    try:
        records.read(f"county-001/2026-12-01/{item}/record.json", raw)
    except RecordRefused:
        pass


def test_a_missed_call_and_its_call_back_give_their_fields():
    kind, row = records.read(KEY, body(dict(
        CALL, outcome="missed", abandoned_in="ringing", abandoned_after_s=6.2,
        wanted_person=False, callback="listed", ring_started=None, wait_s=None)))
    assert (row["outcome"], row["abandoned_in"], row["abandoned_after_s"]) == \
        ("missed", "ringing", 6.2)
    assert row["callback"] == "listed" and row["wanted_person"] is False
    kind, row = records.read(KEY, body(dict(CALL, ring_started="2026-12-01T10:00:03+0800",
                                            wait_s=9.5)))
    assert row["wait_s"] == 9.5          # the box's time to answer, not the leg's ringing
    assert row["ring_started"] == datetime.datetime(2026, 12, 1, 10, 0, 3)
    key = "county-001/2026-12-01/callback-2026-12-01-13800138000-1/record.json"
    kind, row = records.read(key, body({"caller": "13800138000", "day": "2026-12-01",
                                        "calls": 2, "done": "2026-12-01T11:20:00+0800",
                                        "how": "sms", "done_by": "13900000001"}))
    assert kind == "callback" and row["listed_day"] == "2026-12-01" and row["calls"] == 2
    with pytest.raises(RecordRefused, match="caller or day"):
        records.read(key, body({"caller": "13800138000", "day": "12/01"}))
