"""The weekly and monthly report for leadership (XLSX with a native chart, and an e-mail with
the chart as a PNG and the table), and the daily overdue list for the coordinator.

The figures are measures.figures for the period and the one before it, every county and the
prefecture; each measure's rule is printed on the sheet "口径" (how it is counted). The
e-mail goes over SMTP with STARTTLS (or TLS) and AUTH when a user is set, as the box's
voicemail e-mail does; without TLS it is refused unless the server is this machine.
"""

from __future__ import annotations

import datetime
import io
import smtplib
import ssl
import struct
import zlib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font, PatternFill

from . import measures
from .config import secret

FILL = {"green": "C8E6C9", "amber": "FFF59D", "red": "FFCDD2"}
CHART_MEASURE = "connection_rate"


class MailError(RuntimeError):
    """The mail server did not take the message (message in Chinese for the page)."""


@dataclass
class Built:
    period: object
    xlsx: bytes
    png: bytes
    rows: list          # (office, name, current figures, previous figures)
    total: dict
    total_before: dict


def build(web, period, scope=None):
    con = web.cursor()
    now = web.now()
    offices = None if scope is None else [scope]
    current = measures.figures(con, period, now, offices)
    previous = measures.figures(con, period.previous(), now, offices)
    names = sorted(set(current) | set(previous))
    rows = [(o, web.county_name(o), current.get(o, {}), previous.get(o, {})) for o in names]
    total = measures.derive(_sum(current.values()))
    total_before = measures.derive(_sum(previous.values()))
    cols = [measures.BY_ID[c] for c in measures.TABLE_COLUMNS]
    wb = Workbook()
    ws = wb.active
    ws.title = "各县"
    ws.append([f"{web.cfg.centre.name} {'周报' if period.kind == 'week' else '月报'}："
               f"{period.label()}（上期：{period.previous().label()}）"])
    ws["A1"].font = Font(bold=True, size=13)
    ws.append(["县", "编号"] + [f"{m.label}{'(' + m.unit + ')' if m.unit else ''}"
                              for m in cols] + [f"上期{m.label}" for m in cols])
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for office, name, cur, prev in rows + [("", "全市合计", total, total_before)]:
        ws.append([name, office] + [cur.get(m.id) for m in cols] +
                  [prev.get(m.id) for m in cols])
        r = ws.max_row
        for i, m in enumerate(cols):
            colour = m.colour(cur.get(m.id))
            if colour:
                ws.cell(r, 3 + i).fill = PatternFill("solid", fgColor=FILL[colour])
    chart = BarChart()
    chart.title = measures.BY_ID[CHART_MEASURE].label
    col = 3 + measures.TABLE_COLUMNS.index(CHART_MEASURE)
    chart.add_data(Reference(ws, min_col=col, min_row=2, max_row=2 + len(rows)),
                   titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=3, max_row=2 + len(rows)))
    chart.width, chart.height = 28, 9
    ws.add_chart(chart, f"A{ws.max_row + 3}")
    rules = wb.create_sheet("口径")
    rules.append(["指标", "单位", "目标", "计算口径", "设备记录尚缺"])
    for m in measures.MEASURES:
        rules.append([m.label, m.unit, m.target, m.rule, m.missing])
    kinds = wb.create_sheet("案件分类")
    kinds.append(["类别", "主题", "受理", "办结", "办结用时中位数(小时)"])
    for kind, topic, opened, closed, p50 in measures.by_kind_topic(con, period,
                                                                   offices=offices):
        kinds.append([kind, topic or "未分类", opened, closed,
                      round(p50, 1) if p50 is not None else None])
    out = io.BytesIO()
    wb.save(out)
    m = measures.BY_ID[CHART_MEASURE]
    png = bar_png([(cur.get(m.id)) for _, _, cur, _ in rows], m)
    return Built(period, out.getvalue(), png, rows, total, total_before)


def _sum(dicts):
    out = {}
    keep = set(measures.CALL_SQL) - {"wait_p50", "wait_p90"} | {
        "opened", "closed", "overdue", "complaints_closed", "complainants_told"}
    for d in dicts:
        for k in keep:
            if d.get(k) is not None:
                out[k] = out.get(k, 0) + d[k]
    return out


# -- a PNG bar chart with nothing but zlib (mail clients show PNG, not SVG) ------------------

COLOURS = {"green": (46, 125, 50), "amber": (249, 168, 37), "red": (198, 40, 40),
           "": (84, 110, 122)}


def bar_png(values, measure, width=800, height=240):
    pixels = [[(255, 255, 255)] * width for _ in range(height)]
    vals = [v for v in values if v is not None]
    top = max(vals + [measure.target or 0, 1])
    n = max(1, len(values))
    bw = (width - 20) / n
    for i, v in enumerate(values):
        if v is None:
            continue
        h = int((height - 20) * v / top)
        colour = COLOURS[measure.colour(v)]
        x0, x1 = int(10 + i * bw), max(int(10 + i * bw) + 1, int(10 + (i + 1) * bw) - 1)
        for y in range(height - 10 - h, height - 10):
            row = pixels[y]
            for x in range(x0, min(x1, width)):
                row[x] = colour
    if measure.target is not None:
        y = height - 10 - int((height - 20) * measure.target / top)
        for x in range(0, width, 8):
            for dx in range(5):
                if x + dx < width:
                    pixels[y][x + dx] = (29, 29, 31)
    raw = b"".join(b"\0" + bytes(c for px in row for c in px) for row in pixels)

    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data +
                struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                              0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


# -- mail ----------------------------------------------------------------------------------

