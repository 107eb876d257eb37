"""Accounts, sessions, login throttling and the audit log of the office's page.

One SQLite file (`web.db` in [web] data_dir, WAL), apart from the box's databases: the
page's users are not the box's business, and the box never opens it.

Passwords are hashed with scrypt from the standard library (hashlib.scrypt, memory-hard:
N=2**14, r=8 takes 16 MiB per hash, so a stolen web.db cannot be guessed on a GPU at the
speed of a plain hash; no extra package to build on a Pi). Session tokens are random; only
their SHA-256 is stored, so the file holds nothing a browser could present.

Roles (ROLES): the office head (负责人) sees and does everything, including complaints,
accounts and the audit log; clerks (文员) and duty staff (值班人员) never see complaints,
which may be about them (DESIGN.md, Security; field.md (b) 7).

Wrong passwords lock a name, and an address, for a while that grows with each lock
(lockout.py), never for ever. A stranger who keeps a name locked cannot keep its owner out:
a browser that logged in with that name before carries a device cookie (OWASP's "device
cookies" against lock-out attacks) and is not held by the name's lock, only by its own
count of wrong passwords; the office head can also ask for an unlock code by SMS to
[office] head_mobile; and `lawline web user unlock NAME` or the head's page lift a lock.
"""

import base64
import concurrent.futures
import hashlib
import hmac
import logging
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ..errors import LawlineError
from . import lockout

log = logging.getLogger("lawline.web")
T = TypeVar("T")

ROLES = {"head": "负责人", "clerk": "文员", "duty": "值班人员"}
_NAME = re.compile(r"[A-Za-z0-9._-]{1,32}")
SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}
ADDRESS_WINDOW = lockout.ADDRESS_WINDOW
MIN_PASSWORD = 8
TOUCH_EVERY = 20.0             # seconds: how stale a session's last-seen time may be kept
# A session ends this long after its log-in however busy it is (a stolen cookie is not good
# for ever); a working day, so staff log in once a morning.
SESSION_LIFETIME = 12 * 3600.0
# An ended session is remembered this long, so a form sent after it ended can be shown back
# as typed (its CSRF token is checked first: a stranger's post is never read).
ENDED_KEPT = 86400.0
DEVICE_LIFETIME = 180 * 86400.0   # a device cookie, from its log-in
DEVICES_PER_BROWSER = 5           # device cookies one browser keeps (a shared office PC)
CODE_VALID = 900.0                # an unlock code by SMS, from its sending
CODE_TRIES = 5
CODE_EVERY = 600.0                # at most one code each 10 minutes, and
CODES_PER_DAY = 5                 # five a day, so strangers cannot flood the head's phone
MAX_PASSWORD = 256                # longer is no password anyone types (and scrypt costs)
# scrypt runs in two threads of its own: each hash takes 16 MiB, and uvicorn's thread pool
# would run 40 log-ins at once (640 MiB against the unit's MemoryMax=200M: the page killed by
# one script), and every thread that ever hashed would keep its 16 MiB in its malloc arena
_HASHING = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="scrypt")


