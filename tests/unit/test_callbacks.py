"""Every call recorded, every missed call called back (issue 17.6): where a caller gave up
(call script event scripts), the missed call's record (call/lines.py), the planner's call
book and callback-list steps, and the office on real SQLite with its clock moved: one SMS per
number a day in office hours, after hours the next morning, `回拨 <number>` from the duty
phone, and a caller who got through on a later call."""

import datetime as dt

import pytest

from lawline import config as configuration
from lawline.call.lines import missed_record
from lawline.clock import Clock
from lawline.records import outcomes as o
from lawline.records.messages import Command, parse_command
from lawline.records.office import Office
from lawline.sync.outbox import Outbox

from .test_call_script import GREETED, Call

LAWYER, HEAD, CALLER, OTHER = "13900000001", "13900000009", "13800138000", "13700000000"
MONDAY_10 = dt.datetime(2026, 11, 30, 10, 0)       # a working Monday, in office hours
MONDAY_22 = dt.datetime(2026, 11, 30, 22, 0)
TUESDAY_9 = dt.datetime(2026, 12, 1, 9, 0)
RULES = o.Rules(office_id="county-0148", office_name="测试县法律服务专线",
                office_number="07730148", head=HEAD)


# -- where the caller gave up: the call script -------------------------------------------------

def test_hanging_up_in_the_greeting_is_abandoned_in_the_menu():
    call = Call().run(GREETED + """
        HANGUP -> FINISH
        DONE -> COMMIT CallRecord
    """)
    r = call.record
    assert (r["outcome"], r["abandoned_in"], r["abandoned_after_s"]) == ("abandoned", "menu",
                                                                         2.0)
    assert "wanted_person" not in r and call.said("caller hung up (menu, after 2 s)")


def test_hanging_up_while_the_duty_phones_ring_counts_the_wait_from_the_first_ring():
    call = Call().run(GREETED + """
        KEY 1 -> PLAY connecting
        PROMPT_ENDED -> RING ...
        AT 1030 HANGUP -> FINISH
    """)
    r = call.record
    assert r["wanted_person"] is True and r["abandoned_in"] == "hunt"
    assert r["abandoned_after_s"] == 27.0          # the ring began at 1003


def test_hanging_up_in_the_queue():
    call = Call(queue_place=2, queue_leave=None).run(GREETED + """
        KEY 1 -> PLAY connecting
        PROMPT_ENDED -> RING ...
        LEG_FAILED all_busy -> PLAY queue_place digit_2 queue_callback
        HANGUP -> FINISH
    """)
    assert call.record["abandoned_in"] == "queue" and call.record["queued"] is True


def test_hanging_up_before_the_recording_began_is_abandoned_not_a_voicemail():
    call = Call().run(GREETED + """
        KEY 2 -> PLAY record_request
        HANGUP -> FINISH
    """)
    assert call.record["outcome"] == "abandoned" and call.record["abandoned_in"] == "voicemail"


def test_a_result_is_never_abandoned_and_an_answer_has_its_time_to_answer():
    call = Call().run(GREETED + """
        KEY 1 -> PLAY connecting
        PROMPT_ENDED -> RING ...
        AT 1012.5 LEG_ACCEPTED 13900000001 -> BRIDGE 13900000001
        HANGUP -> FINISH
    """)
    r = call.record
    assert r["outcome"] == "bridged" and "abandoned_in" not in r
    assert r["wanted_person"] is True and r["wait_s"] == 9.5      # 1003 -> 1012.5
    assert r["ring_started"] == 1003.0          # when the first duty phone rang
    planned = o.plan([o.CallRecord(r["call_id"], r)], RULES, 1013.0).steps[0]["record"]
    assert planned["ring_started"].endswith("+0800") and planned["wait_s"] == 9.5
    call = Call().run(GREETED + """
        KEY 2 -> PLAY record_request
        PROMPT_ENDED -> RECORD service_request
        RECORDED_HANGUP -> COMMIT Voicemail
        COMMITTED 2612010001 -> FINISH
    """)
    assert call.record["outcome"] == "voicemail" and "abandoned_in" not in call.record


