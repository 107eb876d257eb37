"""One audit row per listening of a voicemail, whatever byte ranges the browser asks for.

A browser plays a WAV in several requests (`Range: bytes=0-`, then where the listener seeks;
Chromium writes `bytes=00-` too): the page used to audit only a request starting at byte 0,
so any other spelling played a voicemail unaudited. Now every request for a recording's bytes
belongs to a listening, and a listening is audited when it begins: the first request of a
person's session for that recording and action, or the first after LISTENING_GAP without
one. Every byte served is covered by a row; one listening writes one. Kept in memory: a
restart of the page can only add a row, never lose one.
"""

from __future__ import annotations

from collections.abc import Hashable

LISTENING_GAP = 600.0      # seconds without a request for it: the next one is a new listening
_KEPT = 4096               # listenings remembered at most (oldest forgotten first)


class Listenings:
    def __init__(self, gap: float = LISTENING_GAP) -> None:
        self.gap = gap
        self._last: dict[tuple[Hashable, str, str], float] = {}

    def begins(self, who: Hashable, key: str, action: str, now: float) -> bool:
        """True when this request begins a new listening (audit it), False when it goes on
        one already audited."""
        k = (who, key, action)
        last = self._last.pop(k, None)
        self._last[k] = now                  # re-inserted: the dict stays oldest-first
        if len(self._last) > _KEPT:
            for old in list(self._last)[: len(self._last) - _KEPT]:
                del self._last[old]
        return last is None or now - last > self.gap
