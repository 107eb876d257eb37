"""The weekly/monthly report (XLSX with its chart and rules, and the e-mail with the chart)
and the coordinator's daily overdue list, sent through a real SMTP server (aiosmtpd with
STARTTLS and AUTH)."""

import datetime
import email
import io
import re
from email import policy

import pytest
from openpyxl import load_workbook

from lawline_centre import measures, reports

from conftest import centre_cli, write_config

MAIL_USER, MAIL_PASSWORD = "centre@pref.example", "mail-pass-31"
NAMES = (("county-001", "青山县"), ("county-002", "白水县"), ("county-003", "石门县"))


@pytest.fixture(scope="module")
def smtp(tmp_path_factory):
    from lawline_rig.probe.upstreams import SmtpServer, TestCa
    ca = TestCa(tmp_path_factory.mktemp("ca"))
    server = SmtpServer(ca, {MAIL_USER: MAIL_PASSWORD}).start()
    server.ca_file = ca.ca
    yield server
    server.stop()


@pytest.fixture(scope="module")
def config(generated, smtp, tmp_path_factory):
    base = tmp_path_factory.mktemp("reports")
    secret = base / "mail.secret"
    secret.write_text(MAIL_PASSWORD + "\n")
    path = write_config(base / "centre.toml",
                        source={"kind": "dir", "path": str(generated["root"])},
                        data_dir=str(base / "data"), counties=NAMES,
                        mail={"host": "127.0.0.1", "port": smtp.port, "username": MAIL_USER,
                              "password_file": str(secret), "ca_file": str(smtp.ca_file),
                              "sender": MAIL_USER, "leadership": ["leader@pref.example"],
                              "coordinator": ["coord@pref.example"]})
    centre_cli("ingest", "--config", str(path))
    return path


def test_the_weekly_report_is_written_and_mailed_with_its_chart(generated, smtp, config,
                                                               tmp_path):
    before = len(smtp.messages)
    out = tmp_path / "week.xlsx"
    centre_cli("report", "--config", str(config), "--week", "--at", generated["days"][1],
               "--out", str(out), "--send")
    assert smtp.wait_for(before + 1, 10)
    sender, rcpts, raw = smtp.messages[before]
    assert rcpts == ["leader@pref.example"]
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert "周报" in msg["Subject"]
    parts = {p.get_content_type(): p for p in msg.walk()}
    png = parts["image/png"].get_content()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
    html = parts["text/html"].get_content()
    cid = re.search(r'src="cid:([^"]+)"', html).group(1)
    assert parts["image/png"]["Content-ID"].strip("<>") == cid
    assert "青山县" in html and "全市合计" in html
    attached = next(p for p in msg.iter_attachments() if p.get_filename().endswith(".xlsx"))
    for data in (attached.get_content(), out.read_bytes()):
        wb = load_workbook(io.BytesIO(data))
        assert wb.sheetnames == ["各县", "口径", "案件分类"]
        sheet = wb["各县"]
        names = [sheet.cell(r, 1).value for r in range(3, sheet.max_row + 1)]
        assert {"青山县", "白水县", "石门县", "全市合计"} <= set(names)
        assert len(sheet._charts) == 1
        rules = [row[3] for row in wb["口径"].iter_rows(min_row=2, values_only=True)]
        assert any("短时放弃" in r for r in rules)


def test_the_overdue_list_goes_to_the_coordinator_oldest_first(smtp, config):
    before = len(smtp.messages)
    done = centre_cli("overdue", "--config", str(config), "--send")
    assert "overdue list sent" in done.stdout
    assert smtp.wait_for(before + 1, 10)
    _, rcpts, raw = smtp.messages[before]
    assert rcpts == ["coord@pref.example"]
    msg = email.message_from_bytes(raw, policy=policy.default)
    body = msg.get_body(("plain",)).get_content()
    dues = re.findall(r"到期 (\d{4}-\d{2}-\d{2} \d{2}:\d{2})", body)
    assert len(dues) > 3 and dues == sorted(dues)
    assert "失联设备" in body


def test_a_wrong_mail_password_is_told_in_chinese(config, tmp_path):
    bad = tmp_path / "centre.toml"
    text = config.read_text().replace(str(config.parent / "mail.secret"),
                                      str(tmp_path / "wrong.secret"))
    (tmp_path / "wrong.secret").write_text("not-it\n")
    bad.write_text(text)
    done = centre_cli("overdue", "--config", str(bad), "--send", check=False)
    assert done.returncode == 1 and "邮件服务器" in done.stderr


@pytest.mark.parametrize("now, due", [
    (datetime.datetime(2026, 12, 7, 6, 59), []),                       # Monday, before 07:00
    (datetime.datetime(2026, 12, 7, 7, 30), ["week"]),
    (datetime.datetime(2026, 12, 7, 8, 0), ["week", "overdue"]),
    (datetime.datetime(2026, 12, 1, 9, 0), ["month", "overdue"]),      # the 1st, a Tuesday
    (datetime.datetime(2027, 2, 1, 9, 0), ["week", "month", "overdue"]),   # both
])
def test_which_mails_are_due(now, due):
    assert [what for what, _ in reports.due_today(now, set())] == due
    sent = {f"week {measures.Period.containing('week', now.date()).previous().start}",
            f"month {measures.Period.containing('month', now.date()).previous().start}",
            f"overdue {now.date()}"}
    assert reports.due_today(now, sent) == []
