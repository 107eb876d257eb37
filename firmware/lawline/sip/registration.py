"""A SIP trunk's registration as the rest of the box reads it: registered or not, and why.
Plain data, apart from sip/trunk.py (which loads pjsua2), so the health report, the media
core and `lawline check` name the one class."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field


@dataclass
class TrunkState:
    """What `lawline check` and the call flow read: registered or not, and why."""
    registrar: str
    user: str
    aor: str
    registered: bool = False
    code: int | None = None
    why: str = "not registered yet"
    since: float = field(default_factory=time.time)
    expires: int | None = None
    failures: int = 0

    def sentence(self) -> str:
        if self.registered:
            return (f"SIP trunk {self.registrar} registered as {self.aor} (user {self.user}), "
                    f"expires in {self.expires} s")
        return f"SIP trunk {self.registrar} unregistered: {self.why}"

    def as_dict(self) -> dict[str, object]:
        return dict(asdict(self), sentence=self.sentence())
