"""The line options that only make sense together, checked when the config is read
(config.py calls these): every [[line]] table's values, one modem per line, and one GPIO pin
per job (each line's status LED on its own pin, none on the power key's)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, TypeVar

from ..errors import ConfigError


class LineOption(Protocol):
    """What these checks read of an option (settings.Option)."""
    @property
    def name(self) -> str: ...
    @property
    def default(self) -> object: ...
    @property
    def tables_only(self) -> bool: ...


_Option = TypeVar("_Option", bound=LineOption)
# The loader's check of one value: (where, option, value as given) -> value as kept; it
# reads more of the option than LineOption names (config._check: its kind, bounds, pattern)
CheckValue = Callable[[str, _Option, object], object]
Values = dict[str, object]


def line_tables(tables: object, single: Mapping[str, object], office_number: str,
                options: Sequence[_Option], check: CheckValue[_Option]) -> list[Values]:
    """Every line's values: the [[line]] tables, or the one [line] section as line 1 (its
    number the office's). `options`: the [line] options and the table-only ones; `check`:
    the loader's check of one value (config._check)."""
    extra = {o.name: o.default for o in options if o.tables_only}
    if tables is None:
        return [{**single, **extra, "number": office_number}]
    if not isinstance(tables, list) or not tables or \
            not all(isinstance(t, dict) for t in tables):
        raise ConfigError("[[line]] must be written as one or more [[line]] tables")
    out: list[Values] = []
    ports: dict[object, int] = {}
    for k, given in enumerate(tables, start=1):
        given = dict(given)
        values: Values = {}
        for opt in options:
            values[opt.name] = check(f"[line] number {k}", opt, given.pop(opt.name)) \
                if opt.name in given else opt.default
        if given:
            raise ConfigError(f"[[line]] number {k}: unknown option '{sorted(given)[0]}'; "
                              f"known options: {', '.join(o.name for o in options)}")
        if k == 1 and not values["number"]:
            values["number"] = office_number
        if not values["number"]:
            raise ConfigError(f"[[line]] number {k}: option 'number' is missing (the line's "
                              "own phone number)")
        for port in {values["at_port"], values["audio_port"]}:
            if port in ports and ports[port] != k:
                raise ConfigError(f"[[line]] number {k}: port {port!r} is line "
                                  f"{ports[port]}'s too; one modem per line")
            ports[port] = k
        out.append(values)
    return out


def check_pins(hat: Mapping[str, object], lines: Sequence[Mapping[str, object]]) -> None:
    """One GPIO pin, one job: each line's status LED on its own pin, none on the power key's.
    Line 1's LED is its status_led_pin or else [hat] status_led_pin, not both. `hat` and
    `lines`: the values as read (dicts)."""
    key = hat["power_key_pin"]
    if key and hat["status_led_pin"] == key:
        raise ConfigError(f"option 'status_led_pin' in section [hat]: BCM {key} is also "
                          "[hat] power_key_pin (the modem's power key); give the LED its own pin")
    first = lines[0]["status_led_pin"]
    if first and hat["status_led_pin"] and first != hat["status_led_pin"]:
        raise ConfigError(f"[[line]] number 1: option 'status_led_pin' (BCM {first}) and "
                          f"[hat] status_led_pin (BCM {hat['status_led_pin']}) both name line "
                          "1's status LED; set one of them")
    taken: dict[object, int] = {}
    for k, values in enumerate(lines, start=1):
        pin = values["status_led_pin"] or (hat["status_led_pin"] if k == 1 else 0)
        if not pin:
            continue
        if pin == key:
            raise ConfigError(f"[[line]] number {k}: option 'status_led_pin': BCM {pin} is "
                              "[hat] power_key_pin (the modem's power key); give the LED its "
                              "own pin")
        if pin in taken:
            raise ConfigError(f"[[line]] number {k}: option 'status_led_pin': BCM {pin} is "
                              f"line {taken[pin]}'s status LED too; one LED per line")
        taken[pin] = k
