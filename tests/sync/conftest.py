"""Real upstream servers for the sync tests, started once per session: nginx (TLS, WebDAV
PUT, basic auth) with a CA made here by openssl, aiosmtpd (STARTTLS, AUTH) and
`rclone serve s3` (SigV4). See lawline/probe/upstreams.py."""

import pytest

from lawline_rig.probe.upstreams import Nginx, RcloneS3, SmtpServer, TestCa

DAV_USER, DAV_PASSWORD = "county-box", "dav-pass-密码-1"
MAIL_USER, MAIL_PASSWORD = "box@county.example", "smtp-pass-4d1"
S3_KEY, S3_SECRET = "LAWLINEKEY01", "s3-secret-9c2e77"


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory):
    return TestCa(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="session")
def nginx(tmp_path_factory, test_ca):
    server = Nginx(tmp_path_factory.mktemp("nginx"), test_ca, {DAV_USER: DAV_PASSWORD}).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def smtp(test_ca):
    server = SmtpServer(test_ca, {MAIL_USER: MAIL_PASSWORD}).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    server = RcloneS3(tmp_path_factory.mktemp("s3"), S3_KEY, S3_SECRET).start()
    yield server
    server.stop()
