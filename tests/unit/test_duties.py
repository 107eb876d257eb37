"""The office's duties to a result (issue 17, records/duties.py) on real SQLite, with the
office clock moved to known days: on-site service with an appointment, its arrival, result
and a missed one; a referral handed to its department with a reply code, checked back in
working days (调休 counted) and closed by the department's reply; complainants and every
caller told the result in plain words, with the survey and its answer; staff signing off and
on, the head's night and day mode, and the head told when nobody is left on duty."""

import json

import pytest

from lawline import config as configuration
from lawline.clock import Clock
from lawline.errors import ConfigError
from lawline.records import messages
from lawline.records import outcomes as o
from lawline.records.office import Office

LAWYER, LAWYER2, MEDIATOR, HEAD = "13900000001", "13900000004", "13900000002", "13900000009"
CALLER, LANDLINE = "13800138000", "07731234567"
PROVIDER, DEPARTMENT = "13700000011", "13700000021"
MONDAY = "2026-11-30T10:00:00"
ROTA = """date,shift,name,role,mobile,staff_no
2026-11-30,day,张律师,lawyer,13900000001,11
2026-11-30,day,李调解,mediator,13900000002,12
2026-09-30,day,张律师,lawyer,13900000001,11
"""


def make_office(tmp_path, now=MONDAY, rota=ROTA, **extra):
    spool = tmp_path / "spool"
    spool.mkdir(exist_ok=True)
    (tmp_path / "rota.csv").write_text(rota, encoding="utf-8")
    data = {
        "office": {"head_mobile": HEAD, "name": "测试县法律服务专线", "number": "07730148"},
        "duty": {"rota_files": [str(tmp_path / "rota.csv")], "gap_days": 0,
                 "shifts": ["day 08:30-17:30", "night 17:30-08:30"]},
        "spool": {"dir": str(spool)},
        "email": {"to": ["office@example.org"], "host": "127.0.0.1",
                  "sender": "box@example.org", "security": "none"},
        "provider": [
            {"name": "王律师（城关律师事务所）", "kind": "law_firm", "mobile": PROVIDER,
             "area": "城关镇"},
            {"name": "县公证处", "kind": "notary", "mobile": "13700000012"}],
        "referral": [{"name": "县劳动保障监察大队", "phone": "07731234567", "address": "县府路1号",
                      "hours": "工作日", "sms": DEPARTMENT, "email": "jc@example.org"},
                     {"name": "县市场监督管理局", "phone": "07737654321", "address": "城东路8号",
                      "hours": "工作日"}],
    }
    for section, options in extra.items():
        data.setdefault(section, {}).update(options)
    cfg = configuration.from_dict(data)
    return Office.from_config(cfg, spool, clock=Clock(cfg.office.timezone, moved_to=now))


@pytest.fixture
def office(tmp_path):
    return make_office(tmp_path)


def texts(office, number=None, purpose=None):
    return [r["text"] for r in office.sms.rows()
            if (number is None or r["number"] == number)
            and (purpose is None or r["purpose"] == purpose)]


def journal(office, number):
    """The case's journal items upstream, in order."""
    keys = sorted((k for k in office.outbox.keys() if k.startswith(f"case-{number}-")),
                  key=lambda k: int(k.rsplit("-", 1)[1]))
    return [office.outbox.get(k).record for k in keys]


def request(office, caller=CALLER):
    return office.open_case("service_request", caller, owner=LAWYER, owner_name="张律师",
                            state="assigned").number


# -- on-site service ----------------------------------------------------------------------------

def test_a_service_request_is_dispatched_by_sms_and_both_sides_are_texted(office):
    case = request(office)
    assert office.on_sms(LAWYER, f"上门 {case} 1 12-02 09:30 城关镇幸福村3组", "unknown") is True
    facts = office.cases.duties(case)
    dispatch = json.loads(facts["dispatch"])
    assert dispatch["provider"] == "王律师（城关律师事务所）" and dispatch["place"] == "城关镇幸福村3组"
    assert dispatch["when"] == "12月02日 09:30"
    assert facts["appointment"] == Clock("Asia/Shanghai").instant(
        __import__("datetime").datetime(2026, 12, 2, 9, 30))
    to_provider, = texts(office, PROVIDER, "dispatch")
    assert case in to_provider and CALLER in to_provider and f"到场 {case}" in to_provider
    to_caller, = texts(office, CALLER, "caller dispatch")
    assert "王律师" in to_caller and PROVIDER in to_caller and "12月02日 09:30" in to_caller
    assert "已派王律师" in texts(office, LAWYER, "command reply")[-1]
    # upstream: the journal item of the dispatch carries it, and so does every later one
    last = journal(office, case)[-1]
    assert last["event"] == "dispatched" and last["dispatch"]["mobile"] == PROVIDER
    assert office.cases.get(case).state == "assigned"


