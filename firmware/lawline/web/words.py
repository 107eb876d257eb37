"""The box's own sentences as office staff read them: each part of the box, its state, what
`lawline check` says, and the audit log's details, in Chinese (pure).

The box writes its state and its checks in English for the installer's log (status.py,
check.py); the page shows a clerk a Chinese name and a Chinese sentence for each, and keeps
the box's own words for the technician in a folded "技术信息" line beneath. A sentence the
box may write that is not known here still gets a Chinese sentence from its state ("正常",
"需要注意", "故障"), never English alone.
"""

from __future__ import annotations

import re

STATE_WORDS = {"ok": "正常", "warn": "注意", "fail": "故障"}
_PARTS = {
    "modem": "电话模块", "line": "电话线路", "sim card": "SIM卡", "sim": "SIM卡",
    "signal": "手机信号", "network": "移动网络", "trunk": "网络电话中继",
    "sip": "网络电话端口", "upstream": "上报服务器", "outbox": "待上报队列",
    "spool": "存储空间", "spool budget": "存储限额", "storage": "数据库", "sms": "短信",
    "prompts": "提示音", "config": "配置文件", "pjsua2": "通话组件", "clock": "时钟",
    "box": "设备程序", "calendar": "节假日日历", "duty rota": "值班表", "duty cover": "值班空缺",
    "duty": "值班", "target": "上报目标", "upload targets": "上报目标", "check": "自检",
    "hat": "扩展板", "led": "指示灯", "power key": "电源键", "sound card": "声卡",
    "update": "软件更新",
}
_GENERIC = {"ok": "工作正常。", "warn": "需要注意，请技术人员查看技术信息。",
            "fail": "出现故障，请通知技术人员（见技术信息）。"}


def part_name(part: str) -> str:
    """'modem 2' -> '电话模块（线路2）', 'target upstream' -> '上报目标（upstream）'-like names
    in Chinese only: a part the table does not know is '设备部件'."""
    key = part.strip().lower()
    if key in _PARTS:
        return _PARTS[key]
    m = re.fullmatch(r"(modem|line|sim card|signal|network)\s+(\d+)", key)
    if m:
        return f"{_PARTS[m[1]]}（线路{m[2]}）"
    m = re.fullmatch(r"target\s+(\S+)", key)
    if m:
        return "上报目标（" + TARGET_WORDS.get(m[1], "其他") + "）"
    return "设备部件"


TARGET_WORDS = {"upstream": "上报服务器", "email": "电子邮件", "s3": "对象存储"}

