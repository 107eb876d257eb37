"""What the running box says about itself: one state per part, for `lawline check`.

Each part (modem, trunk, upstream, spool, ...) sets its state with a plain sentence; the box
writes them to `spool/state.json` (atomically) so `lawline check` can read them while the
service owns the modem. Failures are states, not crashes (STYLE.md 8).
"""

import json
import logging
import os
import time
from pathlib import Path

log = logging.getLogger("lawline.status")

OK, WARN, FAIL = "ok", "warn", "fail"


class Status:
    def __init__(self, path):
        self.path = Path(path) if path else None
        self.parts = {}

    def set(self, part, state, message):
        """Record a part's state; logs only when it changes (one line per decision)."""
        old = self.parts.get(part)
        self.parts[part] = {"state": state, "message": message, "since": time.time()}
        if old is None or (old["state"], old["message"]) != (state, message):
            level = {OK: logging.INFO, WARN: logging.WARNING, FAIL: logging.ERROR}[state]
            log.log(level, "%s: %s", part, message)
        else:
            self.parts[part]["since"] = old["since"]
        self.save()

    def get(self, part):
        return self.parts.get(part)

    def save(self):
        if not self.path:
            return
        data = {"pid": os.getpid(), "written": time.time(), "parts": self.parts}
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("status: cannot write %s: %s", self.path, exc)


def read(path):
    """The state file of a running box, or None when no box is running."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    try:
        os.kill(data["pid"], 0)
    except (OSError, KeyError, TypeError):
        return None
    return data
