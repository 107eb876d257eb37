"""Who a freed duty phone goes to (call/driver.phones_for): the caller who has waited
longest, whichever line they are on; an urgent dispute waits behind nobody. (Pure logic, but
call/driver.py loads pjsua2 through sip/hunt.py, so it is tested in this tier.)"""

from lawline.call.driver import phones_for

PHONES = ["13900000001", "13900000002"]


def test_with_nobody_waiting_a_call_rings_every_free_phone():
    assert phones_for("c1", PHONES, {"13900000001"}, []) == (["13900000002"], 0)


def test_a_freed_phone_goes_to_the_first_caller_in_the_queue():
    queue = ["c2", "c3"]
    assert phones_for("c2", PHONES, set(), queue) == (PHONES, 0)        # first: rings
    assert phones_for("c3", PHONES, set(), queue)[1] == 1               # second: waits


def test_a_new_caller_goes_behind_those_waiting():
    assert phones_for("c9", PHONES, set(), ["c2", "c3"])[1] == 2


def test_an_urgent_dispute_waits_behind_nobody():
    assert phones_for("c9", PHONES, set(), ["c2", "c3"], urgent=True) == (PHONES, 0)
