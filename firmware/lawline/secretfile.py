"""Secrets the box reads from files: the SIP trunk password, the upstream token or basic-auth
password, the SMTP password, the S3 secret key (DESIGN.md, Security).

Each is refused when its file's group or everyone may read it: any account on the box (or a
backup that keeps modes) would then hold the key to the county's phone bill or its case
files. One check for all of them, so none is forgotten; errors name the section and option.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import ConfigError


def read_secret(path: str | os.PathLike[str], section: str, option: str) -> str:
    """The secret in the file at `path` (stripped), for option `option` of `[section]`."""
    where = f"option '{option}' in section [{section}]"
    try:
        mode = os.stat(path).st_mode
        if mode & (stat.S_IRGRP | stat.S_IROTH):
            who = " and ".join(w for w, bit in (("its group", stat.S_IRGRP),
                                                ("everyone", stat.S_IROTH)) if mode & bit)
            raise ConfigError(f"{where}: {path} is readable by {who} (mode "
                              f"{stat.S_IMODE(mode):04o}); make it readable only by the "
                              f"service: chmod 600 {path}")
        text = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: {path} is not UTF-8 text") from None
    if not text:
        raise ConfigError(f"{where}: {path} is empty")
    return text
