"""The monthly report reaches the leadership by e-mail with its chart (issue 17.5): a
generated month committed through the office's ledger, the report published to the outbox,
and the upload worker sending it over STARTTLS and AUTH to aiosmtpd, a real SMTP server."""

import asyncio
import datetime as dt
import email
import email.policy

from lawline import config as configuration
from lawline.clock import Clock
from lawline.records import report
from lawline.records.office import Office
from lawline.sync import Outbox, UploadWorker
from lawline.sync.settings import build_targets
from lawline_rig import reportmonth

from .conftest import MAIL_PASSWORD, MAIL_USER


def test_the_monthly_report_goes_to_the_leadership_with_its_chart(tmp_path, smtp, test_ca):
    spool = tmp_path / "spool"
    spool.mkdir()
    secret = tmp_path / "smtp.secret"
    secret.write_text(MAIL_PASSWORD)
    secret.chmod(0o600)
    cfg = configuration.from_dict({
        "office": {"name": "测试县法律服务专线"}, "spool": {"dir": str(spool)},
        "duty": {"numbers": [m for m, _ in reportmonth.LAWYERS]},
        "email": {"leadership": ["director@county.example", "deputy@county.example"],
                  "sender": "box@county.example", "host": "127.0.0.1", "port": smtp.port,
                  "username": MAIL_USER, "password_file": str(secret),
                  "ca_file": str(test_ca.ca)}})
    targets = build_targets(cfg)
    # the mail target owes the leadership's report and a referral's hand-off to its
    # department (issue 17.3); voicemails are not
    assert targets.kinds == {"email": {"report", "handoff"}}
    outbox = Outbox(spool / "outbox.db", spool, targets.names, kinds=targets.kinds)
    office = Office.from_config(cfg, spool, outbox,
                                clock=Clock(cfg.office.timezone, moved_to="2026-12-01T07:00"))
    reportmonth.generate(office, dt.date(2026, 10, 1), 61, calls_per_day=3, seed=3)
    before = len(smtp.messages)
    key = report.publish(office, dt.date(2026, 11, 1), dt.date(2026, 12, 1), "month")
    assert [i.key for i in outbox.pending("email")] == [key]      # nothing else is owed
    asyncio.run(UploadWorker(outbox, targets.sinks).run_once("email"))
    assert smtp.wait_for(before + 1, 10)
    _, rcpts, raw = smtp.messages[before]
    assert rcpts == ["director@county.example", "deputy@county.example"]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == "【测试县法律服务专线】月报 2026-11-01 至 2026-11-30"
    assert msg["Message-ID"] == f"<{key}.county-0148@county.example>"
    text = msg.get_body(("plain",)).get_content()
    assert "测试县法律服务专线 月报：2026-11-01 至 2026-11-30" in text and "接通率" in text
    page = msg.get_body(("html",))
    html = page.get_content()
    assert 'src="cid:chart.png"' in html and "按主题" in html and "上期" in html
    related = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert len(related) == 1 and related[0]["Content-ID"] == "<chart.png>"
    assert related[0].get_content() == outbox.get(key).files["chart.png"].read_bytes()
    attached = {p.get_filename(): p.get_content_type() for p in msg.iter_attachments()}
    assert attached == {f"{key}.html": "text/html", f"{key}.csv": "text/csv"}
    assert outbox.pending("email") == []
    outbox.close()
