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


# -- the menu from the county's TOML (config.py, call/menu.py) ---------------------------

import tomllib

import pytest

from lawline import config
from lawline.call.menu import DEFAULT_KEYS, TOP
from lawline.errors import ConfigError


def menu_of(toml_text):
    return config.from_dict(tomllib.loads(toml_text)).menu


def test_the_default_menu_is_todays():
    tree = menu_of("").tree
    assert {d: k.branch for d, k in tree[TOP].keys.items()} == DEFAULT_KEYS
    assert tree[TOP].prompt == "menu"


def test_the_example_menu_loads_as_the_default(tmp_path):
    path = tmp_path / "lawline.toml"
    path.write_text(config.example(), encoding="utf-8")
    assert config.load(path).menu.tree == menu_of("").tree


def test_a_moved_key_and_a_sub_menu_load():
    menu = menu_of('''
        [menu.keys]
        "1" = "service_request"
        "7" = { branch = "submenu", menu = "family" }
        [menu.submenu.family]
        prompt = "family_menu"
        keys = { "1" = { branch = "consultation", prompt = "connecting" }, "0" = "repeat" }
    ''')
    m = Menu(3, menu.tree)
    assert m.key("1").branch == "service_request"
    assert m.key("2").action == "invalid"
    decision = m.key("7")
    assert decision.action == "submenu" and m.prompt == "family_menu"
    decision = m.key("1")
    assert decision.branch == "consultation" and decision.prompt == "connecting"


@pytest.mark.parametrize("toml_text, names", [
    ('[menu.keys]\n"a" = "consultation"', "option 'keys.a' in section [menu]"),
    ('[menu.keys]\n"11" = "consultation"', "option 'keys.11' in section [menu]"),
    ('[menu.keys]\n"1" = "lawyer"', "option 'keys.1.branch' in section [menu]: 'lawyer' is no "
                                    "branch"),
    ('[menu.keys]\n"1" = { branch = "consultation", colour = "red" }',
     "unknown option 'keys.1.colour' in section [menu]"),
    ('[menu.keys]\n"6" = { branch = "submenu", menu = "family" }',
     "option 'keys.6.menu' in section [menu]: no sub-menu 'family'"),
    ('[menu.keys]\n"6" = "submenu"', "option 'keys.6.menu' in section [menu]: a submenu key "
                                     "names its sub-menu"),
    ('[menu.keys]\n"6" = { branch = "submenu", menu = "a" }\n'
     '[menu.submenu.a]\nprompt = "menu_a"\nkeys = { "1" = { branch = "submenu", menu = "b" } }\n'
     '[menu.submenu.b]\nprompt = "menu_b"\nkeys = { "2" = { branch = "submenu", menu = "a" } }',
     "option 'submenu.b.keys.2.menu' in section [menu]: main -> a -> b -> a is a loop"),
    ('[menu.keys]\n"6" = { branch = "submenu", menu = "a" }\n'
     '[menu.submenu.a]\nprompt = "menu_a"\nkeys = { "0" = { branch = "submenu", menu = "main" } }',
     "option 'submenu.a.keys.0.menu' in section [menu]"),
    ('[menu.submenu.a]\nprompt = "x"', "option 'submenu.a' in section [menu] needs a prompt "
                                       "and keys"),
    ('[menu]\nprompt = "Menu!"', "option 'prompt' in section [menu]"),
    ('[menu]\nkeys = "1"', "option 'keys' in section [menu] must be a table"),
])
def test_menu_errors_name_the_option(toml_text, names):
    with pytest.raises(ConfigError) as caught:
        menu_of(toml_text)
    assert names in str(caught.value)


def test_dump_writes_a_menu_the_loader_reads():
    text = config.dump({"menu": {"keys": {"1": "complaint",
                                          "2": {"branch": "submenu", "menu": "x"}},
                                 "submenu": {"x": {"prompt": "menu", "keys": {"0": "repeat"}}}}})
    tree = menu_of(text).tree
    assert tree[TOP].keys["1"].branch == "complaint" and tree["x"].keys["0"].branch == "repeat"
