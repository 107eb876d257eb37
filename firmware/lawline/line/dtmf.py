"""In-band DTMF detection (Goertzel bins) for call audio that reaches the box without the modem's
own DTMF reports: a sound card (EC25 in USB-audio mode, a codec HAT).

ITU-T Q.24 tones: rows 697/770/852/941 Hz, columns 1209/1336/1477/1633 Hz. Blocks of 205
samples at 8 kHz (25.6 ms; the classic size that puts every DTMF frequency near a DFT bin).
A block is a digit when one row and one column stand well above the other frequencies of
their group, together carry most of the block's energy, and their levels differ by less than
the allowed twist. A digit is reported once, after two blocks in a row (>= 40 ms, Q.24's
minimum), and again only after a block without it (the pause between key presses).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

RATE = 8000
BLOCK = 205
ROWS = (697.0, 770.0, 852.0, 941.0)
COLS = (1209.0, 1336.0, 1477.0, 1633.0)
KEYS = ("123A", "456B", "789C", "*0#D")
MIN_LEVEL = 200.0         # RMS in S16 units: below this a block is silence (about -44 dBFS)
MIN_SHARE = 0.6           # row + column power / block power
MIN_RATIO = 6.0           # strongest / second in each group (about 8 dB)
MAX_TWIST = 10 ** (8 / 10)  # row/column power ratio either way: 8 dB


def _basis(freqs: Sequence[float]) -> npt.NDArray[np.complex128]:
    """The DFT rows of the bins nearest `freqs` (what Goertzel computes, one per frequency;
    as a matrix product it is one numpy call per block instead of a Python loop)."""
    k = np.round(np.asarray(freqs) * BLOCK / RATE)
    n = np.arange(BLOCK)
    rows: npt.NDArray[np.complex128] = np.exp(-2j * np.pi * np.outer(k, n) / BLOCK)
    return rows


_ROWS = _basis(ROWS)
_COLS = _basis(COLS)


def bin_power(block: npt.NDArray[np.float64],
              basis: npt.NDArray[np.complex128]) -> npt.NDArray[np.float64]:
    """Power of `block` at each row of `basis` (equal to the Goertzel filter's output)."""
    return np.abs(basis @ block) ** 2


def classify(samples: npt.ArrayLike) -> str | None:
    """The key in one block of BLOCK samples (float), or None."""
    block = np.asarray(samples, dtype=np.float64)
    energy = float(np.dot(block, block))
    if energy < (MIN_LEVEL ** 2) * len(block):
        return None
    rows = bin_power(block, _ROWS)
    cols = bin_power(block, _COLS)
    r, c = int(np.argmax(rows)), int(np.argmax(cols))
    row, col = rows[r], cols[c]
    if row <= 0 or col <= 0:
        return None
    if row < MIN_RATIO * np.partition(rows, -2)[-2] or col < MIN_RATIO * np.partition(cols, -2)[-2]:
        return None
    if row / col > MAX_TWIST or col / row > MAX_TWIST:
        return None
    # Goertzel power of a sine of amplitude A over N samples is (A*N/2)^2; the block's
    # energy is A^2*N/2 per tone, so share = 2*(row+col)/(N*energy).
    if 2.0 * (row + col) / (len(block) * energy) < MIN_SHARE:
        return None
    return KEYS[r][c]


class DtmfDetector:
    """Feed S16LE audio in any chunk size; `feed` returns the keys newly pressed."""

    def __init__(self) -> None:
        self._buf = np.zeros(0, dtype=np.float64)
        self._last: str | None = None      # key of the previous block
        self._reported: str | None = None  # key reported and not yet released

    def feed(self, pcm: bytes) -> list[str]:
        samples = np.frombuffer(bytes(pcm[:len(pcm) - len(pcm) % 2]), dtype="<i2")
        self._buf = np.concatenate([self._buf, samples.astype(np.float64)])
        keys: list[str] = []
        while len(self._buf) >= BLOCK:
            block, self._buf = self._buf[:BLOCK], self._buf[BLOCK:]
            key = classify(block)
            if key is None:
                self._reported = None
            elif key == self._last and key != self._reported:
                self._reported = key
                keys.append(key)
            self._last = key
        return keys


def tone(key: str, seconds: float = 0.1, amplitude: float = 6000, rate: int = RATE) -> bytes:
    """S16LE bytes of the DTMF tone for `key` (for simulators and tests)."""
    for r, row in enumerate(KEYS):
        if key in row:
            c = row.index(key)
            break
    else:
        raise ValueError(f"not a DTMF key: {key!r}")
    t = np.arange(int(seconds * rate)) / rate
    wave = np.sin(2 * np.pi * ROWS[r] * t) + np.sin(2 * np.pi * COLS[c] * t)
    return (wave * amplitude / 2).astype("<i2").tobytes()
