"""AT line framing and routing, on a real pseudo-terminal (the driver opens it as a modem)."""

import asyncio
import os
import pty
import tty

import pytest

from lawline.errors import CommandError, ModemTimeout
from lawline.line.at import ATChannel, clean, split_lines
from lawline.line.modem import Modem, parse_clip, parse_dtmf
from lawline.line.profiles import SIM7600


def test_split_handles_echo_and_double_cr():
    lines, rest = split_lines(b"AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n\r\r\nRING\r\r\n+CL")
    assert lines == [b"AT+CSQ", b"+CSQ: 20,99", b"OK", b"RING"]
    assert rest == b"+CL"


def test_clean_drops_line_noise():
    assert clean(b"\x00\xffOK") == ("OK", True)
    assert clean(b"+CLIP: \"138\",129") == ('+CLIP: "138",129', False)


@pytest.mark.parametrize("line,number", [
    ('+CLIP: "13800138000",161,"",0,"",0', "13800138000"),
    ('+CLIP: "+8613800138000",145,,,,0', "+8613800138000"),
    ('+CLIP: "8613800138000",145', "+8613800138000"),
    ('+CLIP: "",128,"",0,"",0', ""),
    ('+CLIP: "CALLBACK 16800001234 NOW",129', ""),      # free text: withheld (callerid.py)
    ('+CLIP: "1380013800O",129', ""),
])
def test_clip_variants(line, number):
    assert parse_clip(line)[0].number == number


def test_dtmf_reports():
    assert parse_dtmf("+RXDTMF: 5", SIM7600) == "5"
    assert parse_dtmf("+RXDTMF: #", SIM7600) == "#"
    assert parse_dtmf("+RXDTMF: x", SIM7600) is None


class FakeModemPty:
    """The far end of a pty, played by the test: it reads commands and writes bytes."""

    def __init__(self):
        self.master, slave = pty.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        self.slave = slave
        os.set_blocking(self.master, False)

    async def read_command(self, timeout=2):
        buf = b""
        deadline = asyncio.get_running_loop().time() + timeout
        while not buf.endswith(b"\r"):
            try:
                buf += os.read(self.master, 100)
            except BlockingIOError:
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(buf)
                await asyncio.sleep(0.005)
        return buf.decode().strip()

    def send(self, data):
        os.write(self.master, data)

    def close(self):
        os.close(self.master)
        os.close(self.slave)


async def _channel(fake, urcs):
    ch = ATChannel(fake.path, "test", SIM7600.urc_prefixes, urcs.append)
    ch.open()
    return ch


def test_echo_reply_and_urc_inside_reply():
    async def main():
        fake, urcs = FakeModemPty(), []
        ch = await _channel(fake, urcs)
        task = asyncio.ensure_future(ch.command("AT+CSQ", expect="+CSQ:"))
        assert await fake.read_command() == "AT+CSQ"
        # echo, info line, a URC in the middle of the reply, then OK
        fake.send(b"AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nRING\r\n\r\n+RXDTMF: 3\r\n\r\nOK\r\n")
        lines = await task
        assert lines == ["+CSQ: 20,99"]
        assert urcs == ["RING", "+RXDTMF: 3"]
        ch.close()
        fake.close()
    asyncio.run(main())


def test_error_is_typed_and_timeout_carries_partial():
    async def main():
        fake, urcs = FakeModemPty(), []
        ch = await _channel(fake, urcs)
        task = asyncio.ensure_future(ch.command("AT+CPCMREG=1"))
        await fake.read_command()
        fake.send(b"\r\n+CME ERROR: 3\r\n")
        with pytest.raises(CommandError) as info:
            await task
        assert info.value.code == 3
        task = asyncio.ensure_future(ch.command("ATI", timeout=0.3))
        await fake.read_command()
        fake.send(b"\r\nManufacturer: SIMCOM\r\n")
        with pytest.raises(ModemTimeout) as info:
            await task
        assert info.value.partial == ["Manufacturer: SIMCOM"]
        ch.close()
        fake.close()
    asyncio.run(main())


def test_garbage_then_a_good_reply():
    async def main():
        fake, urcs = FakeModemPty(), []
        ch = await _channel(fake, urcs)
        fake.send(b"\x00\xff\xfe+CL\x07\r\n\x1b[2J\r\n")
        task = asyncio.ensure_future(ch.command("AT"))
        await fake.read_command()
        fake.send(b"\r\nOK\r\n")
        assert await task == []
        ch.close()
        fake.close()
    asyncio.run(main())


def test_modem_events_for_a_whole_call():
    async def main():
        fake = FakeModemPty()
        modem = Modem(SIM7600, fake.path, "/dev/null", name="test")
        modem.at.open()
        fake.send(b"\r\nRING\r\n\r\n+CLIP: \"13800138000\",161,\"\",0,\"\",0\r\n")
        assert (await modem.next_event(1)).kind == "ring"
        ev = await modem.next_event(1)
        assert (ev.kind, ev.number) == ("caller_id", "13800138000")
        task = asyncio.ensure_future(modem.answer())
        assert await fake.read_command() == "ATA"
        fake.send(b"\r\nOK\r\n\r\nVOICE CALL: BEGIN\r\n")
        await task
        assert (await modem.next_event(1)).kind == "begin"
        fake.send(b"\r\n+RXDTMF: 1\r\n")
        assert (await modem.next_event(1)).digit == "1"
        fake.send(b"\r\nVOICE CALL: END: 000012\r\n\r\nNO CARRIER\r\n")
        assert (await modem.next_event(1)).kind == "ended"
        assert modem.events.empty() and not modem.in_call
        modem.close()
        fake.close()
    asyncio.run(main())


def test_cpcmreg_refused_then_accepted():
    async def main():
        fake = FakeModemPty()
        modem = Modem(SIM7600, fake.path, "/dev/null", name="test", audio_retry_delay=0.01)
        modem.at.open()
        modem.in_call = True
        task = asyncio.ensure_future(modem.open_audio())
        for reply in (b"\r\nERROR\r\n", b"\r\nERROR\r\n", b"\r\nOK\r\n"):
            assert await fake.read_command() == "AT+CPCMREG=1"
            fake.send(reply)
        await task
        assert modem.audio_open
        modem.close()
        fake.close()
    asyncio.run(main())
