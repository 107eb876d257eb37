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
from dataclasses import dataclass
from pathlib import Path

from ..errors import LawlineError

log = logging.getLogger("lawline.web")

ROLES = {"head": "负责人", "clerk": "文员", "duty": "值班人员"}
_NAME = re.compile(r"[A-Za-z0-9._-]{1,32}")
SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}
ADDRESS_WINDOW = 600.0         # seconds: wrong passwords per address are counted this long
MIN_PASSWORD = 8
TOUCH_EVERY = 20.0             # seconds: how stale a session's last-seen time may be kept
# A session ends this long after its log-in however busy it is (a stolen cookie is not good
# for ever); a working day, so staff log in once a morning.
SESSION_LIFETIME = 12 * 3600.0
# scrypt runs in two threads of its own: each hash takes 16 MiB, and uvicorn's thread pool
# would run 40 log-ins at once (640 MiB against the unit's MemoryMax=200M: the page killed by
# one script), and every thread that ever hashed would keep its 16 MiB in its malloc arena
_HASHING = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="scrypt")


def _scrypt(password, salt, **params):
    return _HASHING.submit(hashlib.scrypt, password.encode("utf-8"), salt=salt, dklen=32,
                           **params).result()

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
CREATE TABLE IF NOT EXISTS unknown_names(
    name TEXT PRIMARY KEY,
    failures INTEGER NOT NULL DEFAULT 0,
    locked REAL
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
    locked: float

    @property
    def head(self):
        return self.role == "head"

    @property
    def sees_complaints(self):
        return self.role == "head"

    @property
    def label(self):
        return self.display or self.name


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    seen: float


def hash_password(password):
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, **SCRYPT)
    return "scrypt${n}${r}${p}$".format(**SCRYPT) + \
        base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def check_password(password, stored):
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


