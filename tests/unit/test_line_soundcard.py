"""Call audio through a sound card, through real PortAudio (sounddevice) and real alsa-lib:
the simulator's EC25 in USB-audio mode is an ALSA PCM (an `asym` of `file` plugins over FIFOs
the simulator paces, sim/uac.py), so no kernel sound card is needed. In-band DTMF (Goertzel)
is checked here on synthetic audio; a whole call through the card is the EC25 USB-audio
profile of the modem contract (tests/line/test_contract.py)."""


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
