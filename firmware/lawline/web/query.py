"""The query strings the page accepts, checked before a page is built: each page names its
parameters and their kind here, and a value that is not one of them is answered 400 with a
Chinese sentence saying which field and what it should be, never a 500 (issue 15).

Pure: no Starlette, no database. `parse(pairs, spec)` takes the request's (name, value)
pairs; parameters a page does not name are ignored (a browser or a bookmark may add some),
a named one given twice is refused (which one would count?).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any, Protocol

# The dates the box ever has: the rota and the calendar read 2000-2099 (DESIGN.md, Tests);
# a date outside is a typo or a probe, and would overflow date arithmetic near 9999.
FIRST_DAY = dt.date(2000, 1, 1)
LAST_DAY = dt.date(2099, 12, 31)
MAX_TEXT = 64
MAX_SPAN_DAYS = 366
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class QueryError(ValueError):
    """A query value the page cannot use; str() is the Chinese sentence for the person."""


class Kind(Protocol):
    """What a query parameter takes: its label for messages, and its parser."""
    label: str

    def __call__(self, value: str) -> Any: ...


Spec = dict[str, tuple[Kind, Any]]


class Date:
    def __init__(self, label: str) -> None:
        self.label = label

    def __call__(self, value: str) -> dt.date:
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise QueryError(f"“{self.label}”应为日期，如 2026-12-01。") from None
        if not FIRST_DAY <= day <= LAST_DAY:
            raise QueryError(f"“{self.label}”应在 {FIRST_DAY} 至 {LAST_DAY} 之间。")
        return day


class Choice:
    def __init__(self, label: str, choices: Iterable[str]) -> None:
        self.label = label
        self.choices = tuple(choices)

    def __call__(self, value: str) -> str:
        if value not in self.choices:
            raise QueryError(f"“{self.label}”没有这个选项，请从页面上的列表中选择。")
        return value


class Number:
    def __init__(self, label: str, low: int, high: int) -> None:
        self.label, self.low, self.high = label, low, high

    def __call__(self, value: str) -> int:
        if not re.fullmatch(r"[0-9]{1,9}", value) or not self.low <= int(value) <= self.high:
            raise QueryError(f"“{self.label}”应为 {self.low} 至 {self.high} 之间的整数。")
        return int(value)


class Text:
    def __init__(self, label: str, limit: int = MAX_TEXT) -> None:
        self.label, self.limit = label, limit

    def __call__(self, value: str) -> str:
        value = value.strip()
        if len(value) > self.limit or _CONTROL.search(value):
            raise QueryError(f"“{self.label}”太长或含有不能显示的字符（最多 {self.limit} 个字）。")
        return value


class Path:
    """A path of this page to go back to after logging in ("/cases/2612010001")."""

    def __init__(self, label: str, limit: int = 512) -> None:
        self.label, self.limit = label, limit

    def __call__(self, value: str) -> str:
        # "//host" and "/\host" would leave the page
        if not value.startswith("/") or value[1:2] in ("/", "\\") or len(value) > self.limit \
                or _CONTROL.search(value):
            raise QueryError(f"“{self.label}”不是本页面的地址。")
        return value


def parse(pairs: Iterable[tuple[str, str]], spec: Spec) -> dict[str, Any]:
    """{name: value} for every parameter of `spec` ({name: (kind, default)}); a parameter
    left out or empty takes its default. Raises QueryError."""
    seen: dict[str, str] = {}
    for name, value in pairs:
        if name not in spec:
            continue
        if name in seen:
            raise QueryError(f"“{spec[name][0].label}”出现了两次，请只填一次。")
        seen[name] = value
    out: dict[str, Any] = {}
    for name, (kind, default) in spec.items():
        value = seen.get(name, "")
        out[name] = kind(value) if value != "" else default
    return out


def span(start: dt.date, end: dt.date, label: str = "日期范围") -> tuple[dt.date, dt.date]:
    """A [start, end] of days that is the right way round and not too long."""
    if start > end:
        raise QueryError(f"{label}的开始日期（{start}）晚于结束日期（{end}）。")
    if (end - start).days >= MAX_SPAN_DAYS:
        raise QueryError(f"{label}最长 {MAX_SPAN_DAYS} 天，请分段查询。")
    return start, end
