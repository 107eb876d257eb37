"""The telephone's duties (issue 17, points 2, 9, 10) in the office's rules and the parts
below the call: the ladder's steps and who took the call on the case (records/outcomes.py,
through the ledger on real SQLite), `到场 <case>` by SMS (records/messages.py,
records/office.py), the switchboard's 160 number let through for a hand-over only
(sip/dialplan.py), what the box reads from a transfer down (sip/switchboard.py), the
recordings' item and their retention (sync/retention.py), and the options' checks."""

import pytest

from lawline import config as configuration
from lawline.errors import ConfigError
from lawline.records import outcomes as o
from lawline.records.messages import Command, parse_command
from lawline.records.office import Office
from lawline.sip import switchboard as boards
from lawline.sip.dialplan import DialPlan
from lawline.sync.outbox import Outbox
from lawline.sync.retention import purge

RULES = o.Rules(office_id="county-0148", office_name="测试县法律服务专线",
                office_number="07730148", head="13900000009", lawyer=o.Duty("13900000001"),
                mediator=o.Duty("13900000002", "李调解"))
CALL = o.Call("261207-100000-ab12", "13800138000", "07730148")
AT = 1796600000.0
M1, M2, HEAD, PREFECTURE = "13900000002", "13900000003", "13900000009", "07731234567"
BOARD = "1600148"


def ops(entry, op):
    return [s for s in entry.steps if s["op"] == op]


def sms(entry):
    return [(s["purpose"], s["number"]) for s in ops(entry, "sms")]


# -- the planner ---------------------------------------------------------------------------

def test_a_mediator_who_takes_the_call_owns_the_case_and_the_others_are_told_who():
    step = o.LadderStep(CALL, "2612070001", "1234", "mediators", M1, "accepted", 12.0,
                        o.Duty(M1, "李调解"), (M1, M2, "+86" + M2), opens=True)
    entry = o.plan([step], RULES, AT)
    case = ops(entry, "open")[0]["case"]
    assert (case["kind"], case["state"], case["owner"]) == ("urgent", "assigned", M1)
    journal = ops(entry, "item")[0]
    assert journal["record"]["ladder"]["outcome"] == "accepted"
    assert sms(entry) == [("caller case", "13800138000"), ("urgent taken", M1),
                          ("urgent taken by", M2)]
    taker, other = ops(entry, "sms")[1:]
    assert "到场 2612070001" in taker["text"] and "结案 2612070001" in taker["text"]
    assert "李调解" in other["text"] and "无需回拨" in other["text"]
    assert entry.key == "ladder-2612070001-mediators"


def test_a_step_nobody_answers_is_a_history_row_that_keeps_the_state():
    seen = o.CaseNow("2612070002", "urgent", "new", CALL.caller, "", "", "", CALL.call_id,
                     AT - 60, AT - 60, None, ((AT - 60, "new", "box", "no mediator accepted"),))
    entry = o.plan([o.LadderStep(CALL, "2612070002", "", "head", HEAD, "no_answer", 40.0,
                                 seen=seen)], RULES, AT)
    note = ops(entry, "note")[0]
    assert note["number"] == "2612070002" and "head" in note["note"]
    journal = ops(entry, "item")[0]
    assert journal["key"] == "case-2612070002-2"
    assert journal["record"]["event"] == "ladder" and journal["record"]["state"] == "new"
    assert journal["record"]["ladder"] == {"step": "head", "number": HEAD,
                                           "outcome": "no_answer", "after_s": 40.0,
                                           "call_id": CALL.call_id}
    assert sms(entry) == []


def test_handed_to_the_switchboard_the_case_is_referred_up():
    seen = o.CaseNow("2612070003", "urgent", "new", CALL.caller, "", "", "", CALL.call_id,
                     AT, AT, None, ((AT, "new", "box", "opened"),))
    entry = o.plan([o.LadderStep(CALL, "2612070003", "", "switchboard", BOARD,
                                 "handed_over", 80.0, seen=seen)], RULES, AT)
    move = ops(entry, "move")[0]
    assert move["state"] == "referred" and move["expect"] is None
    assert ops(entry, "item")[0]["record"]["state"] == "referred"


def test_a_recording_is_an_item_with_its_wav():
    entry = o.plan([o.CallRecording(CALL, "recordings/x.wav", 31.5, "2026-12-07T10:00:00+0800",
                                    "2612070004", M1, 30.0)], RULES, AT)
    item, = entry.steps
    assert item["key"] == "recording-261207-100000-ab12" and item["kind"] == "recording"
    assert item["files"] == {"recording.wav": "recordings/x.wav"}
    assert item["record"]["case_number"] == "2612070004" and item["record"]["with"] == M1


# -- the office, on real SQLite --------------------------------------------------------------

def office(tmp_path):
    cfg = configuration.from_dict({
        "office": {"name": "测试县法律服务专线", "head_mobile": HEAD},
        "duty": {"numbers": ["13900000001"], "mediators": [M1, M2]},
        "spool": {"dir": str(tmp_path)}})
    return Office.from_config(cfg, tmp_path)


