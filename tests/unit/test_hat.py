"""The HAT's pin factory: lgpio first, then RPi.GPIO, then native; a machine where none works
gets one error that says what to install (this test machine is not a Pi, so the real
libraries fail here as they would on a Pi without them)."""

import pytest
from gpiozero.pins.mock import MockFactory

from lawline import config as configuration, hat


def test_the_first_factory_that_works_is_used():
    choices = (("lgpio", "gpiozero.pins.no_such_module", "LGPIOFactory"),
               ("mock", "gpiozero.pins.mock", "MockFactory"))
    factory = hat.choose_pin_factory(choices)
    assert isinstance(factory, MockFactory)
    factory.close()


def test_lgpio_is_tried_first():
    assert [name for name, _, _ in hat.FACTORIES] == ["lgpio", "RPi.GPIO", "native"]


def test_no_working_factory_is_one_clear_error():
    choices = (("lgpio", "gpiozero.pins.no_such_module", "LGPIOFactory"),
               ("RPi.GPIO", "gpiozero.pins.no_such_module_either", "RPiGPIOFactory"))
    with pytest.raises(hat.HatError, match=r"install lgpio .* /dev/gpiochip") as err:
        hat.choose_pin_factory(choices)
    assert "lgpio: No module named" in str(err.value)


def test_without_pins_no_factory_is_needed():
    cfg = configuration.from_dict({})
    assert hat.from_config(cfg.hat) == (None, None)


def test_pins_use_the_given_factory():
    cfg = configuration.from_dict({"hat": {"power_key_pin": 6, "status_led_pin": 17}})
    factory = MockFactory()
    key, led = hat.from_config(cfg.hat, factory)
    assert key.device.pin.info.name == "GPIO6" and led.led.pin.info.name == "GPIO17"
    key.close(), led.close(), factory.close()
