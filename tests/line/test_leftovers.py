"""A box killed in the middle of a command leaves the modem in that command's state; the next
box must still get its `AT` answered. Each test leaves the simulated modem half-way with raw
bytes on its AT port (the way a SIGKILLed box leaves it: the port simply closes), then starts
the real driver on it."""

import asyncio
import dataclasses
import time

import serial

from lawline.line import profiles
from lawline.line.modem import Modem
from lawline.line.v253 import V253Modem


def _leave_half_way(path, commands, until):
    """Type `commands` on a raw port, wait for `until`, and close it as a killed box would."""
    port = serial.Serial(path, 115200, timeout=0.1)
    try:
        seen = b""
        for command in commands:
            port.write(command)
        deadline = time.monotonic() + 10
        while until not in seen:
            assert time.monotonic() < deadline, f"no {until!r} from the modem: {seen!r}"
            seen += port.read(4096)
    finally:
        port.close()


def _sim7600(info):
    fast = dataclasses.replace(profiles.SIM7600, boot_seconds=1.0)
    return Modem(fast, info["at_link"], info["audio_link"], name="box", command_timeout=2.0)


def test_clearing_a_modem_in_command_state_is_quiet(rigs, caplog):
    # the usual start: nothing was left half-way, the modem echoes (ATE1): no noise warning
    line = rigs.line("simcom-sim7600")
    info = line["box"]

    async def main():
        box = _sim7600(info)
        try:
            await box.start()
        finally:
            box.close()

    asyncio.run(main())
    assert "noise" not in caplog.text, caplog.text


def test_a_message_body_left_half_typed_is_cancelled_before_the_first_command(rigs):
    line = rigs.line("simcom-sim7600")
    info = line["box"]
    _leave_half_way(info["at_link"], [b"ATE0\r", b"AT+CMGF=0\r", b"AT+CMGS=20\r"], b"> ")

    async def main():
        box = _sim7600(info)
        try:
            await box.start()       # without the ESC, the modem takes "AT\r" as message text
            assert await box.ping(2.0)
        finally:
            box.close()

    asyncio.run(main())
    said = line.wire() + line.sim_log()
    assert "SMS input cancelled with ESC" in said, said[-2000:]


def test_a_voice_receive_left_running_is_ended_before_the_first_command(rigs):
    line = rigs.line("v253")
    info = line["box"]
    _leave_half_way(info["at_link"], [b"ATE0\r", b"AT+FCLASS=8\r", b"AT+VLS=1\r", b"AT+VRX\r"],
                    b"CONNECT")

    async def main():
        box = V253Modem(profiles.V253, info["at_link"], name="box", command_timeout=2.0)
        try:
            await box.start()       # without DLE !, "AT\r" would be taken as samples
            assert await box.ping(2.0)
        finally:
            box.close()

    asyncio.run(main())
