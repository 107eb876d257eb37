"""The urgent ladder (issue 17.2) on the loopback line: key 3 rings every mediator; nobody
accepts, so the office head, then the prefecture's number, each with the urgent whisper;
the prefecture takes it. Every step is on the case (its history, its journal upstream) and
in the call record; the mediators and the head are told who took it. Then a mediator takes
an urgent dispute at once: the other is told who took it, and the mediator reports reaching
the scene and the outcome by SMS, which reach the case, upstream and the caller.

One duty phone process answers for every number (rig: "no-answer,NUMBER=accept").
"""

import json

import pytest

from lawline_rig.probe import hotline, scenarios
from lawline_rig.probe.rig import async_wait_until

from ..conftest import run_call

pytestmark = pytest.mark.scenario

LAWYER, M1, M2, HEAD = "13900000001", "13900000002", "13900000003", "13900000009"
PREFECTURE = "07732345678"        # inside the dial plan: {area}[2-9]XXXXXX


@pytest.fixture(scope="module")
def rig(module_rigs):
    return module_rigs.rig("ladder", duty=False, box_options={
        "office": {"head_mobile": HEAD},
        "duty": {"numbers": [LAWYER], "mediators": [M1, M2], "ring_timeout": 6.0,
                 "confirm_timeout": 6.0},
        "ladder": {"steps": ["head", "prefecture"], "prefecture_number": PREFECTURE,
                   "ring_timeout": 6.0},
        "survey": {"enabled": False}})     # the factory stops it and checks the box's exit


def upstream_record(rig, key):
    path = rig.upstream_path(key, "record.json")
    return json.loads(path.read_text()) if path.exists() else None


def test_nobody_accepts_so_the_ladder_climbs_to_the_prefecture(rig):
    rig.start_dutyphone(f"no-answer,{PREFECTURE}=accept")
    call = run_call(rig, hotline.urgent_ladder, HEAD, PREFECTURE)["record"]
    case = call["case_number"]
    # what the box did, in the call record
    assert [(s["step"], s["outcome"]) for s in call["ladder"]] == [
        ("mediators", "no_answer"), ("head", "no_answer"), ("prefecture", "accepted")], call
    assert call["taken_by"]["number"] == PREFECTURE and call["outcome"] == "bridged"
    # what each phone received: the mediators together, then the head, then the prefecture
    rung = [e["to"] for e in rig.duty_events_list() if e["event"] == "incoming"]
    assert sorted(rung[:2]) == [M1, M2] and rung[2:] == [HEAD, PREFECTURE], rung
    # the case: opened when no mediator accepted, every step in its history, the
    # prefecture's now
    history = [note for _, _, _, note in rig_cases(rig).history(case)]
    assert history[0] == "no mediator accepted"
    assert any("head" in h and "no answer" in h for h in history), history
    assert "taken by 市级值班 (prefecture)" in history[-1], history
    # SMS: the escalation to the mediators and the head, then who took it
    async def texts(rig):
        return {who: await hotline.wait_outside_sms(rig, who, f"已由市级值班（{PREFECTURE}）")
                for who in (M1, M2, HEAD)}
    told = run_call(rig, texts)
    assert all(case in t["text"] for t in told.values())
    assert hotline.outside_sms(rig, M1, "紧急纠纷无人接听") and \
        hotline.outside_sms(rig, HEAD, "紧急纠纷无人接听")
    assert not hotline.outside_sms(rig, PREFECTURE)           # a landline: no SMS
    # upstream: each step's journal item with its facts, and the call record
    def journal():
        found = [upstream_record(rig, f"case-{case}-{n}") for n in (1, 2, 3)]
        return found if all(found) else None
    items = run_call(rig, lambda rig: async_wait_until(journal, 30, "the case journal "
                                                                     "upstream"))
    assert [i["ladder"]["step"] for i in items] == ["mediators", "head", "prefecture"]
    assert items[2]["state"] == "assigned" and items[2]["owner"] == PREFECTURE
    assert run_call(rig, lambda rig: async_wait_until(
        lambda: upstream_record(rig, f"call-{call['call_id']}"), 30, "the call record"))[
        "ladder"][-1]["outcome"] == "accepted"


def test_a_mediator_takes_it_the_other_is_told_and_arrival_and_outcome_come_by_sms(rig):
    rig.start_dutyphone(f"no-answer,{M2}=accept")

    async def taken(rig):
        caller, after = rig.caller, rig.last_id()
        await caller.call(rig.box_number)
        await caller.hear("greeting", 20)
        await caller.press("3")
        await caller.hear_tone(scenarios.DUTY_TONE, 30)
        await caller.hang_up()
        await caller.wait_ended(10)
        call = (await rig.next_record("call", after))["record"]
        case = call["case_number"]
        # the caller has the case number at once, the taker the commands, the other who
        await hotline.caller_sms(rig, case)
        taker = await hotline.wait_outside_sms(rig, M2, f"到场 {case}")
        other = await hotline.wait_outside_sms(rig, M1, f"紧急纠纷案件{case}")
        return call, taker, other
    call, taker, other = run_call(rig, taken)
    case = call["case_number"]
    assert call["taken_by"] == {"step": "mediators", "number": M2, "name": ""}
    assert "结案" in taker["text"] and M2 in other["text"] and "无需回拨" in other["text"]
    assert rig_cases(rig).get(case).owner == M2
    # arrival and outcome by SMS, from the mediator's phone
    hotline.deliver_sms(rig, "+86" + M2, f"到场 {case} 已到现场")

    async def arrived(rig):
        await hotline.wait_outside_sms(rig, M2, "已记录您到达现场")
        return await async_wait_until(lambda: _scene(rig, case), 30, "the arrival upstream")
    scene = run_call(rig, arrived)
    assert scene["on_scene"]["mobile"] == "+86" + M2 and scene["on_scene"]["note"] == "已到现场"
    hotline.deliver_sms(rig, "+86" + M2, f"结案 {case} 双方和解")

    async def resolved(rig):
        return await hotline.caller_sms(rig, f"您的案件{case}已办结")
    run_call(rig, resolved)
    assert rig_cases(rig).get(case).state == "caller_informed"


def _scene(rig, case):
    for n in range(2, 6):
        record = upstream_record(rig, f"case-{case}-{n}")
        if record and record.get("event") == "on_scene":
            return record
    return None


class _Book:
    """The box's case book, read only (the box owns it)."""

    def __init__(self, rig):
        import sqlite3
        self.db = sqlite3.connect(f"file:{rig.spool_dir / 'cases.db'}?mode=ro", uri=True,
                                  timeout=5)

    def history(self, number):
        return self.db.execute("SELECT at, state, by, note FROM case_history WHERE number = ? "
                               "ORDER BY id", (number,)).fetchall()

    def get(self, number):
        from types import SimpleNamespace
        owner, state = self.db.execute("SELECT owner, state FROM cases WHERE number = ?",
                                       (number,)).fetchone()
        return SimpleNamespace(owner=owner, state=state)


def rig_cases(rig):
    return _Book(rig)