@pytest.mark.parametrize("body, reason", [
    ("上门 {case} 9 12-02 09:30 城关镇", "名录中没有“9”"),
    ("上门 {case} 1 11-29 09:30 城关镇", "已过"),
    ("上门 {case} 1 13-40 09:30 城关镇", "日期或时间不对"),
    ("上门 {case} 县公证处 12-02 09:30 县城", None),
])
def test_a_dispatch_names_a_listed_provider_and_a_time_to_come(office, body, reason):
    case = request(office)
    done = office.on_sms(LAWYER, body.format(case=case), "unknown")
    if reason is None:
        assert done is True and json.loads(office.cases.duties(case)["dispatch"])[
            "provider"] == "县公证处"
    else:
        assert done is False and reason in texts(office, LAWYER, "command reply")[-1]
        assert "dispatch" not in office.cases.duties(case)


def test_only_the_owner_or_the_head_dispatches_and_only_a_service_request(office):
    case = request(office)
    assert office.on_sms(MEDIATOR, f"上门 {case} 1 12-02 09:30 城关镇", "unknown") is False
    consultation = office.open_case("consultation", CALLER, owner=LAWYER, state="assigned")
    assert office.on_sms(LAWYER, f"上门 {consultation.number} 1 12-02 09:30 城关镇",
                         "unknown") is False
    assert "只有法律服务申请" in texts(office, LAWYER, "command reply")[-1]
    assert office.on_sms(HEAD, f"上门 {case} 2 12-02 14:00 县城", "unknown") is True


def test_the_provider_reports_arriving_and_closes_the_case_with_its_result(office):
    case = request(office)
    office.on_sms(LAWYER, f"上门 {case} 1 12-02 09:30 城关镇幸福村", "unknown")
    # another case not dispatched to it: refused
    other = request(office)
    assert office.on_sms(PROVIDER, f"到场 {other}", "unknown") is False
    assert office.on_sms(PROVIDER, f"到场 {case}", "unknown") is True
    assert office.cases.duties(case)["arrived"]
    assert office.on_sms(PROVIDER, f"到场 {case}", "unknown") is False   # once
    assert office.on_sms(PROVIDER, f"结案 {case}", "unknown") is False   # a result is needed
    assert office.on_sms(PROVIDER, f"结案 {case} 已代写遗嘱并公证，联系13900000001", "unknown")
    assert office.cases.get(case).state == "caller_informed"
    told, = texts(office, CALLER, "caller resolved")
    assert "已代写遗嘱并公证" in told and "139****0001" in told and "13900000001" not in told
    assert texts(office, CALLER, "survey")
    facts = office.cases.duties(case)
    assert facts["result"].startswith("已代写遗嘱") and facts["told_how"] == "sms"
    events = [j["event"] for j in journal(office, case)]
    assert events[-3:] == ["arrived", "resolved", "caller_informed"]
    assert journal(office, case)[-1]["told_how"] == "sms"


def test_a_missed_appointment_alerts_the_head_and_the_owner_once(tmp_path):
    office = make_office(tmp_path, now="2026-11-30T08:00:00")
    case = request(office)
    office.on_sms(LAWYER, f"上门 {case} 1 11-30 08:30 城关镇", "unknown")
    office.duties.check()                              # not late yet
    assert not texts(office, HEAD, "appointment missed")
    office.clock.move_to("2026-11-30T09:31:00")        # [onsite] missed_after_minutes 60
    office.duties.check()
    office.duties.check()
    head, = texts(office, HEAD, "appointment missed")
    assert case in head and "王律师" in head
    assert texts(office, LAWYER, "appointment missed") == [head]
    assert journal(office, case)[-1]["event"] == "appointment_missed"
    assert office.cases.get(case).state == "assigned"