def test_the_missed_call_record():
    r = missed_record("261130-095959-ab12", "07730148", CALLER, 1000.0, 1006.25)
    assert (r["outcome"], r["abandoned_in"], r["rang_s"], r["abandoned_after_s"]) == \
        ("missed", "ringing", 6.2, 6.2)
    assert r["started"] == 1000.0 and r["answered"] is None and r["duration_s"] == 6.2


# -- the planner --------------------------------------------------------------------------------

def plan(record, rules=RULES):
    return o.plan([o.CallRecord(record["call_id"], record)], rules, 1796600000.0)


def gave_up(caller=CALLER, outcome="missed", after=6.0, at=1796600000.0):
    return {"call_id": "261207-100000-ab12", "caller": caller, "started": at,
            "outcome": outcome, "abandoned_in": "ringing", "abandoned_after_s": after}


def test_a_missed_call_is_its_record_the_call_book_and_the_callback_list():
    entry = plan(gave_up())
    assert [s["op"] for s in entry.steps] == ["item", "call", "callback"]
    item, book, listed = entry.steps
    assert item["record"]["callback"] == "listed" and book["record"] == item["record"]
    assert (listed["number"], listed["day"]) == (CALLER, "2026-12-07")   # the office's day
    # the same number as the network presents it is the same entry
    assert plan(gave_up("+86" + CALLER)).steps[2]["number"] == CALLER


@pytest.mark.parametrize("record, rules", [
    (gave_up(""), RULES),                                       # withheld: nobody to call
    (gave_up(outcome="bridged"), RULES),
    (gave_up(outcome="voicemail"), RULES),
    (gave_up(after=2.0), o.Rules("x", "x", "x", callback_min_wait=3.0)),
    (gave_up(), o.Rules("x", "x", "x", callbacks=False)),
])
def test_not_listed(record, rules):
    entry = plan(record, rules)
    assert [s["op"] for s in entry.steps] == ["item", "call"]
    assert "callback" not in entry.steps[0]["record"]


# -- the office ---------------------------------------------------------------------------------

@pytest.fixture
def office(tmp_path):
    cfg = configuration.from_dict({
        "office": {"head_mobile": HEAD, "name": "测试县法律服务专线"},
        "duty": {"numbers": [LAWYER]}, "spool": {"dir": str(tmp_path / "spool")}})
    spool = tmp_path / "spool"
    spool.mkdir()
    clock = Clock(cfg.office.timezone, moved_to=MONDAY_10)
    return Office.from_config(cfg, spool, Outbox(spool / "outbox.db", spool, ["upstream"]),
                              clock=clock)


def miss(office, caller=CALLER, at=MONDAY_10, n=1, outcome="missed"):
    t = office.clock.instant(at)
    record = missed_record(f"call-{n}-{caller}", "07730148", caller, t - 6, t)
    if outcome != "missed":
        record.update(outcome=outcome, abandoned_in="menu", rang_s=1.0)
    office.commit([o.CallRecord(record["call_id"], record)])
    return record


def texts(office, purpose, to=LAWYER):
    return [r["text"] for r in office.sms.rows() if r["purpose"] == purpose and
            r["number"] == to]


def test_in_office_hours_the_duty_lawyer_is_texted_once_per_number_a_day(office):
    miss(office)
    miss(office, at=MONDAY_10 + dt.timedelta(minutes=30), n=2, outcome="abandoned")
    miss(office, OTHER, n=3)
    sent = texts(office, "missed call")
    assert len(sent) == 2
    assert sent[0] == f"【测试县法律服务专线】待回拨：{CALLER}来电未接通（最近09:59，振铃中挂断）。" \
                      f"请回拨，回拨后回复：回拨 {CALLER}"
    entry = office.calls.get(CALLER, "2026-11-30")
    assert entry["calls"] == 2 and entry["texted_to"] == LAWYER and entry["done_at"] is None
    assert office.callbacks_due() == []                # the office's round: nothing new
    # each call is in the call book, for the reports
    assert len(office.calls.calls(0, 4e9)) == 3
    assert office.outbox.get("call-call-1-13800138000").record["callback"] == "listed"


