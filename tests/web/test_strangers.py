"""The office page against strangers on the LAN (issue 15, point 3), over plain HTTPS to a
real `lawline web` on a real spool: no body is read before the session and its CSRF token
are checked, every body is capped while it streams (413, nothing on disk), lock-out is
time-limited and cannot keep the office head out, every byte range of a voicemail is
audited once per listening, a bad query value is a 400 in Chinese and never a 500, and a
clerk cannot tell a complaint's number from a free one."""

import re
import sqlite3
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from lawline_rig.webpage import add_user

from .client import Client, zeros
from .conftest import HEAD_MOBILE

MB = 1024 * 1024
HUGE = 300 * MB


def _multipart(boundary="lawline0148"):
    return {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def _upload_head(boundary="lawline0148", name="rota.csv"):
    return (f"--{boundary}\r\nContent-Disposition: form-data; name=\"rota\"; "
            f"filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n").encode()


def _chunks(first, total):
    yield first
    yield from zeros(total - len(first))


def test_a_strangers_huge_post_is_answered_before_a_byte_of_it_is_read(office):
    stranger = Client(office.page.url, source="127.0.0.21")
    for path in ("/duty/rota", "/cases/2612010001/resolve", "/users"):
        headers = dict(_multipart(), **{"Content-Length": str(HUGE)})
        status, page, sent = stranger.stream("POST", path, headers,
                                             _chunks(_upload_head(), HUGE), answer_within=10)
        # the log-in page, or the connection closed (its answer lost to the reset our bytes
        # in flight cause): either way at once, and the body not taken in
        assert status in (401, None) and (status is None or "登录" in page), (path, status)
        # what the page took before answering is what the kernel's buffers hold, not the body
        assert sent < 32 * MB, (path, sent)
        # nor does a body without a length get read (chunked)
        headers = dict(_multipart(), **{"Transfer-Encoding": "chunked"})
        chunked = (b"%x\r\n%s\r\n" % (len(c), c) for c in _chunks(_upload_head(), HUGE))
        status, page, sent = stranger.stream("POST", path, headers, chunked, answer_within=10)
        assert status in (401, None) and sent < 32 * MB, (path, status, sent)
    assert office.temporary_files() == []


def test_a_post_with_a_wrong_csrf_token_is_refused_before_its_body(office):
    clerk = Client(office.page.url, source="127.0.0.22")
    assert clerk.login("clerk", office.page.password("clerk"))[0] == 303
    headers = dict(_multipart(), **{"Content-Length": str(HUGE)})
    status, page, sent = clerk.stream("POST", "/duty/rota?csrf=not-the-token", headers,
                                      _chunks(_upload_head(), HUGE), answer_within=10)
    assert status in (403, None) and (status is None or "安全校验码" in page)
    assert sent < 32 * MB
    # (with a small body, nothing in flight, the answer always arrives)
    _, duty = clerk.request("GET", "/duty")
    status, page = clerk.request("POST", "/duty/rota?csrf=not-the-token", {"x": "y"})
    assert status == 403 and "安全校验码" in page
    # and a form from another site, with the right token, is refused before its body too
    action = clerk.action(duty, "rota-upload")
    headers["Origin"] = "https://evil.example"
    status, page, sent = clerk.stream("POST", action, headers, _chunks(_upload_head(), HUGE),
                                      answer_within=10)
    assert status in (403, None) and (status is None or "其他网站" in page) and sent < 32 * MB
    status, page = clerk.request("POST", action, {"x": "y"},
                                 headers={"Origin": "https://evil.example"})
    assert status == 403 and "其他网站" in page


def test_an_oversized_body_gets_413_while_it_streams_and_leaves_nothing_on_disk(office):
    before = office.rota.read_bytes()
    head = Client(office.page.url, source="127.0.0.23")
    assert head.login("head", office.page.password("head"))[0] == 303
    _, duty = head.request("GET", "/duty")
    action = head.action(duty, "rota-upload")
    # said to be too large: answered at once, nothing read
    headers = dict(_multipart(), **{"Content-Length": str(3 * MB)})
    status, page, sent = head.stream("POST", action, headers, _chunks(_upload_head(), 3 * MB),
                                     answer_within=10)
    assert status == 413 and "太大" in page and "2 MB" in page
    # not said (chunked): cut off where it passes the cap, not at its end
    headers = dict(_multipart(), **{"Transfer-Encoding": "chunked"})
    chunked = (b"%x\r\n%s\r\n" % (len(c), c) for c in _chunks(_upload_head(), HUGE))
    status, page, sent = head.stream("POST", action, headers, chunked, answer_within=20)
    assert status == 413 and sent < 40 * MB
    assert office.rota.read_bytes() == before
    assert office.temporary_files() == []
    # a case action's cap is small: a 100 KB note is refused, the case untouched
    case = office.open_case()
    _, page = head.request("GET", f"/cases/{case.number}")
    status, page = head.request("POST", head.action(page, "resolve"),
                                {"note": "长" * 50000, "seen": "0"})
    assert status == 413 and office.office.cases.get(case.number).state == "new"


def test_log_in_the_one_form_a_stranger_may_send_is_capped_tiny(office):
    stranger = Client(office.page.url, source="127.0.0.24")
    stranger.request("GET", "/login")
    action = "/login?" + urlencode({"csrf": stranger.cookies["lawline_login"]})
    status, page = stranger.request("POST", action, {"name": "head",
                                                     "password": "x" * 8000})
    assert status == 413 and "太长" in page
    # and without the log-in form's own token, not read at all
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "Content-Length": str(HUGE)}
    status, page, sent = stranger.stream("POST", "/login", headers, zeros(HUGE),
                                         answer_within=10)
    assert status in (403, None) and sent < 32 * MB


