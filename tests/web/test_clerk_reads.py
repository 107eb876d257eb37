"""The office page as a clerk reads it (issue 15, point 7), walked in Chromium as an office
would: every page, as each role, at 360 px; every word staff see is Chinese (Latin script
only in an allow-list: numbers, case numbers, file names, a few abbreviations; the box's own
English only folded under 技术信息); times in [office] timezone whatever the host's zone;
names from the rota, not bare numbers; nothing cut off at phone width; and a recording
audited as played only when it is played. Screenshots at 360 px go to build/screenshots/."""

import datetime as dt
import json
import re
from zoneinfo import ZoneInfo

import pytest

from lawline_rig.webpage import add_user

from .conftest import DUTY_MOBILE, NARROW, cut_off, latin_words, login, shoot, wait_until

@pytest.fixture(scope="module")
def narrow(browser):
    ctx = browser.new_context(ignore_https_errors=True, viewport=NARROW, locale="zh-CN")
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def lived_in(office):
    """An office after some days of use: cases of each kind and state, one taken by SMS (its
    owner a bare number in the case book), a voicemail, an SMS sent, strangers' failed
    log-ins, a locked name, an account added from the shell, a refused rota."""
    from lawline.web.accounts import Accounts
    cases = {kind: office.open_case(kind) for kind in ("consultation", "service_request",
                                                       "urgent", "complaint")}
    taken = office.open_case("consultation", owner=DUTY_MOBILE, owner_name="",
                             state="assigned")
    assert office.office.on_sms(DUTY_MOBILE, f"结案 {taken.number} 已答复", "national")
    by_sms = office.open_case("urgent")
    assert office.office.on_sms(DUTY_MOBILE, f"接 {by_sms.number}", "national")
    voicemail = office.leave_voicemail(seconds=2.0)
    add_user(office.config_path, "sun", "clerk", "sun-password-0148")     # no display name
    accounts = Accounts(office.spool / "web" / "web.db", max_failures=5)
    for i in range(5):
        accounts.login("nobody", "wrong", "127.0.0.99")
        accounts.login("sun", "wrong", "127.0.0.98")
    accounts.audit("clerk", "clerk", "127.0.0.1", "rota_refused", "十二月.xlsx", "3 problem(s)")
    accounts.audit("clerk", "clerk", "127.0.0.1", "rota_uploaded", str(office.rota),
                   "rota.csv: 6 rows, 2 people")
    accounts.close()
    return {"cases": cases, "taken": taken, "by_sms": by_sms, "voicemail": voicemail}


def _pages_of(page, office):
    """The menu's pages as this person's menu lists them."""
    page.goto(office.page.url + "/")
    return [a.get_attribute("href") for a in page.locator("nav a").all()]


@pytest.mark.parametrize("role", ["head", "clerk", "duty"])
def test_every_page_speaks_chinese_and_fits_a_360_px_phone(office, narrow, lived_in, role):
    page = narrow.new_page()
    login(page, office.page, role)
    paths = _pages_of(page, office)
    assert paths[-1] in ("/reports", "/settings", "/audit") and len(paths) >= 6
    case = lived_in["by_sms"] if role == "duty" else lived_in["taken"]
    paths += [f"/cases/{case.number}", f"/cases/{lived_in['voicemail']}",
              "/cases?state=all", "/reports?kind=month", "/calls?end=9999-12-31",
              "/cases/0000000000", "/no-such-page"]
    found, cut, status = {}, {}, {}
    for path in paths:
        status[path] = page.goto(office.page.url + path).status
        page.wait_for_load_state("networkidle")
        name = f"360-{role}-" + (re.sub(r"[^a-z0-9]+", "-", path.strip("/")) or "status")
        shoot(page, name)
        cut[path] = cut_off(page)
        found[path] = latin_words(page)
    assert {p: w for p, w in found.items() if w} == {}
    assert {p: c for p, c in cut.items() if c} == {}
    assert {p: s for p, s in status.items() if s not in (200, 400, 404)} == {}
    # every menu item is on the screen, none cut off at the right
    page.goto(office.page.url + "/")
    for link in page.locator("nav a").all():
        box = link.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= NARROW["width"] + 1, \
            link.inner_text()


