"""Each target against its real server: nginx over TLS (WebDAV PUT, basic auth, own CA),
aiosmtpd (STARTTLS, AUTH), rclone serve s3 (SigV4); and the targets built from a config."""

import asyncio
import email
import email.header
import email.policy
import json
import logging
import socket
import time

import pytest

from lawline import config as configuration
from lawline.clock import Clock
from lawline.errors import ConfigError
from lawline.sync import Outbox, UploadError, UploadWorker
from lawline.sync.http import HttpPutTarget
from lawline.sync.mail import EmailTarget
from lawline.sync.s3 import S3Target
from lawline.sync.settings import LAYOUT, build_targets

from .conftest import DAV_PASSWORD, DAV_USER, MAIL_PASSWORD, MAIL_USER, S3_KEY, S3_SECRET
from .helpers import commit_voicemail, due, wav_bytes

KEY = "260112001"


@pytest.fixture
def outbox(tmp_path):
    box = Outbox(tmp_path / "spool" / "outbox.db", tmp_path / "spool",
                 ["upstream", "email", "s3"], kinds={"email": {"voicemail"}})
    yield box
    box.close()


def dav(nginx, test_ca, folder, password=DAV_PASSWORD, **kw):
    return HttpPutTarget("upstream", f"{nginx.url}/dav/{folder}/county-0148", timeout=5,
                         cafile=test_ca.ca, username=DAV_USER, password=password,
                         layout=LAYOUT, **kw)


# -- HTTPS --------------------------------------------------------------------------------

def test_https_put_lands_by_county_and_date_and_a_retry_leaves_one_object(
        outbox, nginx, test_ca):
    commit_voicemail(outbox, KEY)
    item = due(outbox, "upstream", KEY)
    target = dav(nginx, test_ca, "t1")
    target.put_item(item)
    target.put_item(item)  # as after a cut between the upload and its acknowledgement
    day = Clock().day()         # the office's day (Asia/Shanghai), as the outbox's clock
    stored = nginx.root / "dav" / "t1" / "county-0148" / day / KEY
    assert sorted(p.name for p in stored.iterdir()) == ["record.json", "voicemail.wav"]
    assert (stored / "voicemail.wav").read_bytes() == wav_bytes()
    assert json.loads((stored / "record.json").read_text("utf-8")) == item.record
    puts = [r for r in nginx.wait_requests(
        lambda rs: sum("/dav/t1/" in r[1] for r in rs) >= 4) if "/dav/t1/" in r[1]]
    # media first, then the record; the second round overwrites (204), never adds
    assert [(m, u.rsplit("/", 1)[1], s) for m, u, s in puts] == [
        ("PUT", "voicemail.wav", "201"), ("PUT", "record.json", "201"),
        ("PUT", "voicemail.wav", "204"), ("PUT", "record.json", "204")]


def test_https_without_the_ca_file_is_refused_not_trusted(outbox, nginx):
    commit_voicemail(outbox, KEY)
    target = HttpPutTarget("upstream", f"{nginx.url}/dav/t2", username=DAV_USER,
                           password=DAV_PASSWORD, timeout=5)
    with pytest.raises(UploadError) as refused:
        target.put_item(due(outbox, "upstream", KEY))
    assert "TLS failure" in str(refused.value) and "CERTIFICATE_VERIFY_FAILED" in str(
        refused.value)
    assert not (nginx.root / "dav" / "t2").exists()


def test_https_wrong_password_is_401_and_the_item_waits(outbox, nginx, test_ca, caplog):
    caplog.set_level(logging.INFO, logger="lawline.sync")
    commit_voicemail(outbox, KEY)
    worker = UploadWorker(outbox, {"upstream": dav(nginx, test_ca, "t3", password="wrong")})
    asyncio.run(worker.run_once("upstream"))
    row = outbox.pending("upstream")[0]
    assert row.attempts == 1 and "HTTP 401" in row.last_error
    assert "upload 260112001 to upstream failed (attempt 1, next try in" in caplog.text
    assert "wrong" not in caplog.text and DAV_PASSWORD not in caplog.text
    # fixed credentials: the same item goes through
    item = due(outbox, "upstream", KEY)
    dav(nginx, test_ca, "t3").put_item(item)
    outbox.mark_done(item.item_id, "upstream")
    assert not outbox.pending("upstream")