class Accounts:
    def __init__(self, db_path, session_minutes=30.0, max_failures=5, address_failures=20,
                 outbox=None, office_id=""):
        self.db_path = Path(db_path)
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self.session_seconds = session_minutes * 60
        self.max_failures = max_failures
        self.address_failures = address_failures
        self.outbox = outbox
        self.office_id = office_id
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.db_path), check_same_thread=False,
                                   isolation_level=None, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        with self._lock:
            self._db.executescript(_SCHEMA)

    def close(self):
        self._db.close()

    def _tx(self, fn):
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

    def add_user(self, name, role, password, display="", mobile=""):
        if not _NAME.fullmatch(name or ""):
            raise AccountError(f"用户名 {name!r} 只能用字母、数字、点、下划线或减号（1-32个）")
        if role not in ROLES:
            raise AccountError(f"角色 {role!r} 不存在；可选：{', '.join(ROLES)}")
        if len(password or "") < MIN_PASSWORD:
            raise AccountError(f"密码至少{MIN_PASSWORD}位")
        if mobile and not re.fullmatch(r"\+?[0-9]{5,20}", mobile):
            raise AccountError(f"手机号 {mobile!r} 不是电话号码")
        hashed = hash_password(password)

        def add(db):
            db.execute("INSERT INTO users (name, display, role, mobile, password, created) "
                       "VALUES (?,?,?,?,?,?)", (name, display or "", role, mobile or "",
                                                hashed, time.time()))
            db.execute("DELETE FROM unknown_names WHERE name = ?", (name,))
        try:
            self._tx(add)
        except sqlite3.IntegrityError:
            raise AccountError(f"用户 {name} 已存在") from None
        log.info("web: user %s added (%s)", name, role)
        return self.user(name)

    def set_password(self, name, password):
        if len(password or "") < MIN_PASSWORD:
            raise AccountError(f"密码至少{MIN_PASSWORD}位")
        user = self._require(name)
        hashed = hash_password(password)

        def change(db):
            db.execute("UPDATE users SET password = ? WHERE id = ?", (hashed, user.id))
            # a new password ends every session the old one opened (a stolen cookie too)
            return db.execute("DELETE FROM sessions WHERE user_id = ?", (user.id,)).rowcount
        ended = self._tx(change)
        log.info("web: password of %s set; %d session(s) ended", name, ended)

    def user(self, name):
        with self._lock:
            row = self._db.execute("SELECT id, name, display, role, mobile, failures, locked "
                                   "FROM users WHERE name = ?", (name,)).fetchone()
        return User(*row) if row else None

    def users(self):
        with self._lock:
            rows = self._db.execute("SELECT id, name, display, role, mobile, failures, locked "
                                    "FROM users ORDER BY name").fetchall()
        return [User(*r) for r in rows]

    def _require(self, name):
        user = self.user(name)
        if user is None:
            raise AccountError(f"没有用户 {name}")
        return user

    def unlock(self, name):
        self._require(name)
        self._tx(lambda db: db.execute("UPDATE users SET failures = 0, locked = NULL "
                                       "WHERE name = ?", (name,)))
        log.info("web: user %s unlocked", name)

    # -- logging in -------------------------------------------------------------------

    def _unknown_locked(self, name):
        with self._lock:
            row = self._db.execute("SELECT locked FROM unknown_names WHERE name = ?",
                                   (name,)).fetchone()
        return bool(row and row[0])

    def address_blocked(self, address, now=None):
        now = now or time.time()
        with self._lock:
            count = self._db.execute("SELECT COUNT(*) FROM address_failures WHERE address = ? "
                                     "AND at > ?", (address, now - ADDRESS_WINDOW)).fetchone()[0]
        return count >= self.address_failures

    def login(self, name, password, address):
        """(Session, None) or (None, reason): reason is 'address', 'locked' or 'wrong'."""
        now = time.time()
        name = name if _NAME.fullmatch(name or "") else (name or "")[:64]
        if self.address_blocked(address, now):
            log.warning("web: login for %r from %s refused: too many wrong passwords from "
                        "that address", name, address)
            return None, "address"
        with self._lock:
            row = self._db.execute("SELECT password FROM users WHERE name = ?",
                                   (name,)).fetchone()
        ok = check_password(password, row[0] if row else _DUMMY) and row is not None
        user = self.user(name) if row else None
        if user is None and self._unknown_locked(name):
            # A name that is no account locks after the same wrong tries as one that is, and
            # says so in the same words: lock-out never tells which names exist.
            self._tx(lambda db: db.execute("INSERT INTO address_failures (address, at) "
                                           "VALUES (?, ?)", (address, now)))
            log.warning("web: login for %r from %s refused: no such account, locked like "
                        "one", name, address)
            self.audit("-", "", address, "login_failed", name, "unknown name, locked")
            return None, "locked"
        if user is not None and user.locked:
            # counted against the address like a wrong password: tries on a locked account
            # (each one a scrypt hash) are not free either
            self._tx(lambda db: db.execute("INSERT INTO address_failures (address, at) "
                                           "VALUES (?, ?)", (address, now)))
            log.warning("web: login for %s from %s refused: account locked", name, address)
            self.audit(name, user.role, address, "login_failed", name, "account locked")
            return None, "locked"
        if not ok:
            def fail(db):
                db.execute("INSERT INTO address_failures (address, at) VALUES (?, ?)",
                           (address, now))
                db.execute("DELETE FROM address_failures WHERE at < ?", (now - 86400,))
                if user is None:
                    db.execute("INSERT INTO unknown_names (name, failures) VALUES (?, 1) "
                               "ON CONFLICT(name) DO UPDATE SET failures = failures + 1",
                               (name,))
                    failures = db.execute("SELECT failures FROM unknown_names WHERE name = ?",
                                          (name,)).fetchone()[0]
                    if failures < self.max_failures:
                        return None
                    db.execute("UPDATE unknown_names SET locked = ? WHERE name = ?",
                               (now, name))
                    return "locked"
                # counted inside the write transaction: wrong passwords sent in parallel
                # each count (read before it, they all read the same count: no lock-out)
                db.execute("UPDATE users SET failures = failures + 1 WHERE id = ?", (user.id,))
                failures, locked = db.execute("SELECT failures, locked FROM users WHERE id = ?",
                                              (user.id,)).fetchone()
                if locked:
                    return "locked"          # by a wrong password sent at the same time
                if failures < self.max_failures:
                    return None
                db.execute("UPDATE users SET locked = ? WHERE id = ?", (now, user.id))
                return "locked now"
            locked = self._tx(fail)
            if locked == "locked":
                return None, "locked"
            if locked:
                log.warning("web: user %s locked after %d wrong passwords (last from %s)",
                            name, self.max_failures, address)
                self.audit(name, "", address, "account_locked", name,
                           f"{self.max_failures} wrong passwords")
                return None, "locked"
            log.info("web: wrong password for %r from %s", name, address)
            self.audit(name if user else "-", user.role if user else "", address,
                       "login_failed", name, "wrong password" if user else "unknown name")
            return None, "wrong"
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)

        def start(db):
            if db.execute("SELECT locked FROM users WHERE id = ?", (user.id,)).fetchone()[0]:
                return False     # locked by a wrong password since it was read above
            db.execute("UPDATE users SET failures = 0 WHERE id = ?", (user.id,))
            db.execute("INSERT INTO sessions (token, user_id, csrf, created, seen, address) "
                       "VALUES (?,?,?,?,?,?)", (_digest(token), user.id, csrf, now, now,
                                                address))
            db.execute("DELETE FROM sessions WHERE seen < ? OR created < ?",
                       (now - self.session_seconds, now - SESSION_LIFETIME))
            return True
        if not self._tx(start):
            log.warning("web: login for %s from %s refused: account locked", name, address)
            return None, "locked"
        self.audit(user.name, user.role, address, "login", user.name)
        return token, None

    def session(self, token, touch=True):
        """The live session of a cookie token, or None (unknown or idle too long)."""
        if not token:
            return None
        now = time.time()
        with self._lock:
            row = self._db.execute(
                "SELECT u.id, u.name, u.display, u.role, u.mobile, u.failures, u.locked, "
                "s.csrf, s.seen, s.created FROM sessions s JOIN users u ON u.id = s.user_id "
                "WHERE s.token = ?", (_digest(token),)).fetchone()
        if row is None:
            return None
        user = User(*row[:7])
        if now - row[8] > self.session_seconds or now - row[9] > SESSION_LIFETIME or \
                user.locked:
            self.logout(token)
            return None
        if touch and now - row[8] > TOUCH_EVERY:
            # not on every request: each write is an fsync on the Pi's SD card
            self._tx(lambda db: db.execute("UPDATE sessions SET seen = ? WHERE token = ?",
                                           (now, _digest(token))))
        return Session(user, row[7], now)

    def logout(self, token):
        self._tx(lambda db: db.execute("DELETE FROM sessions WHERE token = ?",
                                       (_digest(token),)))

    # -- the audit log ----------------------------------------------------------------

    def audit(self, user, role, address, action, target="", detail=""):
        """Keep one action; it also goes upstream through the box's outbox (kind 'audit')."""
        now = time.time()
        self._tx(lambda db: db.execute(
            "INSERT INTO audit (at, user, role, address, action, target, detail) "
            "VALUES (?,?,?,?,?,?,?)", (now, user, role, address, action, str(target),
                                       str(detail)[:500])))
        log.info("web audit: %s (%s) from %s: %s %s%s", user, role or "-", address, action,
                 target, f" ({detail!r})" if detail else "")
        self.forward()

    def forward(self):
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

    def audit_entries(self, limit=300):
        with self._lock:
            rows = self._db.execute("SELECT at, user, role, address, action, target, detail, "
                                    "sent FROM audit ORDER BY id DESC LIMIT ?",
                                    (limit,)).fetchall()
        keys = ("at", "user", "role", "address", "action", "target", "detail", "sent")
        return [dict(zip(keys, r)) for r in rows]


def _digest(token):
    return hashlib.sha256(token.encode()).hexdigest()
