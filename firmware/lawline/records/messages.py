"""Every SMS the box writes, in one place, and the commands duty staff send back.

The texts are Chinese; the line driver encodes them as UCS-2 and splits long ones into
concatenated parts (70 characters fit one part, 67 per part beyond that), so each text here
says the important thing first: the case number, then the caller's number.

Commands from a registered mobile (case number: 10 digits, or 9 for cases of older boxes;
records/cases.py format_number):

    结案 2611280001 | 办结 2611280001 | R 2611280001   the case is resolved
    接 2611280001   | 接案 2611280001 | A 2611280001   I take it (assigned to the sender)
    转办 2611280001 | F 2611280001                     referred to another department
    改派 2611280001 13900000002 | 派 ... | ASSIGN ...  hand it to that listed person

The case number is every digit in a row after the command word, looked up as it is
(records/office.py): one digit too many or too few is no case, never a neighbouring one, and
a letter right after the digits (an l for a 1, an O for a 0) makes it no command at all.
Full-width forms, what a Chinese input method types in 全角 mode (２６１１２８０００１, Ｒ, ：), are
read as their ASCII twins. Decimal digits of other scripts (Arabic-Indic, Devanagari,
mathematical bold 𝟐...) are refused, not normalised: no Chinese phone keyboard types them by
accident, several look like another digit (٥ is a ring like 0, ٧ a V), so a duty person
reading their own SMS could not tell which case it names; the box only acts on what reads
the same to people and to it. Whoever may act at all is decided in records/office.py.
"""

import re
from dataclasses import dataclass

KIND_WORDS = {
    "consultation": "法律咨询",
    "service_request": "法律服务申请",
    "urgent": "紧急纠纷",
    "referral": "转介其他部门",
    "complaint": "投诉",
}
STATE_WORDS = {
    "new": "已受理，等待处理",
    "assigned": "正在办理",
    "referred": "已转交相关部门办理",
    "resolved": "已办结",
    "caller_informed": "已办结",
}

_COMMANDS = (
    ("resolved", r"(?:结案|办结|完成|R|RESOLVE|DONE)"),
    ("assigned", r"(?:接案|接|A|ACCEPT)"),
    ("referred", r"(?:转办|转|F|REFER)"),
    ("reassigned", r"(?:改派|指派|派|ASSIGN)"),
)
# full-width ASCII forms (U+FF01-FF5E) and the ideographic space, to their ASCII twins
_NARROW = {0xFF01 + i: 0x21 + i for i in range(94)}
_NARROW[0x3000] = 0x20
# word, an optional separator, every digit in a row (never followed by a letter or digit),
# the note
_COMMAND = re.compile(r"\s*([^\s0-9:,#、-]+)\s*[:,#、-]?\s*([0-9]{1,32})(?![0-9A-Za-z])\s*(.*)",
                      re.S)
_TARGET = re.compile(r"(\+?[0-9]{5,20})(?![0-9A-Za-z])\s*(.*)", re.S)


@dataclass(frozen=True)
class Command:
    state: str          # resolved, assigned, referred; "reassigned": assigned to `to`
    case: str           # the digits as sent; office.py looks them up exactly
    note: str = ""
    to: str = ""        # reassigned: the number of the person it goes to


def odd_digits(text):
    """True when `text` has a decimal digit that is neither ASCII nor full-width."""
    return any(ch.isdecimal() and not ("0" <= ch <= "9" or "０" <= ch <= "９")
               for ch in text)


def parse_command(text):
    """A duty SMS as a Command, or None when it is not one (see the module's docstring)."""
    text = text or ""
    if odd_digits(text):
        return None
    match = _COMMAND.fullmatch(text.translate(_NARROW))
    if not match:
        return None
    word, case, note = match.group(1).upper(), match.group(2), match.group(3).strip()
    for state, pattern in _COMMANDS:
        if re.fullmatch(pattern, word):
            break
    else:
        return None
    to = ""
    if state == "reassigned":
        target = _TARGET.fullmatch(note)
        if not target:
            return None
        to, note = target.group(1), target.group(2).strip()
    return Command(state, case, note[:200], to)


def _tag(office):
    return f"【{office}】"


def caller_case(office, case, kind, next_steps, hours="", line="", pin=""):
    """To the caller: the case number, what happens next, how to ask about it. Key 9 answers
    on the caller's own phone; from another phone it asks for the PIN (records/cases.py)."""
    text = f"{_tag(office)}您的{KIND_WORDS[kind]}已登记，案件编号{case}。{next_steps}"
    if hours:
        text += f"办公时间：{hours}。"
    if line:
        text += f"查询进度请拨{line}按9输入案件编号"
        text += f"，用其他电话查询需输入查询密码{pin}。" if pin else "。"
    return text


