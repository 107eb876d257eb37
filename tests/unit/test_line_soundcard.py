"""Call audio through a sound card, through real PortAudio (sounddevice) and real alsa-lib:
the simulator's EC25 in USB-audio mode is an ALSA PCM (an `asym` of `file` plugins over FIFOs
the simulator paces, sim/uac.py), so no kernel sound card is needed. In-band DTMF (Goertzel)
is checked here too, on synthetic audio and on the call."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from lawline.line import dtmf
from lawline.line.soundcard import Resampler
from lawline_rig.probe import hearing


def test_dtmf_detector_hears_every_key_once_and_nothing_in_speech_like_audio():
    pcm = b"".join(dtmf.tone(k, 0.06) + bytes(800) for k in "1234567890*#ABCD")
    assert dtmf.DtmfDetector().feed(pcm) == list("1234567890*#ABCD")
    held = dtmf.tone("5", 1.0)                        # a long press is one key
    assert dtmf.DtmfDetector().feed(held) == ["5"]
    short = dtmf.tone("5", 0.02) + bytes(800)          # shorter than Q.24's 40 ms: nothing
    assert dtmf.DtmfDetector().feed(short) == []
    rng = np.random.default_rng(7)
    noise = rng.normal(0, 5000, 8000 * 5).astype("<i2").tobytes()
    voice = hearing.make_tone(700, 3.0)
    assert dtmf.DtmfDetector().feed(noise + voice) == []
    # in 20 ms pieces, as the card delivers it, and under the caller's voice
    mixed = (np.frombuffer(dtmf.tone("#", 0.1), "<i2").astype(int) +
             np.frombuffer(hearing.make_tone(300, 0.1, 1500), "<i2")[:800]).astype("<i2")
    detector, keys = dtmf.DtmfDetector(), []
    data = bytes(1600) + mixed.tobytes() + bytes(1600)
    for i in range(0, len(data), 320):
        keys += detector.feed(data[i:i + 320])
    assert keys == ["#"]


@pytest.mark.parametrize("factor", [2, 6])
def test_resampling_to_and_from_the_cards_rate_keeps_a_tone(factor):
    rate = 8000 * factor
    t = np.arange(rate) / rate
    card = (np.sin(2 * np.pi * 700 * t) * 8000)
    r = Resampler(factor)
    down = np.concatenate([r.down(card[i:i + rate // 50]) for i in range(0, rate, rate // 50)])
    assert len(down) == 8000 and hearing.tone_level(down.astype("<i2"), 700) > 0.99
    up = np.concatenate([Resampler(factor).up(down[i:i + 160]) for i in range(0, 8000, 160)])
    assert len(up) == rate and abs(np.abs(up[rate // 2:]).max() - 8000) < 400


def test_a_call_through_portaudio_and_alsa_with_in_band_dtmf(loopback):
    pytest.importorskip("sounddevice", reason="sounddevice (and Debian libportaudio2) needed")
    line = loopback("quectel-ec25-uac")
    env = dict(os.environ, ALSA_CONFIG_PATH="/usr/share/alsa/alsa.conf:" +
               line["box"]["alsa_config"])
    helper = os.path.join(os.path.dirname(__file__), "soundcard_call.py")
    done = subprocess.run([sys.executable, helper, json.dumps(line.info)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["rate"] == 8000
    assert report["caller_hears_box"] and report["box_hears_caller"], report
    # every key once, from the audio (not from +QTONEDET, which the driver then ignores)
    assert report["keys"] == [[k, "in-band"] for k in "159#"], report
    assert "+QTONEDET: 49" in line.wire()     # the modem reported them too: not counted twice
