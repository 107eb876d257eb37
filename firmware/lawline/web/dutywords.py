"""The office's duties as the page shows them (issue 17: on-site service, referral hand-off,
the result told, the survey, staff availability), in Chinese for staff.

Pure: a case's duty columns (records/cases.py DUTY_COLUMNS, as Cases.duties returns them)
become rows of (label, words); the history notes the planner writes in English for the log
(records/outcomes.py) become Chinese; times go through the page's `when` (the office's
zone, [office] timezone) and numbers through `names` (the rota's names)."""

import json
import re
from collections.abc import Callable
from typing import Any

PROVIDER_KINDS = {"law_firm": "律师事务所", "notary": "公证处", "legal_service": "法律服务所",
                  "judicial_office": "司法所", "other": "其他"}
TOLD_HOW = {"sms": "短信", "phone": "电话（来电人按9查询）"}
AVAILABILITY = {"off": "休息", "on": "上班", "night": "夜间模式（按下班时间接听）",
                "day": "日间模式（按办公时间接听）", "auto": "恢复按办公时间"}
VIA = {"sms": "短信", "web": "网页", "shell": "命令行（设备上）"}
# who did it, when the planner names no person (records/outcomes.py)
BY = {"caller by SMS": "来电人（短信）"}

When = Callable[[Any], str]
Names = Callable[[str], str]


def _json(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _person(name: str, mobile: str, names: Names) -> str:
    shown = name or names(mobile) or mobile
    return f"{shown} {mobile}" if mobile and shown != mobile else shown


def case_rows(facts: dict[str, Any], when: When, names: Names) -> list[tuple[str, str, str]]:
    """A case's duty facts as (id, label, words) rows, in the order they happen; [] for a
    case none of the duties touched."""
    rows: list[tuple[str, str, str]] = []
    dispatch = _json(facts.get("dispatch")) if facts.get("dispatch") else {}
    if dispatch:
        kind = PROVIDER_KINDS.get(dispatch.get("kind", ""), "")
        area = dispatch.get("area", "")
        detail = "，".join(w for w in (kind if kind != "其他" else "", area) if w)
        rows.append(("dispatch", "上门服务", _person(dispatch.get("provider", ""),
                                                 dispatch.get("mobile", ""), names)
                     + (f"（{detail}）" if detail else "")))
        rows.append(("appointment", "约定",
                     f"{when(facts.get('appointment'))} {dispatch.get('place', '')}".strip()
                     + (f"；{dispatch['note']}" if dispatch.get("note") else "")))
        if facts.get("arrived"):
            rows.append(("arrived", "到场", f"{when(facts['arrived'])} 已到场"))
        elif facts.get("missed_alerted"):
            rows.append(("arrived", "到场", f"约定时间已过无人登记到场，"
                                          f"{when(facts['missed_alerted'])} 已提醒负责人"))
        else:
            rows.append(("arrived", "到场", "尚未登记到场"))
    handoff = _json(facts.get("handoff")) if facts.get("handoff") else {}
    if handoff:
        phone = handoff.get("phone", "")
        rows.append(("handoff", "转交单位", handoff.get("department", "")
                     + (f"（电话 {phone}）" if phone else "")))
        ways = "、".join(w for w, on in (("短信", handoff.get("sms")),
                                          ("电子邮件", handoff.get("email"))) if on)
        due = handoff.get("due_words", "")
        rows.append(("reply_code", "回复码", f"{facts.get('reply_code', '')}"
                     + (f"（已{ways}发送）" if ways else "")
                     + (f"，请于{due}前回复" if due else "")))
        if facts.get("reply_at"):
            rows.append(("reply", "单位回复", f"{when(facts['reply_at'])} "
                                            f"{facts.get('reply_result', '')}".strip()))
        elif facts.get("reply_alerted"):
            rows.append(("reply", "单位回复", f"逾期未回复，{when(facts['reply_alerted'])} "
                                            "已提醒负责人"))
        else:
            rows.append(("reply", "单位回复", "等待回复"))
    if facts.get("result"):
        rows.append(("result", "办理结果", str(facts["result"])))
    if facts.get("told_at"):
        how = TOLD_HOW.get(facts.get("told_how", ""), "")
        rows.append(("told", "告知来电人", f"{when(facts['told_at'])}" +
                     (f" 以{how}告知" if how else " 已告知")))
    if facts.get("survey_sent") or facts.get("survey_score"):
        score = facts.get("survey_score")
        rows.append(("survey", "满意度回访",
                     f"{score}/5（{when(facts.get('survey_at'))} 回复）" if score else
                     f"{when(facts.get('survey_sent'))} 已短信回访，尚未回复"))
    return rows


_NOTES: tuple[tuple[str, Callable[[re.Match[str]], str]], ...] = (
    (r"dispatched on site to (.*?), (.*?), (.*?)(?:: (.*))?",
     lambda m: f"派员上门：{m[1]}，{m[2]}，{m[3]}" + (f"（{m[4]}）" if m[4] else "")),
    (r"arrived on site(?:: (.*))?", lambda m: "已到场" + (f"：{m[1]}" if m[1] else "")),
    (r"appointment missed: nobody reported arriving",
     lambda m: "约定时间已过，无人登记到场（已提醒负责人）"),
    (r"the department has not replied in time", lambda m: "转交单位逾期未回复（已提醒负责人）"),
    (r"survey answered: (\d) of 5", lambda m: f"满意度回访：{m[1]}/5"),
    (r"result told on the phone \(call .*\)", lambda m: "来电人按9电话查询，已听取办理结果"),
    (r"referred to (.*)", lambda m: f"转交{m[1]}办理"),
)


def note(text: str) -> str | None:
    """A history note of the duties in Chinese, or None when it is none of theirs."""
    for pattern, words in _NOTES:
        m = re.fullmatch(pattern, text, re.S)
        if m:
            return words(m)
    return None


def availability_rows(state: dict[str, Any], when: When,
                      names: Names) -> dict[str, Any]:
    """Records/duties.Duties.state() as the duty page shows it: the line's mode now, who
    signed off now, and the latest changes, in words."""
    mode = state.get("mode")
    mode_words = ""
    if mode:
        what, until, _ = mode
        mode_words = f"{AVAILABILITY.get(what, what)}，至 {when(until)}"
    off = [(_person(name, who, names), f"至 {when(until)}" if until else "")
           for who, (name, until, _) in sorted(state.get("off", {}).items())]
    changes = []
    for c in state.get("changes", []):
        person = _person(c.get("name", ""), c.get("who", ""), names) if c.get("who") else \
            "整条线路"
        until = f"，至 {when(c['until'])}" if c.get("until") and c.get("what") != "on" else ""
        changes.append({"at": when(c.get("at")), "who": person,
                        "what": AVAILABILITY.get(c.get("what", ""), c.get("what", "")) + until,
                        "via": VIA.get(c.get("via", ""), "其他")})
    return {"mode": mode_words, "off": off, "changes": changes}


def provider_choice(index: int, provider: Any) -> str:
    """A [[provider]] as the dispatch form lists it."""
    kind = PROVIDER_KINDS.get(getattr(provider, "kind", ""), "")
    area = getattr(provider, "area", "")
    detail = "，".join(w for w in (kind if kind != "其他" else "", area) if w)
    return f"{index}. {provider.name}" + (f"（{detail}）" if detail else "")
