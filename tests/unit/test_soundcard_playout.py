"""What the sound card plays (line/soundcard.py): the bridge's frames come on the bridge's
clock, the card takes them on its own. A few frames are queued before the card plays, so a
bridge tick that comes late leaves no hole in a prompt; only a real stall does. The card's
callback is driven here exactly as PortAudio calls it, on byte buffers."""

import numpy as np

from lawline.line.audio import FRAME_BYTES
from lawline.line.soundcard import PREFILL, Resampler, SoundCardPcm

SAMPLES = FRAME_BYTES // 2


def _card():
    card = SoundCardPcm(device="test")
    card.rate, card._resampler = 8000, Resampler(1)
    return card


def _tick(card):
    """One callback of 20 ms; returns the frame number the card played (0: silence)."""
    indata = bytes(FRAME_BYTES)
    outdata = bytearray(FRAME_BYTES)
    card._callback(indata, outdata, SAMPLES, None, 0)
    return int(np.frombuffer(bytes(outdata), dtype="<i2")[0])


def _frame(n):
    return np.full(SAMPLES, n, dtype="<i2").tobytes()


def test_the_card_waits_for_the_prefill_then_plays_in_order():
    card = _card()
    for n in range(1, PREFILL):
        card.write(_frame(n))
        assert _tick(card) == 0            # not enough queued yet: silence, nothing lost
    card.write(_frame(PREFILL))
    played = [_tick(card) for _ in range(PREFILL)]
    assert played == list(range(1, PREFILL + 1))


def test_a_late_bridge_tick_leaves_no_hole():
    card = _card()
    n, played = 0, []
    for step in range(40):
        # the bridge writes one frame per card tick, except that two of its ticks come late
        # and arrive together with the next one
        if step in (12, 25):
            continue
        writes = 2 if step in (13, 26) else 1
        for _ in range(writes):
            n += 1
            card.write(_frame(n))
        played.append(_tick(card))
    sound = [p for p in played if p]
    assert sound == list(range(1, len(sound) + 1))                    # in order, none lost
    first = played.index(1)
    assert all(played[first:first + len(sound)]), played             # and no hole after it
    assert card.underruns == 0 and card.overflows == 0


def test_a_stall_longer_than_the_prefill_refills_before_playing_again():
    card = _card()
    for n in range(1, PREFILL + 1):
        card.write(_frame(n))
    assert [_tick(card) for _ in range(PREFILL)] == list(range(1, PREFILL + 1))
    assert _tick(card) == 0 and card.underruns == 1                   # the bridge stalled
    card.write(_frame(10))
    assert _tick(card) == 0                    # one frame is not a prefill: wait for more