def test_https_500_waits_with_a_clear_line_and_loses_nothing(outbox, nginx, test_ca, caplog):
    caplog.set_level(logging.INFO, logger="lawline.sync")
    commit_voicemail(outbox, KEY)
    commit_voicemail(outbox, "260112002")
    broken = HttpPutTarget("upstream", f"{nginx.url}/fail500", cafile=test_ca.ca, timeout=5,
                           layout=LAYOUT)
    asyncio.run(UploadWorker(outbox, {"upstream": broken}).run_once("upstream"))
    first, second = outbox.pending("upstream")
    assert first.attempts == 1 and "HTTP 500 Internal Server Error from" in first.last_error
    assert second.attempts == 0  # the upstream is down as a whole: the rest wait their turn
    line = next(r.getMessage() for r in caplog.records if "failed" in r.getMessage())
    assert line.startswith("upload 260112001 to upstream failed (attempt 1, next try in")
    assert f"HTTP 500 Internal Server Error from {nginx.url}/fail500/" in line


def test_https_hanging_upstream_times_out(outbox, test_ca):
    commit_voicemail(outbox, KEY)
    with socket.socket() as silent:  # accepts (backlog), never answers the TLS hello
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"https://127.0.0.1:{silent.getsockname()[1]}"
        target = HttpPutTarget("upstream", url, cafile=test_ca.ca, timeout=0.5)
        started = time.monotonic()
        asyncio.run(UploadWorker(outbox, {"upstream": target}).run_once("upstream"))
        assert time.monotonic() - started < 5
    row = outbox.pending("upstream")[0]
    assert row.attempts == 1 and "within 0.5 s" in row.last_error


# -- e-mail -------------------------------------------------------------------------------

def mail_target(smtp, test_ca, **kw):
    options = dict(username=MAIL_USER, password=MAIL_PASSWORD, cafile=test_ca.ca, timeout=5,
                   office_name="演示县法律服务专线", office_id="county-0148")
    options.update(kw)
    return EmailTarget("email", "127.0.0.1", smtp.port, "box@county.example",
                       ["office@county.example"], **options)


def test_voicemail_mail_has_the_wav_and_readable_chinese(outbox, smtp, test_ca):
    path, record = commit_voicemail(outbox, KEY, interrupted=True)
    before = len(smtp.messages)
    mail_target(smtp, test_ca).put_item(due(outbox, "email", KEY))
    assert smtp.wait_for(before + 1, 5)
    sender, rcpts, raw = smtp.messages[before]
    assert rcpts == ["office@county.example"]
    subject_raw = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")  # headers are pure ASCII
    assert "=?utf-8?" in subject_raw.lower()  # RFC 2047 encoded words
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    subject = str(email.header.make_header(email.header.decode_header(msg["Subject"])))
    assert subject == ("【演示县法律服务专线】投诉留言 案件号 260112001 来电 13800138000"
                       "（录音中断）")
    assert msg["Message-ID"] == "<260112001.county-0148@county.example>"
    body = msg.get_body(("plain",))
    assert body.get_content_charset() == "utf-8"
    text = body.get_content()
    for expected in ("案件号：260112001", "来电号码：13800138000", "信箱：投诉",
                     f"时间：{record['started']}", "时长：1.0 秒", "录音因断电或重启而中断"):
        assert expected in text
    wavs = [p for p in msg.iter_attachments() if p.get_content_type() == "audio/wav"]
    assert len(wavs) == 1 and wavs[0].get_filename() == "260112001.wav"
    assert wavs[0].get_content() == path.read_bytes() == wav_bytes()


