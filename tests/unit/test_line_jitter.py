"""The line's jitter buffer over an hour of two drifting clocks (issue 19.5), in simulated
time: the modem pushes a frame every 20 ms of its own clock, the bridge pops one every 20 ms
of its own. Whatever the drift, the buffer's depth (the delay it adds) stays where it
started, every slip is counted, told to the writer and logged in ppm, and a clean pair of
clocks makes no slip at all."""

import logging
import os

import pytest

from lawline.line.audio import FRAME_BYTES, JitterBuffer, SerialPcm

HOUR = 3600.0


def run(buffer, ppm, seconds=HOUR, phase=0.007, jitter=None):
    """Drive `buffer` for `seconds` of bridge time; the modem's clock is `ppm` fast.
    `jitter(k)`: extra lateness (s) of the modem's frame k reaching the buffer. Returns
    the depth seen at each pop (before it) and the frames popped (None for silence)."""
    modem_period = 0.02 / (1 + ppm / 1e6)
    pushes = int(seconds / modem_period)
    arrivals = sorted(k * modem_period + (jitter(k) if jitter else 0.0) for k in range(pushes))
    depths, frames, k = [], [], 0
    for j in range(int(seconds / 0.02)):
        now = j * 0.02 + phase
        while k < len(arrivals) and arrivals[k] <= now:
            buffer.push(bytes([k % 251]) * FRAME_BYTES)
            k += 1
        depths.append(len(buffer))
        frames.append(buffer.pop())
    return depths, frames


@pytest.mark.parametrize("ppm", [100, -100])
def test_an_hour_of_100_ppm_drift_keeps_the_delay_and_counts_every_slip(ppm, caplog):
    buffer = JitterBuffer(log=logging.getLogger("lawline.line"), name="box")
    told = []
    buffer.on_slip = lambda kind, frames: told.append((kind, frames))
    with caplog.at_level(logging.INFO, logger="lawline.line"):
        depths, frames = run(buffer, ppm)
    # the delay stays bounded: never more than a frame beyond the prefill, nor empty
    late = depths[len(depths) // 10:]
    assert max(late) <= buffer.prefill + 1 and min(late) >= buffer.prefill - 1, \
        (min(late), max(late))
    # 100 ppm of 50 frames a second for an hour: 18 frames, each one slip
    slips = buffer.dropped if ppm > 0 else buffer.inserted
    assert 16 <= slips <= 20, (buffer.dropped, buffer.inserted)
    assert (buffer.inserted if ppm > 0 else buffer.dropped) == 0
    assert buffer.underruns == 0        # the drift is caught before the buffer runs dry
    assert abs(buffer.drift_ppm() - ppm) < 15, buffer.drift_ppm()
    assert len(told) == slips and all(f == (-1 if ppm > 0 else 1) for _, f in told)
    logged = [r.getMessage() for r in caplog.records if "jitter buffer" in r.getMessage()]
    assert len(logged) == slips
    assert f"the modem's clock {ppm:+d} ppm against the bridge's" in logged[-1], logged[-1]
    assert "audio box: jitter buffer" in logged[0]


def test_same_clocks_make_no_slip_even_with_usb_bursts():
    buffer = JitterBuffer()
    # frames reach the host two at a time, up to 15 ms late (a USB modem's bulk transfers)
    depths, frames = run(buffer, 0, seconds=600, jitter=lambda k: 0.015 * (k % 2 == 0))
    assert buffer.dropped == buffer.inserted == 0
    assert max(depths[100:]) <= buffer.prefill + 1


def test_a_late_reader_is_one_underrun_and_the_surplus_goes_again():
    buffer = JitterBuffer()
    # frame 1000 and the two after it come 70 ms late, all at once (the reader stalled)
    depths, frames = run(buffer, 0, seconds=60,
                         jitter=lambda k: 0.07 - 0.02 * (k - 1000) if 1000 <= k < 1003 else 0)
    assert buffer.underruns == 1
    assert buffer.dropped == buffer.inserted        # what was put in went out again: no drift
    assert depths[-1] <= buffer.prefill + 1


def test_a_full_buffer_drops_the_oldest_says_so_once_and_starts_afresh(caplog):
    """The bridge takes no frame from the line (its port not yet connected): the buffer
    keeps the newest, logs the overflow once (not a line every 20 ms), and the first frame
    the bridge takes again is one `prefill` frames old, not `limit`."""
    buffer = JitterBuffer(limit=4, log=logging.getLogger("lawline.line"))
    told = []
    buffer.on_slip = lambda kind, frames: told.append(kind)
    with caplog.at_level(logging.INFO, logger="lawline.line"):
        buffer.push(bytes(FRAME_BYTES) * 7)
        for k in range(50):
            buffer.push(bytes([k]) * FRAME_BYTES)
    assert len(buffer) == 4 and buffer.dropped == buffer.overflowed == 53
    assert caplog.text.count("was full") == 1 and "dropped 3 frame(s)" in caplog.text
    assert buffer.pop() == bytes([48]) * FRAME_BYTES     # the two newest are left
    assert buffer.pop() == bytes([49]) * FRAME_BYTES
    assert buffer.drift_ppm() is None                    # an overflow is not drift
    assert told == ["overflow"]


def test_the_writer_plays_each_slip_the_other_way():
    """A frame dropped from the modem (it runs fast) is a frame written twice to it; a
    frame put in (it runs slow) is one left out; never more than two owed."""
    read, write = os.pipe()
    try:
        pcm = SerialPcm("/dev/null-test")
        pcm._fd = write
        a, b = b"a" * FRAME_BYTES, b"b" * FRAME_BYTES
        pcm.jitter.on_slip("fast", -1)
        pcm.write(a)
        pcm.write(b)
        assert os.read(read, 4096) == a + a + b
        pcm.jitter.on_slip("slow", 1)
        pcm.write(a)
        pcm.write(b)
        assert os.read(read, 4096) == b
        for _ in range(5):                      # at most two owed
            pcm.jitter.on_slip("slow", 1)
        for _ in range(4):
            pcm.write(a)
        assert os.read(read, 4096) == a + a
        assert (pcm.repeated_out, pcm.skipped_out) == (1, 3)
        # not drift: a late reader's underrun, a port not yet connected
        pcm.jitter.on_slip("underrun", 1)
        pcm.jitter.on_slip("overflow", -5)
        pcm.write(a)
        assert os.read(read, 4096) == a
    finally:
        os.close(read)
        os.close(write)