def _scrypt(password: str, salt: bytes, *, n: int, r: int, p: int) -> bytes:
    return _HASHING.submit(hashlib.scrypt, password.encode("utf-8"), salt=salt, dklen=32,
                           n=n, r=r, p=p).result()

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users(
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    display TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL,
    mobile TEXT NOT NULL DEFAULT '',
    password TEXT NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    locked REAL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions(
    token TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    csrf TEXT NOT NULL,
    created REAL NOT NULL,
    seen REAL NOT NULL,
    address TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS address_failures(
    address TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS address_failures_at ON address_failures(address, at);
CREATE TABLE IF NOT EXISTS name_locks(
    name TEXT PRIMARY KEY,          -- an account's or not: both are locked alike
    failures INTEGER NOT NULL DEFAULT 0,    -- wrong passwords in a row (a log-in clears)
    strikes INTEGER NOT NULL DEFAULT 0,     -- locks so far: the next one lasts longer
    locked_until REAL,
    last_failure REAL
);
CREATE TABLE IF NOT EXISTS address_locks(
    address TEXT PRIMARY KEY,
    strikes INTEGER NOT NULL DEFAULT 0,
    locked_until REAL,
    last_failure REAL
);
CREATE TABLE IF NOT EXISTS devices(
    token TEXT PRIMARY KEY,         -- SHA-256 of the cookie's token
    user_id INTEGER NOT NULL REFERENCES users(id),
    created REAL NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS unlock_codes(
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    code TEXT NOT NULL,             -- salt$SHA-256(salt + code)
    created REAL NOT NULL,
    tries INTEGER NOT NULL DEFAULT 0,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS audit(
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    user TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '',
    sent INTEGER NOT NULL DEFAULT 0
);
"""


class AccountError(LawlineError, ValueError):
    """A user that does not exist, a bad name, role or password (message in Chinese for
    the page, since the head creates users there too)."""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    display: str
    role: str
    mobile: str
    failures: int
    locked: float | None        # when the name's lock ends, or None

    @property
    def head(self) -> bool:
        return self.role == "head"

    @property
    def sees_complaints(self) -> bool:
        return self.role == "head"

    @property
    def label(self) -> str:
        return self.display or self.name


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    seen: float


def _check_password(password: str | None) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(f"密码至少{MIN_PASSWORD}位")
    assert password is not None         # it has MIN_PASSWORD characters
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"密码最多{MAX_PASSWORD}位")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, n=SCRYPT["n"], r=SCRYPT["r"], p=SCRYPT["p"])
    return "scrypt${n}${r}${p}$".format(**SCRYPT) + \
        base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = _scrypt(password, base64.b64decode(salt), n=int(n), r=int(r), p=int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


# A hash to check against when the name is unknown, so a wrong name costs the same time as
# a wrong password and the page does not tell which names exist.
_DUMMY = hash_password(secrets.token_hex(8))


class AuditOutbox(Protocol):
    """Where audit entries go upstream: the box's outbox (sync/outbox.Outbox)."""
    def commit(self, key: str, kind: str, record: dict[str, Any],
               files: dict[str, Path]) -> object: ...


class Accounts:
    def __init__(self, db_path: str | Path, session_minutes: float = 30.0,
                 max_failures: int = 5, address_failures: int = 20,
                 outbox: AuditOutbox | None = None, office_id: str = "",
                 head_mobile: str = "", sms: Callable[[str, str], object] | None = None,
                 office_name: str = "", clock: Callable[[], float] = time.time) -> None:
        """`sms(number, text)` queues a text (the box's SMS queue); without it, and without
        `head_mobile` or a head account's own mobile, no unlock code is ever sent. `clock`:
        the time, for tests of the locks' lengths."""
        self.clock = clock
        self.db_path = Path(db_path)
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self.session_seconds = session_minutes * 60
        self.max_failures = max_failures
        self.address_failures = address_failures
        self.outbox = outbox
        self.office_id = office_id
        self.head_mobile = head_mobile
        self.sms = sms
        self.office_name = office_name
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.db_path), check_same_thread=False,
                                   isolation_level=None, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        with self._lock:
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def _tx(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                out = fn(self._db)
                self._db.execute("COMMIT")
                return out
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # -- users ------------------------------------------------------------------------

    def add_user(self, name: str, role: str, password: str, display: str = "",
                 mobile: str = "") -> User:
        if not _NAME.fullmatch(name or ""):
            raise AccountError(f"用户名 {name!r} 只能用字母、数字、点、下划线或减号（1-32个）")
        if role not in ROLES:
            raise AccountError(f"角色 {role!r} 不存在；可选：{', '.join(ROLES)}")
        _check_password(password)
        if mobile and not re.fullmatch(r"\+?[0-9]{5,20}", mobile):
            raise AccountError(f"手机号 {mobile!r} 不是电话号码")
        hashed = hash_password(password)

        def add(db: sqlite3.Connection) -> None:
            db.execute("INSERT INTO users (name, display, role, mobile, password, created) "
                       "VALUES (?,?,?,?,?,?)", (name, display or "", role, mobile or "",
                                                hashed, self.clock()))
            # a name tried (and locked) before it was an account starts clean
            db.execute("DELETE FROM name_locks WHERE name = ?", (name,))
        try:
            self._tx(add)
        except sqlite3.IntegrityError:
            raise AccountError(f"用户 {name} 已存在") from None
        log.info("web: user %s added (%s)", name, role)
        user = self.user(name)
        assert user is not None             # just added
        return user

    def set_password(self, name: str, password: str) -> None:
        _check_password(password)
        user = self._require(name)
        hashed = hash_password(password)

        def change(db: sqlite3.Connection) -> int:
            db.execute("UPDATE users SET password = ? WHERE id = ?", (hashed, user.id))
            # a new password ends every session the old one opened (a stolen cookie too),
            # and every browser it was remembered in
            db.execute("DELETE FROM devices WHERE user_id = ?", (user.id,))
            return db.execute("DELETE FROM sessions WHERE user_id = ?", (user.id,)).rowcount
        ended = self._tx(change)
        log.info("web: password of %s set; %d session(s) ended", name, ended)

    _USER = ("SELECT u.id, u.name, u.display, u.role, u.mobile, COALESCE(n.failures, 0), "
             "CASE WHEN n.locked_until > ? THEN n.locked_until END FROM users u "
             "LEFT JOIN name_locks n ON n.name = u.name")

    def user(self, name: str) -> User | None:
        with self._lock:
            row = self._db.execute(self._USER + " WHERE u.name = ?",
                                   (self.clock(), name)).fetchone()
        return User(*row) if row else None

    def users(self) -> list[User]:
        with self._lock:
            rows = self._db.execute(self._USER + " ORDER BY u.name", (self.clock(),)).fetchall()
        return [User(*r) for r in rows]

    def _require(self, name: str) -> User:
        user = self.user(name)
        if user is None:
            raise AccountError(f"没有用户 {name}")
        return user

    def unlock(self, name: str) -> None:
        """Lift the lock of an account's name (and forget its strikes)."""
        self._require(name)
        self._tx(lambda db: db.execute("DELETE FROM name_locks WHERE name = ?", (name,)))
        log.info("web: user %s unlocked", name)

    def unlock_address(self, address: str) -> None:
        self._tx(lambda db: (db.execute("DELETE FROM address_locks WHERE address = ?",
                                        (address,)),
                             db.execute("DELETE FROM address_failures WHERE address = ?",
                                        (address,))))
        log.info("web: address %s unlocked", address)

    # -- locks ------------------------------------------------------------------------

    def locked_until(self, name: str, now: float | None = None) -> float | None:
        """When the lock of `name` ends (a time), or None when it is not locked."""
        now = self.clock() if now is None else now
        with self._lock:
            row = self._db.execute("SELECT locked_until FROM name_locks WHERE name = ?",
                                   (name,)).fetchone()
        return row[0] if row and row[0] and row[0] > now else None

    def address_locked_until(self, address: str,
                             now: float | None = None) -> float | None:
        now = self.clock() if now is None else now
        with self._lock:
            row = self._db.execute("SELECT locked_until FROM address_locks WHERE address = ?",
                                   (address,)).fetchone()
        return row[0] if row and row[0] and row[0] > now else None

    def address_blocked(self, address: str, now: float | None = None) -> bool:
        return self.address_locked_until(address, now) is not None

    def _address_failure(self, db: sqlite3.Connection, address: str, now: float) -> bool:
        """Count one wrong try from `address` (in the write transaction); True when it
        locked the address now."""
        db.execute("INSERT INTO address_failures (address, at) VALUES (?, ?)", (address, now))
        db.execute("DELETE FROM address_failures WHERE at < ?", (now - ADDRESS_WINDOW,))
        count = db.execute("SELECT COUNT(*) FROM address_failures WHERE address = ? AND at > ?",
                           (address, now - ADDRESS_WINDOW)).fetchone()[0]
        if count < self.address_failures:
            return False
        row = db.execute("SELECT strikes, last_failure FROM address_locks WHERE address = ?",
                         (address,)).fetchone()
        strikes, last = row or (0, None)
        strike = lockout.strikes_now(strikes, last, now) + 1
        until = now + lockout.address_lock(strike)
        db.execute("INSERT INTO address_locks (address, strikes, locked_until, last_failure) "
                   "VALUES (?,?,?,?) ON CONFLICT(address) DO UPDATE SET strikes = excluded."
                   "strikes, locked_until = excluded.locked_until, last_failure = excluded."
                   "last_failure", (address, strike, until, now))
        # after the lock, a fresh window: the next lock comes after as many tries, and lasts
        # twice as long
        db.execute("DELETE FROM address_failures WHERE address = ?", (address,))
        log.warning("web: address %s locked for %.0f s after %d wrong passwords within %.0f "
                    "min (lock %d)", address, until - now, count, ADDRESS_WINDOW / 60, strike)
        return True

    def _name_failure(self, db: sqlite3.Connection, name: str,
                      now: float) -> tuple[str | None, float | None]:
        """Count one wrong password for `name`: None, 'locked' (it already was, by a guess
        sent at the same time) or 'locked now' (with how long)."""
        row = db.execute("SELECT failures, strikes, locked_until, last_failure FROM name_locks "
                         "WHERE name = ?", (name,)).fetchone()
        failures, strikes, until, last = row or (0, 0, None, None)
        if until and until > now:
            return "locked", until
        if lockout.strikes_now(1, last, now) == 0:     # a day without a wrong password
            failures, strikes = 0, 0
        failures += 1
        if failures % self.max_failures == 0:     # the 5th, 10th ... wrong one in a row
            strikes += 1
            until = now + lockout.name_lock(strikes)
        else:
            until = None
        db.execute("INSERT INTO name_locks (name, failures, strikes, locked_until, last_failure) "
                   "VALUES (?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET failures = excluded."
                   "failures, strikes = excluded.strikes, locked_until = excluded.locked_until, "
                   "last_failure = excluded.last_failure", (name, failures, strikes, until, now))
        return ("locked now", until) if until else (None, None)

    # -- devices (browsers that logged in before) ----------------------------------------

    def _device(self, user: User | None, tokens: Iterable[str], now: float) -> str | None:
        """The digest of the first of `tokens` that is a live device cookie of `user`."""
        if user is None:
            return None
        for token in list(tokens)[:DEVICES_PER_BROWSER]:
            if not token or len(token) > 64:
                continue
            with self._lock:
                row = self._db.execute("SELECT user_id, created, failures FROM devices WHERE "
                                       "token = ?", (_digest(token),)).fetchone()
            if row and row[0] == user.id and now - row[1] < DEVICE_LIFETIME and \
                    row[2] < self.max_failures:
                return _digest(token)
        return None

    def remember_device(self, name: str) -> str:
        """A new device cookie token for `name` (set it in the browser that just logged in)."""
        user = self._require(name)
        token = secrets.token_urlsafe(24)
        now = self.clock()
        self._tx(lambda db: (db.execute("INSERT INTO devices (token, user_id, created) "
                                        "VALUES (?,?,?)", (_digest(token), user.id, now)),
                             db.execute("DELETE FROM devices WHERE created < ?",
                                        (now - DEVICE_LIFETIME,))))
        return token

    def knows_device(self, name: str, tokens: Iterable[str]) -> bool:
        return self._device(self.user(name), tokens, self.clock()) is not None

    # -- unlock codes by SMS (the office head) -------------------------------------------

    def _head_number(self, user: User | None) -> str:
        if user is None or not user.head:
            return ""
        return self.head_mobile or user.mobile

    def request_unlock_code(self, name: str, password: str, address: str) -> bool:
        """Send an unlock code by SMS when `name` is a locked head account with a mobile and
        `password` is its password (a stranger cannot make the head's phone ring, nor learn
        whether a guess was right: the page answers alike whatever happened). True when
        sent. At most one code each CODE_EVERY, CODES_PER_DAY a day."""
        now = self.clock()
        user = self.user(name) if _NAME.fullmatch(name or "") else None
        number = self._head_number(user)
        password = password if len(password or "") <= MAX_PASSWORD else ""
        with self._lock:
            row = self._db.execute("SELECT password FROM users WHERE name = ?",
                                   (name,)).fetchone()
        right = check_password(password, row[0] if row else _DUMMY) and row is not None
        if not right:
            self._tx(lambda db: self._address_failure(db, address, now))
            log.info("web: unlock code for %r asked from %s with a wrong password; none sent",
                     (name or "")[:64], address)
            return False
        if not number or self.sms is None or self.locked_until(name, now) is None:
            log.info("web: unlock code for %s asked from %s; none sent (not a locked head "
                     "account with a mobile)", name, address)
            return False
        assert user is not None             # the number is a head account's
        code = f"{secrets.randbelow(10 ** 6):06d}"
        salt = secrets.token_hex(8)

        def store(db: sqlite3.Connection) -> bool:
            sent = db.execute("SELECT created FROM unlock_codes WHERE user_id = ? AND "
                              "created > ? ORDER BY created DESC", (user.id, now - 86400)
                              ).fetchall()
            if sent and (now - sent[0][0] < CODE_EVERY or len(sent) >= CODES_PER_DAY):
                return False
            db.execute("INSERT INTO unlock_codes (user_id, code, created) VALUES (?,?,?)",
                       (user.id, f"{salt}${_digest(salt + code)}", now))
            return True
        if not self._tx(store):
            log.warning("web: unlock code for %s asked from %s; not sent (one each %.0f min, "
                        "%d a day)", name, address, CODE_EVERY / 60, CODES_PER_DAY)
            return False
        self.sms(number, f"{self.office_name}网页登录解锁码：{code}，{int(CODE_VALID // 60)}分钟内"
                         "有效。如果不是您本人在登录，请勿把解锁码告诉任何人。")
        log.warning("web: unlock code for %s sent by SMS to %s (asked from %s)", name, number,
                    address)
        self.audit(name, user.role, address, "unlock_code_sent", name, number)
        return True

    def _code_matches(self, user: User | None, code: str | None, now: float) -> int | bool:
        """True when `code` is the latest unlock code of `user`, fresh and not used; a wrong
        one counts against the code's tries."""
        code = (code or "").strip()

        def check(db: sqlite3.Connection) -> int | bool:
            assert user is not None         # asked only for a user (below)
            row = db.execute("SELECT id, code, created, tries FROM unlock_codes WHERE user_id = ? "
                             "AND used = 0 ORDER BY created DESC LIMIT 1", (user.id,)).fetchone()
            if row is None or now - row[2] > CODE_VALID or row[3] >= CODE_TRIES:
                return False
            salt, digest = row[1].split("$", 1)
            if re.fullmatch(r"[0-9]{6}", code) and \
                    hmac.compare_digest(_digest(salt + code), digest):
                code_id: int = row[0]
                return code_id
            db.execute("UPDATE unlock_codes SET tries = tries + 1 WHERE id = ?", (row[0],))
            return False
        return self._tx(check) if user is not None and code else False

    # -- logging in -------------------------------------------------------------------

    def login(self, name: str, password: str, address: str, devices: Iterable[str] = (),
              code: str | None = None) -> tuple[str, None] | tuple[None, str]:
        """(token, None) or (None, reason): reason is 'address' (this address waits),
        'locked' (this name waits), 'code' (an unlock code that is wrong or old) or
        'wrong'. `devices`: the device cookie tokens the browser sent; `code`: an unlock
        code from the head's SMS."""
        now = self.clock()
        name = name if _NAME.fullmatch(name or "") else (name or "")[:64]
        password = password if len(password or "") <= MAX_PASSWORD else ""
        with self._lock:
            row = self._db.execute("SELECT password FROM users WHERE name = ?",
                                   (name,)).fetchone()
        user = self.user(name) if row else None
        device = self._device(user, devices, now)
        if device is None and self.address_locked_until(address, now):
            log.warning("web: login for %r from %s refused: that address waits after too many "
                        "wrong passwords", name, address)
            return None, "address"
        code_id: int | bool | None = None
        if device is None and self.locked_until(name, now):
            if code:
                # the password first: only its owner can spend a code's tries, and a wrong
                # password or a wrong code get the same answer (no guessing through a lock)
                right = check_password(password, row[0] if row else _DUMMY) and row is not None
                code_id = self._code_matches(user, code, now) if right else None
            if not code_id:
                # tries on a locked name cost the address too (each one a scrypt hash)
                self._tx(lambda db: self._address_failure(db, address, now))
                why = "code" if code else "locked"
                log.warning("web: login for %r from %s refused: the name is locked%s", name,
                            address, " and the unlock code or password is wrong" if code else "")
                self.audit(name if user else "-", user.role if user else "", address,
                           "login_failed", name, "unlock code wrong" if code else "name locked")
                return None, why
            ok = True
        else:
            ok = check_password(password, row[0] if row else _DUMMY) and row is not None
        if not ok:
            def fail(db: sqlite3.Connection) -> tuple[str | None, float | None]:
                if device is not None:
                    db.execute("UPDATE devices SET failures = failures + 1 WHERE token = ?",
                               (device,))
                    return None, None
                self._address_failure(db, address, now)
                return self._name_failure(db, name, now)
            locked, until = self._tx(fail)
            if locked == "locked":
                return None, "locked"
            if locked:
                assert until is not None    # a name locked now comes with its lock's end
                log.warning("web: name %r locked for %.0f s after %d wrong passwords (last from "
                            "%s)", name, until - now, self.max_failures, address)
                self.audit(name if user else "-", user.role if user else "", address,
                           "account_locked", name,
                           f"{self.max_failures} wrong passwords, {until - now:.0f} s")
                return None, "locked"
            log.info("web: wrong password for %r from %s%s", name, address,
                     " (a browser it logged in with before)" if device else "")
            self.audit(name if user else "-", user.role if user else "", address,
                       "login_failed", name, "wrong password" if user else "unknown name")
            return None, "wrong"
        assert user is not None             # the password (or code) was right: its row exists
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)

        def start(db: sqlite3.Connection) -> bool:
            if device is None and code_id is None:
                until = db.execute("SELECT locked_until FROM name_locks WHERE name = ?",
                                   (name,)).fetchone()
                if until and until[0] and until[0] > now:
                    return False     # locked by a wrong password since it was read above
            if code_id:
                db.execute("UPDATE unlock_codes SET used = 1 WHERE id = ?", (code_id,))
            if device is not None:
                db.execute("UPDATE devices SET failures = 0 WHERE token = ?", (device,))
            else:
                db.execute("DELETE FROM name_locks WHERE name = ?", (name,))
            db.execute("INSERT INTO sessions (token, user_id, csrf, created, seen, address) "
                       "VALUES (?,?,?,?,?,?)", (_digest(token), user.id, csrf, now, now,
                                                address))
            db.execute("DELETE FROM sessions WHERE seen < ? OR created < ?",
                       (now - self.session_seconds - ENDED_KEPT,
                        now - SESSION_LIFETIME - ENDED_KEPT))
            return True
        if not self._tx(start):
            log.warning("web: login for %s from %s refused: the name was locked meanwhile",
                        name, address)
            return None, "locked"
        self.audit(user.name, user.role, address, "login", user.name,
                   "unlock code" if code_id else "")
        return token, None

    def _session_row(self, token: str) -> Any:
        with self._lock:
            return self._db.execute(
                "SELECT u.id, u.name, u.display, u.role, u.mobile, 0, NULL, "
                "s.csrf, s.seen, s.created FROM sessions s JOIN users u ON u.id = s.user_id "
                "WHERE s.token = ?", (_digest(token),)).fetchone()

    def _ended(self, row: Any, now: float) -> bool:
        return bool(now - row[8] > self.session_seconds or now - row[9] > SESSION_LIFETIME)

    def session(self, token: str | None, touch: bool = True) -> Session | None:
        """The live session of a cookie token, or None (unknown or idle too long). A lock on
        the name does not end it: strangers' wrong passwords must not log its owner out."""
        if not token or len(token) > 128:
            return None
        now = self.clock()
        row = self._session_row(token)
        if row is None or self._ended(row, now):
            return None
        user = self.user(row[1])
        assert user is not None             # the row joins its user; accounts stay
        if touch and now - row[8] > TOUCH_EVERY:
            # not on every request: each write is an fsync on the Pi's SD card
            self._tx(lambda db: db.execute("UPDATE sessions SET seen = ? WHERE token = ?",
                                           (now, _digest(token))))
        return Session(user, row[7], now)

    def ended_session(self, token: str | None) -> Session | None:
        """The Session a cookie token had when it has ended within the last day (idle too
        long, or its 12 hours up), else None: a form it sent may be shown back as typed."""
        if not token or len(token) > 128:
            return None
        now = self.clock()
        row = self._session_row(token)
        if row is None or not self._ended(row, now):
            return None
        ended = min(row[8] + self.session_seconds, row[9] + SESSION_LIFETIME)
        if now - ended > ENDED_KEPT:
            return None
        user = self.user(row[1])
        assert user is not None             # the row joins its user; accounts stay
        return Session(user, row[7], row[8])

    def logout(self, token: str) -> None:
        self._tx(lambda db: db.execute("DELETE FROM sessions WHERE token = ?",
                                       (_digest(token),)))

    # -- the audit log ----------------------------------------------------------------

    def audit(self, user: str, role: str, address: str, action: str, target: object = "",
              detail: object = "") -> None:
        """Keep one action; it also goes upstream through the box's outbox (kind 'audit')."""
        now = self.clock()
        self._tx(lambda db: db.execute(
            "INSERT INTO audit (at, user, role, address, action, target, detail) "
            "VALUES (?,?,?,?,?,?,?)", (now, user, role, address, action, str(target),
                                       str(detail)[:500])))
        log.info("web audit: %s (%s) from %s: %s %s%s", user, role or "-", address, action,
                 target, f" ({detail!r})" if detail else "")
        self.forward()

    def forward(self) -> int:
        """Commit audit entries not yet in the outbox; kept here until an outbox exists."""
        if self.outbox is None:
            return 0
        with self._lock:
            rows = self._db.execute("SELECT id, at, user, role, address, action, target, "
                                    "detail FROM audit WHERE sent = 0 ORDER BY id "
                                    "LIMIT 200").fetchall()
        done = 0
        for rid, at, user, role, address, action, target, detail in rows:
            record = {"office": self.office_id, "at": at, "user": user, "role": role,
                      "address": address, "action": action, "target": target,
                      "detail": detail}
            key = f"audit-{int(at)}-{rid}"
            try:
                self.outbox.commit(key, "audit", record, {})
            except OSError as exc:
                log.error("web audit: entry %d not committed to the outbox: %s", rid, exc)
                break
            self._tx(lambda db: db.execute("UPDATE audit SET sent = 1 WHERE id = ?", (rid,)))
            done += 1
        return done

    def audit_entries(self, limit: int = 300) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT at, user, role, address, action, target, detail, "
                                    "sent FROM audit ORDER BY id DESC LIMIT ?",
                                    (limit,)).fetchall()
        keys = ("at", "user", "role", "address", "action", "target", "detail", "sent")
        return [dict(zip(keys, r)) for r in rows]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
