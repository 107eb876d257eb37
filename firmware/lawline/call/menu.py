"""The menu as data: which branch each key leads to, its options, and the sub-menus.

A county words and orders its menu in `[menu.keys]` (and `[menu.submenu.NAME]`); the shipped
default reproduces the national notice's keys (DESIGN.md, "Why the box exists"). Everything
is checked when the config loads: a wrong key, a branch that does not exist, a sub-menu that
does not exist or a loop of sub-menus is a ConfigError naming the option. `Menu` counts the
caller's tries over that tree: pure logic, no I/O.
"""

import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from ..errors import ConfigError

# branch: what it does (the options every key may take are KEY_OPTIONS)
BRANCHES = {
    "consultation": "bridge to the duty lawyer; voicemail if nobody accepts",
    "service_request": "voicemail recorded as a case",
    "urgent": "urgent dispute: ring every mediator at once; voicemail if nobody accepts",
    "referral": "hear the other departments, get the chosen one by SMS",
    "complaint": "separate voicemail box that never rings the person on duty",
    "case_status": "key a case number, hear its status",
    "repeat": "hear this menu again",
    "submenu": "go to the sub-menu named by option 'menu'",
}
KEY_OPTIONS = ("branch", "prompt", "menu", "topic")
KEYS = tuple("0123456789*")
TOP = "main"
PROMPT_NAME = re.compile(r"[a-z0-9_]{1,64}")

DEFAULT_KEYS = {"1": "consultation", "2": "service_request", "3": "urgent", "4": "referral",
                "5": "complaint", "9": "case_status", "0": "repeat"}


@dataclass(frozen=True)
class Key:
    branch: str
    prompt: str = ""      # played when the key is chosen, before its branch
    menu: str = ""        # submenu: its name
    topic: str = ""       # the caller's topic ([topics]) when this key is chosen


@dataclass(frozen=True)
class MenuDef:
    name: str
    prompt: str
    keys: dict[str, Key] = field(default_factory=dict)    # digit -> Key


# menu name -> its definition; TOP is the one the caller hears first
Tree = dict[str, MenuDef]


def default_tree() -> Tree:
    return {TOP: MenuDef(TOP, "menu", {d: Key(b) for d, b in DEFAULT_KEYS.items()})}


def parse(keys: object = None, submenus: object = None, prompt: object = "menu") -> Tree:
    """The menu tree from [menu] keys, submenu and prompt (TOML values). Raises ConfigError."""
    tree = {TOP: _menu(TOP, "keys", prompt, DEFAULT_KEYS if keys is None else keys)}
    if submenus is None:
        submenus = {}
    if not isinstance(submenus, dict):
        raise ConfigError("option 'submenu' in section [menu] must be a table of sub-menus "
                          "([menu.submenu.NAME])")
    for name, given in submenus.items():
        where = f"submenu.{name}"
        if not PROMPT_NAME.fullmatch(str(name)) or name == TOP:
            raise ConfigError(f"option '{where}' in section [menu]: {name!r} is no sub-menu "
                              "name (lower-case letters, digits, _; not 'main')")
        if not isinstance(given, dict):
            raise ConfigError(f"option '{where}' in section [menu] must be a table")
        given = dict(given)
        sub_prompt = given.pop("prompt", None)
        sub_keys = given.pop("keys", None)
        if given:
            raise ConfigError(f"unknown option '{where}.{sorted(given)[0]}' in section [menu]; "
                              "known options: prompt, keys")
        if sub_prompt is None or sub_keys is None:
            raise ConfigError(f"option '{where}' in section [menu] needs a prompt and keys")
        tree[name] = _menu(name, f"{where}.keys", sub_prompt, sub_keys)
    for menu in tree.values():
        for digit, key in menu.keys.items():
            if key.branch == "submenu" and key.menu not in tree:
                raise ConfigError(f"option '{_where(menu, digit)}.menu' in section [menu]: no "
                                  f"sub-menu {key.menu!r}; defined: "
                                  f"{', '.join(n for n in tree if n != TOP) or 'none'}")
    _no_loops(tree)
    return tree


def _where(menu: MenuDef, digit: str) -> str:
    return ("keys" if menu.name == TOP else f"submenu.{menu.name}.keys") + f".{digit}"


def _menu(name: str, where: str, prompt: object, keys: object) -> MenuDef:
    if not isinstance(prompt, str) or not PROMPT_NAME.fullmatch(prompt):
        raise ConfigError(f"option '{where.rsplit('keys', 1)[0]}prompt' in section [menu]: "
                          f"{prompt!r} is no prompt name (lower-case letters, digits, _)")
    if not isinstance(keys, dict) or not keys:
        raise ConfigError(f"option '{where}' in section [menu] must be a table of keys, "
                          'e.g. "1" = "consultation"')
    out: dict[str, Key] = {}
    for digit, given in keys.items():
        option = f"{where}.{digit}"
        if digit not in KEYS:
            raise ConfigError(f"option '{option}' in section [menu]: {digit!r} is no key of a "
                              f"phone (one of {' '.join(KEYS)}; # ends the caller's input)")
        if isinstance(given, str):
            given = {"branch": given}
        if not isinstance(given, dict):
            raise ConfigError(f"option '{option}' in section [menu] must be a branch name or "
                              "a table with branch, prompt, menu")
        given = dict(given)
        unknown = sorted(set(given) - set(KEY_OPTIONS))
        if unknown:
            raise ConfigError(f"unknown option '{option}.{unknown[0]}' in section [menu]; "
                              f"known options: {', '.join(KEY_OPTIONS)}")
        branch = given.get("branch")
        if branch not in BRANCHES:
            raise ConfigError(f"option '{option}.branch' in section [menu]: {branch!r} is no "
                              f"branch; branches: {', '.join(BRANCHES)}")
        key_prompt = given.get("prompt", "")
        if key_prompt and (not isinstance(key_prompt, str) or
                           not PROMPT_NAME.fullmatch(key_prompt)):
            raise ConfigError(f"option '{option}.prompt' in section [menu]: {key_prompt!r} is "
                              "no prompt name (lower-case letters, digits, _)")
        sub = given.get("menu", "")
        if (branch == "submenu") != bool(sub):
            raise ConfigError(f"option '{option}.menu' in section [menu]: " +
                              ("a submenu key names its sub-menu" if branch == "submenu"
                               else f"only a submenu key names a menu, not {branch!r}"))
        topic = given.get("topic", "")
        if not isinstance(topic, str) or len(topic) > 40 or (topic and branch == "repeat"):
            raise ConfigError(f"option '{option}.topic' in section [menu]: {topic!r} is no "
                              "topic (one of [topics] names; not on a repeat key)")
        out[digit] = Key(branch, key_prompt, str(sub), topic)
    return MenuDef(name, prompt, out)


