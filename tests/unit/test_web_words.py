"""What office staff read on the page (issue 15, point 7), as pure functions: the box's
parts and `lawline check` lines in Chinese (the box's English kept for the technician),
the audit log's details and people, case history in words with names from the rota, times
in [office] timezone whatever the host's; one audit row per listening of a recording; and a
form's body read only within its cap."""

import asyncio
import datetime as dt
import re

import pytest

from lawline.web import body, fmt, words
from lawline.web.listening import Listenings

LATIN = re.compile(r"[A-Za-z]{2,}")
ALLOWED = re.compile(r"\b(?:SIM|MB|CSV|XLSX|WAV)\b")

# Sentences a running box and `lawline check` write, as captured from a real run
REAL = [
    ("modem", "ok", "ready on /tmp/x/box-at (now /dev/pts/0) (SIMCom SIM7600 (USB audio on "
                    "interface 4 after AT+CPCMREG=1))"),
    ("modem 2", "fail", "no answer for 61 s after 3 resets; power cycling the module"),
    ("storage", "ok", "outbox.db and cases.db pass SQLite's integrity check"),
    ("spool", "ok", "spool /tmp/x/spool: 1.2 MB of 2048 MB used (0%), 81451 MB free on the "
                    "partition"),
    ("spool", "ok", "/tmp/x/spool: 77613 MB free"),
    ("upstream", "ok", "everything delivered"),
    ("upstream", "ok", "1 upload(s) waiting, the oldest 0.0 h"),
    ("upstream", "ok", "http://127.0.0.1:38497 answers (HTTP 404 to HEAD)"),
    ("outbox", "ok", "everything delivered"),
    ("config", "ok", "/tmp/x/lawline.toml is valid"),
    ("config", "warn", "still the example's lab values (set them for this office): [office] "
                       "number, [office] head_mobile, [duty] numbers"),
    ("pjsua2", "ok", "installed"),
    ("prompts", "fail", "50 of 52 prompts have no audio in /p/zh-CN: after_hours, ..."),
    ("clock", "warn", "system time zone is Etc/UTC, not the office's Asia/Shanghai ([office] "
                      "timezone): logs and case numbers use the system's; fix with ..."),
    ("clock", "warn", "not synchronised (no NTP yet): office hours, the rota and timestamps "
                      "may be wrong; check the network and `systemctl status ...`"),
    ("box", "ok", "running (pid 15568); its own view follows"),
    ("SIP", "ok", "listens on 127.0.0.1:39887 (UDP); no trunk: nothing outside a call is "
                  "answered; REFER and Replaces refused"),
    ("spool budget", "ok", "spool /tmp/x/spool: 1.4 MB of 2048 MB used (0%), 81382 MB free "
                           "on the partition"),
    ("target upstream", "ok", "http://127.0.0.1:38497/demo-county/{day}/{key}/{file}"),
    ("calendar", "warn", "no public-holiday data for 2027 yet: from 1 January the box would "
                         "treat every weekday as open; ..."),
    ("duty rota", "ok", "no rota files: key 1 and 3 ring [duty] numbers (13900000001)"),
    ("trunk", "fail", "SIP trunk sip:10.0.0.1 unregistered: 401 wrong password for user 0148"),
    ("something new", "warn", "a sentence no table knows"),
]


@pytest.mark.parametrize("part, state, message", REAL)
def test_each_part_and_check_line_reads_in_chinese(part, state, message):
    name, said = words.part_name(part), words.sentence(part, state, message)
    for text in (name, said, words.state_word(state)):
        assert re.search(r"[\u4e00-\u9fff]", text)
        assert not LATIN.search(ALLOWED.sub("", text)), text


