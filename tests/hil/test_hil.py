"""Hardware in loop: two real modems (board/HIL.md). The box's modem is driven by the box,
the caller's by the test; what is asserted is what the caller heard and what reached the
spool and upstream, exactly as on the loopback line. `make hil BOX_AT=... BOX_AUDIO=...
CALLER_AT=... CALLER_AUDIO=... BOX_NUMBER=...` runs these, the modem contract
(tests/line/test_contract.py: answer, caller ID, DTMF, audio both ways, hang-ups, SMS on the
real modems) and tests/scenarios/test_calls.py; without ports every test here skips and says
so."""

import pytest

from lawline_rig.probe import scenarios

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


@pytest.fixture(scope="module")
def rig(ports, module_rigs):
    return module_rigs.rig("hil", hil=True, profile=ports["profile"], ring_interval=5.0)


def test_the_box_answers_and_names_the_caller(rig, ports):
    call = run_call(rig, scenarios.hang_up_in_greeting)
    if ports["caller"]["number"]:
        # The network's presentation is what the real line sends: [?] in modems.md for
        # the exact spelling (national, +86...): the record must end with the same digits.
        assert call["caller"].endswith(ports["caller"]["number"][-8:]), call
