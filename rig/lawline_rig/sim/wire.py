"""The wire log: every AT line in and out, `box >>> AT+CLIP=1` / `box <<< OK` (OctoPrint style)."""

import time


def printable(data):
    """Bytes as readable text: ASCII as is, anything else as a \\xNN escape."""
    out = []
    for b in data:
        if 0x20 <= b < 0x7F:
            out.append(chr(b))
        elif b == 0x0D:
            out.append("\\r")
        elif b == 0x0A:
            out.append("\\n")
        else:
            out.append(f"\\x{b:02x}")
    return "".join(out)


class WireLog:
    def __init__(self, path):
        self._file = open(path, "a", buffering=1, encoding="utf-8")

    def _line(self, side, arrow, text):
        now = time.time()
        stamp = time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now * 1000) % 1000:03d}"
        self._file.write(f"{stamp} {side} {arrow} {text}\n")

    def received(self, side, raw, note=""):
        self._line(side, ">>>", printable(raw) + (f"  ({note})" if note else ""))

    def sent(self, side, data):
        for piece in data.split(b"\n"):
            piece = piece.strip(b"\r")
            if piece:
                self._line(side, "<<<", printable(piece))

    def garbage(self, side, data):
        self._line(side, "<<<", f"(garbage) {printable(data)}")

    def close(self):
        self._file.close()
