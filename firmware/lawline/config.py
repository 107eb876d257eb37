"""The box's configuration: one TOML file, read once and strictly, into typed sections.

Every option is declared once, with its type, unit, default and a line of documentation, in
settings.py (one frozen dataclass per section); the example file (`lawline config
--example`) is generated from the same table, so the two never disagree. Errors name the
section and the option; unknown keys are errors, because a typo is the commonest installer
mistake (STYLE.md 7). Checks that look at several options together live beside the part
that owns them and are called from `from_dict` (duty/desk.py, sip/checks.py, line/checks.py,
sync/settings.py, sip/dialplan.py, call/menu.py, clock.py).

Loading has no side effects: nothing global is set. The office's clock (its time zone) is
an object the composition root builds from [office] timezone (build.py, clock.Clock).
"""

import math
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Raspberry Pi OS bullseye and older
    import tomli as tomllib

from .call.menu import example_lines as menu_example, parse as parse_menu, validate_topics
from .clock import validate_zone
from .duty.desk import validate_config as validate_duty
from .errors import ConfigError
from .line.checks import check_pins, line_tables
from .settings import (AvailabilitySection, HandoffSection, OnsiteSection, ProviderTable,
                       ResultsSection)
from .settings import (SECTIONS, TABLES as TABLE_TYPES, CalendarSection, CasesSection,
                       DialplanSection, DutySection, EmailSection, HatSection, HealthSection,
                       HoursSection, LadderSection, LimitsSection, LineSection, MenuSection,
                       OfficeSection, RecordingSection, SwitchboardSection,
                       OutboxSection, PromptsSection, ReferralTable, ReportSection,
                       S3Section, SipSection, SpoolSection, SurveySection, TrunkSection,
                       UpstreamSection, VoicemailSection, WebSection, TopicsSection,
                       CallbacksSection, UpdateSection)
from .settings import Option, options as section_options
from .records.duties import validate_config as validate_duties
from .sip.checks import validate_config as validate_sip
from .sip.dialplan import validate_config as validate_dialplan
from .sip.switchboard import validate_config as validate_switchboard
from .sync.settings import validate_config as validate_sync
from .update import parse_window
from .secretfile import read_secret

REPO_PROMPTS = Path(__file__).resolve().parents[2] / "prompts"

# The one table, as the loader and the example read it: {section: [Option]}.
SCHEMA = {cls.SECTION: [o for o in section_options(cls) if not o.tables_only]
          for cls in SECTIONS}
LINE_OPTIONS = [o for o in section_options(LineSection) if o.tables_only]   # [[line]] only
TABLES = {name: section_options(cls) for name, cls in TABLE_TYPES.items()}


@dataclass(frozen=True)
class Config:
    """The whole configuration: one typed section each (settings.py), every line, the
    [[referral]] tables. Only the composition root (app.py), `lawline check`, the shells and
    the office page hold it; each part gets its own sections."""
    office: OfficeSection
    line: LineSection             # line 1 ([line], or the first [[line]] table)
    menu: MenuSection
    limits: LimitsSection
    duty: DutySection
    dialplan: DialplanSection
    hours: HoursSection
    calendar: CalendarSection
    cases: CasesSection
    survey: SurveySection
    report: ReportSection
    health: HealthSection
    sip: SipSection
    trunk: TrunkSection
    voicemail: VoicemailSection
    spool: SpoolSection
    outbox: OutboxSection
    upstream: UpstreamSection
    email: EmailSection
    s3: S3Section
    prompts: PromptsSection
    web: WebSection
    hat: HatSection
    ladder: LadderSection           # issue 17: the urgent ladder, the switchboard, recording
    switchboard: SwitchboardSection
    recording: RecordingSection
    topics: TopicsSection         # [topics] (records/measures.py, the report)
    callbacks: CallbacksSection   # [callbacks] (records/calls.py)
    update: UpdateSection
    lines: tuple[LineSection, ...] = ()     # every line, line 1 first
    referral: tuple[ReferralTable, ...] = ()    # [[referral]] tables
    path: Path | None = None
    # issue 17, the office's duties: on-site service, referral hand-off, results told,
    # staff availability (records/duties.py)
    onsite: OnsiteSection = field(default_factory=OnsiteSection)
    handoff: HandoffSection = field(default_factory=HandoffSection)
    results: ResultsSection = field(default_factory=ResultsSection)
    availability: AvailabilitySection = field(default_factory=AvailabilitySection)
    provider: tuple[ProviderTable, ...] = ()    # [[provider]] tables

    @property
    def spool_dir(self) -> Path:
        return Path(self.spool.dir)

    @property
    def prompts_dir(self) -> Path:
        base = Path(self.prompts.dir) if self.prompts.dir else REPO_PROMPTS
        return base / self.prompts.language

    def upstream_token(self) -> str | None:
        if not self.upstream.token_file:
            return None
        return read_secret(self.upstream.token_file, "upstream", "token_file")


