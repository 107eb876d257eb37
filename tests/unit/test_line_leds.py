"""One status LED per line: each [[line]] names its pin, line 1 may take [hat]'s, and each
line's state (line/supervisor.py LineState, what its supervisor sets) drives its own LED only.
The pins are gpiozero's MockFactory pins; their histories are what the LEDs did."""

import time
import tomllib

import pytest
from gpiozero.pins.mock import MockFactory

from lawline import config, hat, status
from lawline.errors import ConfigError
from lawline.line.supervisor import NOT_ANSWERING, READY, STARTING, LineState

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


def blinks(pin, deadline=5.0):
    """True once the pin has gone on and off again after its first state (the blink thread
    runs on its own; wait for its transitions, bounded)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        seen = lit(pin)[1:]
        if True in seen and False in seen[seen.index(True):]:
            return True
        time.sleep(0.05)
    return False


def test_each_line_has_its_own_led_and_line_2_shows_line_2(tmp_path, factory):
    cfg = load(TWO_LINES)
    assert hat.led_pins(cfg.hat, cfg.lines) == [17, 22]
    key, leds = hat.parts(cfg.hat, cfg.lines, factory)
    one, two = factory.pin(17), factory.pin(22)
    board = status.Status(tmp_path / "state.json")
    line1 = LineState("box", board, leds[0], "modem")
    line2 = LineState("box2", board, leds[1], "modem 2")
    try:
        line1.set(STARTING, "opening /dev/lawline-at")
        line2.set(STARTING, "opening /dev/lawline2-at")
        line1.set(READY, "ready on /dev/lawline-at")
        line2.set(NOT_ANSWERING, "no modem answering on /dev/lawline2-at")
        # line 1 ready: its LED on and steady; line 2's modem silent: its LED blinks
        assert lit(one)[-1] is True and leds[0].state is True
        assert blinks(two)
        assert board.get("modem")["state"] == status.OK
        assert board.get("modem 2")["state"] == status.FAIL   # `lawline check` per line
        steady = len(one.states)
        # line 2 comes back; line 1's modem goes silent: the LEDs swap, each its own
        line2.set(READY, "ready on /dev/lawline2-at")
        assert lit(two)[-1] is True and leds[1].state is True
        assert len(one.states) == steady    # line 2's change did nothing to line 1's LED
        two.clear_states()
        line1.set(NOT_ANSWERING, "no modem answering on /dev/lawline-at")
        assert blinks(one)
        assert lit(two) == [True]           # line 1's trouble leaves line 2's LED on
        assert key.device.pin.info.name == "GPIO6"
    finally:
        key.close()
        for led in leds:
            led.close()


def test_one_line_keeps_the_hat_led_and_its_meaning(factory):
    cfg = load('[hat]\nstatus_led_pin = 17\n')
    key, leds = hat.parts(cfg.hat, cfg.lines, factory)
    assert key is None and len(leds) == 1
    state = LineState("box", None, leds[0], "modem")
    state.set(STARTING, "opening /dev/lawline-at")
    assert blinks(factory.pin(17))
    state.set(READY, "ready")
    assert lit(factory.pin(17))[-1] is True
    leds[0].close()


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
