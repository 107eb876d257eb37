"""Modem profiles: each real modem's quirks as data (STYLE.md: "modem quirks are data").

Facts are from reference/modems.md; the section is named next to each.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    init_commands: tuple          # sent once after the port opens; failures are logged
    urc_prefixes: tuple           # lines routed as unsolicited
    audio_on: str                 # opens call audio on the audio port
    audio_off: str
    audio_retries: int            # how often audio_on is retried when refused
    audio_retry_delay: float      # seconds between those retries
    call_begin: tuple = ()        # URCs that mean "the call is up"
    call_end: tuple = ()          # URCs that mean "the call is over"
    dtmf_prefix: str = "+RXDTMF:"
    dtmf_is_ascii_code: bool = False
    frame_bytes: int = 320        # S16LE 8 kHz mono, 20 ms
    extra: dict = field(default_factory=dict)


SIM7600 = Profile(
    name="simcom-sim7600",
    description="SIMCom SIM7600 (USB audio on interface 4 after AT+CPCMREG=1)",
    init_commands=(
        "ATE0",            # no echo: replies are easier to read in the wire log
        "AT+CMEE=2",       # verbose +CME ERROR text
        "AT+CRC=0",        # bare RING (1.2)
        "AT+CLIP=1",       # caller ID after each RING (1.2)
        "AT+DDET=1",       # DTMF detection; some firmware has it on already (1.4)
        "AT+CPCMFRM=0",    # 8 kHz; set again at start because a reset forgets it (1.5)
    ),
    urc_prefixes=("RING", "+CRING:", "+CLIP:", "VOICE CALL:", "NO CARRIER", "MISSED_CALL:",
                  "+RXDTMF:", "+CLCC:", "+CREG:", "+CSQN:", "+CPIN:", "RDY", "SMS DONE",
                  "PB DONE", "+CMTI:", "START"),
    # SIM7600 answers ERROR to CPCMREG until the call is fully up; chan_quectel waits 1 s
    # and retries up to 5 times (1.5).
    audio_on="AT+CPCMREG=1",
    audio_off="AT+CPCMREG=0",
    audio_retries=5,
    audio_retry_delay=1.0,
    call_begin=("VOICE CALL: BEGIN",),
    call_end=("VOICE CALL: END", "NO CARRIER"),
)

PROFILES = {p.name: p for p in (SIM7600,)}


def get(name):
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown modem profile {name!r}; known: {', '.join(sorted(PROFILES))}")
