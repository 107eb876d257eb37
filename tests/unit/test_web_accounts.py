"""The office page's accounts (web/accounts.py) on a real SQLite file and a real outbox:
scrypt hashes, lock-out after wrong passwords, the per-address limit, idle sessions, and the
audit log committed to the outbox. (`lawline web user add` and log-ins measured in a process
of their own: tests/commands/test_web_accounts_shell.py.)"""

import sqlite3

import pytest

from lawline.sync.outbox import Outbox
from lawline.web import accounts as accounts_module
from lawline.web.accounts import AccountError, Accounts, check_password, hash_password


@pytest.fixture
def accounts(tmp_path):
    a = Accounts(tmp_path / "web.db", session_minutes=30, max_failures=5, address_failures=8)
    a.add_user("wang", "head", "long-enough-1", "王主任", "13900000009")
    yield a
    a.close()


def test_passwords_are_scrypt_hashes_with_their_own_salt():
    one, two = hash_password("秘密口令123"), hash_password("秘密口令123")
    assert one.startswith("scrypt$16384$8$1$") and one != two
    assert check_password("秘密口令123", one) and not check_password("秘密口令124", one)
    assert not check_password("x", "md5$nonsense")


def test_bad_accounts_are_refused_in_chinese(accounts):
    with pytest.raises(AccountError, match="已存在"):
        accounts.add_user("wang", "clerk", "long-enough-2")
    with pytest.raises(AccountError, match="密码至少8位"):
        accounts.add_user("li", "clerk", "short")
    with pytest.raises(AccountError, match="角色"):
        accounts.add_user("li", "admin", "long-enough-2")
    with pytest.raises(AccountError, match="用户名"):
        accounts.add_user("li wei", "clerk", "long-enough-2")


def test_five_wrong_passwords_lock_until_unlocked(accounts):
    for _ in range(4):
        assert accounts.login("wang", "wrong", "10.0.0.2") == (None, "wrong")
    assert accounts.login("wang", "wrong", "10.0.0.2") == (None, "locked")
    assert accounts.login("wang", "long-enough-1", "10.0.0.2") == (None, "locked")
    accounts.unlock("wang")
    token, why = accounts.login("wang", "long-enough-1", "10.0.0.2")
    assert why is None and accounts.session(token).user.name == "wang"
    assert accounts.user("wang").failures == 0


def test_one_address_gets_a_limited_number_of_tries_across_names(accounts):
    for i in range(8):
        assert accounts.login(f"nobody{i}", "wrong", "10.0.0.66")[1] == "wrong"
    assert accounts.login("wang", "long-enough-1", "10.0.0.66") == (None, "address")
    assert accounts.login("wang", "long-enough-1", "10.0.0.7")[1] is None


def test_an_idle_session_ends(accounts, tmp_path):
    token, _ = accounts.login("wang", "long-enough-1", "10.0.0.2")
    assert accounts.session(token) is not None
    con = sqlite3.connect(str(tmp_path / "web.db"))
    con.execute("UPDATE sessions SET seen = seen - 31 * 60")
    con.commit()
    con.close()
    assert accounts.session(token) is None
    assert accounts.session("made-up-token") is None


def test_a_busy_session_still_ends_a_working_day_after_its_log_in(accounts, tmp_path):
    token, _ = accounts.login("wang", "long-enough-1", "10.0.0.2")
    con = sqlite3.connect(str(tmp_path / "web.db"))
    con.execute("UPDATE sessions SET created = created - 11 * 3600")   # seen just now
    con.commit()
    assert accounts.session(token) is not None
    con.execute("UPDATE sessions SET created = created - 3600")         # 12 h and more
    con.commit()
    con.close()
    assert accounts.session(token) is None


def test_lock_out_does_not_tell_which_names_exist(accounts):
    # the same wrong tries, from different addresses, on a name that is an account and on one
    # that is not: the answers are the same, try for try
    real = [accounts.login("wang", "wrong", f"10.0.1.{i}")[1] for i in range(7)]
    made_up = [accounts.login("wangwei", "wrong", f"10.0.2.{i}")[1] for i in range(7)]
    assert real == made_up == ["wrong"] * 4 + ["locked"] * 3
    # a name tried before it was an account starts clean once the head adds it
    accounts.add_user("wangwei", "clerk", "long-enough-3")
    assert accounts.login("wangwei", "long-enough-3", "10.0.3.1")[1] is None


def test_the_audit_log_goes_into_the_outbox_once_there_is_one(tmp_path):
    a = Accounts(tmp_path / "web.db", office_id="county-0148")
    a.audit("wang", "head", "10.0.0.2", "case_resolved", "2612010001", "已答复")
    assert a.audit_entries()[0]["sent"] == 0
    outbox = Outbox(tmp_path / "spool" / "outbox.db", tmp_path / "spool", ["upstream"])
    a.outbox = outbox
    assert a.forward() == 1 and a.forward() == 0
    pending = outbox.pending()
    assert [p.kind for p in pending] == ["audit"]
    record = outbox.get(pending[0].key).record
    assert record["action"] == "case_resolved" and record["office"] == "county-0148"
    assert record["detail"] == "已答复"
    assert a.audit_entries()[0]["sent"] == 1
    outbox.close()
    a.close()