# (part, pattern on the box's sentence, Chinese); the first match wins; {0}, {1}: groups
_SENTENCES: list[tuple[str, str, str | None]] = [
    ("modem", r"ready on .*", "就绪，可以接听来电。"),
    ("modem", r"opening .*", "正在启动。"),
    ("modem", r".*is gone.*", "连接断开（可能是USB重新识别），设备正在等它回来。"),
    ("modem", r".*soft reset.*|resetting .*", "正在复位，马上恢复。"),
    ("modem", r"no answer for .*", "没有响应，设备正在重启它的电源。"),
    ("modem", r".*retrying .*", "没有响应，设备正在反复重试。"),
    ("line", r".*", None),
    ("storage", r".*pass SQLite's integrity check", "完好。"),
    ("storage", r".*damaged.*", "发现损坏的数据库，已另存并启用新库，电话照常接听；请技术人员检查存储卡。"),
    ("spool", r".* is full: .*", "已满，新的留言无法保存！请通知技术人员。"),
    ("spool", r".*only .* free on its partition.*", "存储卡快满了，新的留言无法保存！请通知技术人员。"),
    ("spool", r".* is (\d+)% full .*", "已用 {0}%，快满了。"),
    ("spool", r".*partition nearly full.*", "存储卡快满了。"),
    ("spool", r".*: ([\d.]+ MB) of ([\d.]+ MB) used \((\d+)%\).*", "已用 {0}（共 {1}，{2}%）。"),
    ("spool", r".*: (\d+) MB free", "剩余 {0} MB。"),
    ("spool", r".*does not exist yet.*", "还没有建立（设备第一次启动时建立）。"),
    ("spool budget", r".*: ([\d.]+ MB) of ([\d.]+ MB) used \((\d+)%\).*", "已用 {0}（共 {1}，{2}%）。"),
    ("upstream", r"everything delivered", "全部已上报。"),
    ("upstream", r"(\d+) upload\(s\) waiting, the oldest ([\d.]+) h",
     "{0} 项等待上报，最早的已等待 {1} 小时；设备会自动重试。"),
    ("upstream", r"no \[upstream\] url.*", "没有设置上报服务器：留言只保存在本机。"),
    ("upstream", r".* answers \(HTTP.*", "可以连接。"),
    ("upstream", r".* unreachable .*", "连不上；留言暂存本机，恢复后自动上报。"),
    ("upstream", r".* refused the .*", "拒绝了本设备（账号或密码不对？）；留言暂存本机。请通知技术人员。"),
    ("outbox", r"everything delivered", "全部已上报。"),
    ("outbox", r"empty \(no calls yet\)", "空（还没有来电）。"),
    ("outbox", r"(\d+) upload\(s\) waiting, oldest ([\d.]+) h",
     "{0} 项等待上报，最早的已等待 {1} 小时；设备会自动重试。"),
    ("trunk", r".*unregistered.*", "未注册：打给值班手机时可能不通。请通知技术人员。"),
    ("trunk", r".* registered as .*", "已注册。"),
    ("trunk", r"not probed.*", "未检查。"),
    ("sip", r"listens on .*", "只接受本设备允许的来源。"),
    ("config", r".* is valid", "格式正确。"),
    ("config", r"still the example's lab values.*", "还有示例中的测试值（号码等），请技术人员为本办公室设置。"),
    ("pjsua2", r"installed", "已安装。"),
    ("prompts", r"all (\d+) prompts have audio.*", "{0} 段提示音齐全。"),
    ("prompts", r"(\d+) of (\d+) prompts have no audio.*", "{1} 段提示音中有 {0} 段没有录音，来电人会听不到；请技术人员处理。"),
    ("prompts", r"no prompt texts.*", "没有提示音，来电人什么也听不到！请技术人员处理。"),
    ("clock", r"system time zone is .*", "系统时区不是办公室所在时区（记录时间以办公室时区显示）。"),
    ("clock", r"not synchronised.*", "时钟还没有联网校准，办公时间和值班可能不准。"),
    ("clock", r"synchronised.*", "已联网校准。"),
    ("clock", r"cannot tell .*", "无法确认时钟是否准确。"),
    ("box", r"running \(pid (\d+)\).*", "正在运行。"),
    ("calendar", r"no public-holiday data for (\d+) yet.*", "还没有 {0} 年的法定节假日数据：请技术人员更新。"),
    ("calendar", r"holiday data for .*", "节假日数据齐全。"),
    ("duty rota", r"no rota files.*", "没有值班表文件：按1、按3拨打配置中的号码。"),
    ("duty rota", r"(\d+) problem\(s\).*", "值班表有 {0} 处错误，设备仍用上一次正确的值班表。"),
    ("duty rota", r"(\d+) row\(s\), (\d+) people", "{0} 行，{1} 人。"),
    ("duty cover", r"(\d+) gap\(s\) in the next (\d+) days.*", "未来 {1} 天有 {0} 个班次没人值班。"),
    ("duty cover", r"every shift covered for the next (\d+) days", "未来 {0} 天每个班次都有人。"),
    ("duty cover", r"not checked ahead.*", "没有提前检查空缺。"),
    ("target", r".*anyone on the path can read it.*", "传输没有加密，路上的人可以看到内容。"),
    ("sim card", r"not ready.*", "SIM卡没有就绪。"),
    ("signal", r"unknown.*", "没有信号（没有网络？）。"),
    ("network", r".*", None),
    # update.py part_state: the versions and the reason stay in the technician's line
    ("update", r"更新包被拒绝.*", "收到的更新包被拒绝（签名不对、不是本设备的或已损坏），没有安装；"
                                 "电话照常接听。"),
    ("update", r"更新 .* 安装中断.*", "软件更新在安装时中断（断电或重启），没有生效；电话照常接听，"
                                     "可以重新更新。"),
    ("update", r"新版本 .* 开机自检未通过.*", "新版本软件开机自检未通过，已自动退回原来的版本；"
                                           "电话照常接听。"),
    ("update", r"正在更新到 .*", "正在更新软件，电话照常接听。"),
    ("update", r".*等待夜间时段安装", "新版本软件已下载，等夜间时段安装。"),
]


def _family(part: str) -> str:
    key = part.strip().lower()
    key = re.sub(r"\s+\d+$", "", key)
    return "target" if key.startswith("target ") else key


def sentence(part: str, state: str, message: str) -> str:
    """The box's sentence about `part` in Chinese (always a sentence: the state's own when the
    sentence is not a known one)."""
    family = _family(part)
    for where, pattern, words in _SENTENCES:
        if where != family:
            continue
        m = re.fullmatch(pattern, message or "", re.S)
        if m and words:
            return words.format(*m.groups())
    return _GENERIC.get(state, _GENERIC["warn"])


def state_word(state: str) -> str:
    return STATE_WORDS.get(state, "注意")