def _html_table(built, web):
    cols = [measures.BY_ID[c] for c in measures.TABLE_COLUMNS]
    head = "".join(f"<th>{m.label}</th>" for m in cols)
    body = []
    for office, name, cur, prev in built.rows + [("", "全市合计", built.total,
                                                   built.total_before)]:
        cells = "".join(
            f'<td style="background:#{FILL.get(m.colour(cur.get(m.id)), "ffffff")}">'
            f"{_fmt(cur.get(m.id), m.unit)}<br><small>上期 {_fmt(prev.get(m.id), m.unit)}"
            "</small></td>" for m in cols)
        body.append(f"<tr><th>{name}</th>{cells}</tr>")
    return (f'<table border="1" cellspacing="0" cellpadding="3"><tr><th>县</th>{head}</tr>'
            + "".join(body) + "</table>")


def _fmt(value, unit):
    if value is None:
        return "-"
    return (f"{value:.1f}" if isinstance(value, float) else str(value)) + \
        ("%" if unit == "%" else "")


def send_report(web, period):
    built = build(web, period)
    mail = web.cfg.mail
    if not mail.leadership:
        raise MailError("[mail] leadership 没有设置收件人")
    what = "周报" if period.kind == "week" else "月报"
    msg = EmailMessage()
    msg["Subject"] = f"{web.cfg.centre.name} {what} {period.label()}"
    msg["From"] = mail.sender
    msg["To"] = ", ".join(mail.leadership)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid("centre-report")
    m = measures.BY_ID[CHART_MEASURE]
    total = built.total
    msg.set_content(f"{what}：{period.label()}\n全市{m.label} {_fmt(total.get(m.id), '%')}"
                    f"（上期 {_fmt(built.total_before.get(m.id), '%')}），呼入 "
                    f"{total.get('offered', 0)}，超期案件 {total.get('overdue', 0)}。\n"
                    "各县明细见附件 XLSX。")
    cid = make_msgid("chart")
    msg.add_alternative(
        f"<p>{what}：{period.label()}（上期：{period.previous().label()}）</p>"
        f"<p>各县{m.label}（虚线为目标 {m.target:g}%）：</p>"
        f'<p><img src="cid:{cid[1:-1]}" alt="{m.label}"></p>' + _html_table(built, web) +
        "<p>口径见附件“口径”工作表。</p>", subtype="html")
    msg.get_payload()[1].add_related(built.png, "image", "png", cid=cid,
                                     filename="chart.png")
    msg.add_attachment(built.xlsx, maintype="application",
                       subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                       filename=f"centre-{period.kind}-{period.start}.xlsx")
    _send(web.cfg.mail, msg)
    return built


def send_overdue(web):
    """The daily list for the coordinator: open cases past due, oldest first, and silent
    boxes. Returns (cases, silent boxes)."""
    mail = web.cfg.mail
    if not mail.coordinator:
        raise MailError("[mail] coordinator 没有设置收件人")
    con = web.cursor()
    now = web.now()
    rows = measures.overdue_cases(con, now)
    health = measures.health(con, now, web.cfg.centre.silent_hours)
    silent = sorted(o for o, h in health.items() if h["silent"]) + sorted(
        o for o in web.cfg.counties if o not in health)
    lines = [f"{web.county_name(o)}\t{n}\t{c}\t到期 {d:%Y-%m-%d %H:%M}\t"
             f"{owner_name or owner or '无人负责'}" for o, n, c, _t, _op, d, _s, owner,
             owner_name, _caller in rows]
    msg = EmailMessage()
    msg["Subject"] = (f"{web.cfg.centre.name}：超期案件 {len(rows)} 件，失联设备 {len(silent)} 台"
                      f"（{now:%Y-%m-%d}）")
    msg["From"] = mail.sender
    msg["To"] = ", ".join(mail.coordinator)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid("centre-overdue")
    msg.set_content("超期未办结的案件（最早到期的在前）：\n县\t案件\t类别\t到期\t负责人\n"
                    + ("\n".join(lines) or "无") + "\n\n失联设备（超过 "
                    f"{web.cfg.centre.silent_hours:g} 小时没有上传）：\n"
                    + ("\n".join(web.county_name(o) for o in silent) or "无") + "\n")
    _send(mail, msg)
    return rows, silent


def _send(mail, msg):
    if not mail.host:
        raise MailError("[mail] host 没有设置")
    context = ssl.create_default_context(cafile=mail.ca_file or None)
    try:
        if mail.security == "tls":
            server = smtplib.SMTP_SSL(mail.host, mail.port, timeout=mail.timeout,
                                      context=context)
        else:
            server = smtplib.SMTP(mail.host, mail.port, timeout=mail.timeout)
        with server:
            if mail.security == "starttls":
                server.starttls(context=context)
            elif mail.security != "tls" and mail.host not in ("127.0.0.1", "localhost", "::1"):
                raise MailError("不加密（security = \"none\"）只允许发往本机的邮件服务器")
            if mail.username:
                server.login(mail.username, secret(mail.password_file, "[mail] password_file"))
            server.send_message(msg)
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        raise MailError(f"邮件服务器 {mail.host}:{mail.port}：{exc}") from None


def due_today(now, sent):
    """Which scheduled mails are due at `now` (office time) that `sent` (a set of keys)
    lacks: the weekly report on Monday from 07:00, the monthly on the 1st from 07:00, the
    overdue list daily from 08:00."""
    out = []
    week = measures.Period.containing("week", now.date()).previous()
    month = measures.Period.containing("month", now.date()).previous()
    if now.weekday() == 0 and now.time() >= datetime.time(7) and f"week {week.start}" \
            not in sent:
        out.append(("week", week))
    if now.day == 1 and now.time() >= datetime.time(7) and f"month {month.start}" not in sent:
        out.append(("month", month))
    if now.time() >= datetime.time(8) and f"overdue {now.date()}" not in sent:
        out.append(("overdue", now.date()))
    return out
