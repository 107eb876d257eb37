"""SMS across the loopback line: the box's driver, python-gsmmodem (an independent client) and
raw bytes, against the simulated SIM7600 and EC25."""

import asyncio
import queue
import re
import time

import pytest
import serial

import lawline_rig.sim
from lawline.errors import SmsError
from lawline.line.modem import Modem
from lawline.line import pdu as sms

from gsmmodem.modem import GsmModem      # an independent GSM client (rig dependency)

CHINESE_150 = ("您好，这里是县法律服务专线。请按一号键咨询法律问题，按二号键申请法律服务。" * 5)[:150]
PROFILES = ["simcom-sim7600", "quectel-ec25"]


def _modem(line, side):
    info = line[side]
    return Modem(info["driver_profile"], info["at"], info["audio"], name=side)


async def _next(modem, kind, timeout=10):
    while True:
        event = await asyncio.wait_for(modem.events.get(), timeout)
        if event.kind == kind:
            return event


@pytest.mark.parametrize("profile", PROFILES)
def test_python_gsmmodem_sends_150_chinese_characters_that_arrive_whole(loopback, profile):
    line = loopback(profile)
    client = GsmModem(line["caller"]["at"])
    client.connect()

    async def main():
        box = _modem(line, "box")
        await box.start()
        try:
            await asyncio.to_thread(client.sendSms, line["box"]["number"], CHINESE_150)
            event = await _next(box, "sms")
            assert (event.number, event.detail) == (line["caller"]["number"], CHINESE_150)
            # every part was read and deleted from the SIM
            deadline = time.monotonic() + 20       # a deadline for a failure, not a figure
            while (lawline_rig.sim.status(line.dir)["box"]["sms_stored"]
                   and time.monotonic() < deadline):
                await asyncio.sleep(0.05)
            assert lawline_rig.sim.status(line.dir)["box"]["sms_stored"] == []
        finally:
            box.close()
    try:
        asyncio.run(main())
    finally:
        client.close()
    assert line.wire().count("AT+CMGD=") >= 3


@pytest.mark.parametrize("profile", PROFILES)
def test_the_driver_sends_long_chinese_and_emoji_that_the_other_side_reassembles(loopback, profile):
    line = loopback(profile)
    text = "值班律师将在一个工作日内与您联系😀，案件编号 240312001。" * 5   # emoji: outside the BMP

    async def main():
        box, caller = _modem(line, "box"), _modem(line, "caller")
        await box.start()
        await caller.start()
        try:
            refs = await box.send_sms(line["caller"]["number"], text)
            assert len(refs) == len(sms.encode_submit("1", text)) > 1
            assert refs == sorted(refs) and len(set(refs)) == len(refs)  # +CMGS: <mr> each part
            event = await _next(caller, "sms")
            assert (event.number, event.detail) == (line["box"]["number"], text)
        finally:
            box.close()
            caller.close()
    asyncio.run(main())


def test_python_gsmmodem_receives_what_the_driver_sends(loopback):
    line = loopback("quectel-ec25")
    got = queue.Queue()
    client = GsmModem(line["caller"]["at"], smsReceivedCallbackFunc=got.put)
    client.connect()

    async def main():
        box = _modem(line, "box")
        await box.start()
        try:
            await box.send_sms(line["caller"]["number"], "您的案件已受理。")
        finally:
            box.close()
    try:
        asyncio.run(main())
        message = got.get(timeout=10)
        assert (message.number, message.text) == (line["box"]["number"], "您的案件已受理。")
        # python-gsmmodem deletes the message after its callback: wait for that before closing
        deadline = time.monotonic() + 5
        while lawline_rig.sim.status(line.dir)["caller"]["sms_stored"]:
            assert time.monotonic() < deadline, "python-gsmmodem never deleted the message"
            time.sleep(0.05)
    finally:
        client.close()


def test_sms_to_an_outside_number_lands_in_the_mailbox(loopback):
    line = loopback()
    text = "紧急调解：请回电 13800138000。" * 6

    async def main():
        box = _modem(line, "box")
        await box.start()
        try:
            return await box.send_sms("+8613900000001", text)
        finally:
            box.close()
    refs = asyncio.run(main())
    [sent] = lawline_rig.sim.sms_sent(line.dir)
    assert sent["to"] == "+8613900000001" and sent["text"] == text
    assert sent["parts"] == len(refs) == 2 and sent["complete"] and sent["references"] == refs
    assert sent["from"] == line["box"]["number"]


def test_a_refused_sms_raises_sms_error_with_the_code(loopback):
    line = loopback()
    lawline_rig.sim.inject(line.dir, "sms_refuse", side="box", code=330)

    async def main():
        box = _modem(line, "box")
        await box.start()
        try:
            with pytest.raises(SmsError) as info:
                await box.send_sms("13900000001", "测试")
            assert info.value.code == 330 and "SMSC address unknown" in str(info.value)
            assert await box.send_sms("13900000001", "测试") == [0]  # the next one goes
        finally:
            box.close()
    asyncio.run(main())
    assert [m["text"] for m in lawline_rig.sim.sms_sent(line.dir)] == ["测试"]