def test_tries_on_a_locked_account_count_against_the_address(accounts):
    accounts.add_user("li", "clerk", "long-enough-2")
    for _ in range(5):
        accounts.login("li", "wrong", "10.0.0.5")
    assert accounts.user("li").locked
    # 5 counted so far (address limit 8): three more on the locked account use it up
    for _ in range(3):
        assert accounts.login("li", "anything", "10.0.0.5") == (None, "locked")
    assert accounts.login("wang", "long-enough-1", "10.0.0.5") == (None, "address")


def test_failed_logins_are_audited_and_odd_names_cut_short(accounts):
    accounts.login("wang", "wrong", "10.0.0.2")
    accounts.login("x" * 5000, "wrong", "10.0.0.2")
    failed = [e for e in accounts.audit_entries() if e["action"] == "login_failed"]
    assert [(e["user"], e["detail"]) for e in failed] == [("-", "unknown name"),
                                                         ("wang", "wrong password")]
    assert failed[0]["target"] == "x" * 64


def test_a_new_password_ends_the_users_sessions(accounts):
    token, _ = accounts.login("wang", "long-enough-1", "10.0.0.2")
    accounts.add_user("li", "clerk", "long-enough-2")
    other, _ = accounts.login("li", "long-enough-2", "10.0.0.2")
    accounts.set_password("wang", "a-new-password-0148")
    assert accounts.session(token) is None
    assert accounts.session(other) is not None