# Sanity bounds for what no option needs more of: a typo like 1e300 or a pasted blob fails at
# load, not later inside a timer, a loop over days, or a log line.
LARGEST = 10 ** 9
LONGEST_TEXT = 4096
LONGEST_LIST = 1000
LARGEST_FILE = 1024 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _shown(value: object) -> str:
    """A value for an error message: short, and never a 5000-digit integer (which Python
    refuses to turn into text)."""
    if isinstance(value, int) and abs(value) > LARGEST:
        return f"a {value.bit_length()}-bit number"
    return repr(value)[:80]


def _check_text(where: str, value: str) -> None:
    if len(value) > LONGEST_TEXT:
        raise ConfigError(f"{where} is {len(value)} characters long; at most {LONGEST_TEXT}")
    if _CONTROL.search(value):
        raise ConfigError(f"{where}: {value[:80]!r} contains a control character")


# One section's values, by option. A value as given is what tomllib read (Any to a type
# checker); _check finds out at run time that it has its option's kind, which a type checker
# cannot follow, and the values then make a section (cls(**values)) or Config(**sections).
Values = dict[str, Any]


def _check(section: str, opt: Option, value: Any) -> object:
    where = f"option '{opt.name}' in section [{section}]"
    kind = opt.kind
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value) if abs(value) <= LARGEST else math.inf
    if kind is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings, like [\"13900000001\"]")
        if len(value) > LONGEST_LIST:
            raise ConfigError(f"{where} has {len(value)} entries; at most {LONGEST_LIST}")
        for item in value:
            _check_text(where, item)
    elif not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where} must be {kind.__name__}, not {type(value).__name__} "
                          f"({_shown(value)})")
    if kind is str:
        _check_text(where, value)
    if kind in (int, float):
        if isinstance(value, float) and not math.isfinite(value):  # nan passes any test below
            raise ConfigError(f"{where} must be a number, not {value!r}")
        largest = LARGEST if opt.maximum is None else opt.maximum
        if value > largest:
            raise ConfigError(f"{where} must be at most {largest:g}"
                              f"{opt.unit and ' ' + opt.unit}, not {_shown(value)}")
    if opt.minimum is not None and value < opt.minimum:
        raise ConfigError(f"{where} must be at least {opt.minimum:g}{opt.unit and ' ' + opt.unit}"
                          f", not {_shown(value)}")
    if opt.choices and value not in opt.choices:
        raise ConfigError(f"{where} must be one of {', '.join(opt.choices)}; not {value!r}")
    # ASCII digits only: \d would take ٠-٩ and full-width digits too
    if opt.pattern and not re.fullmatch(opt.pattern, value, re.ASCII):
        raise ConfigError(f"{where}: {value!r} is not a valid {opt.doc.lower()}")
    return value


def still_lab_defaults(config: Config) -> list[str]:
    """Options every office must set that still hold the example's lab value, as
    "[section] option" strings (lawline check warns about them)."""
    out = []
    for section, options in SCHEMA.items():
        for opt in options:
            if not opt.office_sets:
                continue
            if section == "sip" and opt.name == "uri_template" and config.trunk.registrar:
                continue    # duty phones are reached through the trunk
            if getattr(getattr(config, section), opt.name) == opt.default:
                out.append(f"[{section}] {opt.name}")
    return out


def from_dict(data: Mapping[str, Any], path: Path | None = None) -> Config:
    """The typed configuration of `data` (a TOML document as dicts); ConfigError naming the
    section and option at the first thing wrong."""
    line_tables_given = None
    if isinstance(data.get("line"), list):   # [[line]]: several lines, one modem each
        line_tables_given = data["line"]
        data = {k: v for k, v in data.items() if k != "line"}
    for name in data:
        if name in TABLES:
            continue
        if name not in SCHEMA:
            raise ConfigError(f"unknown section [{name}]; known sections: "
                              f"{', '.join(sorted(set(SCHEMA) | set(TABLES)))}")
        if not isinstance(data[name], dict):
            raise ConfigError(f"[{name}] must be a section, not a value")
    tables = {name: _tables(name, TABLES[name], data.get(name, [])) for name in TABLES}
    values: dict[str, Values] = {}
    menu_tables: dict[str, Any] = {}
    for cls in SECTIONS:
        name = cls.SECTION
        given = dict(data.get(name, {}))
        if name == "menu":   # [menu.keys] and [menu.submenu.NAME]: the tree (call/menu.py)
            menu_tables = {k: given.pop(k) for k in ("keys", "submenu") if k in given}
        values[name] = _section(name, SCHEMA[name], given)
    lines: list[Values] = line_tables(line_tables_given, values["line"],
                                      values["office"]["number"],
                                      SCHEMA["line"] + LINE_OPTIONS, _check)
    check_pins(values["hat"], lines)
    sections: dict[str, Any] = {cls.SECTION: cls(**values[cls.SECTION]) for cls in SECTIONS
                                if cls.SECTION not in ("line", "menu")}
    all_lines = tuple(LineSection(**v) for v in lines)
    menu = MenuSection(**values["menu"], tree=parse_menu(
        menu_tables.get("keys"), menu_tables.get("submenu"), values["menu"]["prompt"]))
    config = Config(**sections, line=all_lines[0], menu=menu, lines=all_lines,
                    referral=tuple(ReferralTable(**t) for t in tables["referral"]), path=path,
                    provider=tuple(ProviderTable(**t) for t in tables["provider"]))
    validate_zone(config.office.timezone)
    validate_sip(config)       # [sip] and [trunk] together
    validate_duty(config)      # hours, shifts, dates: errors name the option
    validate_sync(config)      # targets, spool limits
    validate_dialplan(config)  # [dialplan], and every number in [duty] against it
    validate_duties(config)    # [[provider]], [[referral]] sms/email, [results] (issue 17)
    validate_switchboard(config)   # [switchboard], [ladder] and [recording] numbers and roles
    validate_topics(config.topics.names, config.menu.tree)   # [topics] and the menu's keys
    parse_window(config.update.window)   # [update] window: hours and minutes in range
    return config


