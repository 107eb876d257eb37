"""The office's rules as one pure function (records/outcomes.py): what each outcome of a call
or a staff action writes, decided before anything is written. No files, no database."""

import json

import pytest

from lawline.records import outcomes as o

RULES = o.Rules(office_id="county-0148", office_name="测试县法律服务专线",
                office_number="07730148", head="13900000009", due_hours=72.0,
                urgent_due_hours=4.0, next_steps="值班律师将联系您。", hours="周一至周五",
                lawyer=o.Duty("13900000001", "张律师"), mediator=o.Duty("13900000002", "李调解"),
                low_rating=2)
CALL = o.Call("261207-100000-ab12", "13800138000", "07730148")
AT = 1796600000.0


def ops(entry, op):
    return [s for s in entry.steps if s["op"] == op]


def sms(entry):
    return [(s["purpose"], s["number"]) for s in ops(entry, "sms")]


def test_a_voicemail_is_its_item_its_case_its_journal_and_two_sms():
    v = o.Voicemail(CALL, "consultation", "2612070001", "1234", "incoming/x.wav", 5.0,
                    "# pressed", started="2026-12-07T10:00:05+0800", menu_path=("1",))
    entry = o.plan([v], RULES, AT)
    assert entry.key == "2612070001"
    assert [s["op"] for s in entry.steps] == ["item", "open", "item", "sms", "sms"]
    item, journal = ops(entry, "item")
    assert item["files"] == {"voicemail.wav": "incoming/x.wav"}
    assert item["record"]["office"] == "county-0148" and item["record"]["duration_s"] == 5.0
    case = ops(entry, "open")[0]["case"]
    assert case["owner"] == "13900000001" and case["owner_name"] == "张律师"
    assert case["state"] == "assigned" and case["pin"] == "1234" and case["due_hours"] == 72.0
    assert journal["key"] == "case-2612070001-1" and journal["record"]["event"] == "opened"
    assert sms(entry) == [("caller case", "13800138000"), ("duty case", "13900000001")]
    assert "1234" in ops(entry, "sms")[0]["text"]    # the PIN goes only to the caller
    assert "1234" not in ops(entry, "sms")[1]["text"]
    assert o.plan([v], RULES, AT) == entry            # pure: the same facts, the same entry


def test_a_complaint_goes_to_the_head_and_never_to_the_person_it_names():
    named = o.Duty("13900000001", "张律师", "11")
    v = o.Voicemail(CALL, "complaint", "2612070002", "1234", "incoming/c.wav", 9.0, "# pressed",
                    named=named)
    entry = o.plan([v], RULES, AT)
    assert ops(entry, "open")[0]["case"]["owner"] == "13900000009"
    assert ("complaint", "13900000009") in sms(entry)
    assert all(number != "13900000001" for _, number in sms(entry))
    assert json.loads(ops(entry, "open")[0]["case"]["detail"])["named"]["staff_no"] == "11"
    # a complaint about the head goes upstream only: nobody on the box is told
    about_head = o.plan([o.Voicemail(CALL, "complaint", "2612070003", "1", "x.wav", 1, "#",
                                     named=o.Duty("+8613900000009", "王主任", "1"))], RULES, AT)
    assert sms(about_head) == [("caller case", "13800138000")]
    assert ops(about_head, "open")[0]["case"]["owner"] == ""


def test_after_hours_and_landline_callers():
    landline = o.Call("261207-200000-ab12", "07731234567", "07730148")
    v = o.Voicemail(landline, "consultation", "2612070004", "1", "x.wav", 3, "#",
                    after_hours=True)
    entry = o.plan([v], RULES, AT)
    assert ops(entry, "open")[0]["case"]["state"] == "new" and sms(entry) == []


def test_an_open_urgent_case_gets_only_its_voicemail_item():
    v = o.Voicemail(CALL, "urgent", "2612070005", "", "x.wav", 3, "#", case_open=True)
    assert [s["op"] for s in o.plan([v], RULES, AT).steps] == ["item"]


