"""The line side: the modem (AT driver per profile) and where its call audio flows."""


def create_modem(profile, at_port, audio_port, **options):
    """The driver for `profile` (a name or a profiles.Profile): modem.Modem for the GSM
    modems, v253.V253Modem for a voice modem. Both have the same outside: start, close,
    events, answer, hangup, dial, send_dtmf, open_audio, close_audio, make_audio, in_call."""
    from . import profiles
    chosen = profiles.get(profile) if isinstance(profile, str) else profile
    if chosen.kind == "v253":
        from .v253 import V253Modem
        return V253Modem(chosen, at_port, audio_port, **options)
    from .modem import Modem
    return Modem(chosen, at_port, audio_port, **options)


def from_config(line, name=None):
    """The modem the [line] section of the config describes."""
    backend = None if line.audio_backend == "profile" else line.audio_backend
    return create_modem(line.profile, line.at_port, line.audio_port, name=name or line.at_port,
                        command_timeout=line.command_timeout,
                        audio_retry_delay=line.audio_retry_delay, audio_backend=backend,
                        sound_device=line.sound_device or None)
