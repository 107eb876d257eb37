from lawline.call.menu import Menu


def test_keys_lead_to_branches():
    assert Menu().key("1").branch == "consultation"
    assert Menu().key("2").branch == "service_request"
    assert Menu().key("5").branch == "complaint"
    assert Menu().key("0").action == "repeat"


def test_invalid_and_silence_count_towards_the_limit():
    menu = Menu(max_tries=3)
    assert menu.key("8").action == "invalid"
    assert menu.timeout().action == "no_key"
    assert menu.key("1").action == "branch"        # a good key still works
    menu = Menu(max_tries=3)
    menu.key("8"), menu.timeout()
    assert menu.key("*").action == "give_up"
    assert menu.path == ["invalid:8", "timeout", "invalid:*"]


def test_repeat_counts_towards_the_limit():
    menu = Menu(max_tries=3)
    assert menu.key("0").action == "repeat"
    assert menu.key("0").action == "repeat"
    assert menu.key("2").action == "branch"       # two repeats, then a choice: fine
    menu = Menu(max_tries=3)
    decisions = [menu.key("0").action for _ in range(3)]
    assert decisions == ["repeat", "repeat", "give_up"]
    menu = Menu(max_tries=3)
    menu.key("0"), menu.timeout()
    assert menu.key("8").action == "give_up"
