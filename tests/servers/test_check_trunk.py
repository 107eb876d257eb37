"""`lawline check` without a running box registers once with the [trunk] (Kamailio here):
registered is ok, a wrong password or a password file others may read is FAIL."""

import os
import subprocess
import sys

import pytest

from lawline import config as configuration

from .kamailio import BOX_USER, PASSWORDS


def write_config(tmp_path, kamailio, password, mode=0o600):
    secret = tmp_path / "trunk.password"
    secret.write_text(password + "\n")
    os.chmod(secret, mode)
    values = {"spool": {"dir": str(tmp_path / "spool")},
              "sip": {"bind": "127.0.0.1", "port": 0},
              "trunk": {"registrar": kamailio.registrar, "username": BOX_USER,
                        "domain": "127.0.0.1", "password_file": str(secret),
                        "reply_timeout": 10.0}}   # only a failure waits for it
    path = tmp_path / "lawline.toml"
    path.write_text(configuration.dump(values), encoding="utf-8")
    return path


def check(path):
    out = subprocess.run([sys.executable, "-m", "lawline", "check", "--config", str(path),
                          "--no-modem"], capture_output=True, text=True, timeout=90)
    return [line for line in out.stdout.splitlines() if "] trunk:" in line]


def test_the_trunk_registers_once(tmp_path, kamailio):
    before = kamailio.mark()
    [line] = check(write_config(tmp_path, kamailio, PASSWORDS[BOX_USER]))
    assert line.startswith("[ok  ] trunk:") and "registered" in line, line
    assert len(kamailio.requests("REGISTER", since=before)) >= 1


def test_a_wrong_trunk_password_is_fail(tmp_path, kamailio):
    [line] = check(write_config(tmp_path, kamailio, "not-the-password"))
    assert line.startswith("[FAIL] trunk:") and "401" in line, line


@pytest.mark.parametrize("mode", [0o640, 0o644])
def test_a_password_file_others_may_read_is_fail(tmp_path, kamailio, mode):
    before = kamailio.mark()
    [line] = check(write_config(tmp_path, kamailio, PASSWORDS[BOX_USER], mode))
    assert line.startswith("[FAIL] trunk:") and "chmod 600" in line, line
    assert kamailio.requests("REGISTER", since=before) == []   # refused before sending
