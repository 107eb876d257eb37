"""Call ids are unique on the box: two lines' calls in the same second once drew the same
digits in a thousand-call soak, and the outbox (one item per key) kept only the first call's
record."""

from lawline.call import driver
from lawline.clock import Clock


def test_two_calls_in_the_same_second_that_draw_the_same_digits_get_different_ids(monkeypatch):
    draws = iter(["f230", "f230", "0b1d"])
    monkeypatch.setattr(driver.secrets, "token_hex", lambda n: next(draws))
    clock, now = Clock(), 1_796_000_000.0
    first = driver.new_call_id(clock, now)
    second = driver.new_call_id(clock, now)
    assert first.endswith("-f230") and second.endswith("-0b1d"), (first, second)
    assert first[:13] == second[:13]        # the same second, as the office's clock tells it
