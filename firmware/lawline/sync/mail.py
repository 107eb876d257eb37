"""Voicemail by e-mail to the office mailbox: the WAV attached, Chinese text done right.

Field complaint 5 (shared reference/field.md): PBX voicemail mail that never arrives, arrives
without the audio, or shows raw base64. So: the subject is an RFC 2047 encoded word, the body
UTF-8 text with its charset declared, the WAV a proper `audio/wav` attachment, and sending
goes through STARTTLS (certificate checked) and AUTH, never AUTH in the clear.

E-mail has no overwrite, so at-least-once can mean a second copy after a cut between the
server's "250 OK" and the outbox noting it. The Message-ID is derived from the item's key
(`<260112001.county-0148@example.org>`): mail clients and archives recognise the duplicate.
"""

from __future__ import annotations

import email.utils
import json
import smtplib
import socket
import ssl
import time
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

from lawline.sync.http import UploadError
import datetime

if TYPE_CHECKING:
    from lawline.sync.outbox import DueItem, Record

BOX_NAMES = {"consultation": "法律咨询", "service_request": "法律服务申请",
             "complaint": "投诉", "unknown": "留言"}
SECURITY = ("starttls", "tls", "none")


class EmailTarget:
    """Sends each voicemail as one e-mail to `to`, the box's status too, and with
    `leadership` addresses each periodic report (with its chart inline); other kinds are
    not owed to it (the outbox is told so through `kinds`)."""

    # with `to`; an instance adds "report"
    kinds: tuple[str, ...] = ("voicemail", "health", "handoff")

    def __init__(self, name: str, host: str, port: int, sender: str, to: list[str], *,
                 username: str | None = None, password: str | None = None,
                 security: str = "starttls", cafile: str | Path | None = None,
                 timeout: float = 30.0, office_name: str = "", office_id: str = "",
                 complaint_to: list[str] | None = None,
                 leadership: list[str] | None = None) -> None:
        if security not in SECURITY:
            raise ValueError(f"mail target {name}: security must be one of {SECURITY}")
        if username and security == "none":
            raise ValueError(f"mail target {name}: AUTH needs TLS (security starttls or tls)")
        self.name = name
        self.host = host
        self.port = int(port)
        self.sender = sender
        self.to = list(to)
        self.complaint_to = list(complaint_to or [])
        self.leadership = list(leadership or [])      # the periodic report (issue 17.5)
        # a referral's hand-off goes to its department's own address (issue 17.3)
        self.kinds = (("voicemail", "health") if self.to else ()) + ("handoff",) + \
            (("report",) if self.leadership else ())
        self.username = username or None
        self._password = password or ""
        self.security = security
        self.timeout = float(timeout)
        self.office_name = office_name
        self.office_id = office_id or "lawline"
        self._ssl: ssl.SSLContext | None = None
        if security != "none":
            try:
                self._ssl = ssl.create_default_context(cafile=str(cafile) if cafile else None)
            except (OSError, ssl.SSLError) as e:
                raise ValueError(f"mail target {name}: cannot use the CA file {cafile}: "
                                 f"{getattr(e, 'strerror', None) or e}") from None

    def __repr__(self) -> str:
        return f"EmailTarget({self.name!r}, {self.host}:{self.port}, to={self.to})"

    @property
    def where(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def message_id(self, key: str) -> str:
        domain = self.sender.rpartition("@")[2] or "lawline.invalid"
        return f"<{key}.{self.office_id}@{domain}>"

    def build(self, item: DueItem) -> EmailMessage:
        """The e-mail for one voicemail item (a DueItem with its record)."""
        record = dict(item.record or {})
        if item.kind == "health":
            return self._health(item, record)
        if item.kind == "handoff":
            return self._handoff(item, record)
        if item.kind == "report":
            return self._report(item, record)
        box = record.get("box", "unknown")
        box_name = BOX_NAMES.get(box, box)
        case = record.get("case_number", item.key)
        caller = record.get("caller") or "未显示号码"
        seconds = record.get("duration_s")
        interrupted = bool(record.get("interrupted"))
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients(box))
        subject = f"【{self.office_name or '法律服务专线'}】{box_name}留言 案件号 {case} 来电 {caller}"
        if interrupted:
            subject += "（录音中断）"
        msg["Subject"] = subject
        msg["Date"] = email.utils.format_datetime(
            email.utils.localtime(_from_timestamp(item.created)))
        msg["Message-ID"] = self.message_id(item.key)
        msg["X-Lawline-Key"] = item.key
        lines = [f"案件号：{case}",
                 f"来电号码：{caller}",
                 f"信箱：{box_name}",
                 f"时间：{record.get('started') or time.strftime('%Y-%m-%d %H:%M:%S')}",
                 f"时长：{_duration(seconds)}"]
        if interrupted:
            lines.append("注意：录音因断电或重启而中断，已修复并按实际长度发送。")
        if record.get("short"):
            lines.append("注意：留言很短，可能没有内容。")
        if record.get("ended_by") == "silence":
            lines.append("注意：来电人长时间没有声音，留言已自动结束。")
        lines += ["", f"录音见附件 {item.key}.wav。请按案件号登记并回复来电人。", "",
                  f"—— {self.office_name or self.office_id} 自动发送"]
        # base64 keeps the body intact through servers without 8BITMIME; the charset is
        # declared, so clients show the text, not the encoding (field complaint 5).
        msg.set_content("\n".join(lines) + "\n", charset="utf-8", cte="base64")
        wav = item.files.get("voicemail.wav") or item.files.get("voicemail")
        if wav is not None:
            msg.add_attachment(Path(wav).read_bytes(), maintype="audio", subtype="wav",
                               filename=f"{item.key}.wav")
        # The record as data too, for an office that files mails into its case system.
        msg.add_attachment(json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8"),
                           maintype="application", subtype="json", filename=f"{item.key}.json")
        return msg

    def _health(self, item: DueItem, record: Record) -> EmailMessage:
        """The box's daily or changed status (records/health.py): its text, as it went by
        SMS; the first line is the subject."""
        text = record.get("text", "")
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.to)
        msg["Subject"] = text.splitlines()[0] if text else f"【{self.office_name}】设备状态"
        msg["Date"] = email.utils.format_datetime(
            email.utils.localtime(_from_timestamp(item.created)))
        msg["Message-ID"] = self.message_id(item.key)
        msg["X-Lawline-Key"] = item.key
        msg.set_content(text + "\n", charset="utf-8", cte="base64")
        return msg

    def _handoff(self, item: DueItem, record: Record) -> EmailMessage:
        """A referral handed to its department (issue 17, records/duties.py): to the
        department's own mailbox, the case and its reply code; the record attached as data."""
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = ", ".join(record.get("to") or self.to)
        msg["Subject"] = (f"【{self.office_name or '法律服务专线'}】转介案件 "
                          f"{record.get('case_number', '')} 回复码 {record.get('reply_code', '')}")
        msg["Date"] = email.utils.format_datetime(
            email.utils.localtime(_from_timestamp(item.created)))
        msg["Message-ID"] = self.message_id(item.key)
        msg["X-Lawline-Key"] = item.key
        lines = [record.get("text", ""), "",
                 f"案件号：{record.get('case_number', '')}",
                 f"来电号码：{record.get('caller') or '未显示号码'}",
                 f"回复码：{record.get('reply_code', '')}", "",
                 "办理后请用短信回复：回复码 办理结果。", "",
                 f"—— {self.office_name or self.office_id} 自动发送"]
        msg.set_content("\n".join(lines) + "\n", charset="utf-8", cte="base64")
        msg.add_attachment(json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8"),
                           maintype="application", subtype="json", filename=f"{item.key}.json")
        return msg

    def _report(self, item: DueItem, record: Record) -> EmailMessage:
        """The weekly or monthly report (records/report.py) to the leadership: the text
        summary, the report's page as the HTML part with its chart inline (a PNG: mail
        clients show PNG, not SVG), the full page and the CSV attached."""
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.leadership)
        msg["Subject"] = record.get("subject") or f"【{self.office_name}】报表 {item.key}"
        msg["Date"] = email.utils.format_datetime(
            email.utils.localtime(_from_timestamp(item.created)))
        msg["Message-ID"] = self.message_id(item.key)
        msg["X-Lawline-Key"] = item.key
        msg.set_content((record.get("summary") or "") + "\n", charset="utf-8", cte="base64")
        body = item.files.get("email.html")
        if body is not None:
            msg.add_alternative(Path(body).read_text(encoding="utf-8"), subtype="html",
                                charset="utf-8", cte="base64")
            png = item.files.get("chart.png")
            if png is not None:
                html = msg.get_payload(1)
                assert isinstance(html, EmailMessage)   # add_alternative made it one
                html.add_related(Path(png).read_bytes(), "image", "png", cid="<chart.png>",
                                 filename="chart.png")
        for name, subtype in (("report.html", "html"), ("report.csv", "csv")):
            path = item.files.get(name)
            if path is not None:
                msg.add_attachment(Path(path).read_bytes(), maintype="text", subtype=subtype,
                                   filename=f"{item.key}.{subtype}")
        return msg

    def recipients(self, box: str) -> list[str]:
        return self.complaint_to if box == "complaint" and self.complaint_to else self.to

    def put_item(self, item: DueItem) -> None:
        msg = self.build(item)  # a missing WAV raises OSError here: a local fault
        try:
            self._send(msg)
        except smtplib.SMTPAuthenticationError as e:
            raise UploadError(self.name, self.where, f"{self.where} refused the login "
                              f"({e.smtp_code} {_text(e.smtp_error)})", whole_target=True) \
                from None
        except smtplib.SMTPRecipientsRefused as e:
            codes = "; ".join(f"{rcpt}: {code} {_text(text)}"
                              for rcpt, (code, text) in e.recipients.items())
            raise UploadError(self.name, self.where, f"{self.where} refused the recipients "
                              f"({codes})", whole_target=True) from None
        except smtplib.SMTPResponseException as e:
            # 4xx: try again later (the server is busy); 5xx after DATA: this message.
            item_only = 500 <= e.smtp_code < 600 and isinstance(e, smtplib.SMTPDataError)
            raise UploadError(self.name, self.where, f"{self.where} answered {e.smtp_code} "
                              f"{_text(e.smtp_error)}", whole_target=not item_only) from None
        except (socket.timeout, TimeoutError):
            raise UploadError(self.name, self.where, f"no answer from {self.where} within "
                              f"{self.timeout:g} s", whole_target=True) from None
        except ssl.SSLError as e:
            raise UploadError(self.name, self.where, f"TLS failure with {self.where}: "
                              f"{e.reason or e}", whole_target=True) from None
        except ConnectionRefusedError:
            raise UploadError(self.name, self.where, f"connection refused by {self.where}",
                              whole_target=True) from None
        except (OSError, smtplib.SMTPException) as e:
            raise UploadError(self.name, self.where, f"mail error with {self.where}: "
                              f"{e.strerror if isinstance(e, OSError) and e.strerror else e}",
                              whole_target=True) from None

    def _send(self, msg: EmailMessage) -> None:
        smtp: smtplib.SMTP
        if self.security == "tls":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                    context=self._ssl)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if self.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise smtplib.SMTPException(
                        "the server does not offer STARTTLS; not sending the login or the "
                        "voicemail in the clear")
                smtp.starttls(context=self._ssl)
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self._password)
            smtp.send_message(msg)
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()


def _from_timestamp(t: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(t).astimezone()


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "未知"
    seconds = float(seconds)
    if seconds >= 60:
        return f"{int(seconds // 60)} 分 {seconds % 60:.0f} 秒"
    return f"{seconds:.1f} 秒"


def _text(value: bytes | str) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
