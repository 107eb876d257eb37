"""Topics (issue 17.5): the [topics] list, a caller choosing one in a sub-menu (call script
event scripts), the duty person setting one by SMS (主题 <case> <topic>) and the page's
set_topic, each through the ledger on real SQLite: the case row, a history row, and a journal
item upstream that carries the topic."""

import pytest

from lawline import config as configuration
from lawline.call.menu import parse
from lawline.clock import Clock
from lawline.errors import ConfigError
from lawline.records import outcomes as o
from lawline.records.cases import CaseChanged, CaseError
from lawline.records.messages import Command, parse_command
from lawline.records.office import Office
from lawline.settings import DEFAULT_TOPICS
from lawline.sync.outbox import Outbox

from .test_call_script import GREETED, Call

LAWYER, OTHER, HEAD, CALLER = "13900000001", "13900000002", "13900000009", "13800138000"
ROTA = ("date,shift,name,role,mobile,staff_no\n"
        "{d},day,张律师,lawyer,13900000001,11\n"
        "{d},day,李律师,lawyer,13900000002,12\n")


# -- the list and the menu ------------------------------------------------------------------

def test_the_default_topics_and_a_menu_key_that_names_one():
    cfg = configuration.from_dict({})
    assert cfg.topics.names == list(DEFAULT_TOPICS) == \
        ["婚姻家庭", "劳动争议", "土地纠纷", "债务合同", "交通事故", "邻里纠纷", "其他"]
    cfg = configuration.from_dict({"menu": {
        "keys": {"1": {"branch": "submenu", "menu": "topics"}, "0": "repeat"},
        "submenu": {"topics": {"prompt": "menu_topics", "keys": {
            "1": {"branch": "consultation", "topic": "婚姻家庭"},
            "2": {"branch": "consultation", "topic": "劳动争议"}}}}}})
    assert cfg.menu.tree["topics"].keys["2"].topic == "劳动争议"
    example = configuration.example()
    assert "[topics]" in example and 'names = ["婚姻家庭", "劳动争议"' in example


@pytest.mark.parametrize("given, words", [
    ({"menu": {"keys": {"1": {"branch": "consultation", "topic": "离婚"}}}},
     "'keys.1.topic' in section [menu]: '离婚' is not one of [topics] names"),
    ({"menu": {"keys": {"0": {"branch": "repeat", "topic": "其他"}}}}, "keys.0.topic"),
    ({"topics": {"names": []}}, "must list at least one topic"),
    ({"topics": {"names": ["婚姻家庭", "婚姻家庭"]}}, "names a topic twice"),
    ({"topics": {"names": ["12"]}}, "is a number"),
])
def test_a_wrong_topic_is_a_config_error_naming_the_option(given, words):
    with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("]", r"\]")):
        configuration.from_dict(given)


