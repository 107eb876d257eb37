"""Words and formats the page shows: Chinese names of states, kinds, outcomes, roles; times
in the office's own time zone ([office] timezone, whatever the host's is: the image runs in
UTC); and the rota checker's messages (duty/roster.py writes them in English for the log)
put into Chinese with the row and column the clerk sees in Excel or WPS."""

import datetime as dt
import os
import re
from collections.abc import Callable
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

from ..records.messages import KIND_WORDS
from ..records.report import CATEGORY_WORDS
from . import dutywords, words

STATE_WORDS = {"new": "新案件", "assigned": "办理中", "referred": "已转办",
               "resolved": "已办结", "caller_informed": "已办结并告知来电人"}
OUTCOME_WORDS = {"bridged": "已接通", "abandoned": "来电人挂断", "voicemail": "留言",
                 "complaint": "投诉留言", "no_input": "未按键", "error": "故障",
                 "referral": "转介", "case_status": "案件查询", "after_hours": "非工作时间",
                 "overflow": "已转市级1600148热线"}
LEG_WORDS = {"accepted": "接听确认", "no_answer": "无人接听", "busy": "占线", "declined": "拒接",
             "failed": "呼叫失败", "unconfirmed": "未确认"}
SMS_STATES = {"pending": "已排队待发", "sent": "已发送", "failed": "发送失败",
              "limited": "超过每日上限，未发送"}
ROLE_WORDS = {"lawyer": "律师", "mediator": "调解员"}


class Formats:
    """Times as the office reads them, in its own zone."""

    def __init__(self, zone: str = "Asia/Shanghai") -> None:
        self.zone = ZoneInfo(zone)

    def when(self, t: float | str | None, seconds: bool = False) -> str:
        """A time (seconds since the epoch) as '2026-12-01 10:00' in the office's zone."""
        if not t:
            return "-"
        try:
            moment = dt.datetime.fromtimestamp(float(t), self.zone)
        except (ValueError, OverflowError, OSError):
            return "-"
        return moment.strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else ""))

    def iso_when(self, text: str | None) -> str:
        """A call record's time ('2026-12-01T02:00:05+0000', written in the box's system zone)
        as '2026-12-01 10:00:05' in the office's zone."""
        try:
            moment = dt.datetime.strptime(text or "", "%Y-%m-%dT%H:%M:%S%z")
        except ValueError:
            return (text or "-").replace("T", " ")[:19]
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S")

    def day_of(self, text: str | None) -> dt.date | None:
        """The office's date of a call record's time, or None."""
        try:
            return dt.datetime.strptime(text or "", "%Y-%m-%dT%H:%M:%S%z").astimezone(
                self.zone).date()
        except ValueError:
            return None

    def filters(self) -> dict[str, Callable[..., Any]]:
        return dict(FILTERS, when=self.when, iso_when=self.iso_when)


# For pages built on this library without an office config of their own (the prefecture
# centre): the default office zone, and the action words as they were here before words.py.
DEFAULT = Formats()
ACTION_WORDS = words.ACTION_WORDS


def when(t: float | str | None, seconds: bool = False) -> str:
    return DEFAULT.when(t, seconds)


def iso_when(text: str | None) -> str:
    return DEFAULT.iso_when(text)


def file_name(path: str | os.PathLike[str]) -> str:
    """A path as staff read it: its file name (the folder is for the technician)."""
    return os.path.basename(str(path).rstrip("/")) or str(path)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 3600:
        return f"{seconds // 60}分{seconds % 60}秒" if seconds >= 60 else f"{seconds}秒"
    days, rest = divmod(seconds, 86400)
    return (f"{days}天" if days else "") + f"{rest // 3600}小时{rest % 3600 // 60}分"


def who(by: str, names: Callable[[str], str] | None = None) -> str:
    """A case history's `by` in the page's words: "张律师 (13900000001) by SMS" ->
    "张律师（短信）", "王主任 (head) on the web page" -> "王主任（网页）"; a bare number by its
    name on the rota (`names(number)`) when there is one."""
    names = names or (lambda number: "")
    if by in dutywords.BY:                      # the duties' (issue 17)
        return dutywords.BY[by]
    for tail, how in ((" by SMS", "短信"), (" on the web page", "网页")):
        if by.endswith(tail):
            person = by[: -len(tail)].strip()
            m = re.fullmatch(r"(.*?)\s*\(([^)]*)\)", person)
            if m and m[1]:
                person = m[1]          # the login name or the number in brackets: not needed
            elif re.fullmatch(r"\+?[0-9]{5,20}", person):
                person = names(person) or person
            return f"{person}（{how}）"
    return {"box": "设备", "shell": "命令行（设备上）"}.get(by, by)


