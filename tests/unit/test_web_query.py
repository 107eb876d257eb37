"""The office page's query strings (web/query.py): each value a page takes is checked before
the page is built, and anything else is a Chinese sentence (a 400), never an exception that
would be a 500 (issue 15: `?end=9999-12-31` and `?start=0001-01-01` gave 500)."""

import datetime as dt
import re

import pytest
from hypothesis import given, strategies as st

from lawline.web.query import (Choice, Date, Number, Path, QueryError, Text, parse, span)

SPEC = {"start": (Date("从"), None), "state": (Choice("状态", ("open", "all")), "open"),
        "page": (Number("页码", 1, 100000), 1), "owner": (Text("经办人", 32), ""),
        "next": (Path("返回"), "/")}
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def test_good_values_parse_and_missing_or_empty_ones_take_the_default():
    assert parse([("start", "2026-12-01"), ("page", "3"), ("owner", " 张律师 ")], SPEC) == {
        "start": dt.date(2026, 12, 1), "state": "open", "page": 3, "owner": "张律师",
        "next": "/"}
    assert parse([("start", ""), ("unknown", "x")], SPEC)["start"] is None


@pytest.mark.parametrize("pairs, says", [
    ([("start", "9999-12-31")], "2000-01-01 至 2099-12-31"),
    ([("start", "0001-01-01")], "2000-01-01 至 2099-12-31"),
    ([("start", "2026-02-30")], "应为日期"),
    ([("state", "nonsense")], "没有这个选项"),
    ([("page", "99999999999999999999")], "1 至 100000"),
    ([("page", "-1")], "整数"),
    ([("owner", "x" * 33)], "太长"),
    ([("owner", "a\x00b")], "不能显示"),
    ([("next", "//evil.example/")], "不是本页面的地址"),
    ([("next", "/\\evil.example")], "不是本页面的地址"),
    ([("page", "1"), ("page", "2")], "出现了两次"),
])
def test_bad_values_are_refused_in_chinese(pairs, says):
    with pytest.raises(QueryError, match=re.escape(says)) as refused:
        parse(pairs, SPEC)
    assert CHINESE.search(str(refused.value))


def test_a_span_must_be_the_right_way_round_and_at_most_a_year():
    day = dt.date(2026, 12, 1)
    assert span(day, day) == (day, day)
    with pytest.raises(QueryError, match="晚于"):
        span(day, day - dt.timedelta(days=1))
    with pytest.raises(QueryError, match="366"):
        span(day - dt.timedelta(days=366), day)


@given(pairs=st.lists(st.tuples(st.sampled_from(sorted(SPEC) + ["other"]),
                                st.one_of(st.text(max_size=60), st.dates().map(str),
                                          st.integers().map(str))), max_size=6))
def test_any_query_is_a_value_or_a_chinese_refusal(pairs):
    try:
        out = parse(pairs, SPEC)
    except QueryError as exc:
        assert CHINESE.search(str(exc))
        return
    assert set(out) == set(SPEC)
    if out["start"] is not None:
        assert dt.date(2000, 1, 1) <= out["start"] <= dt.date(2099, 12, 31)
        # the pages' own arithmetic on it cannot overflow
        assert span(out["start"], out["start"] + dt.timedelta(days=7))
