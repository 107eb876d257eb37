"""Prompts: texts in `prompts/<lang>/NAME.txt`, audio as 8 kHz mono 16-bit WAV.

A recorded `NAME.wav` next to the text always wins; otherwise `generated/NAME.wav`, rendered
from the text by espeak-ng (voice `cmn`). The beep and the ringback tone are made here.
"""

import logging
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import wave
from collections.abc import Iterable, Sequence
from pathlib import Path

from .errors import LawlineError

log = logging.getLogger("lawline.prompts")

RATE = 8000
TONES: dict[str, list[tuple[int, float]]] = {
    # name: list of (frequency Hz or 0 for silence, seconds)
    "beep": [(0, 0.1), (1000, 0.4), (0, 0.1)],
    # Chinese ringback: 450 Hz, 1 s on, 4 s off (YD/T tone plan as networks play it).
    "ringback": [(450, 1.0), (0, 4.0)],
}


class PromptMissing(LawlineError, FileNotFoundError):
    pass


def write_wav(path: str | os.PathLike[str], pcm: bytes) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm)
    os.replace(tmp, path)


def read_pcm(path: str | os.PathLike[str]) -> bytes:
    with wave.open(str(path), "rb") as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (RATE, 1, 2):
            raise PromptMissing(f"prompt {path} must be 8 kHz mono 16-bit PCM WAV, not "
                                f"{w.getframerate()} Hz, {w.getnchannels()} channel(s), "
                                f"{8 * w.getsampwidth()}-bit")
        return w.readframes(w.getnframes())


def tone_pcm(parts: Iterable[tuple[int, float]], amplitude: int = 6000) -> bytes:
    out = bytearray()
    for freq, seconds in parts:
        n = int(seconds * RATE)
        if freq:
            out += b"".join(struct.pack("<h", int(amplitude * math.sin(2 * math.pi * freq * i / RATE)))
                            for i in range(n))
        else:
            out += bytes(2 * n)
    return bytes(out)


class Prompts:
    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory)
        self.generated = self.dir / "generated"

    def names(self) -> list[str]:
        return sorted({p.stem for p in self.dir.glob("*.txt")} | set(TONES))

    def text(self, name: str) -> str | None:
        path = self.dir / f"{name}.txt"
        return path.read_text(encoding="utf-8").strip() if path.exists() else None

    def path(self, name: str) -> Path:
        recorded = self.dir / f"{name}.wav"
        if recorded.exists():
            return recorded
        generated = self.generated / f"{name}.wav"
        if generated.exists():
            return generated
        if name in TONES:
            self.generated.mkdir(parents=True, exist_ok=True)
            write_wav(generated, tone_pcm(TONES[name]))
            return generated
        raise PromptMissing(f"prompt '{name}' has no audio in {self.dir}: record {name}.wav "
                            f"or run 'make prompts' to render it from {name}.txt")

    def has_audio(self, name: str) -> bool:
        """Audio on disk for `name`, recorded or generated (nothing is made here)."""
        return (self.dir / f"{name}.wav").exists() or (self.generated / f"{name}.wav").exists()

    def missing(self) -> list[str]:
        out = []
        for name in self.names():
            try:
                self.path(name)
            except PromptMissing:
                out.append(name)
        return out

    def duration(self, name: str) -> float:
        with wave.open(str(self.path(name)), "rb") as w:
            return w.getnframes() / w.getframerate()

    def concat(self, names: Iterable[str], out_path: str | os.PathLike[str],
               gap: float = 0.05) -> Path:
        """One WAV of several prompts in a row (the case number read digit by digit)."""
        silence = bytes(2 * int(gap * RATE))
        pcm = silence.join(read_pcm(self.path(n)) for n in names)
        write_wav(out_path, pcm)
        return Path(out_path)

    def render_missing(self, voice: str = "cmn", speed: int = 220,
                       force: bool = False) -> list[str]:
        """Render every text without audio through espeak-ng and sox. Returns the names."""
        espeak = shutil.which("espeak-ng")
        sox = shutil.which("sox")
        if not espeak or not sox:
            raise LawlineError("rendering prompts needs espeak-ng and sox "
                               "(apt-get install espeak-ng sox)")
        self.generated.mkdir(parents=True, exist_ok=True)
        done: list[str] = []
        for txt in sorted(self.dir.glob("*.txt")):
            name = txt.stem
            out = self.generated / f"{name}.wav"
            if (self.dir / f"{name}.wav").exists():
                continue  # a recorded prompt wins
            if out.exists() and not force and out.stat().st_mtime >= txt.stat().st_mtime:
                continue
            with tempfile.TemporaryDirectory() as tmp:
                raw = Path(tmp) / "raw.wav"
                subprocess.run([espeak, "-v", voice, "-s", str(speed), "-w", str(raw),
                                txt.read_text(encoding="utf-8").strip()], check=True)
                staged = Path(tmp) / "out.wav"
                # Normalise to -3 dBFS before resampling so no sample clips.
                subprocess.run([sox, str(raw), "-c", "1", "-b", "16", "-e", "signed-integer",
                                str(staged), "gain", "-n", "-3", "rate", str(RATE)], check=True)
                shutil.move(str(staged), out)
            done.append(name)
            log.info("prompt %s rendered from text", name)
        for name in TONES:
            self.path(name)
        return done


def main(argv: Sequence[str] | None = None) -> int:
    import argparse     # the command line only, not the box's process
    parser = argparse.ArgumentParser(description="Render missing prompt audio")
    parser.add_argument("dir", nargs="?", default=str(Path(__file__).resolve().parents[3]
                                                       / "prompts" / "zh-CN"))
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    prompts = Prompts(args.dir)
    done = prompts.render_missing(force=args.force)
    print(f"prompts: {len(done)} rendered, {len(prompts.missing())} missing, in {prompts.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