def duty_case(case, kind, caller, office=""):
    """To the duty person: case, category, caller's number, how to close it."""
    who = caller or "号码未显示"
    return (f"{_tag(office or '0148')}新案件{case}（{KIND_WORDS[kind]}），来电{who}。"
            f"请及时回复来电人。办结后回复：结案 {case}")


def urgent_escalation(case, caller, minutes_waited=None, office=""):
    waited = f"等待{minutes_waited}分钟" if minutes_waited else ""
    return (f"{_tag(office or '0148')}紧急纠纷无人接听！案件{case}，来电{caller or '号码未显示'}"
            f"{'，' + waited if waited else ''}。请立即回拨，接手后回复：接 {case}")


def caller_resolved(office, case):
    return f"{_tag(office)}您的案件{case}已办结。如有疑问请再次来电。"


def caller_referral(office, case, referral, pin=""):
    return (f"{_tag(office)}转介信息（案件{case}）：{referral.name}，电话{referral.phone}，"
            f"地址{referral.address}，时间{referral.hours}。"
            + (f"查询密码{pin}。" if pin else ""))


def caller_new_pin(office, case, pin):
    """To a case's caller: its PIN was changed because others keyed wrong ones."""
    return (f"{_tag(office)}有人多次输错您案件{case}的查询密码，为安全起见密码已更换为{pin}。"
            "用本机来电查询无需密码。")


def pins_guessed(case, wrong, office=""):
    """To the office head: someone is guessing a case's PIN."""
    return (f"{_tag(office or '0148')}提醒：今天有人对案件{case}连续输错查询密码{wrong}次，"
            "已更换密码并短信告知来电人。请留意是否有人冒充来电人查询。")


def complaint_to_head(case, caller, named=None, office=""):
    about = f"，被投诉人工号{named.staff_no}（{named.name}）" if named else ""
    return (f"{_tag(office or '0148')}新投诉{case}，来电{caller or '号码未显示'}{about}。"
            "录音已存档并上报。此投诉不会通知被投诉人。")


def low_rating(case, rating, caller, duty_name, office=""):
    return (f"{_tag(office or '0148')}差评提醒：案件{case}来电人{caller or '号码未显示'}"
            f"评分{rating}分（满分5分），接听人{duty_name}。请回访。")


def overdue_owner(case, kind, caller, hours):
    return (f"【0148】案件{case}（{KIND_WORDS[kind]}）已超过{hours:g}小时未办结，"
            f"来电{caller or '号码未显示'}。办结后回复：结案 {case}")


def overdue_head(case, kind, owner_name, owner, hours):
    who = f"{owner_name}（{owner}）" if owner else "无人认领"
    return (f"【0148】督办：案件{case}（{KIND_WORDS[kind]}）超期未办结，已超过{hours:g}小时，"
            f"经办人{who}。")


def gap_alert(gaps):
    """`gaps`: [(date, Shift, role)]."""
    words = {"lawyer": "律师", "mediator": "调解员"}
    parts = [f"{d:%m月%d日}{s.name}班缺{words.get(r, r)}" for d, s, r in gaps[:5]]
    more = f"等{len(gaps)}处" if len(gaps) > 5 else ""
    return f"【0148】值班表有空缺：{'；'.join(parts)}{more}。请尽快安排。"


def calendar_alert(year):
    return (f"【0148】热线设备缺少{year}年节假日数据，请管理员更新（chinesecalendar 或 "
            "holidays 文件）。")


def daily_summary(day, calls, answered, voicemails, opened, resolved, overdue):
    return (f"【0148】{day:%m月%d日}日报：来电{calls}，接通{answered}，留言{voicemails}；"
            f"新案件{opened}，办结{resolved}，超期{overdue}。")


def command_help():
    """To a listed person whose SMS is not a command (at most once an hour, office.py)."""
    return ("【0148】未识别的指令。办结请回复：结案 案件编号；接手请回复：接 案件编号"
            "（案件编号用数字0-9）")


def command_reply(command, case, ok, reason=""):
    if ok:
        done = {"resolved": "已结案", "assigned": "已由您接手", "referred": "已标记为转办",
                "reassigned": f"已改派给{command.to}"}
        return f"【0148】案件{case}{done[command.state]}。"
    return f"【0148】未能处理（案件{case}）：{reason}"


def rota_alert(files, problems, kept):
    """To the office head: a rota file was refused (duty/desk.py); what is in force now."""
    first = problems[0] if problems else ""
    first = first if len(first) <= 60 else first[:57] + "..."
    now = "仍按上一版值班表呼叫值班人员" if kept else "暂按配置中的值班号码呼叫"
    return (f"【0148】值班表{'、'.join(files)}有{len(problems)}处错误，未启用（{first}）。"
            f"{now}，请更正后重新上传。")
