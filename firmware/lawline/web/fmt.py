"""Words and formats the page shows: Chinese names of states, kinds, outcomes, roles; local
times; and the rota checker's messages (duty/roster.py writes them in English for the log)
put into Chinese with the row and column the clerk sees in Excel or WPS."""

import re
import time

from ..records.messages import KIND_WORDS
from ..records.report import CATEGORY_WORDS

STATE_WORDS = {"new": "新案件", "assigned": "办理中", "referred": "已转办",
               "resolved": "已办结", "caller_informed": "已办结并告知来电人"}
OUTCOME_WORDS = {"bridged": "已接通", "abandoned": "来电人挂断", "voicemail": "留言",
                 "complaint": "投诉留言", "no_input": "未按键", "error": "故障",
                 "referral": "转介", "case_status": "案件查询", "after_hours": "非工作时间"}
LEG_WORDS = {"accepted": "接听确认", "no_answer": "无人接听", "busy": "占线", "declined": "拒接",
             "failed": "呼叫失败", "unconfirmed": "未确认"}
SMS_STATES = {"pending": "已排队待发", "sent": "已发送", "failed": "发送失败"}
ROLE_WORDS = {"lawyer": "律师", "mediator": "调解员"}
ACTION_WORDS = {"login": "登录", "login_failed": "登录失败", "logout": "退出",
                "account_locked": "账号锁定",
                "case_resolved": "结案", "case_assigned": "指派案件", "case_taken": "接手案件",
                "voicemail_played": "播放留言", "voicemail_downloaded": "下载留言",
                "rota_uploaded": "上传值班表", "rota_refused": "值班表被拒绝",
                "rota_downloaded": "下载值班表", "report_downloaded": "下载报表",
                "user_added": "新建账号", "user_unlocked": "解锁账号",
                "settings_viewed": "查看设置", "complaint_viewed": "查看投诉"}


def when(t, seconds=False):
    if not t:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else ""), time.localtime(t))


def iso_when(text):
    """'2026-12-01T10:00:05+0800' (a call record's time) as '2026-12-01 10:00:05'."""
    return (text or "-").replace("T", " ")[:19]


def duration(seconds):
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 3600:
        return f"{seconds // 60}分{seconds % 60}秒" if seconds >= 60 else f"{seconds}秒"
    days, rest = divmod(seconds, 86400)
    return (f"{days}天" if days else "") + f"{rest // 3600}小时{rest % 3600 // 60}分"


def who(by):
    """A case history's `by` ("张律师 (13900000001) by SMS") in the page's words."""
    for tail, words in ((" by SMS", "，短信"), (" on the web page", "，网页"), (" shell", "命令行")):
        if by.endswith(tail):
            return by[: -len(tail)] + words
    return {"box": "设备", "shell": "命令行"}.get(by, by)


_NOTES = {"resolution SMS queued": "已排队发送结案短信给来电人",
          "caller heard it by phone": "来电人已电话查询得知"}


def note(text):
    """A case history note the box wrote in English, in Chinese; staff's own notes as typed."""
    if text.startswith("opened: "):
        return "登记：" + KIND_WORDS.get(text[8:], text[8:])
    return _NOTES.get(text, text)


def sms_text(text):
    """An SMS as staff may see it: the caller's status-query PIN is not theirs to read."""
    return re.sub(r"(查询密码|密码)\s*\d{3,8}", r"\1****", text)


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


def rota_problem(text):
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


GLOBALS = {"STATE_WORDS": STATE_WORDS, "KIND_WORDS": KIND_WORDS, "OUTCOME_WORDS": OUTCOME_WORDS,
           "LEG_WORDS": LEG_WORDS, "SMS_STATES": SMS_STATES, "ROLE_WORDS": ROLE_WORDS,
           "CATEGORY_WORDS": CATEGORY_WORDS, "ACTION_WORDS": ACTION_WORDS}
FILTERS = {"note": note, "sms_text": sms_text, "who": who, "when": when, "iso_when": iso_when, "duration": duration, "exact": repr}
