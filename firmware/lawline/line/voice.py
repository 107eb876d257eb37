"""V.253 voice data: sample formats and DLE shielding (reference/modems.md 4.2, 4.3).

- A voice modem lists its compression methods in answer to AT+VSM=? (`<cml>,"<name>",<bits>,
  <tm>,(<rates>),...`); vendors number them differently, so the box reads the list and never
  hard-codes a number (4.2). It prefers G.711 µ-law or A-law (8 bits, telephone quality), then
  16-bit linear, then 8-bit unsigned or signed PCM; all are converted to and from the bridge's
  S16LE at 8 kHz.
- In a data state every data byte equal to DLE (0x10) travels doubled, and `DLE <code>` is an
  event (a DTMF digit, busy tone, end of stream...). A sample that happens to be 0x10 must
  never be taken for an event: the decoder undoes the shielding byte by byte and keeps its
  state across reads (the cx93001 library's search for b"\\x10s" in raw chunks gets this
  wrong, 4.5).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

DLE, ETX, SUB = 0x10, 0x03, 0x1A

# -- G.711 -------------------------------------------------------------------------------------


def _ulaw_decode_table() -> npt.NDArray[np.int16]:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(sign, -magnitude, magnitude).astype(np.int16)


def _alaw_decode_table() -> npt.NDArray[np.int16]:
    codes = np.arange(256, dtype=np.int32) ^ 0x55
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = np.where(exponent == 0, (mantissa << 4) + 8,
                         ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0))
    return np.where(sign, magnitude, -magnitude).astype(np.int16)


def _encode_table(decode: npt.NDArray[np.int16]) -> npt.NDArray[np.uint8]:
    """For every 16-bit sample, the code whose level is nearest (exact inverse of `decode`)."""
    # Equal levels (µ-law has +0 and -0): the higher code first, so 0 encodes as 0xFF (+0).
    order = np.lexsort((-np.arange(len(decode)), decode))
    levels = decode[order].astype(np.int32)
    samples = np.arange(-32768, 32768, dtype=np.int32)
    idx = np.clip(np.searchsorted(levels, samples), 1, len(levels) - 1)
    lower, upper = levels[idx - 1], levels[idx]
    nearest = np.where(samples - lower <= upper - samples, idx - 1, idx)
    return order[nearest].astype(np.uint8)


ULAW_DECODE = _ulaw_decode_table()
ALAW_DECODE = _alaw_decode_table()
_ULAW_ENCODE: npt.NDArray[np.uint8] | None = None
_ALAW_ENCODE: npt.NDArray[np.uint8] | None = None


def _tables(codec: str) -> tuple[npt.NDArray[np.int16], npt.NDArray[np.uint8]]:
    global _ULAW_ENCODE, _ALAW_ENCODE
    if codec == "ulaw":
        if _ULAW_ENCODE is None:
            _ULAW_ENCODE = _encode_table(ULAW_DECODE)
        return ULAW_DECODE, _ULAW_ENCODE
    if _ALAW_ENCODE is None:
        _ALAW_ENCODE = _encode_table(ALAW_DECODE)
    return ALAW_DECODE, _ALAW_ENCODE


# -- formats ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Format:
    cml: int          # the modem's own number for it (AT+VSM=<cml>,8000,0,0)
    name: str         # as the modem spelled it
    bits: int
    codec: str        # "ulaw", "alaw", "s16", "u8", "s8"

    @property
    def bytes_per_sample(self) -> int:
        return 2 if self.codec == "s16" else 1

    def to_s16(self, data: bytes) -> bytes:
        """Modem samples (bytes, DLE shielding already undone) -> S16LE bytes."""
        if self.codec == "s16":
            return bytes(data[:len(data) - len(data) % 2])
        raw = np.frombuffer(bytes(data), dtype=np.uint8)
        out: npt.NDArray[np.int16]
        if self.codec == "u8":
            out = (raw.astype(np.int16) - 128) << 8
        elif self.codec == "s8":
            out = raw.view(np.int8).astype(np.int16) << 8
        else:
            out = _tables(self.codec)[0][raw]
        return out.astype("<i2").tobytes()

    def from_s16(self, pcm: bytes) -> bytes:
        """S16LE bytes -> modem samples (not yet DLE-shielded)."""
        if self.codec == "s16":
            return bytes(pcm[:len(pcm) - len(pcm) % 2])  # never half a sample on the wire
        s: npt.NDArray[np.int16] = np.frombuffer(bytes(pcm[:len(pcm) - len(pcm) % 2]),
                                                 dtype="<i2")
        if self.codec in ("u8", "s8"):
            # rounded, not truncated: half a step less noise and no DC offset
            top: npt.NDArray[np.int32] = np.clip((s.astype(np.int32) + 128) >> 8, -128, 127)
            return (top + 128).astype(np.uint8).tobytes() if self.codec == "u8" else \
                top.astype(np.int8).tobytes()
        return _tables(self.codec)[1][s.astype(np.int32) + 32768].tobytes()

    def silence(self, samples: int) -> bytes:
        return self.from_s16(bytes(2 * samples))


_VSM_LINE = re.compile(r'^(?:\+VSM:\s*)?(\d+)\s*,\s*"([^"]*)"\s*,\s*(\d+)(.*)$')
# V.253 Table 17 numbers (as mgetty quotes them) for when the name says little.
_TABLE17 = {0: "signed", 1: "u8", 4: "ulaw", 5: "alaw"}


def parse_vsm(lines: Iterable[str]) -> list[Format]:
    """The formats an AT+VSM=? answer lists that run at 8000 samples/s: [Format]."""
    out: list[Format] = []
    for line in lines:
        match = _VSM_LINE.match(line.strip())
        if not match:
            continue
        cml, name, bits, rest = int(match.group(1)), match.group(2), int(match.group(3)), \
            match.group(4)
        if rest and "8000" not in rest:
            continue  # no 8 kHz rate listed
        upper = name.upper().replace(" ", "").replace("-", "")
        codec: str | None = None
        if "G.711U" in upper or "ULAW" in upper or "MULAW" in upper or "µLAW" in upper:
            codec = "ulaw"
        elif "G.711A" in upper or "ALAW" in upper:
            codec = "alaw"
        elif "ADPCM" in upper or "G.72" in upper:
            codec = None  # compressed: not used
        elif "UNSIGNED" in upper and bits == 8:
            codec = "u8"
        elif ("SIGNED" in upper or "LINEAR" in upper) and bits == 16:
            codec = "s16"
        elif "SIGNED" in upper and bits == 8:
            codec = "s8"
        elif "LINEAR" in upper and bits == 8:
            codec = "u8"
        elif _TABLE17.get(cml) in ("ulaw", "alaw", "u8") and bits == 8:
            codec = _TABLE17[cml]
        if codec:
            out.append(Format(cml, name, bits, codec))
    return out


PREFERENCE = ("ulaw", "alaw", "s16", "u8", "s8")


def choose_format(formats: Sequence[Format]) -> Format | None:
    """The best of `formats` (PREFERENCE order), or None when none is usable."""
    for codec in PREFERENCE:
        for f in formats:
            if f.codec == codec:
                return f
    return None


# -- DLE shielding ----------------------------------------------------------------------------

def shield(data: bytes) -> bytes:
    """Data bytes for the wire: every DLE doubled."""
    return bytes(data).replace(b"\x10", b"\x10\x10")


class DleDecoder:
    """Undo DLE shielding of a modem's data stream, byte-exactly and across reads.

    `feed(chunk)` returns (data, events, end): the data bytes, the event codes seen (as
    one-character strings, in order), and, when `DLE ETX` came, the index in `chunk` just
    after it (None otherwise). IS-101 `DLE SUB` stands for two DLE data bytes."""

    def __init__(self) -> None:
        self._dle = False

    def feed(self, chunk: bytes) -> tuple[bytes, list[str], int | None]:
        data = bytearray()
        events: list[str] = []
        i, n = 0, len(chunk)
        while i < n:
            if self._dle:
                self._dle = False
                code = chunk[i]
                i += 1
                if code == DLE:
                    data.append(DLE)
                elif code == SUB:
                    data += b"\x10\x10"
                elif code == ETX:
                    return bytes(data), events, i
                else:
                    events.append(chr(code))
                continue
            j = chunk.find(b"\x10", i)
            if j < 0:
                data += chunk[i:]
                break
            data += chunk[i:j]
            self._dle = True
            i = j + 1
        return bytes(data), events, None

    def reset(self) -> None:
        self._dle = False
