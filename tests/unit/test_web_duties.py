"""The office's duties as the page shows them (issue 17, web/dutywords.py), pure: a case
taken through its on-site visit, a referral through its hand-off and the department's
reply, and staff signing off and the head's night mode, each by the real office on real
SQLite with the office clock on known days; then the page's rows and the case's history as
staff read them: Chinese only, names from the rota, times in [office] timezone whatever the
host's zone."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

from lawline.web import dutywords, fmt

from .test_duties import (CALLER, DEPARTMENT, HEAD, LAWYER, PROVIDER, journal, make_office,
                          refer, request)

LATIN = re.compile(r"[A-Za-z]{2,}")
WHEN = fmt.Formats("Asia/Shanghai").when


def names_of(office):
    def names(number):
        person = office.desk.roster.person(number)
        return person.name if person else ""
    return names


def shanghai(t):
    """An instant the ledger stamped (real time) as the office reads it."""
    return dt.datetime.fromtimestamp(t, ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")


def latin(text):
    return LATIN.findall(text)


def test_an_on_site_visit_shows_in_chinese_with_office_times_and_rota_names(tmp_path):
    office = make_office(tmp_path)
    case = request(office)
    assert office.on_sms(LAWYER, f"上门 {case} 1 12-02 09:30 城关镇幸福村3组", "unknown")
    rows = {k: (label, words) for k, label, words in
            dutywords.case_rows(office.cases.duties(case), WHEN, names_of(office))}
    assert rows["dispatch"] == ("上门服务", f"王律师（城关律师事务所） {PROVIDER}（律师事务所，城关镇）")
    assert rows["appointment"] == ("约定", "2026-12-02 09:30 城关镇幸福村3组")
    assert rows["arrived"][1] == "尚未登记到场"
    office.clock.move_to("2026-12-02T09:40:00")
    assert office.on_sms(PROVIDER, f"到场 {case}", "unknown")
    assert office.on_sms(PROVIDER, f"结案 {case} 已代写遗嘱", "unknown")
    assert office.on_sms(CALLER, "５", "unknown")                # the survey, full-width
    facts = office.cases.duties(case)
    rows = {k: words for k, _, words in dutywords.case_rows(facts, WHEN, names_of(office))}
    assert rows["arrived"] == f"{shanghai(facts['arrived'])} 已到场"
    assert rows["result"] == "已代写遗嘱"
    assert rows["told"] == f"{shanghai(facts['told_at'])} 以短信告知"
    assert rows["survey"] == f"5/5（{shanghai(facts['survey_at'])} 回复）"
    # the case's history as the page writes it: every note and person in Chinese
    shown = [f"{fmt.who(by, names_of(office))} {fmt.note(note)}"
             for _, _, by, note in office.cases.history(case)]
    assert [s for s in shown if latin(s)] == []
    assert any("派员上门：王律师（城关律师事务所），12月02日 09:30，城关镇幸福村3组" in s for s in shown)
    assert any(s.startswith("来电人（短信）") and "满意度回访：5/5" in s for s in shown)
    assert {j["event"] for j in journal(office, case)} >= {"dispatched", "arrived",
                                                           "caller_informed", "surveyed"}


def test_a_missed_appointment_and_a_late_reply_say_so(tmp_path):
    office = make_office(tmp_path)
    case = request(office)
    office.on_sms(LAWYER, f"上门 {case} 2 11-30 11:00 县城", "unknown")
    referred = refer(office)
    office.clock.move_to("2026-12-10T12:00:00")
    office.duties.check()
    rows = {k: words for k, _, words in
            dutywords.case_rows(office.cases.duties(case), WHEN, names_of(office))}
    assert rows["dispatch"] == "县公证处 13700000012（公证处）"
    facts = office.cases.duties(case)
    assert rows["arrived"] == f"约定时间已过无人登记到场，{shanghai(facts['missed_alerted'])} 已提醒负责人"
    rows = {k: words for k, _, words in
            dutywords.case_rows(office.cases.duties(referred), WHEN, names_of(office))}
    assert rows["handoff"] == "县劳动保障监察大队（电话 07731234567）"
    assert re.fullmatch(r"\d{6}（已短信、电子邮件发送），请于\d\d月\d\d日前回复", rows["reply_code"])
    late = shanghai(office.cases.duties(referred)["reply_alerted"])
    assert rows["reply"] == f"逾期未回复，{late} 已提醒负责人"
    code = office.cases.duties(referred)["reply_code"]
    assert office.on_sms(DEPARTMENT, f"{code} 已责令补发工资", "unknown")
    rows = {k: words for k, _, words in
            dutywords.case_rows(office.cases.duties(referred), WHEN, names_of(office))}
    assert rows["reply"] == f"{shanghai(office.cases.duties(referred)['reply_at'])} 已责令补发工资"
    shown = [f"{fmt.who(by, names_of(office))} {fmt.note(note)}"
             for number in (case, referred) for _, _, by, note in office.cases.history(number)]
    assert [s for s in shown if latin(s)] == []


def test_who_signed_off_and_the_line_mode_in_words(tmp_path):
    office = make_office(tmp_path)
    assert office.on_sms(LAWYER, "休息 12:30", "unknown")
    assert office.on_sms(HEAD, "夜间 14:00", "unknown")
    shown = dutywords.availability_rows(office.duties.state(), WHEN, names_of(office))
    assert shown["mode"] == "夜间模式（按下班时间接听），至 2026-11-30 14:00"
    assert shown["off"] == [(f"张律师 {LAWYER}", "至 2026-11-30 12:30")]
    assert [(c["who"], c["what"], c["via"]) for c in shown["changes"]] == [
        ("整条线路", "夜间模式（按下班时间接听），至 2026-11-30 14:00", "短信"),
        (f"张律师 {LAWYER}", "休息，至 2026-11-30 12:30", "短信")]
    office.clock.move_to("2026-11-30T14:01:00")
    shown = dutywords.availability_rows(office.duties.state(), WHEN, names_of(office))
    assert shown["mode"] == "" and shown["off"] == []


def test_a_note_none_of_the_duties_wrote_is_left_to_the_page():
    assert dutywords.note("resolution SMS queued") is None
    assert fmt.note("resolution SMS queued") == "已排队发送结案短信给来电人"
    assert dutywords.case_rows({}, WHEN, lambda n: "") == []