_NOTES = {"resolution SMS queued": "已排队发送结案短信给来电人",
          "caller heard it by phone": "来电人已电话查询得知"}


def note(text: str) -> str:
    """A case history note the box wrote in English, in Chinese; staff's own notes as typed."""
    if text.startswith("opened: "):
        return "登记：" + KIND_WORDS.get(text[8:], text[8:])
    duty = dutywords.note(text)                 # the duties' notes (issue 17)
    if duty:
        return duty
    m = re.fullmatch(r"reassigned to (\S+)", text)
    if m:
        return f"改派给 {m[1]}"
    line = line_note(text)
    if line is not None:
        return line
    return _NOTES.get(text, text)


# -- the telephone's duties (issue 17: the urgent ladder, the switchboard, recordings) -------

LADDER_STEP_WORDS = {"mediators": "调解员", "head": "负责人", "prefecture": "市级值班",
                     "switchboard": "市级1600148热线"}
LADDER_OUTCOME_WORDS = {"accepted": "已接听", "handed_over": "已转接", "no_answer": "无人接听",
                        "busy": "占线", "declined": "拒接", "no_key": "接起未按键确认",
                        "failed": "呼叫失败", "caller_gone": "来电人已挂断"}
TRANSFER_HOW_WORDS = {"header": "信令注明", "dtmf": "按键注明"}


def line_note(text: str) -> str | None:
    """A note the urgent ladder or an arrival wrote on a case, in Chinese; None for any
    other. The step (mediators, head, ...) and its outcome (no answer, ...) in the page's
    words; a name, number or staff's own note as written."""
    if text == "no mediator accepted":
        return "调解员均未接听，已短信通知"
    m = re.fullmatch(r"urgent( ladder)?: taken by (.+) \((\w+)\)", text, re.S)
    if m and m[3] in LADDER_STEP_WORDS:
        step = LADDER_STEP_WORDS[m[3]]
        who = "" if m[2] == step else f" {m[2]}"        # the ladder names a step by its word
        return f"{'紧急升级' if m[1] else '紧急纠纷'}：{step}{who} 接听，现由其办理"
    m = re.fullmatch(r"urgent ladder: handed to the prefecture switchboard (\S+)", text)
    if m:
        return f"紧急升级：已转市级1600148热线（{m[1]}）"
    m = re.fullmatch(r"urgent ladder: (\w+) (\S+) ([a-z ]+)", text)
    if m and m[1] in LADDER_STEP_WORDS:
        outcome = LADDER_OUTCOME_WORDS.get(m[3].replace(" ", "_"), "其他")
        return f"紧急升级：{LADDER_STEP_WORDS[m[1]]} {m[2]} {outcome}"
    m = re.fullmatch(r"on the scene(?:: (.*))?", text, re.S)
    if m:
        return "已到达现场" + (f"：{m[1]}" if m[1] else "")
    return None


def ladder_step(step: dict[str, Any]) -> str:
    """A call record's ladder step ({step, number, outcome}) as one line on the calls page."""
    return (f"{LADDER_STEP_WORDS.get(str(step.get('step')), '其他')} "
            f"{LADDER_OUTCOME_WORDS.get(str(step.get('outcome')), '其他')}")


def sms_text(text: str) -> str:
    """An SMS as staff may see it: the caller's status-query PIN is not theirs to read."""
    return re.sub(r"(查询密码|密码)\s*\d{3,8}", r"\1****", text)


class RotaProblem(TypedDict):
    """One rota checker line as the rota page shows it."""
    row: int | None
    column: str
    text: str


_KEYS = {"date": "日期", "weekday": "星期", "week": "周次", "shift": "班次", "name": "姓名",
         "role": "角色", "mobile": "手机", "staff_no": "工号"}
