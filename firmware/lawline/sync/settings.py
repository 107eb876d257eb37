"""Targets from the configuration: `[upstream]` (HTTPS PUT), `[email]`, `[s3]`, any mix.

Each section that is filled in adds one target, named after its section; `[upstream] url`
keeps meaning what it always did. An item is owed to every target configured when it was
committed (an e-mail target takes voicemails only), and leaves the spool only once all of
them acknowledged it. Errors name the section and the option (STYLE.md 7).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, Protocol, TypeVar
from urllib.parse import SplitResult, urlsplit

from lawline.errors import ConfigError
from lawline.secretfile import read_secret
from lawline.sync.http import HttpPutTarget

if TYPE_CHECKING:
    from lawline.settings import (EmailSection, OfficeSection, S3Section, SpoolSection,
                                  UpstreamSection)
    from lawline.sync.worker import Sink

log = logging.getLogger("lawline.sync")
UPSTREAM, EMAIL, S3 = "upstream", "email", "s3"
LAYOUT = "{day}/{key}/{file}"
_T = TypeVar("_T")


class TargetsConfig(Protocol):
    """What the targets are built from: [office], [upstream], [email] and [s3]."""
    @property
    def office(self) -> OfficeSection: ...
    @property
    def upstream(self) -> UpstreamSection: ...
    @property
    def email(self) -> EmailSection: ...
    @property
    def s3(self) -> S3Section: ...


class TargetsChecks(TargetsConfig, Protocol):
    """What validate_config reads: the targets' sections and [spool]."""
    @property
    def spool(self) -> SpoolSection: ...


@dataclass
class Targets:
    sinks: dict[str, Sink] = field(default_factory=dict)   # name -> its target
    kinds: dict[str, set[str]] = field(default_factory=dict)   # name -> kinds it takes
    where: dict[str, str] = field(default_factory=dict)   # name -> where it sends, for the log

    @property
    def names(self) -> list[str]:
        return list(self.sinks)


def configured(config: TargetsConfig) -> list[str]:
    """Names of the targets the configuration asks for, without reading any secret."""
    names = []
    if config.upstream.url:
        names.append(UPSTREAM)
    if config.email.to or config.email.leadership:
        names.append(EMAIL)
    if config.s3.endpoint:
        names.append(S3)
    return names


def _split(section: str, option: str, url: str) -> SplitResult:
    """urlsplit, with the port read too: both raise ValueError on a broken URL."""
    try:
        parts = urlsplit(url)
        parts.port
    except ValueError as exc:
        _fail(section, option, f"{url!r} is not a URL ({exc})")
    return parts