# -- referral hand-off --------------------------------------------------------------------------

def refer(office, index=0, caller=CALLER):
    department = office.cfg.referral[index]
    number = office.cases.next()
    office.commit([o.Referred(o.Call("c1", caller, "07730148"), number, "",
                              o.Department(department.name, department.phone,
                                           department.address, department.hours,
                                           department.sms, department.email))])
    return number


def test_the_department_gets_the_case_with_a_code_due_in_working_days_with_make_up_days(
        tmp_path):
    office = make_office(tmp_path, now="2026-09-30T10:00:00")   # before National Day
    case = refer(office)
    facts = office.cases.duties(case)
    code = facts["reply_code"]
    assert len(code) == 6 and code.isdigit()
    # Oct 1-7 off, Oct 8 and 9 working, Saturday Oct 10 a make-up working day (调休)
    assert office.clock.local(facts["reply_due"]).isoformat() == "2026-10-11T00:00:00"
    to_department, = texts(office, DEPARTMENT, "handoff")
    assert case in to_department and CALLER in to_department and code in to_department
    assert "10月10日" in to_department
    mail = office.outbox.get(f"handoff-{case}")
    assert mail.kind == "handoff" and mail.record["to"] == ["jc@example.org"]
    assert journal(office, case)[0]["reply_code"] == code
    # a department without SMS or mailbox: no hand-off, nothing checked back
    plain = refer(office, 1)
    assert "reply_code" not in office.cases.duties(plain)


def test_the_departments_reply_closes_the_case_and_the_caller_is_told(office):
    case = refer(office)
    code = office.cases.duties(case)["reply_code"]
    wrong = "000000" if code != "000000" else "111111"
    assert office.on_sms(DEPARTMENT, f"{wrong} 已处理", "unknown") is False
    assert office.on_sms(DEPARTMENT, "好的", "unknown") is False
    assert office.on_sms("13700000099", f"{code} 已处理", "unknown") is None    # a stranger
    assert office.cases.get(case).state == "referred"
    assert office.on_sms("+86" + DEPARTMENT, f"回复 {code} 已为来电人追回工资2000元",
                         "international") is True
    assert office.cases.get(case).state == "caller_informed"
    facts = office.cases.duties(case)
    assert facts["reply_result"] == "已为您追回工资2000元".replace("您", "来电人")
    told, = texts(office, CALLER, "caller resolved")
    assert "已为您追回工资2000元" in told                # [results] replace: 来电人=>您
    assert "已收到" in texts(office, "+86" + DEPARTMENT, "command reply")[-1]
    assert office.on_sms(DEPARTMENT, f"{code} 再说一次", "unknown") is False    # closed


def test_no_reply_in_time_alerts_the_head_once(tmp_path):
    office = make_office(tmp_path, now="2026-09-30T10:00:00")
    case = refer(office)
    office.clock.move_to("2026-10-10T17:00:00")      # the make-up Saturday: still in time
    office.duties.check()
    assert not texts(office, HEAD, "reply overdue")
    office.clock.move_to("2026-10-11T00:05:00")
    office.duties.check()
    office.duties.check()
    late, = texts(office, HEAD, "reply overdue")
    assert case in late and "县劳动保障监察大队" in late
    assert journal(office, case)[-1]["event"] == "reply_overdue"
    assert office.cases.get(case).state == "referred"


# -- the result told, the survey ----------------------------------------------------------------

def complaint(office, caller):
    return office.open_case("complaint", caller, owner=HEAD, owner_name="office head",
                            state="assigned").number


def test_the_complainant_is_told_the_heads_result_in_plain_words(office):
    case = complaint(office, CALLER)
    assert office.on_sms(HEAD, f"结案 {case} 经核实，当事人反映情况属实，已对该工作人员批评教育，"
                               "结案。", "unknown") is True
    told, = texts(office, CALLER, "caller resolved")
    assert "已对该工作人员批评教育，办结" in told and "您反映情况属实" in told
    assert office.cases.get(case).state == "caller_informed"
    assert office.cases.duties(case)["told_how"] == "sms"
    assert texts(office, CALLER, "survey")


