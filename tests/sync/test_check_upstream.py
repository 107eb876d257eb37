"""`lawline check` probes the upstream with its own CA and credentials (nginx over TLS with
a CA made here, basic auth): accepted is ok, a refused password FAIL, a missing CA a warning
that names the TLS failure."""

import os

from lawline import check, config as configuration

from .conftest import DAV_PASSWORD, DAV_USER


def rows(tmp_path, nginx, test_ca, password, ca=True):
    secret = tmp_path / "dav.password"
    secret.write_text(password)
    os.chmod(secret, 0o600)
    cfg = configuration.from_dict({
        "spool": {"dir": str(tmp_path / "spool")},
        "upstream": {"url": f"{nginx.url}/dav/check", "username": DAV_USER,
                     "password_file": str(secret), "ca_file": str(test_ca.ca) if ca else ""}})
    report = check.Report()
    check.check_upstream(cfg, report)
    return report.rows


def test_the_upstream_takes_its_ca_and_credentials(tmp_path, nginx, test_ca):
    [(state, _, message)] = rows(tmp_path, nginx, test_ca, DAV_PASSWORD)
    assert state == "ok" and "with its CA file" in message, message


def test_a_refused_password_is_fail(tmp_path, nginx, test_ca):
    [(state, _, message)] = rows(tmp_path, nginx, test_ca, "wrong")
    assert state == "fail" and "refused the user name and password (HTTP 401" in message


def test_without_its_ca_the_tls_failure_is_named(tmp_path, nginx, test_ca):
    [(state, _, message)] = rows(tmp_path, nginx, test_ca, DAV_PASSWORD, ca=False)
    assert state == "warn" and "TLS failure" in message, message