def test_the_log_in_page_and_its_refusals_speak_chinese(office, narrow):
    page = narrow.new_page()
    page.goto(office.page.url + "/login")
    assert latin_words(page) == []
    for _ in range(6):
        login(page, office.page, "nobody-at-all", "wrong-password")
    assert "暂时锁定" in page.locator("p.error").inner_text()
    shoot(page, "360-login-locked")
    assert latin_words(page) == []
    assert cut_off(page) == []


def test_times_are_the_offices_whatever_the_hosts_zone(office, context, lived_in):
    case = lived_in["cases"]["urgent"]
    shanghai = dt.datetime.fromtimestamp(case.opened, ZoneInfo("Asia/Shanghai"))
    # the page's process runs in America/Los_Angeles (conftest): 15 or 16 hours behind
    host = dt.datetime.fromtimestamp(case.opened, ZoneInfo("America/Los_Angeles"))
    assert shanghai.strftime("%H:%M") != host.strftime("%H:%M")
    page = context.new_page()
    login(page, office.page, "head")
    page.goto(office.page.url + f"/cases/{case.number}")
    card = page.locator("section.card").inner_text()
    assert f"登记 {shanghai:%Y-%m-%d %H:%M}" in card, card
    page.goto(office.page.url + "/cases?state=all")
    row = page.locator("table.cases tr", has_text=case.number).inner_text()
    assert f"{shanghai:%Y-%m-%d %H:%M}" in row
    page.goto(office.page.url + "/audit")
    assert page.locator("#audit tr").nth(1).inner_text().startswith(
        dt.datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d"))


def test_case_owners_are_named_from_the_rota(office, context, lived_in):
    page = context.new_page()
    login(page, office.page, "clerk")
    page.goto(office.page.url + "/cases?state=all")
    for case in (lived_in["taken"], lived_in["by_sms"]):
        owner = page.locator("table.cases tr", has_text=case.number).locator("td").nth(4)
        assert owner.inner_text() == "张律师", case.number
    page.goto(office.page.url + f"/cases/{lived_in['taken'].number}")
    assert "张律师" in page.locator("#owner").inner_text()
    history = page.locator("ol.history").inner_text()
    assert "张律师（短信）" in history and "by SMS" not in history


def _played(office, key):
    return [r for r in office.audit_rows() if r["target"] == key and
            r["action"] == "voicemail_played"]


def test_opening_a_case_plays_nothing_and_a_real_play_is_audited_once(office, context):
    key = office.leave_voicemail(seconds=3.0)
    page = context.new_page()
    login(page, office.page, "clerk")
    page.goto(office.page.url + f"/cases/{key}")
    page.wait_for_load_state("networkidle")
    audio = page.locator("audio")
    assert audio.count() == 1
    # the page open, nothing pressed: the player has fetched nothing, and no row says it did
    assert audio.evaluate("a => a.networkState") in (0, 1)       # EMPTY or IDLE, no load
    assert _played(office, key) == []
    # pressed play: one row, however many ranges the player fetches
    audio.evaluate("a => { a.muted = true; return a.play(); }")
    page.wait_for_function("a => a.currentTime > 0.3", arg=audio.element_handle())
    audio.evaluate("a => { a.currentTime = 2.5; }")
    page.wait_for_function("a => a.currentTime > 2.6 || a.ended", arg=audio.element_handle())
    audio.evaluate("a => { a.currentTime = 0.1; return a.play(); }")
    page.wait_for_function("a => a.currentTime > 0.3", arg=audio.element_handle())
    wait_until(lambda: _played(office, key), 10, "the play's audit row")
    assert len(_played(office, key)) == 1
    page.goto(office.page.url + "/voicemails")
    page.wait_for_load_state("networkidle")
    assert len(_played(office, key)) == 1
    # and that one row goes upstream with the outbox
    wait_until(lambda: [r for r in map(json.loads, office.audit_items())
                        if r["action"] == "voicemail_played" and r["target"] == key], 10,
               "the play's row in the outbox")
