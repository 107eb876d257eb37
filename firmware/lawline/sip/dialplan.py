"""The dial plan: which numbers the box may ever dial, whatever a list or a rota says.

The duty lists and the rota say who the box calls; the dial plan bounds them. A number is
dialled only when it matches one of `[dialplan] allow` and starts with none of the barred
prefixes: the built-in ones below, which no configuration removes, and `[dialplan] deny`.
A barred number in a rota row, in [duty] numbers, mediators or referrals is an error that
names the row or the option (a typo or a forged rota must not open the county's phone bill),
and the dialler checks again before every call (sip/hunt.Dialler).

Patterns, for a clerk and not a programmer: digits, `X` for any digit, `[3-9]` for one digit
from a range or set (`[2-9]`, `[0135]`), and `{area}` for the county's area code
([office] area_code, e.g. 0773). An allow pattern must match the whole number; a deny entry
is a beginning: every number that starts with it is refused.

Numbers are compared in national form: +86 or 0086 in front is dropped (+86 773 1234567
becomes 07731234567: E.164 leaves out the trunk 0), spaces and dashes are ignored. Any other
`+` or `00` is an international call: barred.

Chinese numbering behind the defaults (MIIT numbering plan; numbers a county office rings):
- mobiles are 11 digits, 1[3-9]XXXXXXXXX; inside that range some blocks are not phones:
  satellite (1349 China Satcom, 1740-1745 Tiantong, 1749), and 16x outside the mobile blocks
  162/165/166/167 (160 and 168 were the information-service 声讯 codes, 163 and 169 dial-up
  access, 16900...);
- landlines are the area code (010, 02X, or 0 and three digits) and a 7- or 8-digit local
  number starting with 2-9; 95XXX(XXX) and 96XXX(XX) are service numbers, never a person;
- premium and information services: 1259X (voice information services, 12590-12599);
- 179XX are IP long-distance prefixes (17909, 17911, 17951): dialled in front of another
  number, never a person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..settings import DialplanSection, DutySection, OfficeSection


class PlanConfig(Protocol):
    """What the dial plan reads of the configuration: [dialplan] and [office]."""
    @property
    def dialplan(self) -> DialplanSection: ...
    @property
    def office(self) -> OfficeSection: ...


class PlanChecks(PlanConfig, Protocol):
    """What validate_config reads: the plan's sections and the numbers of [duty]."""
    @property
    def duty(self) -> DutySection: ...

DEFAULT_ALLOW = (
    "1[3-9]XXXXXXXXX",          # mobiles (the barred blocks below still apply)
    "{area}[2-9]XXXXXX",        # the county's landlines with area code, 7 and 8 digits
    "{area}[2-9]XXXXXXX",
    "[2-9]XXXXXX",              # the same, dialled locally without the area code
    "[2-9]XXXXXXX",
)

# (beginning, why): refused always, also after the area code of a landline.
BARRED = (
    ("1259", "a premium voice information service (1259X)"),
    ("160", "an information-service (声讯) number (160)"),
    ("161", "not a phone number block (161)"),
    ("163", "a dial-up access number (163)"),
    ("164", "not a phone number block (164)"),
    ("168", "an information-service (声讯) number (168)"),
    ("169", "a dial-up or information-service number (169)"),
    ("179", "an IP long-distance prefix (179XX)"),
    ("1349", "a satellite phone (1349)"),
    ("174", "a satellite phone (174X)"),
    ("95", "a service number (95XXX), not a person"),
    ("96", "a local service number (96XXX), not a person"),
)

# The prefecture switchboard's number in the 160 block (1600148, "省市两级1600148"):
# the one 160 number a box may dial, and only to hand a call up (DialPlan._switchboard_refusal).
SWITCHBOARD_BLOCK = "160"

_PATTERN = re.compile(r"(?:[0-9X]|\[[0-9]+(?:-[0-9])?(?:[0-9]|-[0-9])*\]|\{area\})+")
_AREA = re.compile(r"0(?:10|2[0-9]|[3-9][0-9]{2})")


def area_code_of(number: str) -> str:
    """The area code a national landline number starts with: 010 and 02X are three digits
    with the 0, every other area code four (0773)."""
    if re.match(r"0(?:10|2[0-9])", number):
        return number[:3]
    if re.match(r"0[3-9][0-9]{2}", number):
        return number[:4]
    return ""


def national(number: object) -> tuple[str, None] | tuple[None, str]:
    """(national form, None) or (None, why it is not a number the box may dial)."""
    text = re.sub(r"[\s\-()]", "", str(number or ""))
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086"):
        text = text[4:]
    elif text.startswith("+") or text.startswith("00"):
        return None, "an international number"
    else:
        return (text, None) if text.isdigit() and text.isascii() else \
            (None, "not a phone number")
    if not (text.isdigit() and text.isascii()):
        return None, "not a phone number"
    if text.startswith("00"):    # +86 00 44...: the trunk would dial 0044..., abroad
        return None, "an international number"
    if text.startswith("1") or text.startswith("0"):
        return text, None
    return "0" + text, None      # +86 773 1234567: E.164 drops the trunk 0