def test_a_landline_complainant_is_told_on_the_phone_and_the_case_records_it(office):
    case = complaint(office, LANDLINE)
    office.act(case, "resolved", "office head", "已调查处理")
    assert office.cases.get(case).state == "resolved"
    assert not texts(office, LANDLINE)
    assert office.duties.result_words(case) == "已调查处理"
    office.commit([o.Told(o.Call("c3", LANDLINE, "07730148"), case)])
    assert office.cases.get(case).state == "caller_informed"
    facts = office.cases.duties(case)
    assert facts["told_how"] == "phone" and facts["told_at"]
    assert journal(office, case)[-1]["told_how"] == "phone"


def test_a_long_result_is_cut_and_mobiles_masked():
    long = "已联系" + "很长的说明" * 40
    plain = messages.plain_result(long + " 13912345678", 50, (("结案", "办结"),), True)
    assert len(plain) == 50 and plain.endswith("…")
    assert messages.plain_result("电话13912345678已回复。", 120) == "电话139****5678已回复"
    assert messages.plain_result("", 120) == ""


def test_the_survey_answer_is_kept_and_a_low_one_alerts_the_head(office):
    first, second = request(office), request(office)
    office.act(first, "resolved", "张律师", "已解答")
    office.act(second, "resolved", "张律师", "已代写文书")
    assert office.on_sms(CALLER, "５", "unknown") is True        # full-width: the newest case
    assert office.cases.duties(second)["survey_score"] == 5
    assert office.on_sms(CALLER, "1分", "unknown") is True
    assert office.cases.duties(first)["survey_score"] == 1
    low, = texts(office, HEAD, "low survey")
    assert first in low and "1分" in low and "张律师" in low
    assert office.on_sms(CALLER, "3", "unknown") is None         # nothing waits: ignored
    assert journal(office, first)[-1]["survey_score"] == 1


def test_without_survey_sms_no_survey_goes(tmp_path):
    office = make_office(tmp_path, survey={"sms": False})
    case = request(office)
    office.act(case, "resolved", "张律师", "已解答")
    assert texts(office, CALLER, "caller resolved") and not texts(office, CALLER, "survey")


# -- staff availability --------------------------------------------------------------------------

def test_a_duty_person_signs_off_and_on_and_is_rung_only_when_available(office):
    assert office.on_duty("lawyer") == [LAWYER]
    assert office.on_sms(LAWYER, "休息 12:30", "unknown") is True
    assert office.on_duty("lawyer") == []
    confirm, = texts(office, LAWYER, "availability")
    assert "已登记休息至11月30日 12:30" in confirm
    head, = texts(office, HEAD, "uncovered")
    assert "张律师" in head and "律师" in head
    audit = [office.outbox.get(k) for k in office.outbox.keys() if k.startswith("audit-")]
    assert [a.record["action"] for a in audit] == ["availability_off"]
    assert audit[0].record["address"] == "sms"
    assert office.on_sms(LAWYER, "上班", "unknown") is True
    assert office.on_duty("lawyer") == [LAWYER]
    assert "已恢复值班" in texts(office, LAWYER, "availability")[-1]
    # a sign-off ends by itself
    office.on_sms(LAWYER, "休息 1小时", "unknown")
    assert office.on_duty("lawyer") == []
    office.clock.move_to("2026-11-30T11:01:00")
    assert office.on_duty("lawyer") == [LAWYER]


def test_a_sign_off_that_leaves_someone_on_duty_does_not_trouble_the_head(tmp_path):
    office = make_office(tmp_path, rota=ROTA + "2026-11-30,day,赵律师,lawyer,13900000004,14\n")
    assert office.on_sms(LAWYER, "休息", "unknown") is True
    assert office.on_duty("lawyer") == [LAWYER2]
    assert not texts(office, HEAD, "uncovered")
    # everyone of the shift signed off: the office's clock tells the head, once
    office.on_sms(LAWYER2, "请假 12-01 08:00", "unknown")
    assert texts(office, HEAD, "uncovered")
    office.duties.check()
    office.duties.check()
    assert len(texts(office, HEAD, "nobody available")) == 1


