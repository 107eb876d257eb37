"""The line supervisor against the simulated modem: a modem that stops answering is reset and
reopened (the call in progress ends with a `failed` event), a port that comes back under a new
name is found through the stable link, and a modem that stays silent is power-cycled through
the HAT's power key (gpiozero MockFactory: the pin's history is asserted)."""

import asyncio
import dataclasses
import os
import types

from gpiozero.pins.mock import MockFactory

import lawline_rig.sim
from lawline.hat import PowerKey
from lawline.line import profiles
from lawline.line.modem import Modem
from lawline.line.supervisor import POWER_CYCLING, READY, LineSupervisor
from lawline.status import Status
from lawline_rig.wait import async_wait_until, wait_until

# Short intervals keep the tests quick; the timeouts are long enough that a loaded machine
# never makes a healthy simulated modem look dead (0.3 s did, now and then, in full runs).
LINE = types.SimpleNamespace(health_interval=0.3, health_timeout=1.5, recovery_max_backoff=1.0,
                             reset_after_hangup=False)


def _box(line, boot_seconds=1.0):
    fast = dataclasses.replace(profiles.SIM7600, boot_seconds=boot_seconds)
    info = line["box"]
    return Modem(fast, info["at_link"], info["audio_link"], name="box", command_timeout=3.0,
                 audio_retry_delay=0.1)


async def _next(modem, kinds, timeout=10):
    kinds = (kinds,) if isinstance(kinds, str) else kinds
    while True:
        event = await asyncio.wait_for(modem.events.get(), timeout)
        if event.kind in kinds:
            return event


def test_a_modem_that_stops_answering_mid_call_is_reset_and_comes_back(rigs):
    line = rigs.line()

    async def main():
        box = _box(line)
        caller = Modem("simcom-sim7600", line["caller"]["at"], line["caller"]["audio"],
                       name="caller")
        status = Status(None)
        supervisor = LineSupervisor(box, box.make_audio(), LINE, status)
        stop = asyncio.Event()
        assert await supervisor.start(stop)
        watch = asyncio.ensure_future(supervisor.run(stop))
        await caller.start()
        try:
            old = os.path.realpath(line["box"]["at_link"])
            await caller.dial(line["box"]["number"])
            await _next(box, "caller_id")
            await box.answer()
            await _next(box, "begin")
            # two commands swallowed: both health checks; the AT+CRESET after them goes through
            lawline_rig.sim.inject(line.dir, "no_reply", side="box", count=2)
            event = await _next(box, "failed")
            assert event.detail == "modem stopped answering" and not box.in_call
            assert (await _next(caller, "ended")).kind == "ended"   # the reset dropped the call
            await async_wait_until(lambda: supervisor.state.state == READY and supervisor.recoveries, 15,
                         "the modem to come back")
            assert os.path.realpath(line["box"]["at_link"]) != old   # CRESET re-enumerated
            assert "now /dev/pts/" in status.get("modem")["message"]
            # and it takes calls again
            await caller.dial(line["box"]["number"])
            assert (await _next(box, "caller_id")).number == line["caller"]["number"]
            await caller.hangup()
        finally:
            stop.set()
            await watch
            box.close()
            caller.close()
    asyncio.run(main())
    assert "AT+CRESET" in line.wire()


def test_the_port_going_away_is_found_again_under_its_new_name(rigs):
    line = rigs.line()

    async def main():
        box = _box(line)
        supervisor = LineSupervisor(box, box.make_audio(), LINE)
        stop = asyncio.Event()
        assert await supervisor.start(stop)
        watch = asyncio.ensure_future(supervisor.run(stop))
        seen = []
        original = supervisor.state.set
        supervisor.state.set = lambda state, detail: (seen.append(state), original(state, detail))
        try:
            old = os.path.realpath(line["box"]["at_link"])
            lawline_rig.sim.inject(line.dir, "port_gone", side="box", ms=800)
            await async_wait_until(lambda: supervisor.recoveries == 1 and supervisor.state.state == READY,
                         15, "the modem on its new port")
            assert os.path.realpath(line["box"]["at_link"]) != old
            assert "port gone" in seen and await box.ping(1.0)
        finally:
            stop.set()
            await watch
            box.close()
    asyncio.run(main())


def test_a_modem_that_stays_silent_is_power_cycled_with_the_power_key(rigs):
    line = rigs.line()
    factory = MockFactory()

    async def main():
        box = _box(line, boot_seconds=0.2)
        key = PowerKey(6, factory, on_seconds=0.2, off_seconds=0.3, off_wait=0.1)
        supervisor = LineSupervisor(box, box.make_audio(), LINE, power_key=key)
        stop = asyncio.Event()
        assert await supervisor.start(stop)
        watch = asyncio.ensure_future(supervisor.run(stop))
        try:
            lawline_rig.sim.inject(line.dir, "no_reply", side="box", count=1000)
            await async_wait_until(lambda: len(factory.pin(6).states) >= 5, 20, "a power cycle")
            assert supervisor.state.state == POWER_CYCLING or supervisor.state.state != READY
        finally:
            stop.set()
            await watch
            box.close()
            key.close()
    asyncio.run(main())
    states = factory.pin(6).states
    # initial LOW, then HIGH (off press, 0.3 s), LOW (0.1 s), HIGH (on press, 0.2 s), LOW;
    # MockPin timestamps are the time since the previous change
    assert [s.state for s in states[:5]] == [False, True, False, True, False]
    # A press is held at least as long as configured (a sleep never ends early) and ends: a
    # busy machine may only stretch it. The exact timings are the modem's datasheet's affair.
    assert 0.3 - 0.01 <= states[2].timestamp < 0.3 + 2.0      # held for the off press
    assert 0.1 - 0.01 <= states[3].timestamp < 0.1 + 2.0      # the wait between
    assert 0.2 - 0.01 <= states[4].timestamp < 0.2 + 2.0      # held for the on press


def test_reset_after_hangup_resets_and_reopens_the_renamed_ports(rigs):
    line = rigs.line()
    cfg = types.SimpleNamespace(**{**vars(LINE), "reset_after_hangup": True})

    async def main():
        box = _box(line)
        supervisor = LineSupervisor(box, box.make_audio(), cfg)
        assert await supervisor.start()
        try:
            old = os.path.realpath(line["box"]["at_link"])
            await supervisor.after_call()
            assert supervisor.state.state == READY and supervisor.recoveries == 1
            assert os.path.realpath(line["box"]["at_link"]) != old
            assert await box.ping(1.0)
        finally:
            box.close()
    asyncio.run(main())
    assert "AT+CRESET" in line.wire()


def test_status_led_shows_ready_and_blinks_on_trouble():
    from lawline.hat import StatusLed
    factory = MockFactory()
    led = StatusLed(17, factory)
    from lawline.line.supervisor import LineState
    state = LineState("box", led=led)
    state.set(READY, "ready on /dev/lawline-at")
    assert factory.pin(17).state is True
    pin = factory.pin(17)
    state.set("not answering", "modem stopped answering")
    seen = len(pin.states)
    # blinking: it goes on and off by itself
    wait_until(lambda: len(pin.states) >= seen + 2, 3, "the LED to blink",
               detail=lambda: f"its states {pin.states}")
    state.set(READY, "ready again")
    settled = len(pin.states)
    assert pin.state is True
    led.close()
    assert settled >= seen + 2