def validate_config(config: TargetsChecks) -> None:
    """Checks across options, at load time (files are read when the box starts)."""
    if config.spool.warn_percent > 100:
        _fail("spool", "warn_percent", "must be at most 100")
    url = config.upstream.url
    if url:
        parts = _split("upstream", "url", url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            _fail("upstream", "url", f"{url!r} must be an https:// (or http://) URL with a host")
        if parts.username or parts.password:
            _fail("upstream", "url", "must not carry a user or password; use username and "
                  "password_file")
        if parts.query or parts.fragment:
            _fail("upstream", "url", "must not have a query or fragment")
        if config.upstream.token_file and config.upstream.username:
            _fail("upstream", "username", "give token_file or username, not both")
        if parts.scheme == "http" and (config.upstream.token_file or config.upstream.username) \
                and not config.upstream.allow_insecure:
            _fail("upstream", "url", f"{url!r} is http://: the token or password would cross "
                  "the network in clear; use https://, or set allow_insecure = true in "
                  "[upstream] if this link is private")
    if config.upstream.username and not config.upstream.password_file:
        _fail("upstream", "password_file", "must be set when username is")
    email = config.email
    if email.to or email.leadership:
        given = "'to'" if email.to else "'leadership'"
        if not email.host:
            _fail("email", "host", f"must be set when {given} is")
        if "@" not in email.sender:
            _fail("email", "sender", f"must be an e-mail address when {given} is")
        for option in ("to", "complaint_to", "leadership"):
            for address in getattr(email, option):
                if "@" not in address:
                    _fail("email", option, f"{address!r} is not an e-mail address")
        if email.username and email.security == "none":
            _fail("email", "security", "must be starttls or tls when username is set: the "
                  "password never goes in the clear")
        if email.username and not email.password_file:
            _fail("email", "password_file", "must be set when username is")
    s3 = config.s3
    if s3.endpoint:
        parts = _split("s3", "endpoint", s3.endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            _fail("s3", "endpoint", f"{s3.endpoint!r} must be an https:// URL with a host")
        if parts.path.strip("/"):
            _fail("s3", "endpoint", "must be the server only; put the bucket in 'bucket'")
        if parts.scheme == "http" and not s3.allow_insecure:
            _fail("s3", "endpoint", f"{s3.endpoint!r} is http://: the signed requests and the "
                  "recordings would cross the network in clear; use https://, or set "
                  "allow_insecure = true in [s3] if this link is private")
        for option in ("bucket", "access_key", "secret_file"):
            if not getattr(s3, option):
                _fail("s3", option, "must be set when 'endpoint' is")


def insecure(config: TargetsConfig) -> dict[str, str]:
    """section -> what crosses the network in clear because of its allow_insecure = true
    (logged when the targets are built, a WARN row in `lawline check`). SMTP AUTH without
    TLS has no such switch: it is always refused (above, and sync/mail.py)."""
    found = {}
    up = config.upstream
    if up.url.startswith("http://") and (up.token_file or up.username) and up.allow_insecure:
        what = "token" if up.token_file else "password"
        found["upstream"] = (f"[upstream] allow_insecure = true: the {what} goes to {up.url} "
                             "unencrypted")
    s3 = config.s3
    if s3.endpoint.startswith("http://") and s3.allow_insecure:
        found["s3"] = (f"[s3] allow_insecure = true: requests and recordings go to "
                       f"{s3.endpoint} unencrypted")
    return found


def build_targets(config: TargetsConfig) -> Targets:
    """The configured targets, with their secrets read from their files."""
    for sentence in insecure(config).values():
        log.warning("%s; anyone on the path can read it", sentence)

    office = config.office.id
    targets = Targets()
    up = config.upstream
    if up.url:
        base = up.url.rstrip("/") + "/" + office
        token = _secret("upstream", "token_file", up.token_file)
        password = _secret("upstream", "password_file", up.password_file)
        cafile = _file("upstream", "ca_file", up.ca_file)
        targets.sinks[UPSTREAM] = _build("upstream", "url", HttpPutTarget, UPSTREAM, base,
                                         token, up.timeout, cafile=cafile,
                                         username=up.username or None, password=password,
                                         layout=LAYOUT)
        targets.where[UPSTREAM] = f"{base}/{LAYOUT}"
    email = config.email
    if email.to or email.leadership:
        from lawline.sync.mail import EmailTarget   # smtplib, email: only with [email]
        password = _secret("email", "password_file", email.password_file)
        cafile = _file("email", "ca_file", email.ca_file)
        sink = _build("email", "to", EmailTarget, EMAIL, email.host, email.port, email.sender,
                      email.to, username=email.username or None, password=password,
                      security=email.security, cafile=cafile, timeout=email.timeout,
                      office_name=config.office.name, office_id=office,
                      complaint_to=email.complaint_to, leadership=email.leadership)
        targets.sinks[EMAIL] = sink
        targets.kinds[EMAIL] = set(sink.kinds)
        targets.where[EMAIL] = f"{', '.join(email.to + email.leadership)} via " \
                               f"{email.host}:{email.port}"
    s3 = config.s3
    if s3.endpoint:
        from lawline.sync.s3 import S3Target        # only with [s3]
        secret = _secret("s3", "secret_file", s3.secret_file)
        cafile = _file("s3", "ca_file", s3.ca_file)
        prefix = "/".join(p for p in (s3.prefix.strip("/"), office) if p)
        bucket = _build("s3", "endpoint", S3Target, S3, s3.endpoint, s3.bucket, s3.access_key,
                        secret, region=s3.region, prefix=prefix, timeout=s3.timeout,
                        cafile=cafile, layout=LAYOUT)
        targets.sinks[S3] = bucket
        targets.where[S3] = f"{bucket.endpoint}/{s3.bucket}/{bucket.prefix}{LAYOUT}"
    return targets


def _build(section: str, option: str, cls: Callable[..., _T], *args: object,
           **kw: object) -> _T:
    try:
        return cls(*args, **kw)
    except ValueError as e:
        raise ConfigError(f"option '{option}' in section [{section}]: {e}") from None


def _secret(section: str, option: str, path: str) -> str | None:
    if not path:
        return None
    return read_secret(path, section, option)   # refused when others may read the file


def _file(section: str, option: str, path: str) -> str | None:
    if not path:
        return None
    if not Path(path).is_file():
        raise ConfigError(f"option '{option}' in section [{section}]: {path} is not a "
                          "readable file")
    return path


def _fail(section: str, option: str, text: str) -> NoReturn:
    raise ConfigError(f"option '{option}' in section [{section}] {text}")
