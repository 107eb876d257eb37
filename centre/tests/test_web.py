"""The prefecture's page in a real browser (Debian's Chromium, driven by Playwright) against a
real `lawline-centre serve` over three generated counties: every county side by side and
sortable, a county's trends, a case with the caller's number masked (shown in full to the
head only, and audited), county staff kept to their county, CSRF. Screenshots at desktop
and phone width go to build/screenshots/ (centre-*.png)."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, centre_cli, write_config

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1440, "height": 1000}
PHONE = {"width": 390, "height": 844}
SHOTS = ROOT / "build" / "screenshots"
USERS = (("boss", "head", "*", "boss-pass-1"), ("staff", "clerk", "*", "staff-pass-1"),
         ("qingshan", "clerk", "county-002", "county-pass-1"))
NAMES = (("county-001", "青山县"), ("county-002", "白水县"), ("county-003", "石门县"))


@pytest.fixture(scope="module")
def site(generated, tmp_path_factory):
    base = tmp_path_factory.mktemp("site")
    config = write_config(base / "centre.toml", source={"kind": "dir",
                                                        "path": str(generated["root"])},
                          data_dir=str(base / "data"), counties=NAMES)
    for name, role, county, password in USERS:
        centre_cli("user", "--config", str(config), "add", name, "--role", role,
                   "--county", county, "--password-stdin", stdin=password + "\n")
    centre_cli("ingest", "--config", str(config))
    ready = base / "ready"
    log = open(base / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "lawline_centre", "serve", "--config",
                             str(config), "--ready-file", str(ready), "--no-schedule"],
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None, (base / "serve.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "the page did not start"
        time.sleep(0.05)
    yield {"url": ready.read_text().strip().rstrip("/"), "end": generated["days"][1],
           "log": base / "serve.log"}
    proc.terminate()
    proc.wait(10)
    log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: tools/bootstrap.sh installs it"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def login(browser, site, name, viewport=DESKTOP):
    password = next(p for n, _, _, p in USERS if n == name)
    ctx = browser.new_context(ignore_https_errors=True, viewport=viewport, locale="zh-CN")
    page = ctx.new_page()
    page.goto(site["url"] + "/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button:has-text('登录')")
    page.wait_for_load_state()
    return page


def shot(page, name, element=None):
    """Desktop: the whole page; phone: the first screen (what a phone shows); an element:
    that part alone."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = str(SHOTS / f"centre-{name}.png")
    if element:
        page.locator(element).screenshot(path=path)
    else:
        page.screenshot(path=path, full_page=page.viewport_size["width"] > 500)


def values(page, column):
    cells = page.locator(f"#counties tbody tr td:nth-child({column + 1})")
    out = []
    for i in range(cells.count()):
        v = cells.nth(i).get_attribute("data-value")
        out.append(float(v) if v else None)
    return out


def test_every_county_side_by_side_sortable_with_colours(browser, site):
    page = login(browser, site, "boss")
    page.goto(f"{site['url']}/?period=month&at={site['end']}")
    rows = page.locator("#counties tbody tr")
    assert rows.count() == 3
    assert page.locator("#counties tbody").inner_text().count("县") >= 3
    heads = page.locator("#counties thead th")
    column = next(i for i in range(heads.count()) if "接通率" in heads.nth(i).inner_text())
    heads.nth(column).click()
    up = [v for v in values(page, column) if v is not None]
    assert up == sorted(up) and len(up) == 3
    heads.nth(column).click()
    assert [v for v in values(page, column) if v is not None] == sorted(up, reverse=True)
    coloured = page.locator("#counties td.green, #counties td.amber, #counties td.red")
    assert coloured.count() > 0
    assert page.locator("#grid a.tile").count() == 3
    assert page.locator("svg.chart rect").count() == 3
    assert page.locator("#prefecture-trends svg polyline").count() >= 5
    assert "短时放弃" in page.inner_text("dl.rules") and "12348" in page.inner_text("dl.rules")
    shot(page, "overview-desktop")
    shot(page, "county-table", "#counties")
    phone = login(browser, site, "boss", PHONE)
    phone.goto(f"{site['url']}/?period=month&at={site['end']}")
    shot(phone, "overview-phone")