def test_the_ladder_on_the_case_then_arrival_and_outcome_by_sms(tmp_path):
    box = office(tmp_path)
    case = box.cases.next()
    box.commit([o.Escalated(CALL, case, "", (M1, M2), 20.0)])
    box.commit([o.LadderStep(CALL, case, "", "head", HEAD, "no_answer", 40.0)])
    box.commit([o.LadderStep(CALL, case, "", "prefecture", PREFECTURE, "accepted", 55.0,
                             o.Duty(PREFECTURE, "市级值班"), (M1, M2, HEAD))])
    history = box.cases.history(case)
    assert [h[1] for h in history] == ["new", "new", "assigned"]
    assert box.cases.get(case).owner == PREFECTURE
    told = {(r["purpose"], r["number"]) for r in box.sms.rows()}
    assert {("urgent taken by", M1), ("urgent taken by", M2),
            ("urgent taken by", HEAD)} <= told
    assert ("urgent taken", PREFECTURE) not in told         # a landline gets no SMS
    journal = sorted(k for k in box.outbox.keys() if k.startswith(f"case-{case}-"))
    assert journal == [f"case-{case}-1", f"case-{case}-2", f"case-{case}-3"]
    # the prefecture's duty sends a mediator: the head hands the case on, and only then
    # may the mediator say they reached the scene (who and when go upstream)
    assert box.on_sms(M1, f"到场 {case}", "unknown") is False
    assert box.on_sms(HEAD, f"改派 {case} {M1}", "unknown") is True
    assert box.on_sms(M1, f"到场 {case} 已到村委会", "unknown") is True
    assert box.cases.get(case).owner == M1
    scene = box.outbox.get(f"case-{case}-5").record
    assert scene["event"] == "on_scene" and scene["on_scene"]["mobile"] == M1
    assert scene["on_scene"]["note"] == "已到村委会"
    assert any("已记录您到达现场" in r["text"] for r in box.sms.rows(purpose="command reply"))
    # and the outcome, by the same SMS as any case
    assert box.on_sms(M1, f"结案 {case} 双方已和解", "unknown") is True
    assert box.cases.get(case).state == "caller_informed"


def test_arrival_by_someone_else_on_a_taken_case_is_refused(tmp_path):
    box = office(tmp_path)
    case = box.cases.next()
    box.commit([o.LadderStep(CALL, case, "", "mediators", M1, "accepted", 10.0,
                             o.Duty(M1), (M2,), opens=True)])
    assert box.on_sms(M2, f"到场 {case}", "unknown") is False
    assert box.cases.get(case).owner == M1
    assert box.on_sms(HEAD, f"到场 {case}", "unknown") is True      # the head may


def test_the_on_scene_command():
    assert parse_command("到场 2612070001") == Command("on_scene", "2612070001")
    assert parse_command("到达：２６１２０７０００１ 已到") == Command("on_scene", "2612070001",
                                                               "已到")
    assert parse_command("arrived 2612070001").state == "on_scene"


def test_recordings_are_kept_their_own_days_once_delivered(tmp_path):
    outbox = Outbox(tmp_path / "outbox.db", tmp_path, ["upstream"])
    wavs = {}
    for key, kind in (("recording-a", "recording"), ("2612070001", "voicemail")):
        wav = tmp_path / "recordings" / f"{key}.wav"
        wav.parent.mkdir(exist_ok=True)
        wav.write_bytes(b"RIFF")
        wavs[key] = wav
        item = outbox.commit(key, kind, {"call_id": key}, {"x.wav": wav})
        outbox.mark_done(item, "upstream")
    day = 86400
    now = outbox.get("recording-a").created + 10 * day
    # 30 days for everything, 7 for recordings: only the recording goes
    assert purge(outbox, 30, now, kinds_days={"recording": 7})[0] == 1
    assert not wavs["recording-a"].exists() and wavs["2612070001"].exists()
    assert outbox.get("recording-a") is None and outbox.get("2612070001") is not None
    outbox.close()


# -- the dial plan: the switchboard's 160 number, for that use only -------------------------

def test_the_switchboard_number_passes_only_for_the_hand_over():
    plan = DialPlan(area_code="0773", switchboard=BOARD)
    assert plan.refusal(BOARD, "switchboard") is None
    assert "160" in plan.refusal(BOARD)                     # as a duty number: barred
    assert plan.refusal("1600149", "switchboard") == "not the configured [switchboard] number"
    assert "169" in DialPlan(switchboard="16900000000").refusal("16900000000", "switchboard")
    assert DialPlan(area_code="0773", switchboard="07731600148").refusal(
        "0773-1600148", "switchboard") is None
    assert "deny" in DialPlan(deny=("160",), switchboard=BOARD).refusal(BOARD, "switchboard")


