"""How long a name or an address waits after wrong passwords (web/lockout.py): never for
ever, growing with each lock, forgotten after a day (issue 15: a stranger who guessed a name
locked the office head out until someone ran a shell command)."""

from lawline.web import lockout


def test_a_names_lock_doubles_from_a_minute_up_to_an_hour():
    assert [lockout.name_lock(k) for k in range(1, 9)] == [60, 120, 240, 480, 960, 1920,
                                                          3600, 3600]
    assert lockout.name_lock(0) == 0 and lockout.name_lock(10 ** 6) == 3600


def test_an_addresss_lock_doubles_from_ten_minutes_up_to_a_day():
    assert [lockout.address_lock(k) for k in (1, 2, 3, 8, 9, 100)] == [600, 1200, 2400, 76800,
                                                                      86400, 86400]


def test_strikes_are_forgotten_a_day_after_the_last_wrong_password():
    assert lockout.strikes_now(3, 1000.0, 1000.0 + 86400) == 3
    assert lockout.strikes_now(3, 1000.0, 1000.0 + 86401) == 0
    assert lockout.strikes_now(3, None, 5.0) == 0


def test_the_wait_is_said_in_whole_minutes_rounded_up():
    assert lockout.minutes_left(1060.0, 1000.0) == 1
    assert lockout.minutes_left(1061.0, 1000.0) == 2
    assert lockout.minutes_left(1000.0, 1000.0) == 1
    assert lockout.minutes_left(4600.0, 1000.0) == 60
