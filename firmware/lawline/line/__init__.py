"""The line side: the modem (AT driver per profile) and where its call audio flows."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..settings import LineSection
    from .parts import LineModem
    from .profiles import Profile


def create_modem(profile: str | Profile, at_port: str, audio_port: str, *, name: str = "box",
                 log: logging.Logger | None = None, command_timeout: float = 5.0,
                 audio_retry_delay: float | None = None, audio_backend: str | None = None,
                 sound_device: str | None = None) -> LineModem:
    """The driver for `profile` (a name or a profiles.Profile): modem.Modem for the GSM
    modems, v253.V253Modem for a voice modem. Both have the same outside: start, close,
    events, answer, hangup, dial, send_dtmf, open_audio, close_audio, make_audio, in_call."""
    from . import profiles
    chosen = profiles.get(profile) if isinstance(profile, str) else profile
    if chosen.kind == "v253":
        from .v253 import V253Modem
        voice: LineModem = V253Modem(chosen, at_port, audio_port, name=name, log=log,
                                     command_timeout=command_timeout,
                                     audio_retry_delay=audio_retry_delay,
                                     audio_backend=audio_backend, sound_device=sound_device)
        return voice
    from .modem import Modem
    return Modem(chosen, at_port, audio_port, name=name, log=log,
                 command_timeout=command_timeout, audio_retry_delay=audio_retry_delay,
                 audio_backend=audio_backend, sound_device=sound_device)


def from_config(line: LineSection, name: str | None = None) -> LineModem:
    """The modem the [line] section of the config describes."""
    backend = None if line.audio_backend == "profile" else line.audio_backend
    return create_modem(line.profile, line.at_port, line.audio_port, name=name or line.at_port,
                        command_timeout=line.command_timeout,
                        audio_retry_delay=line.audio_retry_delay, audio_backend=backend,
                        sound_device=line.sound_device or None)