def _compile(pattern: str, area: str, where: str) -> re.Pattern[str] | None:
    if not _PATTERN.fullmatch(pattern):
        raise ConfigError(f"{where}: {pattern!r} is not a dial pattern (digits, X for any "
                          "digit, [2-9] for a range, {area} for the area code)")
    if "{area}" in pattern and not area:
        return None
    out: list[str] = []
    for token in re.findall(r"\[[^\]]+\]|\{area\}|.", pattern):
        if token == "X":
            out.append("[0-9]")
        elif token == "{area}":
            out.append(re.escape(area))
        elif token.startswith("["):
            out.append(token)
        else:
            out.append(re.escape(token))
    return re.compile("".join(out))


@dataclass(frozen=True)
class DialPlan:
    allow: tuple[str, ...] = DEFAULT_ALLOW
    deny: tuple[str, ...] = ()
    area_code: str = ""
    switchboard: str = ""       # [switchboard] number: the one 160 number, for that use only
    # compiled in __post_init__: the allow patterns, and (pattern, entry as written) to deny
    _allow: list[re.Pattern[str]] = field(init=False, repr=False, compare=False)
    _deny: list[tuple[re.Pattern[str], str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        allow = [_compile(p, self.area_code, "option 'allow' in section [dialplan]")
                 for p in self.allow]
        deny = [_compile(p, self.area_code, "option 'deny' in section [dialplan]")
                for p in self.deny]
        object.__setattr__(self, "_allow", [p for p in allow if p is not None])
        object.__setattr__(self, "_deny", [(p, d) for p, d in zip(deny, self.deny)
                                           if p is not None])

    @classmethod
    def from_config(cls, cfg: PlanConfig) -> DialPlan:
        board = getattr(cfg, "switchboard", None)
        return cls(tuple(cfg.dialplan.allow), tuple(cfg.dialplan.deny), area_of(cfg),
                   board.number if board is not None else "")

    def refusal(self, number: str, purpose: str = "duty") -> str | None:
        """None when the box may dial `number` for `purpose`; else why not, in plain words.
        `purpose` "switchboard": handing a call up to the prefecture's switchboard, the one
        use for which its 160 number (`switchboard`) is let through."""
        if purpose == "switchboard":
            return self._switchboard_refusal(number)
        why = barred(number)
        text, _ = national(number)
        if why or text is None:     # barred says why whenever national finds no number
            return why
        for pattern, entry in self._deny:
            if pattern.match(text):
                return f"denied by [dialplan] deny {entry!r}"
        if not any(p.fullmatch(text) for p in self._allow):
            return "not in the dial plan ([dialplan] allow: mobiles and the county's " \
                   "landlines by default)"
        return None

    def allows(self, number: str) -> bool:
        return self.refusal(number) is None

    def _switchboard_refusal(self, number: str) -> str | None:
        """The prefecture's 1600148 switchboard sits in the 160 information-service block
        that is barred for everything else. Only the number [switchboard] names, and only
        to hand a call up to it, passes that bar and the allow list; every other barred
        prefix and [dialplan] deny still apply (a 169 number is no switchboard)."""
        mine, _ = national(self.switchboard) if self.switchboard else (None, None)
        text, why = national(number)
        if text is None:
            return why
        if not mine or text != mine:
            return "not the configured [switchboard] number"
        local = text[len(area_code_of(text)):] if text.startswith("0") else text
        for prefix, what in BARRED:
            if prefix == SWITCHBOARD_BLOCK:
                continue
            if text.startswith(prefix) or local.startswith(prefix):
                return what
        for pattern, entry in self._deny:
            if pattern.match(text):
                return f"denied by [dialplan] deny {entry!r}"
        return None


def barred(number: object) -> str | None:
    """Why `number` is never dialled whatever the configuration (international, premium,
    information service, satellite, service number, not a number), or None. The check
    every rota reader applies even without a configured plan (duty/roster.load_file)."""
    text, why = national(number)
    if text is None:
        return why
    local = text[len(area_code_of(text)):] if text.startswith("0") else None
    for prefix, what in BARRED:
        if text.startswith(prefix) or (local and local.startswith(prefix)):
            return what
    return None


def area_of(cfg: PlanConfig) -> str:
    """[office] area_code, or the one the office's own number starts with (07730148: 0773)."""
    return cfg.office.area_code or area_code_of(re.sub(r"\D", "", cfg.office.number) if
                                                cfg.office.number.startswith("0") else "")


def validate_config(cfg: PlanChecks) -> DialPlan:
    """The patterns compile, and every number in [duty] passes: errors name the option."""
    if cfg.office.area_code and not _AREA.fullmatch(cfg.office.area_code):
        raise ConfigError(f"option 'area_code' in section [office]: {cfg.office.area_code!r} "
                          "is not an area code like 0773 or 010")
    plan = DialPlan.from_config(cfg)
    for option in ("numbers", "mediators", "referrals"):
        for number in getattr(cfg.duty, option):
            why = plan.refusal(number)
            if why:
                raise ConfigError(f"option '{option}' in section [duty]: {number!r} is refused "
                                  f"by the dial plan: {why}")
    return plan
