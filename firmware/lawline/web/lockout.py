"""How long a name or an address waits after wrong passwords: the arithmetic alone (pure),
kept in web.db by accounts.py.

A lock is never for ever (issue 15: anyone who guessed a name could lock the office head out
until someone ran a shell command). A name is locked after `[web] max_failures` wrong
passwords in a row, for one minute, then two, four ... at most an hour; an address after
`[web] address_failures` wrong passwords within ten minutes, for ten minutes, doubling up to
a day. A correct log-in forgets the name's locks; a day without a wrong password forgets the
strikes too. So a stranger gets at most `max_failures` guesses an hour on a name (with
scrypt and 8-character passwords that is nothing), while the person whose name it is waits
an hour at worst, and not at all from a browser they logged in with before (accounts.py,
device cookies) or with an unlock code by SMS (the office head).
"""

from __future__ import annotations

NAME_FIRST = 60.0              # seconds, the first lock of a name
NAME_LONGEST = 3600.0
ADDRESS_FIRST = 600.0          # the first lock of an address
ADDRESS_LONGEST = 86400.0
ADDRESS_WINDOW = 600.0         # wrong passwords from one address are counted this long
FORGET_AFTER = 86400.0         # strikes are forgotten a day after the last wrong password


def lock_seconds(strike: int, first: float, longest: float) -> float:
    """The length of the `strike`-th lock (1, 2, ...): first, 2 x first, ... at most longest."""
    if strike < 1:
        return 0.0
    return float(min(first * 2 ** min(strike - 1, 32), longest))


def name_lock(strike: int) -> float:
    return lock_seconds(strike, NAME_FIRST, NAME_LONGEST)


def address_lock(strike: int) -> float:
    return lock_seconds(strike, ADDRESS_FIRST, ADDRESS_LONGEST)


def strikes_now(strikes: int, last_failure: float | None, now: float) -> int:
    """Strikes still counted at `now` (forgotten a day after the last wrong password)."""
    if last_failure is None or now - last_failure > FORGET_AFTER:
        return 0
    return strikes


def minutes_left(until: float, now: float) -> int:
    """Whole minutes to wait, as the page says it ("请在 3 分钟后再试"); at least 1."""
    return max(1, int((until - now + 59) // 60))