def _lock(office, name, source):
    stranger = Client(office.page.url, source=source)
    answers = [stranger.login(name, f"guess-{i}")[0] for i in range(office.cfg.web.max_failures)]
    assert answers[-1] == 423, answers
    return stranger


def test_a_stranger_locking_the_heads_name_does_not_keep_the_head_out(office):
    add_user(office.config_path, "boss", "head", "boss-password-0148", "赵局长", HEAD_MOBILE)
    # the head's own browser, where the head logged in before
    own = Client(office.page.url, source="127.0.0.31")
    assert own.login("boss", "boss-password-0148")[0] == 303
    assert "lawline_device" in own.cookies
    own.request("POST", "/logout?" + urlencode({"csrf": re.search(
        r'action="/logout\?csrf=([^"]+)"', own.request("GET", "/")[1])[1]}))
    # a stranger guesses five times: the name is locked ...
    stranger = _lock(office, "boss", "127.0.0.32")
    status, page = stranger.login("boss", "boss-password-0148")
    assert status == 423 and "分钟后再试" in page
    # ... for a while only, said in minutes, not until someone runs a shell command
    assert re.search(r"请在 1 分钟后再试", page), page[-2000:]
    # the head's own browser is not held by the lock
    assert own.login("boss", "boss-password-0148")[0] == 303
    # a new browser is; the head asks for an unlock code by SMS to [office] head_mobile
    fresh = Client(office.page.url, source="127.0.0.33")
    status, page = fresh.login("boss", "boss-password-0148")
    assert status == 423
    # a stranger asking for a code (without the password) sends nothing, and is told the
    # same as the head
    asked = stranger.ask_code("boss", "guess-again")
    assert asked[0] == 200 and "解锁码" in asked[1]
    assert _sms_to(office, HEAD_MOBILE, "解锁码") == []
    # the head asks, with the password
    status, page = fresh.ask_code("boss", "boss-password-0148")
    said = re.compile(r'id="code-sent">([^<]*)<')
    assert status == 200 and said.search(page)[1] == said.search(asked[1])[1]
    sms = _sms_to(office, HEAD_MOBILE, "解锁码")
    assert len(sms) == 1
    code = re.search(r"解锁码：(\d{6})", sms[0])[1]
    # asking again at once sends nothing more (no flooding the head's phone)
    fresh.ask_code("boss", "boss-password-0148")
    assert len(_sms_to(office, HEAD_MOBILE, "解锁码")) == 1
    # a stranger with the code but not the password gets in no more than before, and
    # spends none of the code's tries
    wrong = "0" * 6 if code != "0" * 6 else "1" * 6
    for _ in range(3):
        assert stranger.login("boss", "guess-again", code=code)[0] == 423
        assert stranger.login("boss", "guess-again", code=wrong)[0] == 423
    assert fresh.login("boss", "boss-password-0148", code=code)[0] == 303
    # the name is unlocked for everyone again
    assert stranger.login("boss", "boss-password-0148")[0] == 303
    actions = [r["action"] for r in office.audit_rows() if r["target"] == "boss"]
    assert "account_locked" in actions and "unlock_code_sent" in actions


