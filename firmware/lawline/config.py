"""The box's configuration: one TOML file, read once and strictly.

Every option is declared here with its type, unit, default and a line of documentation; the
example file (`lawline config --example`) is generated from the same table, so the two never
disagree. Errors name the section and the option; unknown keys are errors, because a typo is
the commonest installer mistake (STYLE.md 7).
"""

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Raspberry Pi OS bullseye and older
    import tomli as tomllib

from .errors import ConfigError

REPO_PROMPTS = Path(__file__).resolve().parents[2] / "prompts"


@dataclass(frozen=True)
class Option:
    name: str
    kind: type          # str, int, float, bool, list (of str)
    default: object
    doc: str
    unit: str = ""
    minimum: float = None
    choices: tuple = None
    pattern: str = None


def _o(*args, **kw):
    return Option(*args, **kw)


SCHEMA = {
    "office": [
        _o("id", str, "county-0148", "Short name of this line; upstream paths start with it",
           pattern=r"[A-Za-z0-9._-]{1,64}"),
        _o("name", str, "县法律服务专线", "Name of the line, for logs and reports"),
        _o("number", str, "07730148", "The line's own phone number", pattern=r"\+?[0-9]{3,20}"),
    ],
    "line": [
        _o("profile", str, "simcom-sim7600", "Modem model", choices=("simcom-sim7600",)),
        _o("at_port", str, "/dev/ttyUSB2", "Serial port for AT commands"),
        _o("audio_port", str, "/dev/ttyUSB4", "Serial port carrying call audio (PCM)"),
        _o("answer_after_rings", int, 1, "Answer after this many rings", "rings", minimum=1),
        _o("command_timeout", float, 5.0, "How long the modem may take to answer a command",
           "s", minimum=0.1),
        _o("audio_retry_delay", float, 1.0,
           "Wait between refused attempts to open call audio (SIM7600 refuses CPCMREG until "
           "the call is fully up)", "s", minimum=0.0),
    ],
    "menu": [
        _o("key_timeout", float, 6.0, "How long to wait for a key after the menu", "s",
           minimum=0.5),
        _o("max_tries", int, 3, "Invalid keys or silences before the box says goodbye",
           minimum=1),
    ],
    "duty": [
        _o("numbers", list, ["13900000001"],
           "Mobile numbers of the duty lawyers, called in this order for key 1"),
        _o("ring_timeout", float, 20.0, "How long each duty phone may ring", "s", minimum=1),
        _o("confirm_timeout", float, 10.0,
           "After a duty phone answers: time to press 1 before it counts as not answered",
           "s", minimum=1),
    ],
    "sip": [
        _o("bind", str, "127.0.0.1", "Address the SIP stack listens on"),
        _o("port", int, 5060, "UDP port of the SIP stack (0 = any free port)", minimum=0),
        _o("uri_template", str, "sip:{number}@127.0.0.1:5070",
           "How a duty number becomes a SIP URI; {number} is replaced"),
        _o("log_level", int, 1, "pjsua2 log level (0-6); its lines go to the debug log",
           minimum=0),
    ],
    "voicemail": [
        _o("max_seconds", float, 120.0, "Longest message", "s", minimum=1),
        _o("min_seconds", float, 1.0, "Shorter messages are still kept, but flagged", "s",
           minimum=0),
    ],
    "spool": [
        _o("dir", str, "/var/spool/lawline",
           "Writable directory for voicemails, call records and the outbox"),
    ],
    "upstream": [
        _o("url", str, "", "Base URL voicemails and records are PUT to (empty: keep them "
           "in the spool only)"),
        _o("token_file", str, "", "File holding the upstream bearer token (readable only by "
           "the service); empty: no token"),
        _o("timeout", float, 20.0, "Upload timeout per file", "s", minimum=1),
    ],
    "prompts": [
        _o("dir", str, "", "Prompt directory (contains zh-CN/); empty: the bundled prompts"),
        _o("language", str, "zh-CN", "Prompt language folder"),
    ],
}


class Section:
    def __init__(self, name, values):
        self._name = name
        self.__dict__.update(values)

    def __repr__(self):
        return f"<[{self._name}] {vars(self)}>"


class Config:
    def __init__(self, sections, path=None):
        self.path = path
        for name, values in sections.items():
            setattr(self, name, Section(name, values))

    @property
    def spool_dir(self):
        return Path(self.spool.dir)

    @property
    def prompts_dir(self):
        base = Path(self.prompts.dir) if self.prompts.dir else REPO_PROMPTS
        return base / self.prompts.language

    def upstream_token(self):
        if not self.upstream.token_file:
            return None
        try:
            return Path(self.upstream.token_file).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"[upstream] token_file: cannot read {self.upstream.token_file}: "
                              f"{exc.strerror}") from None


def _check(section, opt, value):
    where = f"option '{opt.name}' in section [{section}]"
    kind = opt.kind
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings, like [\"13900000001\"]")
    elif not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where} must be {kind.__name__}, not {type(value).__name__} "
                          f"({value!r})")
    if opt.minimum is not None and value < opt.minimum:
        raise ConfigError(f"{where} must be at least {opt.minimum:g}{opt.unit and ' ' + opt.unit}"
                          f", not {value!r}")
    if opt.choices and value not in opt.choices:
        raise ConfigError(f"{where} must be one of {', '.join(opt.choices)}; not {value!r}")
    if opt.pattern and not re.fullmatch(opt.pattern, value):
        raise ConfigError(f"{where}: {value!r} is not a valid {opt.doc.lower()}")
    return value


def from_dict(data, path=None):
    sections = {}
    for name in data:
        if name not in SCHEMA:
            raise ConfigError(f"unknown section [{name}]; known sections: "
                              f"{', '.join(sorted(SCHEMA))}")
        if not isinstance(data[name], dict):
            raise ConfigError(f"[{name}] must be a section, not a value")
    for name, options in SCHEMA.items():
        given = dict(data.get(name, {}))
        values = {}
        for opt in options:
            if opt.name in given:
                values[opt.name] = _check(name, opt, given.pop(opt.name))
            else:
                values[opt.name] = opt.default
        if given:
            known = ", ".join(o.name for o in options)
            raise ConfigError(f"unknown option '{sorted(given)[0]}' in section [{name}]; "
                              f"known options: {known}")
        sections[name] = values
    if sections["duty"]["numbers"]:
        for number in sections["duty"]["numbers"]:
            if not re.fullmatch(r"\+?[0-9]{3,20}", number):
                raise ConfigError(f"option 'numbers' in section [duty]: {number!r} is not a "
                                  "phone number")
    if "{number}" not in sections["sip"]["uri_template"]:
        raise ConfigError("option 'uri_template' in section [sip] must contain {number}")
    return Config(sections, path)


def load(path):
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return from_dict(data, path)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def example():
    """The example configuration: every option, its unit and its default."""
    out = ["# lawline configuration (/etc/lawline/lawline.toml).",
           "# Every option is shown with its default; delete what you do not change.", ""]
    for name, options in SCHEMA.items():
        out.append(f"[{name}]")
        for opt in options:
            unit = f" (unit: {opt.unit})" if opt.unit else ""
            out.append(f"# {opt.doc}{unit}")
            out.append(f"{opt.name} = {_toml_value(opt.default)}")
        out.append("")
    return "\n".join(out)


def dump(values):
    """TOML text for a dict of sections (used by the demo to write its config)."""
    out = []
    for name, options in values.items():
        out.append(f"[{name}]")
        for key, value in options.items():
            out.append(f"{key} = {_toml_value(value)}")
        out.append("")
    return "\n".join(out)