def test_no_part_is_named_twice_or_in_english():
    assert words.part_name("storage") == "数据库" and words.part_name("spool") == "存储空间"
    assert words.part_name("modem 2") == "电话模块（线路2）"
    assert words.sentence("upstream", "ok", "everything delivered") == "全部已上报。"
    assert words.sentence("spool", "ok", REAL[3][2]) == "已用 1.2 MB（共 2048 MB，0%）。"
    assert words.sentence("something new", "fail", "x").startswith("出现故障")


def test_the_audit_log_says_who_and_what_in_chinese():
    assert words.audit_detail("login_failed", "unknown name, locked") == "该用户名暂时锁定中"
    assert words.audit_detail("user_added", "clerk") == "文员"
    assert words.audit_detail("account_locked", "5 wrong passwords, 60 s") == \
        "连续 5 次密码错误，锁定 1 分钟"
    assert words.audit_detail("rota_uploaded", "rota.csv: 6 rows, 2 people") == \
        "rota.csv：6 行，2 人"
    assert words.audit_detail("case_resolved", "已电话答复") == "已电话答复"
    assert words.audit_who("shell", "") == "命令行（设备上）"
    assert words.audit_who("-", "") == "（不明）"
    assert words.audit_who("li", "clerk") == "文员" and words.audit_who("li", "clerk", "李") == "李"
    assert words.audit_address("box") == "设备本机"
    assert all(not LATIN.search(w) for w in words.ACTION_WORDS.values())


def test_a_case_history_names_people_from_the_rota():
    names = {"13900000001": "张律师"}.get
    assert fmt.who("13900000001 by SMS", names) == "张律师（短信）"
    assert fmt.who("张律师 (13900000001) by SMS", names) == "张律师（短信）"
    assert fmt.who("王主任 (head) on the web page") == "王主任（网页）"
    assert fmt.who("box") == "设备" and fmt.who("shell") == "命令行（设备上）"
    assert fmt.note("reassigned to 13900000002") == "改派给 13900000002"
    assert fmt.shift_name("day") == "白班" and fmt.shift_name("早班") == "早班"


def test_times_are_the_offices_whatever_zone_the_host_is_in():
    t = dt.datetime(2026, 12, 1, 1, 30, tzinfo=dt.timezone.utc).timestamp()
    assert fmt.Formats("Asia/Shanghai").when(t) == "2026-12-01 09:30"
    assert fmt.Formats("Asia/Urumqi").when(t, seconds=True) == "2026-12-01 07:30:00"
    shanghai = fmt.Formats("Asia/Shanghai")
    # a call record written by a box whose system zone is UTC
    assert shanghai.iso_when("2026-12-01T16:30:05+0000") == "2026-12-02 00:30:05"
    assert shanghai.day_of("2026-12-01T16:30:05+0000") == dt.date(2026, 12, 2)
    assert shanghai.iso_when("garbage") == "garbage" and shanghai.when(None) == "-"
    assert "全部已上报" in fmt.backlog(0, None)
    assert fmt.backlog(29, 3700) == "待上报 29 项，最早的已等待 1小时1分；设备会自动重试，联网后自动补报。"


def test_one_listening_is_one_row_however_many_ranges():
    listens = Listenings(gap=600)
    who = ("li", "session-1")
    assert listens.begins(who, "2612010001", "voicemail_played", 1000.0)
    assert not listens.begins(who, "2612010001", "voicemail_played", 1001.0)
    assert not listens.begins(who, "2612010001", "voicemail_played", 1500.0)
    assert listens.begins(who, "2612010001", "voicemail_downloaded", 1500.0)
    assert listens.begins(("wang", "session-2"), "2612010001", "voicemail_played", 1500.0)
    assert listens.begins(who, "2612010002", "voicemail_played", 1500.0)
    assert listens.begins(who, "2612010001", "voicemail_played", 2101.0)   # after the gap


def test_listenings_remembered_are_bounded():
    listens = Listenings()
    for i in range(10000):
        listens.begins(("u", str(i)), "k", "voicemail_played", float(i))
    assert len(listens._last) <= 4096


