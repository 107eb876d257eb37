"""What each simulated modem model says and how fast: modem quirks are data (DESIGN, STYLE 3).

Every value here comes from shared/reference/modems.md; the section is cited next to it.
Only the SIM7600 is simulated so far. An EC25 or V.253 profile needs more than new strings
(other URC families, PCM on another port), so add them with the code that speaks them.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    # Identity (ATI, AT+CGMI, AT+CGMM, AT+CGMR).
    manufacturer: str
    model: str
    revision: str
    # First 14 digits of each side's IMEI; the Luhn check digit is computed.
    imei_body: dict
    imsi: dict
    # Network state answered to queries (modems.md 1.6).
    csq: str
    operator: str
    smsc: str
    # URC spellings (modems.md 1.2, 1.4, 6.1).
    ring: str
    cring: str
    clip: str
    call_begin: str
    call_end: str
    no_carrier: str
    missed_call: str
    rxdtmf: str
    dtmf_keys: str
    # ModemManager never sends AT+DDET and still sees +RXDTMF (modems.md 1.4), so report by default.
    dtmf_detect_default: bool
    # Number types (modems.md 1.2): 145 international ("+..."), 161 national.
    number_type_international: int
    number_type_national: int
    # Lines the module prints once it has booted (modems.md 1.6 "Boot URCs"; the exact set is [?]).
    boot_urcs: tuple
    # Timings, seconds.
    unknown_number_delay: float
    network_ring_timeout: float
    vts_digit_gap: float
    boot_time: float
    # USB PCM (modems.md 1.5): S16LE mono, 8 kHz, 320-byte / 20 ms frames.
    pcm_rate: int
    frame_ms: int
    # How much host audio the module buffers before dropping the oldest.
    uplink_limit_ms: int

    @property
    def frame_bytes(self):
        return self.pcm_rate * self.frame_ms // 1000 * 2

    @property
    def uplink_limit_bytes(self):
        return self.pcm_rate * self.uplink_limit_ms // 1000 * 2


SIM7600 = Profile(
    name="simcom-sim7600",
    manufacturer="SIMCOM INCORPORATED",
    model="SIMCOM_SIM7600G-H",
    revision="LE20B04SIM7600G22",
    imei_body={"box": "86817005014801", "caller": "86817005014802"},
    imsi={"box": "460001234560148", "caller": "460001234560149"},
    csq="+CSQ: 20,99",
    operator="CHINA MOBILE",
    smsc="+8613800100500",
    ring="RING",
    cring="+CRING: VOICE",
    # One of the tails seen in the wild (modems.md 1.2): ,"",0,"",0 after the type.
    clip='+CLIP: "{number}",{type},"",0,"",0',
    call_begin="VOICE CALL: BEGIN",
    # Always six digits (modems.md 1.2.5); we count whole seconds like ModemManager does.
    call_end="VOICE CALL: END: {seconds:06d}",
    no_carrier="NO CARRIER",
    missed_call="MISSED_CALL: {time} {number}",
    rxdtmf="+RXDTMF: {key}",
    dtmf_keys="0123456789*#ABCD",
    dtmf_detect_default=True,
    number_type_international=145,
    number_type_national=161,
    boot_urcs=("RDY", "+CPIN: READY", "SMS DONE", "PB DONE"),
    unknown_number_delay=0.5,
    network_ring_timeout=60.0,
    vts_digit_gap=0.1,
    # A real module takes 12-20 s; the simulator keeps tests fast. The reset fault can override it.
    boot_time=1.0,
    pcm_rate=8000,
    frame_ms=20,
    uplink_limit_ms=200,
)

PROFILES = {p.name: p for p in (SIM7600,)}


def get(name):
    """The profile called `name`; KeyError naming the known ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown modem profile {name!r}; known: {', '.join(sorted(PROFILES))}") from None


def imei(profile, side):
    """A valid 15-digit IMEI for `side`: the profile's 14 digits plus the Luhn check digit."""
    body = profile.imei_body[side]
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # every second digit from the right, starting with the rightmost body digit
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return body + str((10 - total % 10) % 10)


def number_type(profile, number):
    return profile.number_type_international if number.startswith("+") else profile.number_type_national
