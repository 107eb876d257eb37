"""The [sip] and [trunk] options that only make sense together, checked when the config is
read (config.py calls `validate_config`; the trunk's password file itself is read, and its
mode checked, when the box starts: sip/trunk.py)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Protocol

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..settings import SipSection, TrunkSection


class SipConfig(Protocol):
    """What these checks read of the configuration: its [sip] and [trunk] sections."""
    @property
    def sip(self) -> SipSection: ...
    @property
    def trunk(self) -> TrunkSection: ...


def validate_config(cfg: SipConfig) -> None:
    sip, trunk = cfg.sip, cfg.trunk
    if "{number}" not in sip.uri_template:
        raise ConfigError("option 'uri_template' in section [sip] must contain {number}")
    if sip.bind in ("", "0.0.0.0", "::", "[::]") and not trunk.registrar:
        # Without a trunk nothing needs to reach the box first, and a Pi with a mobile data
        # link may have a public address: SIP (and each call's RTP) on every interface would
        # face the internet (DESIGN.md, Security).
        raise ConfigError(f"option 'bind' in section [sip]: {sip.bind!r} listens on every "
                          "interface, and without a [trunk] registrar nothing needs to reach "
                          "the box: give the address of the network the duty phones are on "
                          "(127.0.0.1 when they are on this box)")
    if not trunk.registrar:
        return
    for name in ("username", "password_file"):
        if not getattr(trunk, name):
            raise ConfigError(f"option '{name}' in section [trunk] is required when "
                              "'registrar' is set")
    for name in ("registrar", "outbound_proxy"):
        value = getattr(trunk, name)
        if value and not re.match(r"sips?:", value):
            raise ConfigError(f"option '{name}' in section [trunk] must be a SIP URI like "
                              f"sip:sip.example.cn, not {value!r}")
    if "{number}" not in trunk.dial_template:
        raise ConfigError("option 'dial_template' in section [trunk] must contain {number}")
    if trunk.transport == "tls" and not trunk.ca_file:
        raise ConfigError("option 'ca_file' in section [trunk] is required with "
                          "transport = \"tls\" (the trunk's certificate is always checked)")
    if trunk.retry_max < trunk.retry_min:
        raise ConfigError("option 'retry_max' in section [trunk] must be at least retry_min")
