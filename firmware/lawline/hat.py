"""GPIO parts of the HAT: the modem's power key and the status LED (gpiozero).

Waveshare SIM7600X 4G HAT (reference/modems.md 1.7): with the PWR-D6 jumper, BCM 6 drives the
module's PWRKEY through a transistor, so GPIO HIGH presses the key [inferred, not measured].
Their demo holds it HIGH 2 s to switch on (then ~20 s until AT answers) and 3 s to switch off
(then ~18 s). The key toggles: a module that is already off is switched on by the "off" press,
which is why a power cycle ends by checking that the module answers, not by trusting presses.

The pin factory is chosen here, not left to gpiozero's guess: lgpio first (/dev/gpiochip*,
the only one that works on a Pi 5, whose GPIO sits behind the RP1 chip), then RPi.GPIO
(/dev/gpiomem, Pi 4 and older), then gpiozero's native one; the log says which. Tests pass
gpiozero's MockFactory and read the pin's history (STYLE.md: no GPIO fake of our own).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .errors import LawlineError

if TYPE_CHECKING:
    from .settings import HatSection, LineSection

log = logging.getLogger("lawline.hat")

FACTORIES = (("lgpio", "gpiozero.pins.lgpio", "LGPIOFactory"),
             ("RPi.GPIO", "gpiozero.pins.rpigpio", "RPiGPIOFactory"),
             ("native", "gpiozero.pins.native", "NativeFactory"))


class HatError(LawlineError, RuntimeError):
    pass


def choose_pin_factory(choices: Sequence[tuple[str, str, str]] = FACTORIES) -> object:
    """The first pin factory that works on this board, in the order above; or the one
    gpiozero's own GPIOZERO_PIN_FACTORY variable names (pigpio for a remote Pi; mock on the
    test rig, where the box's LED changes are read from its log)."""
    named = os.environ.get("GPIOZERO_PIN_FACTORY", "").strip().lower()
    if named:
        return _named_factory(named)
    tried: list[str] = []
    for name, module, cls in choices:
        try:
            factory: object = getattr(importlib.import_module(module), cls)()
        except Exception as exc:  # noqa: BLE001 (each library fails its own way off a Pi)
            tried.append(f"{name}: {exc}")
            continue
        log.info("hat: GPIO through %s", name)
        return factory
    raise HatError("no GPIO library works on this machine (" + "; ".join(tried) + "): on a "
                   "Raspberry Pi install lgpio (pip install lgpio) and check that the service "
                   "may open /dev/gpiochip* (group gpio); or set [hat] power_key_pin and "
                   "status_led_pin to 0")


def _named_factory(name: str) -> object:
    from importlib.metadata import entry_points
    known = {e.name: e for e in entry_points(group="gpiozero_pin_factories")}
    if name not in known:
        raise HatError(f"GPIOZERO_PIN_FACTORY={name!r} is no pin factory gpiozero knows "
                       f"({', '.join(sorted(known))}); unset it to let the box choose")
    try:
        factory: object = known[name].load()()
    except Exception as exc:  # noqa: BLE001 (each library fails its own way)
        raise HatError(f"GPIOZERO_PIN_FACTORY={name!r} does not work here: {exc}") from exc
    log.info("hat: GPIO through %s (GPIOZERO_PIN_FACTORY)", name)
    return factory


class PowerKey:
    """The modem's power key. `press(seconds)` holds it; `power_cycle()` is off, wait, on."""

    def __init__(self, pin: int = 6, pin_factory: object = None, on_seconds: float = 2.0,
                 off_seconds: float = 3.0, off_wait: float = 18.0) -> None:
        from gpiozero import DigitalOutputDevice
        self.pin = pin
        self.on_seconds = on_seconds
        self.off_seconds = off_seconds
        self.off_wait = off_wait
        self.device = DigitalOutputDevice(pin, active_high=True, initial_value=False,
                                          pin_factory=pin_factory)

    async def press(self, seconds: float) -> None:
        self.device.on()
        try:
            await asyncio.sleep(seconds)
        finally:
            self.device.off()

    async def power_cycle(self) -> None:
        log.warning("hat: power-cycling the modem with the power key on BCM %d (%g s off, "
                    "%g s wait, %g s on)", self.pin, self.off_seconds, self.off_wait,
                    self.on_seconds)
        await self.press(self.off_seconds)
        await asyncio.sleep(self.off_wait)
        await self.press(self.on_seconds)

    def close(self) -> None:
        self.device.close()


class StatusLed:
    """One line's status LED. On: the line is ready. Blinking: something needs attention on
    that line (`lawline check` says what). Off: the box is not running. Each line drives its
    own LED (line/supervisor.py LineState), so line 2's LED shows line 2's modem only."""

    def __init__(self, pin: int, pin_factory: object = None, name: str = "line 1") -> None:
        from gpiozero import LED
        self.pin = pin
        self.name = name
        self.led = LED(pin, pin_factory=pin_factory)
        self.state: bool | None = None

    def show(self, ok: bool) -> None:
        if ok == self.state:
            return
        self.state = ok
        log.info("hat: %s's status LED (BCM %d) %s", self.name, self.pin,
                 "on" if ok else "blinking")
        if ok:
            self.led.on()
        else:
            self.led.blink(on_time=0.2, off_time=0.8)

    def close(self) -> None:
        self.led.close()


def led_pins(hat: HatSection, lines: Sequence[LineSection] = ()) -> list[int]:
    """The BCM pin of each line's status LED (0: none); line 1's is its own status_led_pin
    or else [hat] status_led_pin. Without lines: line 1's, from [hat]."""
    if not lines:
        return [hat.status_led_pin]
    return [line.status_led_pin or (hat.status_led_pin if k == 0 else 0)
            for k, line in enumerate(lines)]


def parts(hat: HatSection, lines: Sequence[LineSection] = (),
          pin_factory: object = None) -> tuple[PowerKey | None, list[StatusLed | None]]:
    """(PowerKey or None, [StatusLed or None, one per line]) from [hat] and the lines, on one
    pin factory (chosen here when a pin is set and none is given). The power key is line 1's
    modem's (the HAT's)."""
    pins = led_pins(hat, lines)
    if pin_factory is None and (hat.power_key_pin or any(pins)):
        pin_factory = choose_pin_factory()
    key: PowerKey | None = None
    if hat.power_key_pin:
        key = PowerKey(hat.power_key_pin, pin_factory, hat.power_key_seconds,
                       hat.power_off_seconds)
    leds = [StatusLed(pin, pin_factory, f"line {k}") if pin else None
            for k, pin in enumerate(pins, start=1)]
    return key, leds


def from_config(hat: HatSection,
                pin_factory: object = None) -> tuple[PowerKey | None, StatusLed | None]:
    """(PowerKey or None, StatusLed or None) from the [hat] section alone (one line)."""
    key, leds = parts(hat, (), pin_factory)
    return key, leds[0]