def test_complaints_go_to_the_supervisor_mailbox(outbox, smtp, test_ca):
    commit_voicemail(outbox, KEY, box="complaint")
    before = len(smtp.messages)
    mail_target(smtp, test_ca, complaint_to=["supervisor@county.example"]).put_item(
        due(outbox, "email", KEY))
    assert smtp.wait_for(before + 1, 5)
    assert smtp.messages[before][1] == ["supervisor@county.example"]


def test_mail_wrong_password_is_refused_and_waits(outbox, smtp, test_ca):
    commit_voicemail(outbox, KEY)
    before = len(smtp.messages)
    target = mail_target(smtp, test_ca, password="not-it")
    asyncio.run(UploadWorker(outbox, {"email": target}).run_once("email"))
    row = outbox.pending("email")[0]
    assert row.attempts == 1 and "refused the login (535" in row.last_error
    assert len(smtp.messages) == before and "not-it" not in row.last_error


def test_mail_never_logs_in_without_tls(outbox, test_ca):
    from aiosmtpd.controller import Controller

    from lawline_rig.probe.upstreams import free_port
    plain = Controller(object(), hostname="127.0.0.1", port=free_port())  # no STARTTLS
    plain.start()
    try:
        commit_voicemail(outbox, KEY)
        target = EmailTarget("email", "127.0.0.1", plain.port, "box@county.example",
                             ["office@county.example"], username="u", password="p",
                             cafile=test_ca.ca, timeout=5)
        with pytest.raises(UploadError, match="does not offer STARTTLS"):
            target.put_item(due(outbox, "email", KEY))
    finally:
        plain.stop()


# -- S3 -----------------------------------------------------------------------------------

def test_s3_put_overwrite_and_wrong_secret(outbox, s3):
    bucket = s3.bucket("county")
    commit_voicemail(outbox, KEY)
    item = due(outbox, "s3", KEY)
    target = S3Target("s3", s3.url, "county", S3_KEY, S3_SECRET, prefix="box/county-0148",
                      layout=LAYOUT, timeout=5)
    target.put_item(item)
    target.put_item(item)
    day = Clock().day()         # the office's day (Asia/Shanghai), as the outbox's clock
    stored = bucket / "box" / "county-0148" / day / KEY
    assert sorted(p.name for p in stored.iterdir()) == ["record.json", "voicemail.wav"]
    assert (stored / "voicemail.wav").read_bytes() == wav_bytes()
    wrong = S3Target("s3", s3.url, "county", S3_KEY, "not-the-secret", layout=LAYOUT,
                     timeout=5)
    with pytest.raises(UploadError) as refused:
        wrong.put_item(item)
    assert refused.value.status == 403 and "SignatureDoesNotMatch" in str(refused.value)
    assert "not-the-secret" not in str(refused.value)


# -- from the configuration -------------------------------------------------------------

def box_config(tmp_path, nginx, smtp, s3, test_ca, override=None):
    secrets = tmp_path / "secrets"
    secrets.mkdir(exist_ok=True)
    (secrets / "dav").write_text(DAV_PASSWORD + "\n", encoding="utf-8")
    (secrets / "smtp").write_text(MAIL_PASSWORD)
    (secrets / "s3").write_text(S3_SECRET)
    for secret in secrets.iterdir():
        secret.chmod(0o600)     # the box refuses secrets others may read (secretfile.py)
    values = {
        "office": {"id": "county-0148", "name": "演示县法律服务专线"},
        "spool": {"dir": str(tmp_path / "spool")},
        "upstream": {"url": f"{nginx.url}/dav/cfg", "username": DAV_USER,
                     "password_file": str(secrets / "dav"), "ca_file": str(test_ca.ca)},
        "email": {"to": ["office@county.example"], "sender": "box@county.example",
                  "host": "127.0.0.1", "port": smtp.port, "username": MAIL_USER,
                  "password_file": str(secrets / "smtp"), "ca_file": str(test_ca.ca)},
        # rclone serves plain http on loopback: the explicit, logged switch
        "s3": {"endpoint": s3.url, "bucket": "cfg", "access_key": S3_KEY,
               "secret_file": str(secrets / "s3"), "allow_insecure": True},
    }
    for section, options in (override or {}).items():
        values.setdefault(section, {}).update(options)
    return configuration.from_dict(values)