def test_a_county_with_its_trends_and_a_case_masked_then_shown_and_audited(browser, site):
    page = login(browser, site, "boss")
    page.goto(f"{site['url']}/?period=week&at={site['end']}")
    page.click("#counties a:has-text('白水县')")
    page.wait_for_load_state()
    assert "county-002" in page.url and page.locator("h1").inner_text() == "白水县"
    assert page.locator("#trends figure").count() == 8
    assert page.locator("#trends svg polyline").count() >= 6
    assert page.locator("#measures tbody tr").count() >= 15
    shot(page, "county-desktop")
    shot(page, "county-trends", "#trends")
    phone = login(browser, site, "boss", PHONE)
    phone.goto(page.url)
    shot(phone, "county-phone")
    link = page.locator("a[href^='/case/county-002/']").first
    link.click()
    page.wait_for_load_state()
    masked = page.inner_text("#caller")
    assert "****" in masked
    page.click("#reveal")
    page.wait_for_load_state()
    shown = page.inner_text("#caller")
    assert "*" not in shown and shown[:3] == masked[:3] and shown[-4:] == masked[-4:]
    page.goto(site["url"] + "/audit")
    assert "caller_shown" in page.inner_text("#audit") or "查看完整号码" in page.inner_text("#audit")


def test_a_clerk_sees_numbers_masked_and_cannot_reveal(browser, site):
    page = login(browser, site, "staff")
    page.goto(f"{site['url']}/county/county-001?period=month&at={site['end']}")
    page.locator("a[href^='/case/county-001/']").first.click()
    page.wait_for_load_state()
    assert "****" in page.inner_text("#caller") and page.locator("#reveal").count() == 0
    case_url = page.url
    answer = page.request.post(case_url + "/reveal", form={"csrf": "forged"})
    assert answer.status == 403


def test_county_staff_see_only_their_county(browser, site):
    page = login(browser, site, "qingshan")
    page.goto(f"{site['url']}/?at={site['end']}")
    assert "/county/county-002" in page.url
    for other in ("/county/county-001", "/county/county-003"):
        answer = page.goto(site["url"] + other)
        assert answer.status == 403 and "只能查看本县" in page.inner_text("#refused")
    page.goto(site["url"] + "/overdue")
    rows = page.locator("#overdue tbody tr")
    text = page.inner_text("#overdue tbody")
    assert "青山县" not in text and "石门县" not in text
    assert rows.count() >= 1
    page.goto(site["url"] + "/silent")
    assert "青山县" not in page.inner_text("#silent")


def test_the_overdue_list_is_oldest_first_with_county_and_owner(browser, site):
    page = login(browser, site, "boss")
    page.goto(site["url"] + "/overdue")
    rows = page.locator("#overdue tbody tr")
    assert rows.count() > 3
    dues = [rows.nth(i).locator("td").nth(4).inner_text() for i in range(rows.count())]
    assert dues == sorted(dues)
    assert {"青山县", "白水县", "石门县"} & set(page.inner_text("#overdue tbody").split())


def test_a_post_without_the_session_csrf_token_is_refused(browser, site):
    page = login(browser, site, "boss")
    page.goto(f"{site['url']}/county/county-001?period=month&at={site['end']}")
    case = page.locator("a[href^='/case/county-001/']").first.get_attribute("href")
    answer = page.request.post(site["url"] + case + "/reveal", form={"csrf": "wrong"})
    assert answer.status == 403 and "CSRF" in answer.text()
    page.goto(site["url"] + "/audit")
    assert page.locator("#audit tbody tr").count() >= 1
