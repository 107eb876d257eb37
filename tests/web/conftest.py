"""The office page in a real browser: Debian's Chromium driven by Playwright, against a real
`lawline web` process on a real spool (cases, SMS queue, outbox, rota file).

Screenshots at phone width (390x844, and 360 px for every page in test_clerk_reads.py) go to
build/screenshots/ (gitignored) so a person can look at them after `make test`."""

import datetime as dt
import re
import sqlite3
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from lawline import config as configuration
from lawline_rig.wait import wait_until  # noqa: F401  (the tests here import it from this file)
from lawline_rig.webpage import WebPage

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE = {"width": 390, "height": 844}
NARROW = {"width": 360, "height": 740}      # the narrowest phone the page must fit (issue 15)
# The page's process runs in a zone far from the office's: what it shows must follow
# [office] timezone (Asia/Shanghai), never the host's (the image runs in UTC).
HOST_ZONE = "America/Los_Angeles"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
DUTY_MOBILE = "13900000001"
HEAD_MOBILE = "13900000009"
CALLER = "13812345678"


def write_rota(path, rows, header="date,shift,name,role,mobile"):
    path.write_text(header + "\n" + "\n".join(",".join(r) for r in rows) + "\n",
                    encoding="utf-8")


def good_rota_rows(start=None, days=3):
    # the office's date ([office] timezone, Asia/Shanghai), not the host's
    start = start or dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    rows = []
    for i in range(days):
        day = (start + dt.timedelta(days=i)).isoformat()
        rows.append((day, "day", "张律师", "律师", DUTY_MOBILE))
        rows.append((day, "night", "赵律师", "律师", "13900000002"))
    return rows


# Module scope, not session: Playwright's sync API keeps an asyncio loop running in the
# worker's main thread while it is started, and every later test file in the same xdist
# worker that calls asyncio.run() (the whole-call tests) would fail on it.
@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: tools/bootstrap.sh installs it"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Office:
    """A spool with a config, a rota and a few cases; the page started on it."""

    def __init__(self, root):
        self.root = root
        self.spool = root / "spool"
        self.rota = root / "rota.csv"
        write_rota(self.rota, good_rota_rows())
        self.config_path = root / "lawline.toml"
        secret = root / "s3.secret"
        secret.write_text("s3cret-value\n")
        secret.chmod(0o600)
        self.config_path.write_text(configuration.dump({
            "office": {"id": "test-county", "name": "测试县法律服务专线",
                       "head_mobile": HEAD_MOBILE},
            "duty": {"rota_files": [str(self.rota)]},
            "spool": {"dir": str(self.spool)},
            "s3": {"endpoint": "https://127.0.0.1:9", "bucket": "county",
                   "access_key": "AKIDEXAMPLE0148", "secret_file": str(secret)},
        }), encoding="utf-8")
        self.cfg = configuration.load(self.config_path)
        # its own temporary folder, to see that no body the page refuses lands there
        self.tmp = root / "tmp"
        self.tmp.mkdir()
        self.page = WebPage(self.config_path, root, env={"TZ": HOST_ZONE,
                                                         "TMPDIR": str(self.tmp)})
        from lawline.records.office import Office as BoxOffice
        from lawline.sync.outbox import Outbox
        from lawline.sync.settings import build_targets
        self.spool.mkdir(parents=True, exist_ok=True)
        targets = build_targets(self.cfg)
        self.outbox = Outbox(self.spool / "outbox.db", self.spool, targets.names,
                             kinds=targets.kinds)
        self.office = BoxOffice.from_config(self.cfg, self.spool, self.outbox)

    def open_case(self, kind="consultation", caller=CALLER, **kw):
        return self.office.open_case(kind, caller, notify_caller=False, **kw)

    def leave_voicemail(self, box="consultation", caller=CALLER, seconds=1.0):
        """A voicemail as the call flow stores it: a WAV in the spool, committed to the
        outbox under its case number, and its case."""
        import wave
        case = self.office.new_number()
        incoming = self.spool / "incoming"
        incoming.mkdir(exist_ok=True)
        path = incoming / f"web-{case}-{box}-{caller}.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(b"\x00\x01" * int(8000 * seconds))
        self.outbox.commit(case, "voicemail", {"case_number": case, "box": box,
                                               "caller": caller, "duration_s": seconds},
                           {"voicemail.wav": path})
        kind = "consultation" if box == "consultation" else box
        self.office.open_case(kind, caller, number=case, notify_caller=False)
        return case

    def audit_items(self):
        con = sqlite3.connect(f"file:{self.spool / 'outbox.db'}?mode=ro", uri=True)
        try:
            return [r[0] for r in con.execute("SELECT record_json FROM items "
                                              "WHERE kind = 'audit'")]
        finally:
            con.close()

    def audit_rows(self):
        """The page's own audit log (web.db), oldest first, as dicts."""
        con = sqlite3.connect(f"file:{self.spool / 'web' / 'web.db'}?mode=ro", uri=True,
                              timeout=10)
        try:
            rows = con.execute("SELECT at, user, role, address, action, target, detail "
                               "FROM audit ORDER BY id").fetchall()
        finally:
            con.close()
        keys = ("at", "user", "role", "address", "action", "target", "detail")
        return [dict(zip(keys, r)) for r in rows]

    def temporary_files(self):
        """What the page holds or left in its temporary folder: files there, and files it
        has open there (an unnamed O_TMPFILE shows only in /proc/PID/fd)."""
        import os
        left = [str(p) for p in self.tmp.rglob("*")]
        fd_dir = Path(f"/proc/{self.page.proc.pid}/fd")
        for fd in fd_dir.iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith(str(self.tmp)):
                left.append(target)
        return left

    def expire_sessions(self):
        con = sqlite3.connect(str(self.spool / "web" / "web.db"), timeout=10)
        try:
            con.execute("UPDATE sessions SET seen = seen - 86400")
            con.commit()
        finally:
            con.close()


