"""Run by the modem contract (test_contract.py) in its own process for a box whose call audio
is a USB sound card (PortAudio reads the ALSA configuration once, at start): one call between
the box's EC25 driver with call audio on the (simulated) sound card and a caller's driver with
serial PCM; the caller presses KEYS. `python soundcard_call.py SIM_JSON KEYS`; prints a JSON
report."""

import asyncio
import json
import os
import select
import sys
import threading
import time

import numpy as np
import serial

from lawline.line.modem import Modem
from lawline_rig.probe import hearing
from lawline_rig.wait import async_wait_until


def tone(hz):
    t = np.arange(160)
    return (np.sin(2 * np.pi * hz * t / 8000) * 8000).astype("<i2").tobytes()


class Pump(threading.Thread):
    """Every 20 ms: write `say` to `write`, collect what `read` gives."""

    def __init__(self, write, read):
        super().__init__(daemon=True)
        self.write, self.read = write, read
        self.say, self.heard, self.stop = bytes(320), bytearray(), threading.Event()
        self.start()

    def run(self):
        next_at = time.monotonic()
        while not self.stop.is_set():
            self.write(self.say)
            got = self.read()
            if got:
                self.heard += got
            next_at += 0.02
            self.stop.wait(max(0, next_at - time.monotonic()))


def serial_reader(port):
    fd = port.fileno()

    def read():
        out = b""
        while select.select([fd], [], [], 0)[0]:
            out += os.read(fd, 4096)
        return out
    return read


async def until(predicate, timeout):
    """Whether `predicate` came to hold within `timeout` (for the report: the test asserts)."""
    try:
        await async_wait_until(predicate, timeout, "a report's condition")
        return True
    except TimeoutError:
        return False


async def main(info, keys):
    report = {}
    box = Modem(info["box"]["driver_profile"], info["box"]["at"], info["box"]["audio"],
                name="box", audio_backend="soundcard", sound_device=info["box"]["sound_device"])
    caller = Modem(info["caller"]["driver_profile"], info["caller"]["at"],
                   info["caller"]["audio"], name="caller")
    await box.start()
    await caller.start()
    audio = box.make_audio()
    audio.open()
    report["rate"] = audio.rate
    try:
        await caller.dial(info["box"]["number"])
        while (await asyncio.wait_for(box.events.get(), 5)).kind != "caller_id":
            pass
        await box.answer()
        while (await asyncio.wait_for(caller.events.get(), 5)).kind != "begin":
            pass
        await caller.open_audio()
        await box.open_audio()
        card = Pump(audio.write, audio.read_frame)
        port = serial.Serial(info["caller"]["audio"], timeout=0)
        far = Pump(lambda b: port.write(b), serial_reader(port))
        card.say = tone(1000)
        report["caller_hears_box"] = await until(
            lambda: hearing.tone_level(bytes(far.heard[-3200:]), 1000) > 0.5, 5)
        far.say = tone(700)
        report["box_hears_caller"] = await until(
            lambda: hearing.tone_level(bytes(card.heard[-3200:]), 700) > 0.5, 5)
        pressed = []
        for key in keys:
            await caller.send_dtmf(key)
            while True:
                event = await asyncio.wait_for(box.events.get(), 5)
                if event.kind == "dtmf":
                    pressed.append((event.digit, event.detail))
                    break
        await asyncio.sleep(0.3)     # a second report of a key would arrive by now
        while not box.events.empty():
            event = box.events.get_nowait()
            if event.kind == "dtmf":
                pressed.append((event.digit, event.detail))
        report["keys"] = pressed
        await caller.hangup()
        card.stop.set()
        far.stop.set()
        port.close()
    finally:
        audio.close()
        box.close()
        caller.close()
    report["frames_in"] = audio.frames_in
    return report


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1]), sys.argv[2]))))