def test_the_end_of_a_bridged_call_is_its_case_its_rating_and_its_record_in_one_entry():
    record = {"call_id": CALL.call_id, "started": AT, "answered": AT + 2, "ended": AT + 90,
              "outcome": "bridged", "case_number": "2612070006", "rating": 1}
    entry = o.plan([o.Bridged(CALL, "consultation", "2612070006", "4321",
                              o.Duty("13900000001", "张律师")),
                    o.Rated(CALL, "2612070006", 1, o.Duty("13900000001", "张律师")),
                    o.CallRecord(CALL.call_id, record)], RULES, AT)
    assert entry.key == "bridged-2612070006"
    assert [s["op"] for s in entry.steps] == ["open", "item", "sms", "sms", "set", "sms",
                                              "item", "call"]
    assert sms(entry) == [("caller case", "13800138000"), ("duty case", "13900000001"),
                          ("low rating", "13900000009")]
    call = ops(entry, "item")[-1]
    assert ops(entry, "call")[0]["record"] == call["record"]     # the office's call book
    assert call["key"] == f"call-{CALL.call_id}"
    assert call["record"]["started"] == "2026-12-07T07:33:20+0800"   # the office's zone


def test_an_escalation_tells_every_mediator_and_the_head_once():
    entry = o.plan([o.Escalated(CALL, "2612070007", "1", ("13900000002", "+8613900000003",
                                                          "13900000009"), 125.0)], RULES, AT)
    assert sms(entry) == [("caller case", "13800138000"),
                          ("urgent escalation", "13900000002"),
                          ("urgent escalation", "+8613900000003"),
                          ("urgent escalation", "13900000009")]
    assert "等待2分钟" in ops(entry, "sms")[1]["text"]
    assert ops(entry, "open")[0]["case"]["due_hours"] == 4.0


def test_referral_and_callback():
    dept = o.Department("县劳动监察大队", "07731112222", "人民路1号", "工作日")
    entry = o.plan([o.Referred(CALL, "2612070008", "5555", dept)], RULES, AT)
    assert ops(entry, "open")[0]["case"]["state"] == "referred"
    assert "07731112222" in ops(entry, "sms")[0]["text"]
    entry = o.plan([o.Callback(CALL, "2612070009", "1", o.Duty("13900000001", "张律师"), 2)],
                   RULES, AT)
    assert sms(entry) == [("caller case", "13800138000"), ("duty case", "13900000001")]
    assert json.loads(ops(entry, "open")[0]["case"]["detail"]) == {"callback": True,
                                                                  "queue_place": 2}


def case_now(**kw):
    base = dict(number="2612070010", kind="service_request", state="assigned",
                caller="13800138000", owner="13900000001", owner_name="张律师", detail="",
                call_id="c", opened=AT - 100, updated=AT - 50, due=AT + 3600,
                history=((AT - 100, "assigned", "box", "opened"),))
    base.update(kw)
    return o.CaseNow(**base)


def test_resolving_a_case_tells_its_caller_and_moves_it_on():
    entry = o.plan([o.Moved(case_now(), "resolved", "张律师 by SMS", "已调解")], RULES, AT)
    moves = ops(entry, "move")
    assert [m["state"] for m in moves] == ["resolved", "caller_informed"]
    assert entry.steps[0]["op"] == "move" and moves[0]["expect"] == AT - 50
    assert moves[1]["expect"] is None and moves[0]["step"] != moves[1]["step"]
    assert [i["key"] for i in ops(entry, "item")] == ["case-2612070010-2", "case-2612070010-3"]
    assert sms(entry) == [("caller resolved", "13800138000")]
    # a complainant is told the outcome too (issue 17.4: records/duties.py)
    complaint = o.plan([o.Moved(case_now(kind="complaint"), "resolved", "head", "已核实")],
                       RULES, AT)
    assert sms(complaint) == [("caller resolved", "13800138000")]
    assert "已核实" in ops(complaint, "sms")[0]["text"]
    assert [m["state"] for m in ops(complaint, "move")] == ["resolved", "caller_informed"]


def test_an_entry_survives_its_journal_form():
    entry = o.plan([o.Moved(case_now(), "assigned", "head", owner="13900000002",
                            owner_name="李调解", notify=("13900000002",))], RULES, AT)
    again = o.Entry.from_json(json.loads(entry.to_json()))
    assert again == entry and again.cases() == ["2612070010"]
    assert ops(entry, "sms")[0]["ref"] == entry.steps[0]["step"]
    with pytest.raises(ValueError):
        o.Entry.from_json({"key": "x", "steps": [{"no": "op"}]})


def test_the_planner_imports_no_io():
    import ast
    import inspect
    tree = ast.parse(inspect.getsource(o))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                for a in n.names}
    imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree)
                 if isinstance(n, ast.ImportFrom) and n.level == 0}
    assert not imported & {"os", "sqlite3", "asyncio", "socket", "subprocess", "time",
                           "random", "secrets", "pathlib"}
