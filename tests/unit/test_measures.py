"""The hotline measures (records/measures.py), each on records made by hand: the counting
rules GB/T 33358 and the 12348 platforms use (answered within 15 s, connection rate, short
abandons counted apart), percentiles as DuckDB's quantile_cont, periods, groups."""

import pytest

from lawline.records import measures as m

T0 = 1_796_000_000.0          # a period's start (seconds)
DAY = 86400.0


def call(outcome, at=T0 + 60, **fields):
    return {"call_id": f"c{at}-{outcome}", "started": at, "outcome": outcome, **fields}


def answered(wait, **fields):
    return call("bridged", wanted_person=True, wait_s=wait, **fields)


def gave_up(where, after, outcome="abandoned", **fields):
    return call(outcome, abandoned_in=where, abandoned_after_s=after, **fields)


def test_times_read_as_the_box_writes_them():
    assert m.when("2026-12-07T10:00:00+0800") == m.when("2026-12-07T02:00:00+0000") \
        == 1796608800.0
    assert m.when(12.5) == 12.5
    assert m.when("yesterday") is None and m.when(True) is None and m.when(None) is None


def test_short_abandons_are_counted_apart_by_how_long_the_caller_waited():
    calls = [gave_up("ringing", 3.0, "missed"), gave_up("ringing", 9.0, "missed"),
             gave_up("menu", 4.9), gave_up("menu", 30.0), gave_up("hunt", 2.0,
                                                                   wanted_person=True),
             gave_up("queue", 40.0, wanted_person=True), call("voicemail", voicemail={"x": 1}),
             answered(12.0)]
    f = m.call_figures(calls)
    assert f["offered"] == 8
    assert f["short_abandons"] == 3 and f["abandoned"] == 3 and f["missed"] == 2
    # abandoned / (offered - short): 3 / 5
    assert f["abandon_rate"] == 60.0
    # connection: answered / (wanted - short among wanted): the hunt abandon after 2 s is out
    assert f["wanted"] == 3 and f["connection_rate"] == 50.0
    assert f["voicemails"] == 1


def test_a_record_without_the_wait_is_judged_by_its_duration():
    assert m.short_abandon({"outcome": "abandoned", "duration_s": 3.0})
    assert not m.short_abandon({"outcome": "abandoned", "duration_s": 8.0})
    assert not m.short_abandon({"outcome": "bridged", "duration_s": 1.0})


def test_service_level_and_time_to_answer():
    waits = [3.0, 8.0, 15.0, 15.1, 40.0]
    calls = [answered(w) for w in waits] + [call("voicemail", wanted_person=True)]
    f = m.call_figures(calls)
    assert f["answered"] == 5 and f["answered_15s"] == 3
    assert f["service_level"] == 60.0                     # within 15 s / answered
    assert f["connection_rate"] == round(100 * 5 / 6, 1)
    assert f["wait_p50"] == 15.0
    # quantile_cont: position 0.9 * 4 = 3.6 between 15.1 and 40.0
    assert f["wait_p90"] == round(15.1 + 0.6 * (40.0 - 15.1), 1)


def test_percentile_interpolates_like_quantile_cont():
    assert m.percentile([], 0.5) is None
    assert m.percentile([7.0], 0.9) == 7.0
    assert m.percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert m.percentile([4.0, 1.0, 3.0, 2.0], 0.9) == pytest.approx(3.7)


def test_no_calls_gives_counts_of_zero_and_no_rates():
    f = m.call_figures([])
    assert f["offered"] == 0 and f["service_level"] is None and f["wait_p50"] is None
    assert f["connection_rate"] is None and f["abandon_rate"] is None


def journal(number, opened, due, closed=None, topic="", state=None, rating=None, **kw):
    history = [{"at": opened, "state": "new", "by": "box", "note": ""}]
    if closed is not None:
        history += [{"at": closed, "state": "resolved", "by": "x", "note": ""},
                    {"at": closed, "state": "caller_informed", "by": "box", "note": ""}]
    return {"case_number": number, "kind": "consultation", "opened": opened, "due": due,
            "state": state or ("caller_informed" if closed else "new"), "topic": topic,
            "history": history, "rating": rating, **kw}


def test_case_facts_from_the_latest_journal_item():
    f = m.case_facts(journal("2612070001", T0, T0 + 72 * 3600, T0 + 3600, "劳动争议"))
    assert (f["opened"], f["closed"], f["topic"]) == (T0, T0 + 3600, "劳动争议")
    assert m.case_facts(journal("2612070002", T0, None))["topic"] == m.UNSORTED
    # a journal item with ISO times (the centre reads them so too)
    iso = {"case_number": "1", "opened": "2026-12-07T10:00:00+0800", "history": []}
    assert m.case_facts(iso)["opened"] == 1796608800.0


