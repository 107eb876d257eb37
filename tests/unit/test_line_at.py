"""The AT channel's two-phase command (AT+CMGS prompt) and its V.253 data-state hand-off, on
a real pty whose far end the test plays byte for byte."""

import asyncio

import pytest

from lawline.errors import CommandError, ModemTimeout, SmsError
from lawline.line.at import ATChannel
from lawline.line.profiles import SIM7600

from .test_at import FakeModemPty


async def _read_raw(fake, until, timeout=2):
    buf = b""
    deadline = asyncio.get_running_loop().time() + timeout
    while until not in buf:
        try:
            buf += __import__("os").read(fake.master, 4096)
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
