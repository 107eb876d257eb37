"""The AT channel on a real pty whose far end the test plays byte for byte (the driver opens
it as a modem): echo, replies and URCs inside a reply, typed errors and timeouts, garbage,
a whole call's events, the two-phase command (AT+CMGS prompt) and the V.253 data-state
hand-off. (The pure framing and parsing: tests/unit/test_at.py.)"""

import asyncio
import os
import pty
import tty

import pytest

from lawline.errors import CommandError, ModemTimeout, SmsError
from lawline.line.at import ATChannel
from lawline.line.modem import Modem
from lawline.line.profiles import SIM7600


async def _read_raw(fake, until, timeout=2):
    buf = b""
    deadline = asyncio.get_running_loop().time() + timeout
    while until not in buf:
        try:
            buf += os.read(fake.master, 4096)
        except BlockingIOError:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(buf)
            await asyncio.sleep(0.005)
    return buf


def _run(test):
    async def main():
        fake, urcs = FakeModemPty(), []
        ch = ATChannel(fake.path, "test", SIM7600.urc_prefixes, urcs.append)
        ch.open()
        try:
            await test(fake, ch, urcs)
        finally:
            ch.close()
            fake.close()
    asyncio.run(main())


def test_prompt_then_body_then_reference():
    async def test(fake, ch, urcs):
        task = asyncio.ensure_future(ch.command_with_prompt("AT+CMGS=23", "0011ABCD",
                                                            expect="+CMGS:"))
        assert await fake.read_command() == "AT+CMGS=23"
        fake.send(b"\r\n+RXDTMF: 5\r\n")       # a URC while the prompt is awaited
        await asyncio.sleep(0.05)
        assert not task.done()                 # no body before the prompt
        fake.send(b"\r\n> ")
        assert await _read_raw(fake, b"\x1a") == b"0011ABCD\x1a"
        fake.send(b"\r\n+CMGS: 42\r\n\r\nOK\r\n")
        assert await task == ["+CMGS: 42"]
        assert urcs == ["+RXDTMF: 5"]
        # the channel is free again, and plain commands behave as before
        task = asyncio.ensure_future(ch.command("AT"))
        await fake.read_command()
        fake.send(b"\r\nOK\r\n")
        assert await task == []
    _run(test)


def test_error_instead_of_the_prompt_and_cms_error_after_the_body():
    async def test(fake, ch, urcs):
        task = asyncio.ensure_future(ch.command_with_prompt("AT+CMGS=9", "00"))
        await fake.read_command()
        fake.send(b"\r\n+CMS ERROR: 304\r\n")
        with pytest.raises(CommandError) as info:
            await task
        assert info.value.code == 304
        task = asyncio.ensure_future(ch.command_with_prompt("AT+CMGS=9", "00"))
        await fake.read_command()
        fake.send(b"\r\n> ")
        await _read_raw(fake, b"\x1a")
        fake.send(b"\r\n+CMS ERROR: 500\r\n")
        with pytest.raises(CommandError) as info:
            await task
        assert info.value.code == 500
        assert SmsError("AT+CMGS=9", "+CMS ERROR: 331").code == 331
    _run(test)


def test_no_prompt_cancels_with_esc_and_times_out():
    async def test(fake, ch, urcs):
        task = asyncio.ensure_future(ch.command_with_prompt("AT+CMGS=9", "00",
                                                            prompt_timeout=0.2))
        await fake.read_command()
        with pytest.raises(ModemTimeout, match="no '> ' prompt"):
            await task
        assert await _read_raw(fake, b"\x1b") == b"\x1b"
    _run(test)


def test_connect_hands_every_following_byte_to_the_data_state():
    async def test(fake, ch, urcs):
        got = []

        def data(chunk):
            got.append(chunk)
            if b"\x10\x03" in b"".join(got):
                whole = b"".join(got)
                end = whole.index(b"\x10\x03") + 2
                return whole[end:]
            return None
        task = asyncio.ensure_future(ch.command("AT+VTR", data=data))
        await fake.read_command()
        # CONNECT, then samples that look like line ends and like URCs
        fake.send(b"\r\nCONNECT\r\n\r\n\nRING\r\n\x80\x10\x10")
        assert await task == []
        assert ch.in_data_state
        with pytest.raises(Exception, match="voice data state"):
            await ch.command("AT")
        fake.send(b"\x81\x10\x03\r\nOK\r\n")
        await asyncio.sleep(0.1)
        assert b"".join(got) == b"\r\n\nRING\r\n\x80\x10\x10\x81\x10\x03\r\nOK\r\n"
        assert not ch.in_data_state and urcs == []
    _run(test)


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