def validate_topics(names: Sequence[str], tree: Mapping[str, MenuDef]) -> None:
    """[topics] names: at least one, each once, short; every menu key's topic one of them
    (called from config.from_dict)."""
    if not names:
        raise ConfigError("option 'names' in section [topics] must list at least one topic")
    for name in names:
        if not name.strip() or len(name) > 20:
            raise ConfigError(f"option 'names' in section [topics]: {name!r} is no topic "
                              "(1 to 20 characters)")
        if name.isdigit():
            raise ConfigError(f"option 'names' in section [topics]: {name!r} is a number; a "
                              "topic's number is its place in the list (主题 <case> 2)")
    if len(set(names)) != len(names):
        raise ConfigError("option 'names' in section [topics] names a topic twice")
    for menu in tree.values():
        for digit, key in menu.keys.items():
            if key.topic and key.topic not in names:
                raise ConfigError(f"option '{_where(menu, digit)}.topic' in section [menu]: "
                                  f"{key.topic!r} is not one of [topics] names "
                                  f"({', '.join(names)})")


def _no_loops(tree: Mapping[str, MenuDef]) -> None:
    """A sub-menu that leads back to itself would hold the caller in a circle."""
    def walk(name: str, path: list[str]) -> None:
        for digit, key in sorted(tree[name].keys.items()):
            if key.branch != "submenu":
                continue
            if key.menu in path or key.menu == TOP:
                raise ConfigError(f"option '{_where(tree[name], digit)}.menu' in section "
                                  f"[menu]: {' -> '.join(path + [key.menu])} is a loop")
            walk(key.menu, path + [key.menu])
    walk(TOP, [TOP])


def example_lines(tree: Mapping[str, MenuDef] | None = None) -> list[str]:
    """The default menu as TOML, for `lawline config --example`."""
    tree = tree or default_tree()
    out = ['# The menu: per key its branch ("1" = "consultation") or a table with branch,',
           "# prompt (played when chosen) and menu (for branch = \"submenu\"). Branches:"]
    out += [f"#   {name}: {doc}" for name, doc in BRANCHES.items()]
    out += ["# Sub-menus: [menu.submenu.NAME] with prompt = \"...\" and a keys table.",
            "# A key may name the caller's topic ([topics]), e.g. a sub-menu after key 1",
            "# with prompt = \"menu_topics\" (the default topics, keys 1-7) and keys such as",
            "# \"2\" = { branch = \"consultation\", topic = \"劳动争议\" }.",
            "[menu.keys]"]
    out += [f'"{d}" = "{k.branch}"' for d, k in tree[TOP].keys.items()]
    return out


@dataclass(frozen=True)
class Decision:
    action: str          # branch | repeat | submenu | invalid | no_key | give_up
    branch: str | None = None
    key: str | None = None
    prompt: str = ""     # the chosen key's own prompt; submenu: the sub-menu's prompt
    menu: str | None = None
    topic: str = ""      # the chosen key's topic ([topics])


class Menu:
    """The caller's walk through the tree: invalid keys, silences and repeats are tries
    ([menu] max_tries), counted over the whole call."""

    def __init__(self, max_tries: int = 3, tree: Tree | None = None) -> None:
        self.max_tries = max_tries
        self.tree = tree or default_tree()
        self.current = TOP
        self.failures = 0
        # what the caller did, for the call record: ["1"], ["x9", "timeout", "2"]
        self.path: list[str] = []

    @property
    def prompt(self) -> str:
        return self.tree[self.current].prompt

    def key(self, digit: str) -> Decision:
        key = self.tree[self.current].keys.get(digit)
        if key is None:
            self.path.append(f"invalid:{digit}")
            return self._fail("invalid", digit)
        self.path.append(digit)
        if key.branch == "repeat":
            # A repeat is a try too: a caller keying 0 forever would hold the line for as
            # long as it likes ([menu] max_tries).
            self.failures += 1
            if self.failures >= self.max_tries:
                return Decision("give_up", key=digit)
            return Decision("repeat", key=digit, prompt=key.prompt)
        if key.branch == "submenu":
            self.current = key.menu
            return Decision("submenu", key=digit, prompt=key.prompt, menu=key.menu,
                            topic=key.topic)
        return Decision("branch", branch=key.branch, key=digit, prompt=key.prompt,
                        topic=key.topic)

    def timeout(self) -> Decision:
        self.path.append("timeout")
        return self._fail("no_key", None)

    def _fail(self, action: str, digit: str | None) -> Decision:
        self.failures += 1
        if self.failures >= self.max_tries:
            return Decision("give_up", key=digit)
        return Decision(action, key=digit)
