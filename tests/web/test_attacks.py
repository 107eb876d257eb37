"""The office page as a LAN attacker meets it: a real `lawline web` process on a real spool,
spoken to with plain HTTPS requests (no browser needed to forge a request)."""

import re

from lawline_rig.webpage import add_user

from .client import Client


def test_a_duty_account_without_a_mobile_cannot_resolve_a_case_nobody_took(office):
    add_user(office.config_path, "duty-nomobile", "duty", "duty-no-mobile-0148", "钱律师")
    client = Client(office.page.url, source="127.0.0.3")
    status, _ = client.login("duty-nomobile", "duty-no-mobile-0148")
    assert status == 303
    case = office.open_case()
    status, page = client.request("GET", f"/cases/{case.number}")
    assert status == 200
    seen = re.search(r'name="seen" value="([^"]*)"', page)[1]
    status, page = client.request("POST", client.action(page, "resolve"), {
        "seen": seen, "note": "随手结案"})
    assert status == 403 and "手机号" in page
    assert office.office.cases.get(case.number).state == "new"


def test_x_forwarded_for_does_not_reset_the_per_address_log_in_limit(office):
    # uvicorn trusts X-Forwarded-For from 127.0.0.1 by default; the page has no proxy in
    # front, so a header would give every guess a fresh address
    client = Client(office.page.url, source="127.0.0.1")
    limit = office.cfg.web.address_failures
    for i in range(limit):
        status, _ = client.login(f"nobody{i}", "wrong", {"X-Forwarded-For": f"10.9.0.{i}"})
        assert status == 401, i
    status, page = client.login("nobody", "wrong", {"X-Forwarded-For": "10.9.1.1"})
    assert status == 429 and "这台电脑登录失败次数过多" in page
    entries = office.page.log_text()
    assert "10.9.0." not in entries


def test_a_clerk_asking_for_the_complaint_kind_gets_no_case_at_all(office):
    complaint = office.open_case(kind="complaint")
    other = office.open_case(kind="consultation")
    client = Client(office.page.url, source="127.0.0.4")
    assert client.login("clerk", office.page.password("clerk"))[0] == 303
    for query in ("kind=complaint&state=all", "kind=complaint"):
        status, page = client.request("GET", f"/cases?{query}")
        assert status == 200 and complaint.number not in page, query
    status, page = client.request("GET", "/cases?kind=nonsense&state=all")
    assert status == 400 and "类别" in page and complaint.number not in page
    status, page = client.request("GET", "/cases?state=all")
    assert other.number in page and complaint.number not in page
