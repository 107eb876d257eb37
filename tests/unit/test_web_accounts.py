"""The office page's accounts (web/accounts.py) on a real SQLite file and a real outbox:
scrypt hashes, lock-out after wrong passwords, the per-address limit, idle sessions, and the
audit log committed to the outbox."""

import sqlite3

import pytest

from lawline.sync.outbox import Outbox
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


_MANY_LOGINS = r"""
import resource, sys, threading
from lawline.web.accounts import Accounts
a = Accounts(sys.argv[1], address_failures=1000)
a.add_user("wang", "head", "long-enough-1")
a.login("wang", "wrong", "10.0.0.1")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = threading.Barrier(16)
def one(i):
    start.wait()
    a.login("wang" if i % 2 else f"nobody{i}", "wrong", f"10.0.1.{i}")
threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
for t in threads: t.start()
for t in threads: t.join()
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


def test_parallel_logins_never_hash_more_than_a_few_passwords_at_once(tmp_path):
    # 16 log-ins at the same moment (uvicorn's pool runs up to 40): scrypt takes 16 MiB
    # each, so unbounded they would need 256 MiB more; the page's unit allows 200M in all
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-c", _MANY_LOGINS, str(tmp_path / "web.db")],
                          capture_output=True, text=True, timeout=120, check=True)
    grown_mib = int(done.stdout.strip())
    assert grown_mib < 80, f"peak memory grew by {grown_mib} MiB during 16 parallel log-ins"


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


def test_lawline_web_user_add_from_a_shell_keeps_web_db_private(tmp_path):
    import os
    import stat
    import subprocess
    import sys
    from lawline import config as configuration
    spool = tmp_path / "spool"
    cfg = tmp_path / "lawline.toml"
    cfg.write_text(configuration.dump({"spool": {"dir": str(spool)}}), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", "import os, sys; os.umask(0o022); from lawline.cli import main; "
         "sys.argv = ['lawline'] + sys.argv[1:]; sys.exit(main())", "web", "--config", str(cfg),
         "user", "add", "wang", "--role", "head", "--password-stdin"],
        input="long-enough-1\n", capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    made = [p for p in (spool / "web").iterdir() if p.name.startswith("web.db")]
    assert made
    for path in made + [spool / "web"]:
        assert stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0, (path, oct(os.stat(path).st_mode))


def test_lawline_web_user_add_as_root_leaves_web_db_to_the_service_user(tmp_path):
    """Run as root (as an installer would, and as CI does), the account tool gives web.db to
    the owner of the data directory, so the page (user lawline) can still write it."""
    import os
    import subprocess
    import sys
    from lawline import config as configuration
    assert os.geteuid() == 0, "this test runs as root, as the box's installer does"
    spool = tmp_path / "spool"
    spool.mkdir()
    os.chown(spool, 4242, 4243)                      # the service user's spool
    cfg = tmp_path / "lawline.toml"
    cfg.write_text(configuration.dump({"spool": {"dir": str(spool)}}), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "lawline", "web", "--config", str(cfg), "user", "add", "wang",
         "--role", "head", "--password-stdin"],
        input="long-enough-1\n", capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    made = [spool / "web", *(spool / "web").glob("web.db*")]
    assert len(made) >= 2
    assert {(os.stat(p).st_uid, os.stat(p).st_gid) for p in made} == {(4242, 4243)}