@pytest.mark.parametrize("where", ["numbers", "mediators", "referrals"])
def test_a_duty_list_with_the_switchboard_number_is_still_refused(where):
    with pytest.raises(ConfigError, match=f"option '{where}' in section \\[duty\\]: '1600148' "
                                          "is refused by the dial plan"):
        configuration.from_dict({"switchboard": {"number": BOARD},
                                 "duty": {where: [BOARD]}})


def test_a_rota_row_with_the_switchboard_number_is_still_refused(tmp_path):
    from lawline.duty.desk import DutyDesk
    rota = tmp_path / "rota.csv"
    rota.write_text("weekday,shift,name,role,mobile\nmon,day,张律师,lawyer,13900000001\n"
                    f"tue,day,某人,lawyer,{BOARD}\n", encoding="utf-8")
    cfg = configuration.from_dict({"switchboard": {"number": BOARD},
                                   "duty": {"rota_files": [str(rota)]}})
    desk = DutyDesk.from_config(cfg)
    problems, files, kept = desk.rota_failure
    assert any("'1600148' is refused by the dial plan" in p for p in problems), problems


def test_the_options_are_checked():
    with pytest.raises(ConfigError, match="option 'number' in section \\[switchboard\\]"):
        configuration.from_dict({"switchboard": {"number": "16900000000"}})
    with pytest.raises(ConfigError, match="option 'reasons' in section \\[switchboard\\]"):
        configuration.from_dict({"switchboard": {"reasons": ["1=dance"]}})
    with pytest.raises(ConfigError, match="option 'steps' in section \\[ladder\\]"):
        configuration.from_dict({"ladder": {"steps": ["mayor"]}})
    with pytest.raises(ConfigError, match="option 'prefecture_number' in section \\[ladder\\]"):
        configuration.from_dict({"ladder": {"prefecture_number": "95598"}})
    with pytest.raises(ConfigError, match="option 'play_roles' in section \\[recording\\]"):
        configuration.from_dict({"recording": {"play_roles": ["anyone"]}})
    cfg = configuration.from_dict({})
    assert not cfg.recording.enabled and cfg.ladder.steps == ["head", "prefecture"]
    assert "[switchboard]" in configuration.example() and "[recording]" in \
        configuration.example()


# -- a transfer down, as the INVITE says it ------------------------------------------------

SECTION = configuration.from_dict({"switchboard": {"number": BOARD}}).switchboard


def invite(*headers):
    return ("INVITE sip:07730148@127.0.0.1:5060 SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
            + "".join(h + "\r\n" for h in headers) +
            "Call-ID: 1@x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")


def test_the_original_caller_comes_from_pai_or_diversion():
    t, why = boards.check_invite(invite(
        "From: <sip:1600148@127.0.0.1>;tag=1", "To: <sip:07730148@127.0.0.1>",
        'P-Asserted-Identity: "张三" <sip:+8613800138000@127.0.0.1>',
        "X-Transfer-Reason: 3"), SECTION)
    assert why is None and t.caller.number == "+8613800138000" and t.caller_from == "pai"
    assert t.branch == "urgent" and t.how == "header"
    t, _ = boards.check_invite(invite(
        "f: <sip:+861600148@trunk>;tag=1", "P-Asserted-Identity: <sip:1600148@trunk>",
        "Diversion: <tel:13800138000>;reason=unconditional"), SECTION)
    assert t.caller.number == "13800138000" and t.caller_from == "diversion"
    assert t.branch is None and t.how == ""


def test_a_caller_that_is_no_number_is_withheld_and_kept_raw():
    t, _ = boards.check_invite(invite(
        "From: <sip:1600148@127.0.0.1>;tag=1",
        "P-Asserted-Identity: <sip:CALLBACK-16800001234@127.0.0.1>",
        "X-Transfer-Reason: 转人工"), SECTION)
    assert t.caller.number == "" and t.caller.raw == "CALLBACK-16800001234"
    assert t.branch is None and t.said == "转人工"


@pytest.mark.parametrize("sender", ["13900000012", "16001480", "", "1600148x"])
def test_only_the_switchboard_may_transfer_down(sender):
    t, why = boards.check_invite(invite(f"From: <sip:{sender}@127.0.0.1>;tag=1"), SECTION)
    assert t is None and "is not the switchboard" in why


def test_without_a_switchboard_nothing_comes_down():
    none = configuration.from_dict({}).switchboard
    assert boards.check_invite(invite("From: <sip:1600148@x>"), none)[0] is None
    off = configuration.from_dict({"switchboard": {"number": BOARD,
                                                   "accept_transfers": False}}).switchboard
    assert boards.check_invite(invite("From: <sip:1600148@x>"), off)[0] is None


def test_what_goes_up_with_a_hand_over():
    headers = dict(boards.overflow_headers(SECTION, "07730148", "county-0148", "",
                                           "after_hours", "127.0.0.1"))
    assert headers["Diversion"] == "<sip:07730148@127.0.0.1>;reason=unavailable;counter=1"
    assert headers["X-Transfer-Reason"] == "overflow-after-hours"
    assert headers["X-Lawline-County"] == "county-0148"
    assert headers["X-Lawline-Caller"] == "anonymous"
