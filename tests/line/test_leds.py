"""One status LED per line, blinking in real time: each line's state drives its own LED only,
and gpiozero's blink thread turns a line in trouble on and off (MockFactory pins; their
histories are what the LEDs did). The config side and the pins without a blink:
tests/unit/test_line_leds.py, whose helpers this uses."""

import pytest
from gpiozero.pins.mock import MockFactory

from lawline import hat, status
from lawline.line.supervisor import NOT_ANSWERING, READY, STARTING, LineState
from lawline_rig.wait import wait_until

from ..unit.test_line_leds import TWO_LINES, lit, load


@pytest.fixture
def factory():
    made = MockFactory()
    yield made
    made.close()


def blinked(pin):
    """The pin has gone on and off again after its first state."""
    seen = lit(pin)[1:]
    return True in seen and False in seen[seen.index(True):]


def blinks(pin, deadline=5.0):
    """True once the pin blinked (the blink thread runs on its own; its transitions are
    waited for, bounded: a pin that never blinks fails the wait, naming it)."""
    return wait_until(lambda: blinked(pin), deadline, f"pin {pin.number} to blink",
                      detail=lambda: f"its states {lit(pin)}")


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
