"""The page's TLS certificate: the office's own ([web] cert_file/key_file), or a self-signed
one made at first start with `openssl` (in every Debian image; no Python crypto package to
build on a Pi) and kept in the data directory, so browsers see the same one every day and
staff accept it once.
"""

import logging
import os
import socket
import subprocess
from pathlib import Path
from typing import Protocol

from ..errors import ConfigError, LawlineError

log = logging.getLogger("lawline.web")


class CertFiles(Protocol):
    """What the certificate takes of [web] (the box's WebSection, or the centre's own)."""
    @property
    def cert_file(self) -> str: ...
    @property
    def key_file(self) -> str: ...
    @property
    def bind(self) -> str: ...


class CertConfig(Protocol):
    """A configuration with a [web] section."""
    @property
    def web(self) -> CertFiles: ...


def ensure(cfg: CertConfig, data_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """(certificate path, key path) the page serves."""
    if cfg.web.cert_file or cfg.web.key_file:
        if not (cfg.web.cert_file and cfg.web.key_file):
            raise ConfigError("options 'cert_file' and 'key_file' in section [web] go "
                              "together: set both or neither")
        for option in ("cert_file", "key_file"):
            path = Path(getattr(cfg.web, option))
            if not path.is_file():
                raise ConfigError(f"option '{option}' in section [web]: {path} does not exist")
        return Path(cfg.web.cert_file), Path(cfg.web.key_file)
    cert, key = Path(data_dir) / "cert.pem", Path(data_dir) / "key.pem"
    if cert.is_file() and key.is_file():
        return cert, key
    make_self_signed(cert, key, cfg.web.bind)
    return cert, key


def make_self_signed(cert: Path, key: Path, bind: str = "") -> None:
    host = socket.gethostname()
    names = [f"DNS:{host}", "DNS:localhost", "IP:127.0.0.1"]
    if bind and bind not in ("0.0.0.0", "127.0.0.1", "::"):
        names.append(f"IP:{bind}")
    tmp_key = key.with_name(key.name + ".tmp")
    argv = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3650",
            "-subj", f"/CN={host}/O=lawline", "-addext", "subjectAltName=" + ",".join(names),
            "-keyout", str(tmp_key), "-out", str(cert)]
    old = os.umask(0o077)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise LawlineError("web: no certificate yet and no 'openssl' command to make one: "
                           "install Debian's openssl, or set [web] cert_file and key_file "
                           "to the office's own certificate") from None
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LawlineError(f"web: cannot make a certificate with openssl: {exc}") from None
    finally:
        os.umask(old)
    if done.returncode != 0:
        raise LawlineError(f"web: openssl could not make a certificate: "
                           f"{done.stderr.strip()[-300:]}")
    os.replace(tmp_key, key)
    log.info("web: made a self-signed certificate %s for %s (an office may install its own: "
             "[web] cert_file, key_file)", cert, ", ".join(names))
