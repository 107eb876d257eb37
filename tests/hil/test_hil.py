"""Hardware in loop: two real modems (board/HIL.md). The box's modem is driven by the box,
the caller's by the test; what is asserted is what the caller heard and what reached the
spool and upstream, exactly as on the loopback line. `make hil BOX_AT=... BOX_AUDIO=...
CALLER_AT=... CALLER_AUDIO=... BOX_NUMBER=...` runs these and tests/scenarios/test_calls.py;
without ports every test here skips and says so."""

import asyncio

import pytest

from lawline.line import create_modem
from lawline_rig.probe import scenarios
from lawline_rig.probe.rig import Rig

from ..conftest import run_call

NO_PORTS = ("hardware in loop: no real modem ports given; run e.g. make hil "
            "BOX_AT=/dev/lawline-at BOX_AUDIO=/dev/lawline-audio BOX_NUMBER=<box SIM's number> "
            "CALLER_AT=<caller modem AT> CALLER_AUDIO=<caller modem audio> (board/HIL.md)")


@pytest.fixture(scope="module")
def ports(hil_ports):
    if not hil_ports:
        pytest.skip(NO_PORTS)
    missing = [f"{side} {key}" for side in ("box", "caller") for key in ("at", "audio", "number")
               if not hil_ports[side].get(key) and not (side == "caller" and key == "number")]
    if missing:
        pytest.skip(f"hardware in loop: missing {', '.join(missing)} ({NO_PORTS})")
    return hil_ports


def test_both_modems_start_and_answer(ports):
    async def main():
        out = {}
        for side in ("box", "caller"):
            info = ports[side]
            modem = create_modem(info["driver_profile"], info["at"], info["audio"], name=side)
            await modem.start()
            try:
                out[side] = await modem.ping(5)
            finally:
                modem.close()
        return out
    identity = asyncio.run(main())
    assert identity["box"] and identity["caller"]


@pytest.fixture(scope="module")
def rig(ports, tmp_path_factory):
    rig = Rig(tmp_path_factory.mktemp("hil"), profile=ports["profile"], ports=ports,
              ring_interval=5.0)
    rig.start()
    yield rig
    rig.stop()


def test_the_box_answers_and_names_the_caller(rig, ports):
    call = run_call(rig, scenarios.hang_up_in_greeting)
    if ports["caller"]["number"]:
        # The network's presentation is what the real line sends: [?] in modems.md for
        # the exact spelling (national, +86...): the record must end with the same digits.
        assert call["caller"].endswith(ports["caller"]["number"][-8:]), call


def test_sms_from_the_box_reaches_the_caller(rig, ports):
    if not ports["caller"]["number"]:
        pytest.skip("hardware in loop: give CALLER_NUMBER to test SMS")
    if ports["profile"] == "v253":
        pytest.skip("a V.253 box has no SMS")
    text = "法律服务专线测试短信😀" * 8

    async def main():
        box = create_modem(ports["profile"], ports["box"]["at"], ports["box"]["audio"],
                           name="box")
        caller = create_modem(ports["caller"]["driver_profile"], ports["caller"]["at"],
                              ports["caller"]["audio"], name="caller")
        rig.stop()       # the box process lets go of its modem for this test
        await box.start()
        await caller.start()
        try:
            refs = await box.send_sms(ports["caller"]["number"], text)
            while True:
                event = await asyncio.wait_for(caller.events.get(), 120)
                if event.kind == "sms":
                    return refs, event
        finally:
            box.close()
            caller.close()
    refs, event = asyncio.run(main())
    assert len(refs) >= 2 and event.detail == text