_REASONS = (
    (r"'(.*)' is not a date like 2026-12-01", "“{0}”不是日期（应如 2026-12-01）"),
    (r"'(.*)' is not a weekday \(mon\.\.sun or 周一\.\.周日\)", "“{0}”不是星期（周一至周日）"),
    (r"'(.*)' is not a week number 1\.\.52", "“{0}”不是周次（1-52）"),
    (r"'(.*)' is not a shift; configured shifts: (.*) \(\[duty\] shifts\)",
     "“{0}”不是班次；已配置的班次：{1}"),
    (r"missing name", "缺少姓名"),
    (r"'(.*)' is not a role \(lawyer/律师 or mediator/调解员\)", "“{0}”不是角色（律师或调解员）"),
    (r"missing mobile number(?: for (.*))?", "缺少手机号{0}"),
    (r"'(.*)' is not a phone number", "“{0}”不是电话号码"),
    (r"'(.*)' is not a staff number \(1 to 4 digits\)", "“{0}”不是工号（1-4位数字）"),
    (r"(.*) is already on the (.*) (.*) shift in row (\d+) \(duplicated shift\)",
     "{0}已在第{3}行排了{1} {2}班（重复）"),
    (r"(\S+) belongs to (.*) in row (\d+), not (.*)", "号码{0}在第{2}行属于{1}，不是{3}"),
    (r"staff number (\S+) is already (.*)'s", "工号{0}已属于{1}"),
    (r"gap: no (\w+) on (\S+) (.*)", "空缺：{1} {2} 没有{0}"),
)
_WHERE = re.compile(r"^(?P<file>.+?) row (?P<row>\d+), column (?P<col>[A-Z]+) \((?P<key>\w+)\): "
                    r"(?P<what>.*)$", re.S)
_HEADER = re.compile(r"^(?P<file>.+?) row (?P<row>\d+): header lacks column\(s\) (?P<cols>.*?);")


def rota_problem(text: str) -> RotaProblem:
    """One rota checker line as {'row', 'column', 'text'} in Chinese (English kept when the
    sentence is not one the checker is known to write)."""
    match = _WHERE.match(text)
    if match:
        what = match["what"]
        for pattern, words in _REASONS:
            m = re.fullmatch(pattern, what, re.S)
            if m:
                groups = [g or "" for g in m.groups()]
                if pattern.startswith("gap"):
                    groups[0] = ROLE_WORDS.get(groups[0], groups[0])
                if pattern.startswith("missing mobile"):
                    groups[0] = f"（{groups[0]}）" if groups[0] else ""
                what = words.format(*groups)
                break
        return {"row": int(match["row"]), "column": match["col"],
                "text": f"第{match['row']}行 {match['col']}列（{_KEYS.get(match['key'], match['key'])}）"
                        f"：{what}"}
    match = _HEADER.match(text)
    if match:
        return {"row": int(match["row"]), "column": "",
                "text": f"第{match['row']}行（表头）缺少列：{match['cols']}；应为 日期,班次,姓名,角色,"
                        "手机[,工号]（或 date,shift,name,role,mobile）"}
    return {"row": None, "column": "", "text": text}


SHIFT_WORDS = {"day": "白班", "night": "夜班", "morning": "上午班", "afternoon": "下午班",
               "evening": "晚班", "weekend": "周末班", "late": "晚班", "early": "早班"}


def shift_name(name: str) -> str:
    """A shift as the office calls it: the default shifts' names ("day", "night") in
    Chinese; a name the office gave its own shift as given."""
    return SHIFT_WORDS.get(str(name).lower(), name)


def backlog(pending: int, oldest_age: float | None) -> str:
    """What waits to go upstream, from the outbox itself (the same reading as `lawline check`
    and the box: the box's own sentence may be up to a health tick old)."""
    if not pending:
        return "待上报：无，全部已上报。"
    return (f"待上报 {pending} 项，最早的已等待 {duration(oldest_age or 0)}；设备会自动重试，"
            "联网后自动补报。")


GLOBALS = {"backlog": backlog, "STATE_WORDS": STATE_WORDS, "KIND_WORDS": KIND_WORDS, "OUTCOME_WORDS": OUTCOME_WORDS,
           "LEG_WORDS": LEG_WORDS, "SMS_STATES": SMS_STATES, "ROLE_WORDS": ROLE_WORDS,
           "CATEGORY_WORDS": CATEGORY_WORDS, "ACTION_WORDS": words.ACTION_WORDS,
           "ladder_step": ladder_step, "TRANSFER_HOW_WORDS": TRANSFER_HOW_WORDS,
           "PART_STATE": words.state_word, "part_name": words.part_name,
           "part_sentence": words.sentence, "audit_detail": words.audit_detail,
           "audit_who": words.audit_who, "audit_address": words.audit_address,
           "section_name": words.section_name}
FILTERS: dict[str, Callable[..., Any]] = {"shift": shift_name, "note": note, "sms_text": sms_text, "who": who,
           "duration": duration, "exact": repr, "file_name": file_name, "when": when,
           "iso_when": iso_when}
