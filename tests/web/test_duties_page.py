"""The office's duties on the page (issue 17, points 1, 3, 4, 8) in Chromium at 360 px,
against a real `lawline web` on a real spool whose host zone is not the office's: the head
dispatches a service request to a [[provider]] with an appointment (both texted), records
the arrival and closes it with the result (the caller texted the result and the survey);
a referral's hand-off and the department's reply show on its case; a duty person signs off
and the head switches the line to night mode on the duty page. Every word Chinese, names
from the rota and the provider list, times in [office] timezone, each action audited."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from lawline import config as configuration
from lawline_rig.webpage import WebPage

from .conftest import (CALLER, DUTY_MOBILE, HEAD_MOBILE, HOST_ZONE, NARROW, cut_off,
                       good_rota_rows, latin_words, login, shoot, write_rota)

PROVIDER, DEPARTMENT = "13700000011", "13700000021"


class DutyOffice:
    """A spool whose config lists providers and a department that replies by SMS."""

    def __init__(self, root):
        self.spool = root / "spool"
        rota = root / "rota.csv"
        write_rota(rota, good_rota_rows())
        self.config_path = root / "lawline.toml"
        self.config_path.write_text(configuration.dump({
            "office": {"id": "test-county", "name": "测试县法律服务专线",
                       "head_mobile": HEAD_MOBILE},
            "duty": {"rota_files": [str(rota)]},
            "spool": {"dir": str(self.spool)},
            "provider": [{"name": "王律师（城关律师事务所）", "kind": "law_firm",
                          "mobile": PROVIDER, "area": "城关镇"}],
            "referral": [{"name": "县劳动保障监察大队", "phone": "07731234567",
                          "address": "县府路1号", "hours": "工作日", "sms": DEPARTMENT}],
        }), encoding="utf-8")
        cfg = configuration.load(self.config_path)
        self.page = WebPage(self.config_path, root, env={"TZ": HOST_ZONE})
        from lawline.records.office import Office
        from lawline.sync.outbox import Outbox
        from lawline.sync.settings import build_targets
        self.spool.mkdir(parents=True, exist_ok=True)
        targets = build_targets(cfg)
        self.outbox = Outbox(self.spool / "outbox.db", self.spool, targets.names,
                             kinds=targets.kinds)
        self.office = Office.from_config(cfg, self.spool, self.outbox)

    def texts(self, number, purpose):
        return [r["text"] for r in self.office.sms.rows() if r["number"] == number
                and r["purpose"] == purpose]

    def audit(self):
        import sqlite3
        con = sqlite3.connect(f"file:{self.spool / 'web' / 'web.db'}?mode=ro", uri=True,
                              timeout=10)
        try:
            return [r for r in con.execute("SELECT action, target FROM audit ORDER BY id")]
        finally:
            con.close()


@pytest.fixture(scope="module")
def duty_office(tmp_path_factory):
    o = DutyOffice(tmp_path_factory.mktemp("duties"))
    o.page.start()
    yield o
    code = o.page.stop()
    assert code in (0, -15), f"lawline web exited with {code}:\n{o.page.log_text()[-3000:]}"


@pytest.fixture
def narrow(browser):
    ctx = browser.new_context(ignore_https_errors=True, viewport=NARROW, locale="zh-CN")
    yield ctx
    ctx.close()


def submit(page, form):
    page.click(f"{form} button")
    page.wait_for_load_state()


def test_a_service_request_is_dispatched_visited_and_closed_on_the_page(duty_office, narrow):
    o = duty_office
    case = o.office.open_case("service_request", CALLER, owner=DUTY_MOBILE, owner_name="张律师",
                              state="assigned", notify_caller=False).number
    tomorrow = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date() + dt.timedelta(days=1)
    page = narrow.new_page()
    login(page, o.page, "head")
    page.goto(o.page.url + f"/cases/{case}")
    assert "王律师（城关律师事务所）（律师事务所，城关镇）" in page.locator("#dispatch select").inner_text()
    page.fill("#dispatch input[name=day]", tomorrow.isoformat())
    page.fill("#dispatch input[name=time]", "09:30")
    page.fill("#dispatch input[name=place]", "城关镇幸福村3组")
    submit(page, "#dispatch")
    assert "已派员上门" in page.locator("#done").inner_text()
    assert page.locator("#duty-dispatch").inner_text().startswith("王律师（城关律师事务所） 137")
    # the appointment in the office's zone (the page's host runs in Los Angeles)
    assert page.locator("#duty-appointment").inner_text() == f"{tomorrow} 09:30 城关镇幸福村3组"
    assert page.locator("#duty-arrived").inner_text() == "尚未登记到场"
    to_provider, = o.texts(PROVIDER, "dispatch")
    assert case in to_provider and CALLER in to_provider
    to_caller, = o.texts(CALLER, "caller dispatch")
    assert "王律师" in to_caller and f"{tomorrow:%m月%d日} 09:30" in to_caller
    # the arrival, then the result: the caller gets it and the survey
    submit(page, "#arrived")
    assert "已到场" in page.locator("#duty-arrived").inner_text()
    page.fill("#resolve textarea[name=note]", "已上门代写遗嘱，当事人满意")
    submit(page, "#resolve")
    told, = o.texts(CALLER, "caller resolved")
    assert "已上门代写遗嘱，您满意" in told          # the office's wording rules
    assert o.texts(CALLER, "survey")
    assert "以短信告知" in page.locator("#duty-told").inner_text()
    assert "已短信回访" in page.locator("#duty-survey").inner_text()
    history = page.locator("ol.history").inner_text()
    assert "派员上门：王律师（城关律师事务所）" in history and "已到场" in history
    shoot(page, "360-duties-case")
    assert latin_words(page) == [] and cut_off(page) == []
    assert [a for a in o.audit() if a[0] in ("case_dispatched", "case_arrived",
                                              "case_resolved")] == [
        ("case_dispatched", case), ("case_arrived", case), ("case_resolved", case)]
    # a consultation is never dispatched: no form
    other = o.office.open_case("consultation", CALLER, notify_caller=False).number
    page.goto(o.page.url + f"/cases/{other}")
    assert page.locator("#dispatch").count() == 0


def test_a_referral_hand_off_and_the_departments_reply_show_on_its_case(duty_office, narrow):
    o = duty_office
    from lawline.records import outcomes
    d = o.office.cfg.referral[0]
    number = o.office.cases.next()
    o.office.commit([outcomes.Referred(outcomes.Call("web-test-call", CALLER, "07730148"),
                                       number, "", outcomes.Department(
                                           d.name, d.phone, d.address, d.hours, d.sms,
                                           d.email))])
    code = o.office.cases.duties(number)["reply_code"]
    page = narrow.new_page()
    login(page, o.page, "clerk")
    page.goto(o.page.url + f"/cases/{number}")
    assert page.locator("#duty-handoff").inner_text() == "县劳动保障监察大队（电话 07731234567）"
    assert re.fullmatch(rf"{code}（已短信发送），请于\d\d月\d\d日前回复",
                        page.locator("#duty-reply_code").inner_text())
    assert page.locator("#duty-reply").inner_text() == "等待回复"
    assert o.office.on_sms(DEPARTMENT, f"{code} 已责令补发工资", "national")
    page.reload()
    assert page.locator("#duty-reply").inner_text().endswith("已责令补发工资")
    assert page.locator("#state").inner_text() == "已办结并告知来电人"
    assert latin_words(page) == []


def test_signing_off_and_night_mode_on_the_duty_page(duty_office, narrow):
    o = duty_office
    page = narrow.new_page()
    login(page, o.page, "duty")
    page.goto(o.page.url + "/duty")
    assert page.locator("#mode").count() == 0                  # the head's only
    assert page.locator("#sign select").inner_text().strip() == f"张律师 {DUTY_MOBILE}"
    page.fill("#sign input[name=hours]", "2")
    page.click("#sign button[value=off]")
    page.wait_for_load_state()
    assert "已登记休息" in page.locator("#availability-done").inner_text()
    assert page.locator("#signed-off").inner_text().startswith(f"张律师 {DUTY_MOBILE} 至 ")
    assert DUTY_MOBILE not in o.office.on_duty("lawyer")       # not rung while off
    page.fill("#sign input[name=hours]", "一千")
    page.click("#sign button[value=off]")
    page.wait_for_load_state()
    assert "时长应为小时数" in page.locator("#availability-error").inner_text()
    shoot(page, "360-duties-duty")
    assert latin_words(page) == [] and cut_off(page) == []
    head = narrow.new_page()
    login(head, o.page, "head")
    head.goto(o.page.url + "/duty")
    head.fill("#mode input[name=hours]", "3")
    head.click("#mode button[value=night]")
    head.wait_for_load_state()
    assert head.locator("#line-mode").inner_text().startswith("线路：夜间模式（按下班时间接听），至 ")
    assert not o.office.desk.is_open()
    head.click("#mode button[value=auto]")
    head.wait_for_load_state()
    assert head.locator("#line-mode").inner_text() == "线路：按办公时间接听"
    changes = head.locator("#availability-changes").text_content()      # folded
    assert "张律师" in changes and "网页" in changes
    assert [a[0] for a in o.audit() if a[0].startswith("availability_")] == [
        "availability_off", "availability_night", "availability_auto"]