def test_texts_stored_while_the_box_was_down_are_read_at_start(loopback):
    line = loopback()
    lawline_rig.sim.control_request(line.dir, {"sms_deliver": {"to": "box", "from": "10086",
                                                           "text": "余额提醒" * 30}})
    assert len(lawline_rig.sim.status(line.dir)["box"]["sms_stored"]) == 2

    async def main():
        box = _modem(line, "box")
        await box.start()
        try:
            event = await _next(box, "sms")
            assert (event.number, event.detail) == ("10086", "余额提醒" * 30)
        finally:
            box.close()
    asyncio.run(main())


# -- raw bytes: the prompt, text mode, reading back in both modes -----------------------------

def _read_until(port, pattern, timeout=3.0):
    regex = re.compile(pattern)
    buf = b""
    port.timeout = 0.05
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        buf += port.read(4096)
        if regex.search(buf):
            return buf
    raise AssertionError(f"waited for {pattern!r}, got {buf!r}")


def test_raw_prompt_text_mode_ucs2_and_cmgr_in_both_modes(loopback):
    line = loopback()
    box = serial.Serial(line["box"]["at"], timeout=0.05)
    caller = serial.Serial(line["caller"]["at"], timeout=0.05)
    try:
        for command in (b"ATE0", b"AT+CMGF=1", b'AT+CSCS="UCS2"', b"AT+CSMP=17,167,0,8"):
            caller.write(command + b"\r")
            _read_until(caller, rb"OK\r\n$")
        box.write(b"ATE0\r")
        _read_until(box, rb"OK\r\n$")
        number = line["box"]["number"].encode("utf-16-be").hex().upper()
        caller.write(f'AT+CMGS="{number}"\r'.encode())
        assert _read_until(caller, rb"> $") == b"\r\n> "   # 4 bytes, no OK (27.005 3.5.1)
        caller.write("您好".encode("utf-16-be").hex().upper().encode() + b"\x1a")
        reply = _read_until(caller, rb"OK\r\n$")
        assert re.fullmatch(rb"\r\n\+CMGS: \d+\r\n\r\nOK\r\n", reply)
        urc = _read_until(box, rb'\+CMTI: "SM",\d+\r\n')
        index = int(re.search(rb'\+CMTI: "SM",(\d+)', urc).group(1))
        box.write(f"AT+CMGR={index}\r".encode())             # PDU mode (the default)
        reply = _read_until(box, rb"OK\r\n$").decode()
        pdu = re.search(r"\+CMGR: 0,,(\d+)\r\n([0-9A-F]+)\r\n", reply)
        message = sms.decode_pdu(pdu.group(2))
        assert (message.number, message.text) == (line["caller"]["number"], "您好")
        assert int(pdu.group(1)) == len(bytes.fromhex(pdu.group(2))) - 1 - bytes.fromhex(pdu.group(2))[0]
        for command in (b"AT+CMGF=1", b'AT+CSCS="UCS2"'):
            box.write(command + b"\r")
            _read_until(box, rb"OK\r\n$")
        box.write(f"AT+CMGR={index}\r".encode())             # text mode, UCS2: all hex (3.2)
        reply = _read_until(box, rb"OK\r\n$").decode()
        sender = line["caller"]["number"].encode("utf-16-be").hex().upper()
        assert f'+CMGR: "REC READ","{sender}","","' in reply
        assert "\r\n" + "您好".encode("utf-16-be").hex().upper() + "\r\n" in reply
        box.write(f"AT+CMGD={index}\r".encode())
        _read_until(box, rb"OK\r\n$")
        box.write(f"AT+CMGR={index}\r".encode())
        assert _read_until(box, rb"\r\n\+CMS ERROR: 321\r\n")   # deleted: invalid index
        # a PDU whose length does not match AT+CMGS=<n> is refused with 304; ESC cancels
        caller.write(b"AT+CMGF=0\r")
        _read_until(caller, rb"OK\r\n$")
        caller.write(b"AT+CMGS=99\r")
        _read_until(caller, rb"> $")
        caller.write(sms.encode_submit("1", "x")[0].hex.encode() + b"\x1a")
        assert _read_until(caller, rb"\+CMS ERROR: 304\r\n")
        caller.write(b"AT+CMGS=20\r")
        _read_until(caller, rb"> $")
        caller.write(b"0011\x1b")
        assert _read_until(caller, rb"OK\r\n$").endswith(b"\r\nOK\r\n")
    finally:
        box.close()
        caller.close()
    assert lawline_rig.sim.sms_sent(line.dir) == []