def test_the_head_switches_the_line_to_night_and_day_mode(office):
    assert office.desk.is_open()
    assert office.on_sms(LAWYER, "夜间", "unknown") is False           # the head's only
    assert "只有负责人" in texts(office, LAWYER, "command reply")[-1]
    assert office.on_sms(HEAD, "夜间 14:00", "unknown") is True
    assert not office.desk.is_open() and "night mode" in office.desk.why()
    assert "夜间模式至11月30日 14:00" in texts(office, HEAD, "availability")[-1]
    office.clock.move_to("2026-11-30T14:01:00")
    assert office.desk.is_open()                                       # it ended
    office.clock.move_to("2026-11-30T19:00:00")
    assert not office.desk.is_open()
    assert office.on_sms(HEAD, "日间 2小时", "unknown") is True
    assert office.desk.is_open()
    assert office.on_sms(HEAD, "恢复", "unknown") is True
    assert not office.desk.is_open()
    audit = sorted((office.outbox.get(k).record for k in office.outbox.keys()
                    if k.startswith("audit-")), key=lambda r: r["at"])
    assert [a["action"] for a in audit] == ["availability_night", "availability_day",
                                            "availability_auto"]


def test_someone_not_on_the_rota_cannot_sign_off(office):
    assert office.on_sms(HEAD, "休息", "unknown") is False
    assert "不在值班名单" in texts(office, HEAD, "command reply")[-1]


# -- the commands and the config ---------------------------------------------------------------

@pytest.mark.parametrize("body, command", [
    ("上门 2612010001 2 12-05 09:30 城关镇 幸福村", messages.DutyCommand(
        "dispatch", "2612010001", "2", "12-05", "09:30", place="城关镇 幸福村")),
    ("上门２６１２０１０００１ 县公证处 2026-12-05 ９：３０ 县城", messages.DutyCommand(
        "dispatch", "2612010001", "县公证处", "2026-12-05", "09:30", place="县城")),
    ("上门 2612010001 1 12月5日 9点30 县城", messages.DutyCommand(
        "dispatch", "2612010001", "1", "12-05", "09:30", place="县城")),
    ("到场 2612010001", messages.DutyCommand("arrived", "2612010001")),
    ("休息", messages.DutyCommand("off")),
    ("休息 18:00", messages.DutyCommand("off", time="18:00")),
    ("请假 12-06 08:30", messages.DutyCommand("off", day="12-06", time="08:30")),
    ("休息 3小时", messages.DutyCommand("off", hours=3)),
    ("上班", messages.DutyCommand("on")),
    ("夜间 8h", messages.DutyCommand("night", hours=8)),
    ("恢复", messages.DutyCommand("auto")),
])
def test_the_duty_commands(body, command):
    assert messages.parse_duty_command(body) == command


@pytest.mark.parametrize("body", ["上门 2612010001 1 12-05 城关镇", "上门 2612010001 1 09:30",
                                  "到场", "休息 明天", "上班 18:00", "你好", "休息 ١٨:00"])
def test_not_duty_commands(body):
    assert messages.parse_duty_command(body) is None


def test_replies_and_survey_answers():
    assert messages.parse_reply("384105 已办理", 6) == ("384105", "已办理")
    assert messages.parse_reply("回复码：３８４１０５ 已办理", 6) == ("384105", "已办理")
    assert messages.parse_reply("38410 已办理", 6) is None
    assert [messages.parse_survey(t) for t in ("5", " ４ ", "2分", "6", "55", "好")] == \
        [5, 4, 2, None, None, None]


@pytest.mark.parametrize("data, where", [
    ({"provider": [{"name": "x", "mobile": "07731234567"}]}, "is not a mobile"),
    ({"provider": [{"name": "x", "mobile": PROVIDER}, {"name": "x", "mobile": "13700000012"}]},
     "given twice"),
    ({"provider": [{"name": "x", "mobile": PROVIDER, "kind": "bank"}]}, "must be one of"),
    ({"referral": [{"name": "x", "phone": "1", "address": "", "hours": "",
                    "email": "a@b.c"}]}, "needs the [email] section"),
    ({"results": {"replace": ["结案"]}}, "is not 'word=>plain words'"),
])
def test_config_errors_name_the_table_and_option(data, where):
    with pytest.raises(ConfigError, match=where.replace("[", r"\[").replace("]", r"\]")):
        configuration.from_dict(data)


def test_the_example_shows_the_new_sections_and_optional_table_options():
    example = configuration.example()
    for line in ("[onsite]", "[handoff]", "[results]", "[availability]", "# [[provider]]",
                 "sms_reply_days = 7.0"):
        assert line in example
    assert "(optional)" in example