# The configuration's sections as the settings page names them (the option names inside
# stay the file's own: they are for whoever edits it).
SECTION_WORDS = {
    "office": "办公室", "line": "电话线路", "menu": "语音菜单", "limits": "防滥用限额",
    "duty": "值班", "dialplan": "可拨号码", "hours": "办公时间", "calendar": "节假日",
    "cases": "案件", "survey": "满意度回访", "report": "报表", "health": "设备自检",
    "sip": "网络电话", "trunk": "网络电话中继", "voicemail": "留言", "spool": "存储",
    "outbox": "待上报队列", "upstream": "上报服务器", "email": "电子邮件上报",
    "s3": "对象存储上报", "prompts": "提示音", "web": "办公网页", "hat": "扩展板",
    "referral": "转介单位",
    "onsite": "上门服务", "handoff": "转交回复", "results": "办理结果告知",
    "availability": "值班人员在岗", "provider": "上门服务机构",
    "update": "软件更新",
}


def section_name(section: str) -> str:
    """'[duty]' as '值班', '[referral] 2' (a table entry) as '转介单位 2'."""
    key, _, number = section.partition(" ")
    words = SECTION_WORDS.get(key, "其他设置")
    return f"{words} {number}" if number else words


# -- the audit log ----------------------------------------------------------------------------

ACTION_WORDS = {"login": "登录", "login_failed": "登录失败", "logout": "退出",
                "account_locked": "账号暂时锁定",
                "case_resolved": "结案", "case_assigned": "指派案件", "case_taken": "接手案件",
                "voicemail_played": "播放留言", "voicemail_downloaded": "下载留言",
                "rota_uploaded": "上传值班表", "rota_refused": "值班表被拒绝",
                "rota_downloaded": "下载值班表", "report_downloaded": "下载报表",
                "user_added": "新建账号", "user_unlocked": "解锁账号",
                "password_set": "设置密码", "unlock_code_sent": "发送短信解锁码",
                "settings_viewed": "查看设置", "complaint_viewed": "查看投诉",
                # issue 17, the office's duties (dutypages.py)
                "case_dispatched": "派员上门", "case_arrived": "登记到场",
                "availability_off": "登记休息", "availability_on": "登记上班",
                "availability_night": "切换夜间模式", "availability_day": "切换日间模式",
                "availability_auto": "恢复按办公时间",
                # issue 17, the telephone's duties (pages.py recording_audio)
                "recording_played": "播放通话录音", "recording_downloaded": "下载通话录音",
                # issue 17.5, 17.6: a case's topic, a missed caller called back
                "case_topic": "设置主题", "callback_done": "已回拨"}
ROLE_WORDS = {"head": "负责人", "clerk": "文员", "duty": "值班人员"}
_DETAILS: list[tuple[str, str | None]] = [
    (r"unknown name, locked|name locked|account locked", "该用户名暂时锁定中"),
    (r"unknown name", "没有这个用户名"),
    (r"wrong password", "密码错误"),
    (r"unlock code wrong", "短信解锁码不对或已过期"),
    (r"unlock code", "用短信解锁码登录"),
    (r"(\d+) wrong passwords(?:, (\d+) s)?", "连续 {0} 次密码错误{1}"),
    (r"not a spreadsheet", "不是表格文件"),
    (r"(\d+) problem\(s\)", "有 {0} 处错误"),
    (r"(.*): (\d+) rows, (\d+) people", "{0}：{1} 行，{2} 人"),
    (r"head|clerk|duty", None),
]


def audit_detail(action: str, detail: str) -> str:
    """An audit row's detail in Chinese (staff's own words, such as a case note, as typed)."""
    if not detail:
        return ""
    if action in ("case_resolved", "case_taken", "case_assigned", "complaint_viewed",
                  "case_dispatched", "case_arrived", "case_topic", "callback_done") \
            or action.startswith("availability_"):
        return detail
    for pattern, words in _DETAILS:
        m = re.fullmatch(pattern, detail, re.S)
        if not m:
            continue
        if words is None:
            return ROLE_WORDS[detail]
        groups: list[str] = [g or "" for g in m.groups()]
        if pattern.startswith(r"(\d+) wrong"):
            groups[1] = f"，锁定 {int(groups[1]) // 60 or 1} 分钟" if groups[1] else ""
        return words.format(*groups)
    if action == "rota_refused":
        return "无法读取为表格"
    return detail


def audit_who(user: str, role: str, label: str = "") -> str:
    """Who did it, for the audit table: the person's name, else their role's word; a shell
    command and a stranger in words."""
    if user == "shell":
        return "命令行（设备上）"
    if user == "-":
        return "（不明）"
    return label or ROLE_WORDS.get(role, "") or user


def audit_address(address: str) -> str:
    return "设备本机" if address == "box" else address