def _section(name: str, options_: list[Option], given: dict[str, Any]) -> Values:
    values: Values = {}
    for opt in options_:
        values[opt.name] = _check(name, opt, given.pop(opt.name)) if opt.name in given \
            else opt.default
    if given:
        known = ", ".join(o.name for o in options_)
        raise ConfigError(f"unknown option '{sorted(given)[0]}' in section [{name}]; "
                          f"known options: {known}")
    return values


def _tables(name: str, options_: list[Option], entries: object) -> list[Values]:
    """[[name]] entries: their values; each option required."""
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"[[{name}]] must be written as one or more [[{name}]] tables")
    out = []
    for number, given in enumerate(entries, start=1):
        given = dict(given)
        values: Values = {}
        for opt in options_:
            if opt.name not in given:
                if not opt.required:
                    values[opt.name] = opt.default
                    continue
                raise ConfigError(f"[[{name}]] number {number}: option '{opt.name}' is missing")
            values[opt.name] = _check(f"[{name}] number {number}", opt, given.pop(opt.name))
        if given:
            raise ConfigError(f"[[{name}]] number {number}: unknown option '{sorted(given)[0]}'"
                              f"; known options: {', '.join(o.name for o in options_)}")
        out.append(values)
    return out


def load(path: str | os.PathLike[str]) -> Config:
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(LARGEST_FILE + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    if len(raw) > LARGEST_FILE:
        raise ConfigError(f"{path} is larger than {LARGEST_FILE // 1024} KiB: not a config file")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses into nested arrays and inline tables
        raise ConfigError(f"{path}: not valid TOML: values nested too deeply") from None
    except ValueError as exc:  # an integer of more than 4300 digits, and the like
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return from_dict(data, path)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):   # an inline table ([menu] keys)
        return "{ " + ", ".join(f"{_toml_value(str(k))} = {_toml_value(v)}"
                                for k, v in value.items()) + " }"
    return repr(value)


def example() -> str:
    """The example configuration: every option, its unit and its default."""
    out = ["# lawline configuration (/etc/lawline/lawline.toml).",
           "# Every option is shown with its default; delete what you do not change.",
           "# Upload targets: each of [upstream] (url), [email] (to) and [s3] (endpoint) that",
           "# is filled in is one target; any mix works, and every voicemail and record stays",
           "# in the spool until all of them acknowledged it (e-mail takes voicemails only).",
           ""]
    for name, options_ in SCHEMA.items():
        out.append(f"[{name}]")
        for opt in options_:
            unit = f" (unit: {opt.unit})" if opt.unit else ""
            out.append(f"# {opt.doc}{unit}")
            if opt.office_sets:
                out.append("# SET THIS: the value below is a lab default (lawline check warns)")
            out.append(f"{opt.name} = {_toml_value(opt.default)}")
        out.append("")
        if name == "menu":
            out += menu_example() + [""]
    out += ["# Several lines in one box: instead of [line], one [[line]] table per modem with",
            "# the [line] options above and number (the line's own number) and status_led_pin.",
            ""]
    for name, options_ in TABLES.items():
        out.append(f"# [[{name}]] may be repeated; every option is required but those marked "
                   "(optional):")
        out.append(f"# [[{name}]]")
        for opt in options_:
            optional = "" if opt.required else " (optional)"
            shown = _toml_value(opt.default) if opt.choices else '""'
            out.append(f"# {opt.name} = {shown}    # {opt.doc}{optional}"
                       + (f"; one of {', '.join(opt.choices)}" if opt.choices else ""))
        out.append("")
    return "\n".join(out)


def dump(values: Mapping[str, Mapping[str, object] | list[dict[str, object]]]) -> str:
    """TOML text for a dict of sections (used by the demo to write its config)."""
    out = []
    for name, options in values.items():
        if isinstance(options, list):  # [[name]] tables
            for entry in options:
                out.append(f"[[{name}]]")
                out.extend(f"{k} = {_toml_value(v)}" for k, v in entry.items())
                out.append("")
            continue
        out.append(f"[{name}]")
        for key, value in options.items():
            out.append(f"{key} = {_toml_value(value)}")
        out.append("")
    return "\n".join(out)
