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
    到场 2611280001 | 到达 2611280001 | ARRIVED ...     I am at the scene (urgent disputes,
                                                     on-site service); the case is mine
    主题 2611280001 劳动争议 | 主题 2611280001 2 | T ...  the case's topic ([topics], by name or
                                                     by its number in the list)
    回拨 13800138000 [note] | CB 13800138000            I called this missed caller back

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

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Protocol, Sequence

if TYPE_CHECKING:
    from ..duty.roster import Shift


# What the texts read of the outcomes' records (records/outcomes.py imports this module)
class Referral(Protocol):
    """A [[referral]] department (outcomes.Department)."""
    @property
    def name(self) -> str: ...
    @property
    def phone(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def hours(self) -> str: ...


class Person(Protocol):
    """Staff a complaint names, or who took an urgent dispute (outcomes.Duty)."""
    @property
    def mobile(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def staff_no(self) -> str: ...

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
    ("on_scene", r"(?:到场|到达|ARRIVED)"),     # issue 17.2: who went to the scene
    # issue 17.5 and 17.6: a case's topic; a missed caller called back (records/office.py
    # numbers_command: `case` is then the caller's number)
    ("topic", r"(?:主题|分类|T|TOPIC)"),
    ("called_back", r"(?:回拨|已回拨|CB|CALLBACK)"),
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


def odd_digits(text: str) -> bool:
    """True when `text` has a decimal digit that is neither ASCII nor full-width."""
    return any(ch.isdecimal() and not ("0" <= ch <= "9" or "０" <= ch <= "９")
               for ch in text)


def parse_command(text: str | None) -> "Command | None":
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


def _tag(office: str) -> str:
    return f"【{office}】"


def caller_case(office: str, case: str, kind: str, next_steps: str, hours: str = "",
                line: str = "", pin: str = "") -> str:
    """To the caller: the case number, what happens next, how to ask about it. Key 9 answers
    on the caller's own phone; from another phone it asks for the PIN (records/cases.py)."""
    text = f"{_tag(office)}您的{KIND_WORDS[kind]}已登记，案件编号{case}。{next_steps}"
    if hours:
        text += f"办公时间：{hours}。"
    if line:
        text += f"查询进度请拨{line}按9输入案件编号"
        text += f"，用其他电话查询需输入查询密码{pin}。" if pin else "。"
    return text


def duty_case(case: str, kind: str, caller: str, office: str = "") -> str:
    """To the duty person: case, category, caller's number, how to close it."""
    who = caller or "号码未显示"
    return (f"{_tag(office or '0148')}新案件{case}（{KIND_WORDS[kind]}），来电{who}。"
            f"请及时回复来电人。办结后回复：结案 {case}")


def urgent_escalation(case: str, caller: str, minutes_waited: int | None = None,
                      office: str = "") -> str:
    waited = f"等待{minutes_waited}分钟" if minutes_waited else ""
    return (f"{_tag(office or '0148')}紧急纠纷无人接听！案件{case}，来电{caller or '号码未显示'}"
            f"{'，' + waited if waited else ''}。请立即回拨，接手后回复：接 {case}")


def caller_resolved(office: str, case: str, result: str = "", kind: str = "",
                    line: str = "") -> str:
    """To the caller: the case is resolved, with the result the office wrote in plain words
    (plain_result) when it wrote one."""
    what = f"（{KIND_WORDS[kind]}）" if kind in KIND_WORDS else ""
    told = f"办理结果：{result}。" if result else ""
    again = f"如有疑问请拨{line}。" if line else "如有疑问请再次来电。"
    return f"{_tag(office)}您的案件{case}已办结{what}。{told}{again}"


def caller_referral(office: str, case: str, referral: Referral, pin: str = "") -> str:
    return (f"{_tag(office)}转介信息（案件{case}）：{referral.name}，电话{referral.phone}，"
            f"地址{referral.address}，时间{referral.hours}。"
            + (f"查询密码{pin}。" if pin else ""))


def caller_new_pin(office: str, case: str, pin: str) -> str:
    """To a case's caller: its PIN was changed because others keyed wrong ones."""
    return (f"{_tag(office)}有人多次输错您案件{case}的查询密码，为安全起见密码已更换为{pin}。"
            "用本机来电查询无需密码。")


def pins_guessed(case: str, wrong: int, office: str = "") -> str:
    """To the office head: someone is guessing a case's PIN."""
    return (f"{_tag(office or '0148')}提醒：今天有人对案件{case}连续输错查询密码{wrong}次，"
            "已更换密码并短信告知来电人。请留意是否有人冒充来电人查询。")


def complaint_to_head(case: str, caller: str, named: Person | None = None,
                      office: str = "") -> str:
    about = f"，被投诉人工号{named.staff_no}（{named.name}）" if named else ""
    return (f"{_tag(office or '0148')}新投诉{case}，来电{caller or '号码未显示'}{about}。"
            "录音已存档并上报。此投诉不会通知被投诉人。")


def low_rating(case: str, rating: int, caller: str, duty_name: str, office: str = "") -> str:
    return (f"{_tag(office or '0148')}差评提醒：案件{case}来电人{caller or '号码未显示'}"
            f"评分{rating}分（满分5分），接听人{duty_name}。请回访。")


def overdue_owner(case: str, kind: str, caller: str, hours: float) -> str:
    return (f"【0148】案件{case}（{KIND_WORDS[kind]}）已超过{hours:g}小时未办结，"
            f"来电{caller or '号码未显示'}。办结后回复：结案 {case}")


def overdue_head(case: str, kind: str, owner_name: str, owner: str, hours: float) -> str:
    who = f"{owner_name}（{owner}）" if owner else "无人认领"
    return (f"【0148】督办：案件{case}（{KIND_WORDS[kind]}）超期未办结，已超过{hours:g}小时，"
            f"经办人{who}。")


def gap_alert(gaps: Sequence[tuple[dt.date, Shift, str]]) -> str:
    """`gaps`: [(date, Shift, role)]."""
    words = {"lawyer": "律师", "mediator": "调解员"}
    parts = [f"{d:%m月%d日}{s.name}班缺{words.get(r, r)}" for d, s, r in gaps[:5]]
    more = f"等{len(gaps)}处" if len(gaps) > 5 else ""
    return f"【0148】值班表有空缺：{'；'.join(parts)}{more}。请尽快安排。"


def calendar_alert(year: int) -> str:
    return (f"【0148】热线设备缺少{year}年节假日数据，请管理员更新（chinesecalendar 或 "
            "holidays 文件）。")


def daily_summary(day: dt.date, calls: int, answered: int, voicemails: int, opened: int,
                  resolved: int, overdue: int) -> str:
    return (f"【0148】{day:%m月%d日}日报：来电{calls}，接通{answered}，留言{voicemails}；"
            f"新案件{opened}，办结{resolved}，超期{overdue}。")


def command_help() -> str:
    """To a listed person whose SMS is not a command (at most once an hour, office.py)."""
    return ("【0148】未识别的指令。办结请回复：结案 案件编号；接手请回复：接 案件编号"
            "（案件编号用数字0-9）")


def command_reply(command: Command, case: str, ok: bool, reason: str = "") -> str:
    if ok:
        done = {"resolved": "已结案", "assigned": "已由您接手", "referred": "已标记为转办",
                "reassigned": f"已改派给{command.to}", "on_scene": "已记录您到达现场"}
        return f"【0148】案件{case}{done[command.state]}。"
    return f"【0148】未能处理（案件{case}）：{reason}"


def rota_alert(files: Sequence[str], problems: Sequence[str], kept: bool) -> str:
    """To the office head: a rota file was refused (duty/desk.py); what is in force now."""
    first = problems[0] if problems else ""
    first = first if len(first) <= 60 else first[:57] + "..."
    now = "仍按上一版值班表呼叫值班人员" if kept else "暂按配置中的值班号码呼叫"
    return (f"【0148】值班表{'、'.join(files)}有{len(problems)}处错误，未启用（{first}）。"
            f"{now}，请更正后重新上传。")


# -- issue 17: the office's duties to a result -------------------------------------------------
# On-site service (上门服务), a referral handed to its department and checked back, the
# result told in plain words, the survey, staff availability (records/duties.py decides).
#
#     上门 2611280001 2 12-05 09:30 城关镇幸福村3组   dispatch to provider 2 of [[provider]]
#                                                    (or its mobile, or its name), with the
#                                                    appointment's date, time and place
#     到场 2611280001                                 arrived (the provider, the owner, the head)
#     休息 | 休息 18:00 | 休息 12-06 08:30 | 休息 3小时  sign off (until then, or until 上班)
#     上班                                            back on duty
#     夜间 [until] | 日间 [until] | 恢复               the head: night mode, day mode, the
#                                                    office hours again
#
# A department replies with the reply code its SMS gave, then the result (`384105 已为来电人
# 办理`); a caller answers the survey with one digit, 1-5.

_DUTY_COMMANDS = (
    ("dispatch", r"(?:上门|派单|上门服务|DISPATCH)"),
    ("arrived", r"(?:到场|已到场|到达|ARRIVED)"),
    ("off", r"(?:休息|请假|下班|OFF)"),
    ("on", r"(?:上班|值班|ON)"),
    ("night", r"(?:夜间|夜间模式|NIGHT)"),
    ("day", r"(?:日间|日间模式|白天|DAY)"),
    ("auto", r"(?:恢复|自动|AUTO)"),
)
_WORD = re.compile(r"\s*([^\s0-9:,#、-]+)\s*[:,#、-]?\s*(.*)", re.S)
_CASE_ARG = re.compile(r"([0-9]{1,32})(?![0-9A-Za-z])\s*(.*)", re.S)
# when: [YYYY-]MM-DD HH:MM, M月D日 HH:MM, HH:MM, or N小时 / Nh
_WHEN = re.compile(r"(?:((?:\d{4}-)?\d{1,2}-\d{1,2}|\d{1,2}月\d{1,2}日?)\s*)?"
                   r"(\d{1,2}[:：点]\d{2})(?![0-9])|(\d{1,3})\s*(?:小时|个小时|H)(?![0-9A-Za-z])",
                   re.S | re.I)


@dataclass(frozen=True)
class DutyCommand:
    what: str           # dispatch arrived off on night day auto
    case: str = ""      # dispatch, arrived: the digits as sent
    provider: str = ""  # dispatch: its number in [[provider]], its mobile or its name
    day: str = ""       # dispatch, off, night, day: [YYYY-]MM-DD as typed (may be empty)
    time: str = ""      # ... HH:MM
    hours: int = 0      # ... or for this many hours
    place: str = ""     # dispatch: where
    note: str = ""


def parse_duty_command(text: str | None) -> "DutyCommand | None":
    """An SMS of the office's duties as a DutyCommand, or None when it is not one (the same
    full-width and odd-digit rules as parse_command)."""
    text = text or ""
    if odd_digits(text):
        return None
    match = _WORD.fullmatch(text.translate(_NARROW))
    if not match:
        return None
    word, rest = match.group(1).upper(), match.group(2).strip()
    for what, pattern in _DUTY_COMMANDS:
        if re.fullmatch(pattern, word):
            break
    else:
        return None
    if what in ("dispatch", "arrived"):
        case = _CASE_ARG.fullmatch(rest)
        if not case:
            return None
        number, rest = case.group(1), case.group(2).strip()
        if what == "arrived":
            return DutyCommand(what, number, note=rest[:200])
        provider, _, rest = rest.partition(" ")
        when = _WHEN.match(rest.strip())
        if not provider or not when or when.group(3):
            return None
        place = rest.strip()[when.end():].strip()
        if not place:
            return None
        return DutyCommand(what, number, provider, _day(when.group(1)),
                           _hhmm(when.group(2)), place=place[:100])
    if what in ("on", "auto"):
        return DutyCommand(what) if not rest else None
    if not rest:
        return DutyCommand(what)
    when = _WHEN.fullmatch(rest)
    if not when:
        return None
    if when.group(3):
        return DutyCommand(what, hours=int(when.group(3)))
    return DutyCommand(what, day=_day(when.group(1)), time=_hhmm(when.group(2)))


def _hhmm(text: str) -> str:
    """'9点30', '9:30', '09：30' as '09:30'."""
    hour, minute = re.split("[:：点]", text)
    return f"{int(hour):02d}:{minute}"


def _day(text: str | None) -> str:
    """'12-05', '2026-12-05', '12月5日' as '[YYYY-]MM-DD' ('' for none)."""
    if not text:
        return ""
    m = re.fullmatch(r"(\d{1,2})月(\d{1,2})日?", text)
    if m:
        return f"{int(m.group(1)):02d}-{int(m.group(2)):02d}"
    parts = text.split("-")
    if len(parts) == 3:
        return f"{parts[0]}-{int(parts[1]):02d}-{int(parts[2]):02d}"
    return f"{int(parts[0]):02d}-{int(parts[1]):02d}"


_REPLY = re.compile(r"\s*(?:回复|回复码|办结|结案|R)?\s*[:：,#]?\s*([0-9]{4,8})(?![0-9A-Za-z])\s*(.*)",
                    re.S | re.I)


def parse_reply(text: str | None, digits: int) -> tuple[str, str] | None:
    """A department's reply: (the code of `digits` digits, the result), or None. The code
    comes first; a word before it (回复, 办结) is allowed."""
    text = text or ""
    if odd_digits(text):
        return None
    match = _REPLY.fullmatch(text.translate(_NARROW))
    if not match or len(match.group(1)) != digits:
        return None
    return match.group(1), match.group(2).strip()[:300]


def parse_survey(text: str | None) -> int | None:
    """A caller's survey answer: 1-5 alone (full-width too, 分 after it), or None."""
    match = re.fullmatch(r"\s*([1-5])\s*分?\s*[。.!！]?\s*", (text or "").translate(_NARROW))
    return int(match.group(1)) if match else None


_CJK = "\u3400-\u9fff\uff00-\uffef\u3000-\u303f"
_CJK_PUNCT = re.compile(f"(?<=[{_CJK}])[,;:!?]|[,;:!?](?=[{_CJK}])")
_FULL_PUNCT = {",": "，", ";": "；", ":": "：", "!": "！", "?": "？"}
_MOBILE_IN_TEXT = re.compile(r"(?<![0-9])(1[3-9][0-9])([0-9]{4})([0-9]{4})(?![0-9])")


def plain_result(result: str | None, max_chars: int = 120,
                 replace: tuple[tuple[str, str], ...] = (), mask_mobiles: bool = True) -> str:
    """The result the office wrote, as the caller reads or hears it: one line, the office's
    wording rules (`replace`: (word, plain words) pairs), mobiles masked (staff write their
    own numbers into notes), at most `max_chars` characters (cut with …)."""
    text = " ".join((result or "").split())
    # SMS commands are read with full-width forms made ASCII: Chinese punctuation back
    text = _CJK_PUNCT.sub(lambda m: _FULL_PUNCT[m.group(0)], text)
    for old, new in replace:
        if old:
            text = text.replace(old, new)
    if mask_mobiles:
        text = _MOBILE_IN_TEXT.sub(r"\1****\3", text)
    text = text.strip(" 。；;，,")
    if len(text) > max_chars:
        text = text[:max_chars - 1].rstrip(" 。；;，,") + "…"
    return text


def wording_rules(rules: list[str] | tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """[results] replace ('word=>plain words' each) as (word, plain words) pairs; ValueError
    naming the bad one."""
    out = []
    for rule in rules:
        old, sep, new = rule.partition("=>")
        if not sep or not old.strip():
            raise ValueError(f"{rule!r} is not 'word=>plain words'")
        out.append((old.strip(), new.strip()))
    return tuple(out)


def survey(office: str, case: str) -> str:
    """To the caller of a resolved case: the satisfaction survey."""
    return (f"{_tag(office)}请对案件{case}的办理作出评价：直接回复数字1-5"
            "（5非常满意，4满意，3一般，2不满意，1很不满意）。")


def survey_thanks(office: str, case: str) -> str:
    return f"{_tag(office)}感谢您对案件{case}的评价，我们会继续改进。"


def dispatch_to_provider(office: str, case: str, when: str, place: str, caller: str,
                         note: str = "") -> str:
    """To the provider: the appointment, the caller's number, how to report."""
    extra = f"说明：{note}。" if note else ""
    return (f"{_tag(office)}上门服务派单：案件{case}，{when}，地点{place}，"
            f"申请人电话{caller or '号码未显示'}。{extra}到达后回复：到场 {case}；"
            f"办结后回复：结案 {case} 办理结果")


def dispatch_to_caller(office: str, case: str, provider: str, mobile: str, when: str,
                       place: str) -> str:
    return (f"{_tag(office)}您的法律服务申请（案件{case}）已安排上门服务：{provider}将于"
            f"{when}到{place}，联系电话{mobile}。如需改期请拨打该电话。")


def appointment_missed(office: str, case: str, provider: str, when: str, place: str) -> str:
    return (f"{_tag(office or '0148')}上门服务未到场提醒：案件{case}约定{when}在{place}，"
            f"{provider or '服务人员'}至今未回复到场。请核实并联系申请人。")


def handoff(case: str, caller: str, department: str, code: str, due_words: str) -> str:
    """To a department (SMS, and the e-mail's text): the case, the caller, the reply code."""
    due = f"，请于{due_words}前" if due_words else "，请"
    return (f"【0148转介】{department}：案件{case}，来电人{caller or '号码未显示'}需要贵单位"
            f"协助办理{due}联系来电人，办理后回复本短信：{code} 办理结果")


def reply_overdue(office: str, case: str, department: str, due_words: str, code: str) -> str:
    return (f"{_tag(office or '0148')}转介督办：案件{case}已转{department}，"
            f"{('至' + due_words) if due_words else '到期'}仍未回复（回复码{code}）。请跟进。")


def referral_replied(case: str, ok: bool, reason: str = "") -> str:
    """To a department, about its reply."""
    if ok:
        return f"【0148转介】已收到案件{case}的办理结果，谢谢。"
    return f"【0148转介】未能登记您的回复：{reason}"


AVAILABILITY_WORDS = {"off": "已登记休息", "on": "已恢复值班", "night": "热线已切换为夜间模式",
                      "day": "热线已切换为日间模式", "auto": "热线已恢复按办公时间接听"}


def availability_confirm(what: str, name: str, until_words: str) -> str:
    until = f"至{until_words}" if until_words and what != "on" else ""
    after = {"off": "，期间不再呼叫您。回来后回复：上班", "on": "，来电将正常呼叫您。",
             "night": "，来电按下班时间接听。恢复请回复：恢复",
             "day": "，来电按办公时间接听。恢复请回复：恢复", "auto": "。"}[what]
    who = f"{name}" if name and what in ("off", "on") else ""
    return f"【0148】{who}{AVAILABILITY_WORDS[what]}{until}{after}"


def uncovered(name: str, mobile: str, until_words: str, roles: tuple[str, ...]) -> str:
    """To the office head: a sign-off leaves nobody of `roles` on duty now."""
    words = {"lawyer": "律师", "mediator": "调解员"}
    what = "、".join(words.get(r, r) for r in roles)
    until = f"至{until_words}" if until_words else ""
    return (f"【0148】提醒：{name or mobile}（{mobile}）休息{until}，当前已无{what}在岗值班，"
            "来电将转留言。请安排人员。")


def nobody_available(roles: tuple[str, ...], day: dt.date, shift: str) -> str:
    """To the office head: everyone of `roles` on this shift signed off (periodic check)."""
    words = {"lawyer": "律师", "mediator": "调解员"}
    what = "、".join(words.get(r, r) for r in roles)
    return f"【0148】提醒：{day:%m月%d日}{shift}班的{what}均已请假休息，当前无人在岗。请安排人员。"


def duty_reply(command: DutyCommand | None, ok: bool, reason: str = "", case: str = "",
               done: str = "") -> str:
    """To staff, about an SMS of the office's duties."""
    if ok:
        return f"【0148】{done}"
    return f"【0148】未能处理{('（案件' + case + '）') if case else ''}：{reason}"
# -- the urgent ladder (issue 17.2) ------------------------------------------------------

def urgent_taker(case: str, caller: str, office: str = "") -> str:
    """To whoever accepted an urgent dispute (a mediator, the head, the prefecture): the
    case, and how to say they reached the scene and how it ended."""
    return (f"{_tag(office or '0148')}您已接听紧急纠纷，案件{case}，来电{caller or '号码未显示'}。"
            f"到达现场后请回复：到场 {case}；处理完毕请回复：结案 {case} 处理结果")


def urgent_taken(case: str, taker: Person, caller: str, office: str = "") -> str:
    """To everyone else the ladder rang: who took the urgent dispute, so nobody calls back
    twice. `taker`: records/outcomes.Duty."""
    who = f"{taker.name}（{taker.mobile}）" if taker.name else taker.mobile
    return (f"{_tag(office or '0148')}紧急纠纷案件{case}（来电{caller or '号码未显示'}）"
            f"已由{who}接听处理，无需回拨。")


# -- topics and the callback list (issue 17.5, 17.6) ----------------------------------------

def topics_help(topics: Iterable[str]) -> str:
    """The topics as a duty person keys them: "1婚姻家庭 2劳动争议 ..."."""
    return " ".join(f"{i}{name}" for i, name in enumerate(topics, start=1))


def topic_reply(case: str, topic: str | None, ok: bool, reason: str = "") -> str:
    if ok:
        return f"【0148】案件{case}主题已设为：{topic}。"
    return f"【0148】未能设置主题（案件{case}）：{reason}"


def missed_call(caller: str, calls: int, last_at: dt.datetime, where: str,
                office: str = "") -> str:
    """To the duty person: a caller who hung up with no result; once per number a day
    (records/office.py callbacks_due)."""
    times = f"今天{calls}次来电未接通" if calls > 1 else "来电未接通"
    return (f"{_tag(office or '0148')}待回拨：{caller}{times}（最近{last_at:%H:%M}，{where}）。"
            f"请回拨，回拨后回复：回拨 {caller}")


WHERE_WORDS = {"ringing": "振铃中挂断", "menu": "在语音菜单中挂断", "hunt": "等待值班人员时挂断",
               "queue": "排队时挂断", "voicemail": "留言前挂断"}


def callback_reply(number: str, done: int, reason: str = "") -> str:
    if done:
        return f"【0148】已记录：{number}已回拨（{done}条未接来电）。"
    return f"【0148】未能记录回拨（{number}）：{reason}"
