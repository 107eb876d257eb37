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