def test_wrong_passwords_sent_in_parallel_each_count_toward_the_lock(tmp_path):
    import threading
    a = Accounts(tmp_path / "web.db", max_failures=5, address_failures=1000)
    a.add_user("wang", "head", "long-enough-1")
    start = threading.Barrier(12)
    answers = []

    def guess(i):
        start.wait()
        answers.append(a.login("wang", f"guess-{i}", f"10.0.2.{i}")[1])
    threads = [threading.Thread(target=guess, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    user = a.user("wang")
    # the fifth wrong one locks it; later ones find it locked (before or after hashing)
    assert user.locked and user.failures >= 5, (user.failures, answers)
    assert answers.count("wrong") == 4 and answers.count("locked") == 8, answers
    locks = [e for e in a.audit_entries() if e["action"] == "account_locked"]
    assert len(locks) == 1
    a.close()


# -- locks that end, and ways back in (issue 15) ---------------------------------------------

class Clock:
    def __init__(self, now=1_800_000_000.0):
        self.now = now

    def __call__(self):
        return self.now

    def pass_(self, seconds):
        self.now += seconds


@pytest.fixture
def timed(tmp_path, monkeypatch):
    # light hashes: these tests count tries, not scrypt's cost (tested above)
    monkeypatch.setitem(accounts_module.SCRYPT, "n", 2 ** 8)
    clock, texts = Clock(), []
    a = Accounts(tmp_path / "web.db", max_failures=5, address_failures=1000, clock=clock,
                 head_mobile="13900000009", sms=lambda n, t: texts.append((n, t)),
                 office_name="某县法律服务专线")
    a.add_user("wang", "head", "long-enough-1", "王主任")
    a.add_user("li", "clerk", "long-enough-2", "李文员", "13900000005")
    a.clock_, a.texts = clock, texts
    yield a
    a.close()


def _guess(a, name, times, address="10.0.9.9"):
    return [a.login(name, f"guess-{i}", address)[1] for i in range(times)]


def test_a_lock_ends_by_itself_and_each_next_one_lasts_twice_as_long(timed):
    clock = timed.clock_
    for length in (60, 120, 240, 480, 960, 1920, 3600, 3600):
        assert _guess(timed, "li", 5)[-1] == "locked"
        assert timed.locked_until("li") == clock.now + length
        clock.pass_(length - 1)
        assert timed.login("li", "long-enough-2", "10.0.0.5") == (None, "locked")
        clock.pass_(1)
        assert timed.locked_until("li") is None
    # the right password forgets the strikes: the next lock is a minute again
    assert timed.login("li", "long-enough-2", "10.0.0.5")[1] is None
    _guess(timed, "li", 5)
    assert timed.locked_until("li") == clock.now + 60


def test_strikes_are_forgotten_after_a_quiet_day(timed):
    _guess(timed, "li", 5)
    timed.clock_.pass_(60)
    _guess(timed, "li", 5)
    assert timed.locked_until("li") == timed.clock_.now + 120
    timed.clock_.pass_(86400 + 121)
    assert _guess(timed, "li", 4) == ["wrong"] * 4     # counted afresh, not the 11th in a row
    assert _guess(timed, "li", 1) == ["locked"]
    assert timed.locked_until("li") == timed.clock_.now + 60


def test_an_address_waits_ten_minutes_then_twice_as_long(tmp_path, monkeypatch):
    monkeypatch.setitem(accounts_module.SCRYPT, "n", 2 ** 8)
    clock = Clock()
    a = Accounts(tmp_path / "web.db", max_failures=1000, address_failures=8, clock=clock)
    a.add_user("wang", "head", "long-enough-1")
    assert _guess(a, "wang", 8, "10.0.0.66")[-1] == "wrong"
    assert a.login("wang", "long-enough-1", "10.0.0.66") == (None, "address")
    assert a.address_locked_until("10.0.0.66") == clock.now + 600
    assert a.login("wang", "long-enough-1", "10.0.0.7")[1] is None      # others are not held
    clock.pass_(600)
    _guess(a, "wang", 8, "10.0.0.66")
    assert a.address_locked_until("10.0.0.66") == clock.now + 1200
    a.unlock_address("10.0.0.66")
    assert a.login("wang", "long-enough-1", "10.0.0.66")[1] is None
    a.close()


def test_a_browser_that_logged_in_before_is_not_held_by_a_strangers_lock(timed):
    token, _ = timed.login("wang", "long-enough-1", "10.0.0.2")
    device = timed.remember_device("wang")
    _guess(timed, "wang", 5, "10.6.6.6")
    assert timed.locked_until("wang")
    # the head's own browser gets in; a new one does not
    assert timed.login("wang", "long-enough-1", "10.0.0.2", devices=[device])[1] is None
    assert timed.login("wang", "long-enough-1", "10.0.0.3") == (None, "locked")
    # the lock never ended the head's live session either
    assert timed.session(token) is not None
    # a device cookie of another account, or made up, counts for nothing
    other = timed.remember_device("li")
    assert timed.login("wang", "long-enough-1", "10.0.0.3", devices=[other, "x" * 30]) == \
        (None, "locked")
    # a stolen device cookie gives five guesses of its own, then it is forgotten
    assert [timed.login("wang", "nope", "10.0.0.2", devices=[device])[1]
            for _ in range(5)] == ["wrong"] * 5
    assert timed.login("wang", "long-enough-1", "10.0.0.2", devices=[device]) == \
        (None, "locked")


def test_the_head_gets_an_unlock_code_by_sms_and_only_with_the_password(timed):
    _guess(timed, "wang", 5, "10.6.6.6")
    # a stranger asking (wrong password) makes no phone ring
    assert timed.request_unlock_code("wang", "guess", "10.6.6.6") is False
    assert timed.texts == []
    assert timed.request_unlock_code("wang", "long-enough-1", "10.0.0.3") is True
    [(number, text)] = timed.texts
    assert number == "13900000009" and "某县法律服务专线" in text and "15分钟" in text
    code = __import__("re").search(r"解锁码：(\d{6})", text)[1]
    # at most one each 10 minutes
    assert timed.request_unlock_code("wang", "long-enough-1", "10.0.0.3") is False
    # the code with a wrong password, or a wrong code, is refused alike; a stranger cannot
    # spend the code's tries without the password
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(10):
        assert timed.login("wang", "guess", "10.6.6.6", code=code) == (None, "code")
        assert timed.login("wang", "guess", "10.6.6.6", code=wrong) == (None, "code")
    token, why = timed.login("wang", "long-enough-1", "10.0.0.3", code=code)
    assert why is None and timed.locked_until("wang") is None
    # a code is good once
    _guess(timed, "wang", 5, "10.6.6.6")
    assert timed.login("wang", "long-enough-1", "10.0.0.3", code=code) == (None, "code")
    assert [e["action"] for e in timed.audit_entries()].count("unlock_code_sent") == 1


def test_unlock_codes_expire_are_capped_a_day_and_go_only_to_heads(timed):
    _guess(timed, "li", 5)
    assert timed.request_unlock_code("li", "long-enough-2", "10.0.0.5") is False  # a clerk
    assert timed.request_unlock_code("nobody", "long-enough-2", "10.0.0.5") is False
    sent = 0
    for _ in range(8):
        _guess(timed, "wang", 5, "10.6.6.6")
        sent += timed.request_unlock_code("wang", "long-enough-1", "10.0.0.3")
        timed.clock_.pass_(601)
    assert sent == 5 and len(timed.texts) == 5
    code = __import__("re").search(r"解锁码：(\d{6})", timed.texts[-1][1])[1]
    timed.clock_.pass_(900)
    _guess(timed, "wang", 5, "10.6.6.6")
    assert timed.login("wang", "long-enough-1", "10.0.0.3", code=code) == (None, "code")


def test_an_ended_session_is_known_for_a_day_so_a_form_it_sent_can_be_shown_back(timed):
    token, _ = timed.login("wang", "long-enough-1", "10.0.0.2")
    live = timed.session(token)
    assert timed.ended_session(token) is None
    timed.clock_.pass_(31 * 60)
    assert timed.session(token) is None
    ended = timed.ended_session(token)
    assert ended is not None and ended.csrf == live.csrf
    timed.clock_.pass_(86400)
    assert timed.ended_session(token) is None
    assert timed.ended_session("made-up") is None
