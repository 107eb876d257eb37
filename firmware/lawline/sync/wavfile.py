"""WAV files as the recorder leaves them: sizes, and the header repair after a cut.

pjsua2's recorder (and any RIFF writer that streams) writes a header with zero sizes first
and fills the sizes in when the recording is closed (reference/pjsua2.md, Teardown). A
recording cut short by a power cut or a kill therefore says "0 bytes" while its audio is on
disk; `repair_wav` makes the header tell the truth so the message plays.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import BinaryIO, TypedDict

HEADER = 44
RATE = 8000          # the conference bridge clock (DESIGN.md, Runtime): what the recorder writes
BYTES_PER_SECOND = RATE * 2


def header(data_bytes: int, rate: int = RATE, channels: int = 1, bits: int = 16) -> bytes:
    """A canonical 44-byte PCM WAV header for `data_bytes` of audio."""
    block = channels * bits // 8
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE" +
            b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * block, block, bits)
            + b"data" + struct.pack("<I", data_bytes))


class WavFacts(TypedDict):
    """What `inspect` finds (see there)."""
    size: int
    valid: bool
    data_bytes: int | None
    audio_bytes: int
    complete: bool


def inspect(path: str | os.PathLike[str]) -> WavFacts:
    """What the file's header says against what is on disk: size, data_bytes (header),
    audio_bytes (on disk, whole samples), complete (the two agree), valid (a RIFF/WAVE
    header is there at all)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(HEADER)
    valid = len(head) == HEADER and head[:4] == b"RIFF" and head[8:12] == b"WAVE" \
        and head[36:40] == b"data"
    audio = max(0, size - HEADER)
    audio -= audio % 2
    said = int.from_bytes(head[40:44], "little") if valid else None
    riff = int.from_bytes(head[4:8], "little") if valid else None
    return {"size": size, "valid": valid, "data_bytes": said, "audio_bytes": audio,
            "complete": valid and said == size - HEADER and riff == size - 8}


def wav_seconds(path: str | os.PathLike[str]) -> float:
    """Length of the audio on disk, whatever the header says (0 for a missing file)."""
    try:
        size = os.path.getsize(path)
    except OSError:
        return 0.0
    return max(0, size - HEADER) / BYTES_PER_SECOND


def repair_wav(path: str | os.PathLike[str]) -> bool:
    """Make the header's sizes match the audio actually on disk; a file too short to hold
    a header (killed between create and the first write) gets a fresh 8 kHz mono header.
    A trailing odd byte (half a sample) is cut. Returns True when the file was changed.
    Raises ValueError for a file that is not a WAV this box wrote."""
    path = Path(path)
    facts = inspect(path)
    if facts["complete"] and facts["size"] % 2 == 0:
        return False
    with open(path, "r+b") as f:
        if facts["size"] < HEADER:
            if facts["size"] >= 4 and not header(0).startswith(_read(f, 4)):
                raise ValueError(f"{path} is not a WAV file")
            f.seek(0)
            f.write(header(0))
            f.truncate(HEADER)
        else:
            head = bytearray(_read(f, HEADER))
            if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                raise ValueError(f"{path} is not a WAV file")
            audio = facts["audio_bytes"]
            if head[36:40] != b"data":  # the recorder died mid-header: write ours
                head[:] = header(audio)
            head[4:8] = (36 + audio).to_bytes(4, "little")
            head[40:44] = audio.to_bytes(4, "little")
            f.seek(0)
            f.write(head)
            f.truncate(HEADER + audio)
        f.flush()
        os.fsync(f.fileno())
    return True


def _read(f: BinaryIO, n: int) -> bytes:
    f.seek(0)
    return f.read(n)