class Recording(Call):
    """The event-script call, keeping every action it asked for."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.actions = []
        send = self.script.send

        def recording(event):
            out = send(event)
            self.actions.extend(out)
            return out
        self.script.send = recording


TREE = parse({"1": {"branch": "submenu", "menu": "topics"}, "0": "repeat"},
             {"topics": {"prompt": "menu_topics", "keys": {
                 "1": {"branch": "consultation", "topic": "婚姻家庭"},
                 "2": {"branch": "consultation", "topic": "劳动争议"},
                 "7": {"branch": "service_request", "topic": "其他"}}}})


def test_the_caller_chooses_a_topic_in_a_sub_menu_and_the_case_carries_it():
    call = Recording(tree=TREE).run(GREETED + """
        KEY 1 -> PLAY menu_topics
        KEY 2 -> PLAY connecting
        PROMPT_ENDED -> RING ...
        LEG_ACCEPTED 13900000001 -> BRIDGE 13900000001
        BRIDGE_ENDED -> PLAY rate_call
        PROMPT_ENDED -> WAIT_KEY
        KEY 5 -> PLAY rate_thanks
        PROMPT_ENDED -> PLAY goodbye
        PROMPT_ENDED -> HANG_UP
        DONE -> FINISH
        DONE -> COMMIT ...
    """)
    assert call.record["topic"] == "劳动争议" and call.record["menu_path"] == ["1", "2"]
    commit = [a for a in call.actions if a.kind == "commit"][-1]
    bridged = next(i for i in commit.names if isinstance(i, o.Bridged))
    assert bridged.call.topic == "劳动争议"
    entry = o.plan(list(commit.names), RULES, 1796600000.0)
    opened = next(s for s in entry.steps if s["op"] == "open")["case"]
    journal = next(s for s in entry.steps if s["op"] == "item" and s["kind"] == "case")
    call_item = next(s for s in entry.steps if s["op"] == "item" and s["kind"] == "call")
    assert opened["topic"] == journal["record"]["topic"] == call_item["record"]["topic"] == \
        "劳动争议"


def test_without_a_topic_key_nothing_is_chosen():
    call = Call().run(GREETED + "KEY 2 -> PLAY record_request\n")
    assert "topic" not in call.record and call.script.call.topic == ""


RULES = o.Rules(office_id="county-0148", office_name="测试县法律服务专线",
                office_number="07730148", head=HEAD)


# -- the office: SMS and the page ----------------------------------------------------------------

@pytest.fixture
def office(tmp_path):
    rota = tmp_path / "rota.csv"
    cfg = configuration.from_dict({
        "office": {"head_mobile": HEAD, "name": "测试县法律服务专线"},
        "duty": {"rota_files": [str(rota)], "shifts": ["day 00:00-23:59"]},
        "spool": {"dir": str(tmp_path / "spool")}})
    rota.write_text(ROTA.format(d=Clock(cfg.office.timezone).today()), encoding="utf-8")
    spool = tmp_path / "spool"
    spool.mkdir()
    return Office.from_config(cfg, spool, Outbox(spool / "outbox.db", spool, ["upstream"]))


def replies(office, to):
    return [r["text"] for r in office.sms.rows() if r["number"] == to and
            r["purpose"] == "command reply"]


def test_the_command_words():
    assert parse_command("主题 2612010001 劳动争议") == Command("topic", "2612010001", "劳动争议")
    assert parse_command("T2612010001 2") == Command("topic", "2612010001", "2")
    assert parse_command("分类：２６１２０１０００１ ３").note == "3"


def test_the_owner_sets_a_topic_by_its_number_and_it_goes_upstream(office):
    case = office.open_case("service_request", CALLER, owner=LAWYER, owner_name="张律师",
                            state="assigned")
    assert office.on_sms(LAWYER, f"主题 {case.number} 2", "national") is True
    assert office.cases.get(case.number).topic == "劳动争议"
    history = office.cases.history(case.number)
    assert history[-1][1:] == ("assigned", "张律师 (13900000001) by SMS", "topic: 劳动争议")
    item = office.outbox.get(f"case-{case.number}-2")
    assert item.kind == "case" and item.record["event"] == "topic"
    assert item.record["topic"] == "劳动争议" and item.record["state"] == "assigned"
    assert replies(office, LAWYER) == [f"【0148】案件{case.number}主题已设为：劳动争议。"]
    # by name too, and a resolve afterwards keeps the topic in its journal items
    assert office.on_sms(LAWYER, f"主题 {case.number} 土地纠纷", "national") is True
    office.act(case.number, "resolved", "张律师 by SMS")
    last = office.outbox.get(f"case-{case.number}-5")
    assert last.record["state"] == "caller_informed" and last.record["topic"] == "土地纠纷"


def test_a_wrong_topic_or_case_is_refused_with_the_list(office):
    case = office.open_case("consultation", CALLER, owner=LAWYER, state="assigned")
    assert office.on_sms(LAWYER, f"主题 {case.number} 离婚", "national") is False
    assert office.on_sms(LAWYER, f"主题 {case.number} 9", "national") is False
    assert office.on_sms(LAWYER, "主题 2601010099 2", "national") is False
    texts = replies(office, LAWYER)
    assert "主题请用：1婚姻家庭 2劳动争议 3土地纠纷" in texts[0] and texts[0] == texts[1]
    assert "没有这个案件编号" in texts[2]
    assert office.cases.get(case.number).topic == ""
    assert len(office.cases.history(case.number)) == 1


def test_anyone_listed_may_sort_a_case_but_a_complaint_is_the_heads(office):
    case = office.open_case("consultation", CALLER)          # nobody owns it yet
    assert office.on_sms(OTHER, f"主题 {case.number} 1", "national") is True
    complaint = office.open_case("complaint", CALLER, owner=HEAD)
    assert office.on_sms(LAWYER, f"主题 {complaint.number} 1", "national") is False
    assert "投诉案件只能由负责人处理" in replies(office, LAWYER)[-1]
    assert office.on_sms(HEAD, f"主题 {complaint.number} 7", "national") is True
    assert office.cases.get(complaint.number).topic == "其他"
    # a stranger is never answered
    assert office.on_sms("13700000000", f"主题 {case.number} 3", "national") is None
    assert office.cases.get(case.number).topic == "婚姻家庭"


def test_the_page_sets_a_topic_against_the_case_it_showed(office):
    case = office.open_case("consultation", CALLER, owner=LAWYER, state="assigned")
    seen = office.cases.get(case.number)
    office.act(case.number, "referred", "李 by SMS")            # meanwhile
    with pytest.raises(CaseChanged):
        office.set_topic(case.number, "婚姻家庭", "clerk on the page",
                         expect_updated=seen.updated)
    with pytest.raises(CaseError, match="not one of the topics"):
        office.set_topic(case.number, "离婚", "clerk on the page")
    now = office.cases.get(case.number)
    office.set_topic(case.number, "婚姻家庭", "clerk on the page", expect_updated=now.updated)
    assert office.cases.get(case.number).topic == "婚姻家庭"
    # the same topic again writes nothing
    n = len(office.cases.history(case.number))
    office.set_topic(case.number, "婚姻家庭", "clerk on the page")
    assert len(office.cases.history(case.number)) == n


def test_a_case_book_from_before_topics_gets_the_column(tmp_path):
    import sqlite3
    from lawline.records.cases import Cases
    db = tmp_path / "cases.db"
    con = sqlite3.connect(db)
    con.executescript("CREATE TABLE case_counter (day TEXT PRIMARY KEY, last INTEGER); "
                      "CREATE TABLE cases(number TEXT PRIMARY KEY, kind TEXT NOT NULL, state "
                      "TEXT NOT NULL, caller TEXT NOT NULL DEFAULT '', owner TEXT NOT NULL "
                      "DEFAULT '', owner_name TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL "
                      "DEFAULT '', call_id TEXT, opened REAL NOT NULL, updated REAL NOT NULL, "
                      "due REAL, resolved REAL, owner_alerted REAL, head_alerted REAL, rating "
                      "INTEGER, pin TEXT NOT NULL DEFAULT '');"
                      "INSERT INTO cases (number, kind, state, opened, updated) VALUES "
                      "('2601010001', 'consultation', 'new', 1, 1);")
    con.commit()
    con.close()
    assert Cases(db).get("2601010001").topic == ""


def test_a_call_record_carries_the_topic_the_caller_chose():
    record = {"call_id": "x", "started": 1796600000.0, "outcome": "bridged", "topic": "其他"}
    entry = o.plan([o.CallRecord("x", record)], RULES, 1796600000.0)
    assert entry.steps[0]["record"]["topic"] == "其他"