@pytest.fixture(scope="module")
def office(tmp_path_factory):
    o = Office(tmp_path_factory.mktemp("office"))
    o.page.start()
    yield o
    code = o.page.stop()
    assert code in (0, -15), f"lawline web exited with {code}:\n{o.page.log_text()[-3000:]}"


@pytest.fixture
def context(browser):
    ctx = browser.new_context(ignore_https_errors=True, viewport=PHONE, locale="zh-CN")
    yield ctx
    ctx.close()


def login(page, web, name, password=None):
    page.goto(web.url + "/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password or web.password(name))
    page.click("button:has-text('登录')")
    page.wait_for_load_state()


def shoot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# What may be in Latin letters on a page staff read: file names, and the abbreviations a
# Chinese office uses as they are
ALLOWED = re.compile(r"[\w.\-]+\.(?:csv|xlsx|xlsm|txt|wav|toml)\b|\b(?:CSV|XLSX|WAV|SIM|MB|KB|GB)\b",
                     re.I)
LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]+")

# The words of a page as staff see them: the rendered text (a closed 技术信息 is not
# rendered), placeholders, the tab's title; login names (identifiers, not words) left out
_VISIBLE = """() => {
  for (const el of document.querySelectorAll('.login-name')) el.textContent = '';
  const bits = [document.title, document.body.innerText];
  for (const el of document.querySelectorAll('[placeholder]')) bits.push(el.placeholder);
  for (const el of document.querySelectorAll('[title]')) bits.push(el.title);
  return bits.join('\\n');
}"""

_CUT_OFF = """() => {
  const width = document.documentElement.clientWidth, out = [];
  if (document.documentElement.scrollWidth > width)
    out.push('the page scrolls sideways: ' + document.documentElement.scrollWidth + ' px');
  for (const el of document.querySelectorAll('body *')) {
    if (!el.checkVisibility()) continue;
    const box = el.getBoundingClientRect();
    if (box.width && (box.right > width + 1 || box.left < -1))
      out.push(el.tagName + '.' + el.className + ' at ' + Math.round(box.left) + '..' +
               Math.round(box.right) + ': ' + (el.innerText || '').slice(0, 30));
    const style = getComputedStyle(el);
    if (['auto', 'scroll', 'hidden'].includes(style.overflowX) && el.scrollWidth > el.clientWidth + 1)
      out.push('hidden beyond the edge of ' + el.tagName + '.' + el.className);
  }
  return out;
}"""


def latin_words(page):
    """The Latin-script words a person sees on `page` beyond the allow-list."""
    text = ALLOWED.sub(" ", page.evaluate(_VISIBLE))
    return sorted(set(LATIN.findall(text)))


def cut_off(page):
    """What on `page` is cut off at the window's edge (or hides in a sideways scroller)."""
    return page.evaluate(_CUT_OFF)

