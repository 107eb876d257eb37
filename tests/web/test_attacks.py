"""The office page as a LAN attacker meets it: a real `lawline web` process on a real spool,
spoken to with plain HTTPS requests (no browser needed to forge a request)."""

import http.client
import re
import ssl
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

from lawline_rig.webpage import add_user


class Client:
    """One browser's cookies, from a chosen loopback source address."""

    def __init__(self, url, source="127.0.0.1"):
        parts = urlsplit(url)
        self.host, self.port, self.source = parts.hostname, parts.port, source
        self.cookies = {}

    def request(self, method, path, form=None, headers=None):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(self.host, self.port, context=context, timeout=30,
                                           source_address=(self.source, 0))
        head = dict(headers or {})
        if self.cookies:
            head["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            head["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=head)
        answer = conn.getresponse()
        text = answer.read().decode("utf-8", "replace")
        for line in answer.headers.get_all("set-cookie") or []:
            for key, morsel in SimpleCookie(line).items():
                if morsel.value:
                    self.cookies[key] = morsel.value
                else:
                    self.cookies.pop(key, None)
        conn.close()
        return answer.status, text

    def login(self, name, password, headers=None):
        self.request("GET", "/login")
        return self.request("POST", "/login", {"name": name, "password": password,
                                               "csrf": self.cookies["lawline_login"],
                                               "next": "/"}, headers)


def _hidden(page, name):
    return re.search(rf'name="{name}" value="([^"]*)"', page)[1]


def test_a_duty_account_without_a_mobile_cannot_resolve_a_case_nobody_took(office):
    add_user(office.config_path, "duty-nomobile", "duty", "duty-no-mobile-0148", "钱律师")
    client = Client(office.page.url, source="127.0.0.3")
    status, _ = client.login("duty-nomobile", "duty-no-mobile-0148")
    assert status == 303
    case = office.open_case()
    status, page = client.request("GET", f"/cases/{case.number}")
    assert status == 200
    status, page = client.request("POST", f"/cases/{case.number}/resolve", {
        "csrf": _hidden(page, "csrf"), "seen": _hidden(page, "seen"), "note": "随手结案"})
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
    assert status == 429 and "此地址登录失败次数过多" in page
    entries = office.page.log_text()
    assert "10.9.0." not in entries


def test_a_clerk_asking_for_the_complaint_kind_gets_no_case_at_all(office):
    complaint = office.open_case(kind="complaint")
    other = office.open_case(kind="consultation")
    client = Client(office.page.url, source="127.0.0.4")
    assert client.login("clerk", office.page.password("clerk"))[0] == 303
    for query in ("kind=complaint&state=all", "kind=complaint", "kind=nonsense&state=all"):
        status, page = client.request("GET", f"/cases?{query}")
        assert status == 200 and complaint.number not in page, query
    status, page = client.request("GET", "/cases?state=all")
    assert other.number in page and complaint.number not in page