def test_cases_opened_closed_overdue_and_the_median_time_to_close():
    end = T0 + 7 * DAY
    cases = [m.case_facts(c) for c in (
        journal("1", T0 + 10, T0 + 10 + 72 * 3600, T0 + 10 + 2 * 3600),     # closed in time
        journal("2", T0 + 20, T0 + 20 + 72 * 3600, T0 + 20 + 100 * 3600),   # closed late
        journal("3", T0 + 30, T0 + 30 + 4 * 3600),                          # open, overdue
        journal("4", T0 - 9 * DAY, T0 - 6 * DAY, T0 + 3600),                 # opened before
        journal("5", end - 3600, end + 71 * 3600))]                         # due after
    f = m.case_figures(cases, T0, end, now=end + DAY)
    assert f["cases_opened"] == 4 and f["cases_closed"] == 3
    assert f["cases_overdue"] == 2          # 2 (due in the period, closed after) and 3
    assert f["close_p50_h"] == 100.0        # of 2 h, 100 h and 9 days minus
    # a period not over yet counts overdue only up to now
    assert m.case_figures(cases, T0, end, now=T0 + 3 * 3600)["cases_overdue"] == 0


def test_satisfaction_counts_rated_calls_and_survey_ratings_of_closed_cases_once():
    calls = [answered(5, rating=5, case_number="1"), answered(5, rating=2, case_number="2"),
             answered(5, rating=4)]
    cases = [m.case_facts(journal("1", T0, None, T0 + 60, rating=5)),     # its call's rating
             m.case_facts(journal("9", T0, None, T0 + 60, rating=1))]     # a survey reply
    f = m.satisfaction(calls, cases, T0, T0 + DAY)
    assert f["rated"] == 4 and f["satisfaction"] == 50.0


def test_figures_of_a_period_take_calls_by_their_start():
    calls = [answered(5, at=T0 - 1), answered(5, at=T0), answered(5, at=T0 + DAY - 1),
             answered(5, at=T0 + DAY)]
    assert m.figures(calls, [], T0, T0 + DAY, T0 + DAY)["answered"] == 2


def test_by_topic_uses_the_callers_choice_else_its_cases_topic():
    cases = [m.case_facts(journal("2612070001", T0, None, topic="土地纠纷"))]
    calls = [answered(5, topic="劳动争议"), answered(5, case_number="2612070001"),
             gave_up("menu", 20)]
    table = m.by_topic(calls, cases, T0, T0 + DAY, T0 + DAY,
                       topics=("婚姻家庭", "劳动争议", "土地纠纷"))
    assert list(table) == ["婚姻家庭", "劳动争议", "土地纠纷", m.UNSORTED]
    assert table["婚姻家庭"]["offered"] == 0                # listed even when empty
    assert table["劳动争议"]["answered"] == 1
    assert table["土地纠纷"]["offered"] == 1 and table["土地纠纷"]["cases_opened"] == 1
    assert table[m.UNSORTED]["abandoned"] == 1


def test_by_person_takes_who_answered_and_who_owns_the_cases():
    cases = [m.case_facts(journal("1", T0, None, owner="13900000001", owner_name="张律师")),
             m.case_facts(journal("2", T0, None))]
    calls = [answered(5, bridged_to="13900000001"), answered(20, bridged_to="13900000002"),
             gave_up("hunt", 9, wanted_person=True)]
    table = m.by_person(calls, cases, T0, T0 + DAY, T0 + DAY,
                        names={"13900000001": "张律师"})
    assert set(table) == {"张律师", "13900000002"}
    assert table["张律师"]["answered"] == 1 and table["张律师"]["cases_opened"] == 1
    assert table["13900000002"]["service_level"] == 0.0


def test_callback_figures_count_listed_numbers_and_those_called_back():
    entries = [{"first_at": T0 + 5, "done_at": T0 + 600}, {"first_at": T0 + 9,
                                                            "done_at": None},
               {"first_at": T0 - 5, "done_at": T0}]
    assert m.callback_figures(entries, T0, T0 + DAY) == {"callbacks": 2, "called_back": 1}


def test_every_measure_has_its_words_and_rule_and_targets_judge_the_right_way():
    assert len(m.BY_ID) == len(m.MEASURES)
    assert all(x.label and x.rule for x in m.MEASURES)
    assert m.BY_ID["connection_rate"].status(95.0) == "ok"
    assert m.BY_ID["connection_rate"].status(94.9) == "short"
    assert m.BY_ID["abandon_rate"].status(12.0) == "short"
    assert m.BY_ID["offered"].status(3) == ""
    assert "短时放弃" in m.ABANDON_RULE and "5秒" in m.ABANDON_RULE
    # the fields the centre reads are the ones the measures read
    assert set(m.FIELDS["call"]) >= {"topic", "wait_s", "abandoned_in", "callback"}


def test_a_calls_rating_on_its_case_is_not_counted_again_when_the_case_closes_later():
    october = [answered(5, at=T0 - DAY, rating=5, case_number="1")]
    cases = [m.case_facts(journal("1", T0 - DAY, None, T0 + 60, rating=5))]
    assert m.figures(october, cases, T0, T0 + DAY, T0 + DAY)["rated"] == 0
    assert m.figures(october, cases, T0 - DAY, T0, T0 + DAY)["rated"] == 1