def test_after_hours_it_waits_for_the_morning(office):
    office.clock.move_to(MONDAY_22)
    miss(office, at=MONDAY_22)
    assert texts(office, "missed call") == [] and office.callbacks_due() == []
    office.clock.move_to(TUESDAY_9)
    assert office.callbacks_due() == [CALLER]
    assert len(texts(office, "missed call")) == 1 and office.callbacks_due() == []


def test_the_duty_phone_says_it_called_back(office):
    miss(office)
    miss(office, at=MONDAY_10 + dt.timedelta(minutes=5), n=2)
    assert parse_command("回拨 13800138000 已解答") == \
        Command("called_back", "13800138000", "已解答")
    # the box's text shows the number in national form: that is what comes back
    assert office.on_sms("+86" + LAWYER, f"回拨 {CALLER} 已解答", "international") is True
    entry = office.calls.get(CALLER, "2026-11-30")
    assert entry["done_how"] == "sms" and entry["note"] == "已解答" and \
        entry["done_by"].startswith("duty (+8613900000001)")
    item = office.outbox.get(f"callback-2026-11-30-{CALLER}-2")
    assert item.kind == "callback"
    record = item.record
    assert record["caller"] == CALLER and record["call_ids"] == [
        f"call-1-{CALLER}", f"call-2-{CALLER}"] and record["how"] == "sms"
    assert record["done"].startswith(office.clock.day()) and record["done"].endswith("+0800")
    assert texts(office, "command reply", "+86" + LAWYER) == [
        f"【0148】已记录：{CALLER}已回拨（2条未接来电）。"]
    # nothing open for it any more; a stranger's 回拨 is ignored
    assert office.on_sms(LAWYER, f"回拨 {CALLER}", "national") is False
    assert "回拨名单中没有这个号码的未接来电" in texts(office, "command reply")[-1]
    miss(office, OTHER, n=3)
    assert office.on_sms("13600000000", f"回拨 {OTHER}", "national") is None
    assert office.calls.get(OTHER, "2026-11-30")["done_at"] is None


def test_a_caller_who_got_through_later_needs_no_call_back(office):
    office.clock.move_to(MONDAY_22)
    miss(office, at=MONDAY_22)
    later = {"call_id": "later", "caller": CALLER, "outcome": "bridged", "wanted_person": True,
             "wait_s": 4.0, "started": office.clock.instant(MONDAY_22) + 300}
    office.commit([o.CallRecord("later", later)])
    office.clock.move_to(TUESDAY_9)
    assert office.callbacks_due() == []
    entry = office.calls.get(CALLER, "2026-11-30")
    assert entry["done_how"] == "caller" and entry["texted_at"] is None
    assert texts(office, "missed call") == []
    assert office.outbox.get(f"callback-2026-11-30-{CALLER}-1").record["how"] == "caller"


def test_applied_twice_after_a_cut_a_missed_call_is_counted_once(office):
    record = miss(office)
    entry = office.plan([o.CallRecord(record["call_id"], record)])
    office.ledger.apply(entry)
    office.ledger.apply(entry)
    assert office.calls.get(CALLER, "2026-11-30")["calls"] == 1
    assert len(office.calls.calls(0, 4e9)) == 1


def test_old_calls_leave_the_call_book(office):
    miss(office)
    assert office.forget_old_calls(now=office.clock.instant(MONDAY_10) + 399 * 86400) == 0
    assert office.forget_old_calls(now=office.clock.instant(MONDAY_10) + 401 * 86400) == 1
