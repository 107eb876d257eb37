"""A real call on the loopback line leaves a voicemail; the office page plays it in Chromium
and resolving its case queues the caller's SMS, which the running box then sends.

Run by hand with the shared real-time lock around the call only:
    LAWLINE_REALTIME_LOCK=/tmp/lawline-realtime.lock .venv/bin/python -m pytest tests/web/test_voicemail_call.py
(`make test` runs under the lock already, so the variable is unset there.)
"""

import contextlib
import fcntl
import json
import os
import threading

import pytest

from lawline_rig.probe import scenarios
from lawline_rig.webpage import WebPage

from ..conftest import run_call
from .conftest import NARROW, cut_off, latin_words, login, shoot, wait_until

pytestmark = pytest.mark.scenario


@contextlib.contextmanager
def realtime_lock():
    path = os.environ.get("LAWLINE_REALTIME_LOCK")
    if not path:
        yield
        return
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def in_thread(fn, *args):
    """Playwright's sync API keeps an event loop on this thread; the call gets its own."""
    out = {}

    def run():
        try:
            out["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            out["error"] = exc
    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


@pytest.fixture(scope="module")
def called(module_rigs):
    rig = module_rigs.rig("webcall", start=False, duty_behaviour="no-answer")
    web = None
    try:
        with realtime_lock():
            rig.start()
            result = in_thread(run_call, rig, scenarios.consultation_voicemail)
        web = WebPage(rig.config_path, rig.dir).start()
        yield rig, web, result
    finally:
        if web is not None:
            web.stop()             # (the last test killed it; stop() then just reaps it)
        module_rigs.stop(rig)      # and checks that the box exited cleanly


def test_a_voicemail_from_a_real_call_plays_in_the_browser_and_its_case_resolves(called, browser):
    rig, web, result = called
    record = result["voicemail"]["record"]
    case, caller = record["case_number"], rig.sim["caller"]["number"]
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 390,
                                                                      "height": 844})
    page = context.new_page()
    login(page, web, "clerk")
    page.goto(web.url + "/voicemails")
    item = page.locator(f"#vm-{case}")
    assert caller in item.inner_text() and "法律咨询" in item.inner_text()
    # the audio element loads the WAV the box recorded and plays it
    audio = item.locator("audio")
    audio.evaluate("a => { a.muted = true; return a.play(); }")
    page.wait_for_function("a => a.readyState >= 2 && a.duration > 0", arg=audio.element_handle())
    seconds = audio.evaluate("a => a.duration")
    assert abs(seconds - record["duration_s"]) < 0.5, (seconds, record["duration_s"])
    page.wait_for_function("a => a.currentTime > 0.2", arg=audio.element_handle())
    shoot(page, "voicemails-real-call")
    # download it as WAV: the bytes the box spooled
    with page.expect_download() as got:
        item.locator("text=下载录音").click()
    with open(got.value.path(), "rb") as f:
        assert f.read() == (rig.spool_dir / result["voicemail"]["files"]["voicemail.wav"]
                            ).read_bytes()
    # resolve its case: the caller's SMS is queued, and the running box sends it
    page.click(f"#vm-{case} a[href='/cases/{case}']")
    page.fill("#resolve textarea[name=note]", "已回电答复")
    page.click("#resolve button")
    page.wait_for_load_state()
    assert "已结案" in page.locator("#done").inner_text()
    sms = page.locator("#sms").inner_text()
    assert caller in sms and "已办结" in sms
    shoot(page, "case-resolved-real-call")

    def sent():
        page.reload()
        row = page.locator("#sms tr", has_text=caller).filter(has_text="已办结")
        return "已发送" in row.inner_text()
    wait_until(sent, 90, "the box to send the caller's resolution SMS")
    page.goto(web.url + "/audit")  # the clerk has no audit page; the head has
    assert page.locator("h1").inner_text() == "无法完成"
    context.close()
    head = browser.new_context(ignore_https_errors=True).new_page()
    login(head, web, "head")
    head.goto(web.url + "/audit")
    log = head.locator("#audit").inner_text()
    assert "播放留言" in log and "下载留言" in log and "结案" in log
    head.context.close()
    # the audit log reached upstream with the outbox: the box's uploader took the items the
    # page committed (it re-reads the outbox at least once a minute)
    logins = [i for i in rig.items("audit") if i["record"]["action"] == "login"]
    assert logins and logins[0]["record"]["user"] == "clerk"
    remote = rig.upstream_path(logins[0]["key"], "record.json")
    wait_until(remote.exists, 120, f"{remote} upstream")
    assert json.loads(remote.read_text(encoding="utf-8"))["action"] == "login"


def test_a_running_boxs_status_and_check_read_in_chinese_at_360_px(called, browser):
    """The status page with a real box's parts (modem, storage, spool, upstream), its last
    call, and `lawline check` on the settings page: Chinese for the clerk, the box's English
    folded under 技术信息, nothing cut off on a phone (issue 15, point 7)."""
    rig, web, result = called
    case = result["voicemail"]["record"]["case_number"]
    context = browser.new_context(ignore_https_errors=True, viewport=NARROW, locale="zh-CN")
    page = context.new_page()
    login(page, web, "head")
    found = {}
    for path in ("/", "/settings", "/calls", "/audit", f"/cases/{case}", "/voicemails"):
        page.goto(web.url + path)
        page.wait_for_load_state("networkidle")
        shoot(page, "360-real-box-" + (path.strip("/").replace("/", "-") or "status"))
        found[path] = (latin_words(page), cut_off(page))
    assert {p: f for p, f in found.items() if f != ([], [])} == {}
    page.goto(web.url + "/")
    parts = page.locator("#parts").inner_text()
    for words in ("电话模块", "数据库", "存储空间", "上报服务器"):
        assert words in parts, parts
    # what waits upstream is said once, from the outbox itself, the same on the card and
    # in the upstream part's row (never "everything delivered" beside a count)
    backlog = page.locator("#backlog").inner_text()
    upstream = page.locator("#parts tr", has_text="上报服务器").locator("td").nth(2)
    assert upstream.inner_text().startswith(backlog), (backlog, upstream.inner_text())
    assert page.locator("table.calls").inner_text().count(case) >= 1
    context.close()


def test_the_box_answers_calls_while_the_page_is_dead(called):
    rig, web, _ = called
    web.proc.proc.kill()                     # the page crashes (SIGKILL)
    web.proc.proc.wait(10)
    with realtime_lock():
        call = in_thread(run_call, rig, scenarios.hang_up_in_greeting)
    assert call["outcome"] == "abandoned"    # answered, greeting heard, caller hung up
    assert rig.procs["box"].alive()