def _sms_to(office, number, text):
    con = sqlite3.connect(f"file:{office.spool / 'cases.db'}?mode=ro", uri=True, timeout=10)
    try:
        return [r[0] for r in con.execute("SELECT text FROM sms WHERE number = ?", (number,))
                if text in r[0]]
    finally:
        con.close()


def test_lawline_web_user_unlock_lifts_a_lock_at_once(office):
    import subprocess
    import sys
    add_user(office.config_path, "wei", "clerk", "wei-password-0148", "魏文员")
    stranger = _lock(office, "wei", "127.0.0.34")
    done = subprocess.run([sys.executable, "-m", "lawline", "web", "--config",
                           str(office.config_path), "user", "unlock", "wei"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert stranger.login("wei", "wei-password-0148")[0] == 303


def _audio_rows(office, key):
    return [r for r in office.audit_rows()
            if r["target"] == key and r["action"] == "voicemail_played"]


def test_every_byte_range_of_a_voicemail_is_audited_once_per_listening(office):
    key = office.leave_voicemail(seconds=2.0)
    clerk = Client(office.page.url, source="127.0.0.41")
    assert clerk.login("clerk", office.page.password("clerk"))[0] == 303
    # a spelling of "from the start" the page once let through unaudited
    status, _ = clerk.request("GET", f"/voicemails/{key}/audio", headers={"Range": "bytes=00-"})
    assert status == 206
    assert len(_audio_rows(office, key)) == 1
    # the same listening goes on in other ranges: no second row
    for spec in ("bytes=100-", "bytes=0-", "bytes=-500", "bytes=2000-3000"):
        status, _ = clerk.request("GET", f"/voicemails/{key}/audio", headers={"Range": spec})
        assert status == 206, spec
    assert len(_audio_rows(office, key)) == 1
    # another person's listening, starting mid-file, is a row of its own
    head = Client(office.page.url, source="127.0.0.42")
    assert head.login("head", office.page.password("head"))[0] == 303
    status, _ = head.request("GET", f"/voicemails/{key}/audio", headers={"Range": "bytes=64-"})
    assert status == 206
    rows = _audio_rows(office, key)
    assert [r["user"] for r in rows] == ["clerk", "head"]
    # a download is audited as one
    status, _ = clerk.request("GET", f"/voicemails/{key}/audio?download=1")
    assert status == 200
    assert [r["action"] for r in office.audit_rows() if r["target"] == key].count(
        "voicemail_downloaded") == 1


def test_a_clerk_gets_the_same_answer_for_a_complaint_as_for_a_free_number(office):
    complaint = office.open_case("complaint")
    heard = office.leave_voicemail("complaint")
    free = str(int(complaint.number) + 7000)
    clerk = Client(office.page.url, source="127.0.0.43")
    assert clerk.login("clerk", office.page.password("clerk"))[0] == 303
    _, listing = clerk.request("GET", "/cases")
    action = clerk.action(listing, "rota-upload") if "rota-upload" in listing else None
    assert action is None
    csrf = re.search(r'action="/logout\?csrf=([^"]+)"', listing)[1]

    def answer(path, method="GET", form=None):
        status, page = clerk.request(method, path, form)
        body = re.search(r'<main>(.*)</main>', page, re.S)[1]
        return status, body
    for template, method in (("/cases/{}", "GET"), ("/cases/{}/resolve?csrf=" + csrf, "POST"),
                             ("/voicemails/{}/audio", "GET")):
        number = heard if "voicemails" in template else complaint.number
        real = answer(template.format(number), method, {"note": "x", "seen": "0"}
                      if method == "POST" else None)
        made_up = answer(template.format(free), method, {"note": "x", "seen": "0"}
                         if method == "POST" else None)
        assert real[0] == made_up[0] == 404, (template, real[0], made_up[0])
        assert real[1].replace(number, "N") == made_up[1].replace(free, "N"), template


# -- bad query values ---------------------------------------------------------------------------

def _get_routes(office):
    """Every GET page of the running page's app with its query parameters, from the app's own
    routes (a page added later is fuzzed too)."""
    from lawline.web import officepages, pages
    out = []
    for path, handler, methods, roles in pages.ROUTES + officepages.ROUTES:
        if "GET" in methods:
            out.append((path, getattr(handler, "query", {})))
    return out


def _concrete(path, office, key):
    return (path.replace("{number}", key).replace("{key}", key)
            .replace("{format:str}", "csv"))


@pytest.fixture(scope="module")
def fuzzer(office):
    key = office.leave_voicemail()
    head = Client(office.page.url, source="127.0.0.51")
    assert head.login("head", office.page.password("head"))[0] == 303
    return head, key


def test_the_dates_that_gave_500_get_400_in_chinese(office, fuzzer):
    head, _ = fuzzer
    for path in ("/calls?end=9999-12-31", "/calls?start=0001-01-01", "/calls?start=2099-12-31",
                 "/reports?kind=month&start=9999-12-01", "/reports?start=0001-01-01",
                 "/reports/download.csv?start=9999-12-31", "/voicemails?day=10000-01-01",
                 "/cases?page=99999999999999999999", "/calls?start=2026-12-01&end=2026-01-01"):
        status, page = head.request("GET", path)
        assert status == 400, (path, status)
        message = re.search(r'id="refused">([^<]*)<', page)[1]
        assert re.search(r"[\u4e00-\u9fff]", message) and not re.search(r"[A-Za-z]{3,}",
                                                                         message), message


_VALUES = st.one_of(
    st.text(max_size=40),
    st.dates().map(str),
    st.integers().map(str),
    st.sampled_from(["", "0", "1", "-1", "open", "all", "week", "month", "csv", "%00",
                     "2026-02-30", "9999-12-31", "0001-01-01", "2099-12-31", "1e9", " 1",
                     "NaN", "../../etc/passwd", "\u202e", "a" * 5000]))


def test_no_query_value_on_any_page_gives_a_500(office, fuzzer):
    head, key = fuzzer
    routes = _get_routes(office)
    names = sorted({n for _, spec in routes for n in spec} | {"next", "unknown"})
    assert {"start", "end", "day", "page", "kind", "state", "owner", "box", "download",
            "done", "overdue"} <= set(names)

    @settings(max_examples=150, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(route=st.sampled_from(routes), params=st.lists(st.tuples(
        st.sampled_from(names), _VALUES), max_size=4))
    def one(route, params):
        path, spec = route
        url = _concrete(path, office, key) + "?" + "&".join(
            f"{quote(k)}={quote(v, safe='')}" for k, v in params)
        status, page = head.request("GET", url)
        assert status in (200, 206, 400, 404, 410), (url, status, page[-1500:])
        if status == 400:
            message = re.search(r'id="refused">([^<]*)<', page)[1]
            assert re.search(r"[\u4e00-\u9fff]", message), (url, message)
    one()
    assert "Traceback" not in office.page.log_text()
