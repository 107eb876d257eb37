"""The monthly report for leadership as a person reads it (issue 17.5): a generated month and
the month before filled into a spool through the box's own ledger (`lawline-rig
report-month`), `lawline report --month` run on it, and the page opened in Debian's
Chromium. The report (HTML, CSV, the PNG chart) and screenshots at desktop and phone width
are left in build/reports/ for the closing note.

Run under the real-time lock (Chromium): flock /tmp/lawline-realtime.lock pytest tests/reports
"""

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

from lawline import config as configuration
from lawline.clock import Clock

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
BUILD = Path(__file__).resolve().parents[2] / "build" / "reports"


def lawline(*args, rig=False):
    module = "lawline_rig" if rig else "lawline"
    done = subprocess.run([sys.executable, "-m", module, *args], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_a_generated_month_becomes_the_report_leadership_reads(tmp_path):
    spool = tmp_path / "spool"
    config = tmp_path / "lawline.toml"
    config.write_text(configuration.dump({
        "office": {"id": "demo-county", "name": "演示县法律服务专线",
                   "head_mobile": "13900000009"},
        "duty": {"numbers": ["13900000001", "13900000002", "13900000003"]},
        "spool": {"dir": str(spool)}}), encoding="utf-8")
    # the last whole month of the office's calendar, whatever the day the test runs
    first = (Clock("Asia/Shanghai").today().replace(day=1) - dt.timedelta(days=1)) \
        .replace(day=1)
    out = lawline("report-month", "--config", str(config), "--month", f"{first:%Y-%m}",
                  "--calls-per-day", "6", rig=True)
    assert "calls generated" in out
    shell = lawline("report", "--config", str(config), "--month", "--start", str(first))
    assert "section,group,period,offered" in shell and "\ntotal,合计,current," in shell
    html = Path(shell.strip().rsplit("# chart: ", 1)[1])
    assert html.exists()
    name = f"report-month-{first:%Y-%m}"
    BUILD.mkdir(parents=True, exist_ok=True)
    for source, suffix in ((html, ".html"), (html.with_suffix(".csv"), ".csv"),
                           (html.with_name(html.stem + "-chart.png"), "-chart.png")):
        shutil.copyfile(source, BUILD / f"{name}{suffix}")
    (BUILD / f"{name}.txt").write_text(shell, encoding="utf-8")

    from playwright.sync_api import sync_playwright
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: tools/bootstrap.sh installs it"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for width, suffix in ((800, ""), (390, "-phone")):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.goto((BUILD / f"{name}.html").as_uri())
                assert page.locator("h1").inner_text() == "演示县法律服务专线 月报"
                assert page.evaluate(
                    "document.fonts.check('16px \"Noto Sans CJK SC\"', '接通率')")
                heads = page.locator("h2").all_inner_texts()
                assert heads[:5] == ["服务水平", "各主题来电", "按主题", "按值班人员", "回拨名单"]
                rows = page.locator("table").first.locator("tr")
                assert rows.count() == 22          # the header and every measure
                # each topic row has this month and the month before
                topics = page.locator("table").nth(1).locator("tr")
                assert topics.count() >= 8 and "上期" in topics.nth(1).inner_text()
                page.screenshot(path=str(BUILD / f"{name}{suffix}.png"), full_page=True)
                page.close()
        finally:
            browser.close()
    assert (BUILD / f"{name}.png").stat().st_size > 20_000
    print(f"\nmonthly report: {BUILD / (name + '.html')} and {BUILD / (name + '.png')}")