def test_a_case_book_set_aside_gets_the_duty_facts_back_from_the_journal(office, tmp_path):
    from lawline.records.cases import Cases
    case = request(office)
    office.on_sms(LAWYER, f"上门 {case} 1 12-02 09:30 城关镇", "unknown")
    office.on_sms(PROVIDER, f"到场 {case}", "unknown")
    fresh = Cases(tmp_path / "fresh.db")
    assert fresh.restore(journal(office, case)[-1])
    assert fresh.duties(case) == office.cases.duties(case)


def test_the_hand_off_mail_goes_to_the_departments_own_mailbox(office):
    from types import SimpleNamespace
    from lawline.sync.mail import EmailTarget
    case = refer(office)
    item = office.outbox.get(f"handoff-{case}")
    target = EmailTarget("email", "127.0.0.1", 25, "box@example.org", ["office@example.org"],
                         security="none", office_name="测试县法律服务专线")
    mail = target.build(SimpleNamespace(kind=item.kind, record=item.record, key=item.key,
                                        created=1796600000.0, files={}))
    assert mail["To"] == "jc@example.org"
    code = office.cases.duties(case)["reply_code"]
    assert case in mail["Subject"] and code in mail["Subject"]
    body = mail.get_body(("plain",)).get_content()
    assert CALLER in body and f"回复码：{code}" in body


def test_lawline_case_show_prints_the_duty_facts(tmp_path, capsys):
    from types import SimpleNamespace
    from lawline.commands.cases import case_main, open_office
    path = tmp_path / "lawline.toml"
    path.write_text(configuration.dump({"spool": {"dir": str(tmp_path / "spool")},
                                        "office": {"head_mobile": HEAD}}), encoding="utf-8")
    office = open_office(configuration.load(path))
    number = office.open_case("service_request", CALLER, owner=HEAD, state="assigned").number
    office.act(number, "resolved", "shell", "已解答")
    assert case_main(SimpleNamespace(config=str(path), action="show", number=number)) == 0
    shown = capsys.readouterr().out
    assert "  result 已解答" in shown and "  told_how sms" in shown


def test_each_case_outcome_moves_first_checked_and_plans_the_same_entry_twice():
    """The planner's side (records/outcomes.py): pure, a case outcome's first step is its
    move checked against the case as the actor saw it, and a row that keeps the state is
    marked same."""
    rules = o.Rules("county", "测试县", "07730148", head=HEAD, survey_sms=True)
    case = o.CaseNow("2612070010", "service_request", "assigned", CALLER, LAWYER, "张律师", "",
                     "c", 1.0, 2.0, None, ((1.0, "assigned", "box", "opened"),),
                     {"dispatch": json.dumps({"provider": "王律师", "when": "12月02日 09:30",
                                              "place": "城关镇"}), "appointment": 5.0})
    referred = o.CaseNow("2612070011", "referral", "referred", CALLER, "", "", "", "c", 1.0,
                         2.0, None, ((1.0, "referred", "box", "opened"),),
                         {"reply_code": "384105", "handoff": json.dumps({"department": "局"})})
    for outcome, same, sms in (
            (o.Arrived(case, "王律师"), True, []),
            (o.AppointmentMissed(case, (HEAD, LAWYER)), True,
             [("appointment missed", HEAD), ("appointment missed", LAWYER)]),
            (o.ReplyOverdue(referred, (HEAD,)), True, [("reply overdue", HEAD)]),
            (o.Replied(referred, "局", "已办"), False,
             [("caller resolved", CALLER), ("survey", CALLER)]),
            (o.Surveyed(replace_state(case, "caller_informed"), 2), True,
             [("survey thanks", CALLER), ("low survey", HEAD)])):
        entry = o.plan([outcome], rules, 10.0)
        first = entry.steps[0]
        assert first["op"] == "move" and first["expect"] == 2.0, outcome
        assert bool(first.get("same")) == same, outcome
        assert [(s["purpose"], s["number"]) for s in entry.steps if s["op"] == "sms"] == sms
        assert o.plan([outcome], rules, 10.0) == entry
        journal = [s for s in entry.steps if s["op"] == "item"]
        assert journal and all(j["record"]["reply_code" if j["record"]["kind"] == "referral"
                                           else "appointment"] for j in journal)


def replace_state(case, state):
    import dataclasses
    return dataclasses.replace(case, state=state)
