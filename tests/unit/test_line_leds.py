"""One status LED per line: each [[line]] names its pin, line 1 may take [hat]'s, and each
line's state (line/supervisor.py LineState, what its supervisor sets) drives its own LED only.
The pins are gpiozero's MockFactory pins; their histories are what the LEDs did. (A line's
LED blinking in real time: tests/line/test_leds.py.)"""

import tomllib

import pytest
from gpiozero.pins.mock import MockFactory

from lawline import config, hat
from lawline.errors import ConfigError

TWO_LINES = '''
    [office]
    number = "07730148"
    [hat]
    power_key_pin = 6
    status_led_pin = 17
    [[line]]
    at_port = "/dev/lawline-at"
    audio_port = "/dev/lawline-audio"
    [[line]]
    at_port = "/dev/lawline2-at"
    audio_port = "/dev/lawline2-audio"
    number = "07730149"
    status_led_pin = 22
'''


def load(text):
    return config.from_dict(tomllib.loads(text))


@pytest.fixture
def factory():
    made = MockFactory()
    yield made
    made.close()


def lit(pin):
    return [s.state for s in pin.states]


def test_a_line_without_a_pin_has_no_led(factory):
    cfg = load(TWO_LINES.replace("status_led_pin = 22", ""))
    key, leds = hat.parts(cfg.hat, cfg.lines, factory)
    assert leds[0].pin == 17 and leds[1] is None
    key.close(), leds[0].close()


def test_line_1_may_name_its_own_pin_instead_of_the_hats(factory):
    cfg = load(TWO_LINES.replace("status_led_pin = 17", "").replace(
        'audio_port = "/dev/lawline-audio"', 'audio_port = "/dev/lawline-audio"\n'
                                             'status_led_pin = 27'))
    assert hat.led_pins(cfg.hat, cfg.lines) == [27, 22]


@pytest.mark.parametrize("change, names", [
    (("status_led_pin = 22", "status_led_pin = 17"),
     "[[line]] number 2: option 'status_led_pin': BCM 17 is line 1's status LED too"),
    (("status_led_pin = 22", "status_led_pin = 6"),
     "[[line]] number 2: option 'status_led_pin': BCM 6 is [hat] power_key_pin"),
    (("status_led_pin = 17", "status_led_pin = 6"),
     "option 'status_led_pin' in section [hat]: BCM 6 is also [hat] power_key_pin"),
    (('audio_port = "/dev/lawline-audio"',
      'audio_port = "/dev/lawline-audio"\nstatus_led_pin = 27'),
     "[[line]] number 1: option 'status_led_pin' (BCM 27) and [hat] status_led_pin (BCM 17)"),
])
def test_pin_clashes_are_config_errors_naming_the_option(change, names):
    with pytest.raises(ConfigError) as err:
        load(TWO_LINES.replace(*change, 1))
    assert names in str(err.value)


def test_gpiozero_pin_factory_variable_picks_the_factory(monkeypatch):
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    made = hat.choose_pin_factory()
    assert isinstance(made, MockFactory)
    made.close()
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "nosuch")
    with pytest.raises(hat.HatError, match=r"GPIOZERO_PIN_FACTORY='nosuch' is no pin factory"):
        hat.choose_pin_factory()
