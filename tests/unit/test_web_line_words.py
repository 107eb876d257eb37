"""The office page's words for the telephone's duties (issue 17: the urgent ladder, the
switchboard, recordings): the notes the ladder and an arrival write on a case in Chinese,
every step and outcome the planner can write named, and other notes left to the rest."""

import pytest

from lawline.web import fmt


@pytest.mark.parametrize("note, words", [
    ("no mediator accepted", "调解员均未接听，已短信通知"),
    ("urgent: taken by 李调解 (mediators)", "紧急纠纷：调解员 李调解 接听，现由其办理"),
    ("urgent: taken by 13900000002 (mediators)", "紧急纠纷：调解员 13900000002 接听，现由其办理"),
    ("urgent ladder: taken by 负责人 (head)", "紧急升级：负责人 接听，现由其办理"),
    ("urgent ladder: taken by 市级值班 (prefecture)", "紧急升级：市级值班 接听，现由其办理"),
    ("urgent ladder: handed to the prefecture switchboard 1600148",
     "紧急升级：已转市级1600148热线（1600148）"),
    ("urgent ladder: head 13900000009 no answer", "紧急升级：负责人 13900000009 无人接听"),
    ("urgent ladder: prefecture 07732345678 no key",
     "紧急升级：市级值班 07732345678 接起未按键确认"),
    ("on the scene", "已到达现场"),
    ("on the scene: 双方在村委会", "已到达现场：双方在村委会"),
])
def test_the_ladders_notes_in_chinese(note, words):
    assert fmt.note(note) == words


def test_every_step_and_outcome_the_planner_writes_has_its_words():
    from lawline.records import outcomes
    import inspect
    source = inspect.getsource(outcomes.LadderStep)
    for outcome in ("accepted", "handed_over", "no_answer", "busy", "declined", "no_key",
                    "failed"):
        assert outcome in source and outcome in fmt.LADDER_OUTCOME_WORDS
    for step in ("mediators", "head", "prefecture", "switchboard"):
        assert step in source and step in fmt.LADDER_STEP_WORDS
        assert fmt.ladder_step({"step": step, "outcome": "busy"}) == \
            f"{fmt.LADDER_STEP_WORDS[step]} 占线"
    assert fmt.ladder_step({"step": "mayor", "outcome": "danced"}) == "其他 其他"
    assert fmt.OUTCOME_WORDS["overflow"] == "已转市级1600148热线"


def test_other_notes_are_not_the_ladders():
    assert fmt.line_note("urgent ladder: mayor 123 no answer") is None
    assert fmt.line_note("已电话答复") is None
    assert fmt.note("已电话答复") == "已电话答复"
    assert fmt.note("opened: urgent").startswith("登记：")
