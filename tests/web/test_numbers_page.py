"""Issue 17's numbers on the office page (points 5 and 6): a case's topic set on its page,
and the callback list: a caller who rang off before the box answered, listed, and marked
called back on the page. Each change is one durable step of the office's ledger (the same
as the SMS 主题 and 回拨), audited, and goes upstream."""

import json
import sqlite3
import time

from lawline.call.lines import missed_record
from lawline.records import outcomes as o

from .conftest import NARROW, cut_off, latin_words, login, shoot

MISSED_CALLER = "13812340000"


def items_of(office, kind):
    """The records of the outbox's items of `kind` (what goes upstream)."""
    con = sqlite3.connect(f"file:{office.spool / 'outbox.db'}?mode=ro", uri=True, timeout=10)
    try:
        return [json.loads(r[0]) for r in con.execute(
            "SELECT record_json FROM items WHERE kind = ? ORDER BY rowid", (kind,))]
    finally:
        con.close()


def test_the_head_sets_a_cases_topic_on_its_page(office, context):
    case = office.open_case()
    page = context.new_page()
    login(page, office.page, "head")
    page.goto(office.page.url + f"/cases/{case.number}")
    assert page.locator("#topic").inner_text() == "主题 未分类"
    page.select_option("#set-topic select[name=topic]", "劳动争议")
    page.click("#set-topic button")
    page.wait_for_load_state()
    assert page.locator("#done").inner_text() == "主题已设置。"
    assert page.locator("#topic").inner_text() == "主题 劳动争议"
    assert office.office.cases.get(case.number).topic == "劳动争议"
    rows = [r for r in office.audit_rows() if r["action"] == "case_topic"]
    assert rows and rows[-1]["target"] == case.number and rows[-1]["detail"] == "劳动争议"
    journal = items_of(office, "case")
    assert any(j.get("case_number") == case.number and j.get("topic") == "劳动争议"
               and j.get("event") == "topic" for j in journal)


def test_a_missed_caller_is_listed_and_marked_called_back_on_the_page(office, context):
    now = time.time()
    record = missed_record(f"{time.strftime('%y%m%d-%H%M%S')}-beef", "07730148",
                           MISSED_CALLER, now - 8.0, now)
    office.office.commit([o.CallRecord(record["call_id"], record)])
    page = context.new_page()
    page.set_viewport_size(NARROW)
    login(page, office.page, "clerk")
    page.goto(office.page.url + "/callbacks")
    assert page.locator("h1").inner_text() == "回拨名单"
    listed = page.locator("#open tr", has_text=MISSED_CALLER)
    assert listed.count() == 1 and "1" in listed.inner_text()
    assert cut_off(page) == [] and latin_words(page) == []
    shoot(page, "callbacks")
    listed.locator("input[name=note]").fill("已电话解答")
    listed.locator("button").click()
    page.wait_for_load_state()
    assert page.locator("#done").inner_text() == f"已记录：{MISSED_CALLER} 已回拨。"
    assert page.locator("#open tr", has_text=MISSED_CALLER).count() == 0
    assert "网页" in page.locator("#done-list tr", has_text=MISSED_CALLER).inner_text()
    entry = office.office.calls.entries(number=MISSED_CALLER)[0]
    assert entry["done_how"] == "page" and entry["note"] == "已电话解答"
    rows = [r for r in office.audit_rows() if r["action"] == "callback_done"]
    assert rows and rows[-1]["target"] == MISSED_CALLER
    upstream = items_of(office, "callback")
    assert [u["caller"] for u in upstream] == [MISSED_CALLER] and upstream[0]["how"] == "page"