def test_config_with_all_three_targets_delivers_to_each(tmp_path, nginx, smtp, s3, test_ca,
                                                        caplog):
    caplog.set_level(logging.INFO, logger="lawline.sync")
    from lawline.sync.service import SyncService
    bucket = s3.bucket("cfg")
    cfg = box_config(tmp_path, nginx, smtp, s3, test_ca)
    cfg.spool_dir.mkdir(parents=True)
    sync = SyncService.from_config(cfg)
    assert sync.targets.names == ["upstream", "email", "s3"]
    path, record = commit_voicemail(sync.outbox, KEY)
    sync.outbox.commit("call-x1", "call", {"outcome": "voicemail"}, {})
    before = len(smtp.messages)

    async def run():
        stop = asyncio.Event()
        task = asyncio.ensure_future(sync.worker.run(stop))
        ok = await sync.worker.drain(15)
        stop.set()
        await task
        return ok
    assert asyncio.run(run()), caplog.text
    day = Clock().day()         # the office's day (Asia/Shanghai), as the outbox's clock
    assert (nginx.root / "dav/cfg/county-0148" / day / KEY / "voicemail.wav").read_bytes() \
        == path.read_bytes()
    assert (bucket / "county-0148" / day / KEY / "voicemail.wav").read_bytes() \
        == path.read_bytes()
    assert (bucket / "county-0148" / day / "call-x1" / "record.json").exists()
    assert smtp.wait_for(before + 1, 5)
    # the call record is owed to upstream and s3 only: e-mail takes voicemails
    assert len(smtp.messages) == before + 1
    assert set(sync.outbox.get("call-x1").deliveries) == {"upstream", "s3"}
    sync.outbox.close()


@pytest.mark.parametrize("override, message", [
    ({"email": {"host": ""}}, "option 'host' in section [email] must be set"),
    ({"email": {"sender": "nobody"}}, "option 'sender' in section [email]"),
    ({"s3": {"bucket": ""}}, "option 'bucket' in section [s3] must be set"),
    ({"upstream": {"url": "ftp://x"}}, "option 'url' in section [upstream]"),
    ({"upstream": {"password_file": ""}}, "option 'password_file' in section [upstream]"),
    ({"spool": {"warn_percent": 120.0}}, "option 'warn_percent' in section [spool]"),
    ({"email": {"security": "none"}}, "option 'security' in section [email]"),
])
def test_config_errors_name_section_and_option(tmp_path, nginx, smtp, s3, test_ca, override,
                                               message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        box_config(tmp_path, nginx, smtp, s3, test_ca, override)


def test_unreadable_secret_names_its_option(tmp_path, nginx, smtp, s3, test_ca):
    cfg = box_config(tmp_path, nginx, smtp, s3, test_ca,
                     {"s3": {"secret_file": str(tmp_path / "missing")}})
    with pytest.raises(ConfigError, match=r"option 'secret_file' in section \[s3\]: cannot "
                                          r"read .*missing: No such file"):
        build_targets(cfg)


def test_upstream_url_alone_still_works(tmp_path):
    cfg = configuration.from_dict({"upstream": {"url": "https://up.example/dav"},
                                   "spool": {"dir": str(tmp_path)}})
    targets = build_targets(cfg)
    assert targets.names == ["upstream"]
    assert targets.where["upstream"] == ("https://up.example/dav/county-0148/{day}/{key}/"
                                         "{file}")