class Receive:
    """An ASGI receive that hands out a body in chunks and counts what was taken."""

    def __init__(self, chunks):
        self.chunks, self.taken = list(chunks), 0

    async def __call__(self):
        self.taken += 1
        chunk = self.chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}


def _form(headers, receive, cap, files=False):
    from starlette.datastructures import Headers
    return asyncio.run(body.form(Headers(headers), receive, cap, files))


def test_a_body_said_to_be_too_large_is_not_read_at_all():
    receive = Receive([b"x" * 100] * 10)
    with pytest.raises(body.TooLarge):
        _form({"content-type": "application/x-www-form-urlencoded",
               "content-length": str(300 * 2 ** 20)}, receive, body.LOGIN_CAP)
    assert receive.taken == 0
    with pytest.raises(body.TooLarge):
        _form({"content-type": "application/x-www-form-urlencoded",
               "content-length": "lots"}, receive, body.LOGIN_CAP)
    assert receive.taken == 0


def test_a_streamed_body_is_cut_off_where_it_passes_its_cap():
    receive = Receive([b"a=" + b"x" * 1000] + [b"x" * 1024] * 1000)
    with pytest.raises(body.TooLarge):
        _form({"content-type": "application/x-www-form-urlencoded"}, receive, 4 * 1024)
    assert receive.taken == 5 and len(receive.chunks) == 996


def test_a_form_within_its_cap_is_read_and_a_file_stays_in_memory():
    got = _form({"content-type": "application/x-www-form-urlencoded"},
                Receive([b"note=%E5%B7%B2&seen=1.5"]), body.FORM_CAP)
    assert got["note"] == "已" and got["seen"] == "1.5"
    sheet = b"date,shift\n" * 150000          # 1.6 MB: past the parser's own 1 MB spill
    raw = (b"--b\r\nContent-Disposition: form-data; name=\"rota\"; filename=\"r.csv\"\r\n\r\n"
           + sheet + b"\r\n--b--\r\n")
    got = _form({"content-type": "multipart/form-data; boundary=b"}, Receive([raw]),
                body.UPLOAD_CAP, files=True)
    upload = got["rota"]
    assert upload.filename == "r.csv" and not upload.file._rolled      # never on disk
    assert asyncio.run(upload.read()) == sheet


def test_a_file_where_none_is_expected_is_no_form():
    raw = b"--b\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nx\r\n--b--\r\n"
    assert dict(_form({"content-type": "multipart/form-data; boundary=b"}, Receive([raw]),
                      body.FORM_CAP)) == {}
    with pytest.raises(body.BadForm):
        _form({"content-type": "multipart/form-data; boundary=b"}, Receive([b"junk"]),
              body.UPLOAD_CAP, files=True)


def _answer(app, headers, chunks, drain=False):
    """Run an ASGI request through body.CloseUnread; the response's headers."""
    sent = []

    async def inner(scope, receive, send):
        if drain:
            scope.setdefault("state", {})["drain"] = True
        await app(scope, receive, send)

    async def send(message):
        sent.append(message)
    scope = {"type": "http", "method": "POST", "headers": headers}
    asyncio.run(body.CloseUnread(inner)(scope, Receive(chunks), send))
    return dict(sent[0]["headers"])


def test_an_answer_to_a_body_not_read_to_its_end_closes_the_connection():
    async def refuse_unread(scope, receive, send):
        await send({"type": "http.response.start", "status": 401, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def read_all(scope, receive, send):
        while (await receive()).get("more_body"):
            pass
        await refuse_unread(scope, receive, send)
    huge = [(b"content-length", b"314572800")]
    assert _answer(refuse_unread, huge, [b"x"] * 3)[b"connection"] == b"close"
    assert b"connection" not in _answer(read_all, huge, [b"x"] * 3)
    assert b"connection" not in _answer(refuse_unread, [], [b""])          # no body at all
    assert b"connection" not in _answer(refuse_unread, huge, [b"x"] * 3, drain=True)
