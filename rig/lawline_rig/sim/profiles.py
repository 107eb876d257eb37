"""What each simulated modem model says and how fast: modem quirks are data (DESIGN, STYLE 3).

Every value here comes from shared/reference/modems.md; the section is cited next to it.
Each profile names the class that speaks it (`family`: simcom, quectel, v253) and the model
on the caller's side of the loopback line (a V.253 box is rung by a mobile: a SIM7600).
"""

from dataclasses import dataclass, field, replace


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
    # Which simulator class speaks this model, and what the box's driver calls it.
    family: str = "simcom"
    driver_profile: str = "simcom-sim7600"
    caller_profile: str = None          # the caller side's model; None: the same as the box
    # With AT+CLCC=1, a last +CLCC line with stat 6 at release (SIMCom habit, modems.md 1.3).
    clcc_released: bool = True
    # +CLIP trailing fields after the type (modems.md 1.2): "long" ,"",0,"",0 / "short" ,,,,0 /
    # "quoted" ,"",128,"",0 / "none".
    clip_tail: str = "long"
    # Quectel: the box side also has the USB sound card (AT+QPCMV=1,2), reached through ALSA.
    uac: bool = False
    # A soft reset (AT+CRESET, AT+CFUN=1,1) re-enumerates USB: the ports come back renamed.
    reset_renames_ports: bool = True
    # SMS (modems.md 3): SIM store size and how long the network takes to accept a part.
    sms_capacity: int = 30
    sms_send_delay: float = 0.2
    # V.253 only (v253.py): sample formats answered to AT+VSM=?, full duplex (+VTR) or not,
    # caller-ID spacing ("spaced": NMBR = x, "tight": NMBR=x), the cue sent when the far end
    # hangs up (DLE b: busy tone), and how long after that the cue comes.
    vsm_formats: tuple = ()
    vtr: bool = False
    cid_spacing: str = "spaced"
    hangup_cue: str = "b"
    hangup_cue_delay: float = 0.3
    extra: dict = field(default_factory=dict)

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
    # The tail after the type is `clip_tail` (one of those seen in the wild, modems.md 1.2).
    clip='+CLIP: "{number}",{type}',
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
    uplink_limit_ms=1000,
)

EC25 = replace(
    SIM7600,
    name="quectel-ec25",
    manufacturer="Quectel",
    model="EC25",
    revision="EC25EFAR06A03M4G",
    imei_body={"box": "86767503014801", "caller": "86767503014802"},
    # No VOICE CALL: lines and no MISSED_CALL on Quectel (modems.md 2.1, 6.4): call state
    # comes from +CLCC and +QIND: "ccinfo"; the end of a call is NO CARRIER.
    call_begin="",
    call_end="",
    missed_call="",
    # DTMF as the key's decimal ASCII code, e.g. +QTONEDET: 56 for "8" (2.2); off by default.
    rxdtmf="+QTONEDET: {code}",
    dtmf_detect_default=False,
    number_type_national=129,
    boot_urcs=("RDY", "+CFUN: 1", "+CPIN: READY", "+QUSIM: 1", "SMS DONE", "PB DONE"),
    family="quectel",
    driver_profile="quectel-ec25",
    clcc_released=False,
    clip_tail="short",
)

# V.253 voice modems (modems.md section 4). AT+VSM=? lines: <cml>,"<name>",<bits>,<tm>,
# (<rates>),(<scs>),(<sel>) (4.2). The two models differ where real ones do: one offers G.711
# and full duplex (+VTR), the other (a Conexant-like part) only 8-bit PCM and ADPCM, no +VTR.
_V253_COMMON = dict(
    manufacturer="U.S. Robotics",
    model="USR5637",
    revision="1.2.23",
    imei_body={"box": "00000000000001", "caller": "00000000000002"},
    imsi={"box": "", "caller": ""},
    ring="RING",
    cring="RING",
    call_begin="",
    call_end="",
    missed_call="",
    rxdtmf="",
    dtmf_detect_default=True,
    boot_urcs=(),
    boot_time=0.5,
    family="v253",
    driver_profile="v253",
    reset_renames_ports=False,
    caller_profile="simcom-sim7600",
    clcc_released=False,
)

V253 = replace(
    SIM7600, name="v253", **_V253_COMMON,
    vsm_formats=('0,"SIGNED PCM",8,0,(8000),(0),(0)',
                 '1,"UNSIGNED PCM",8,0,(8000),(0),(0)',
                 '4,"G.711U",8,0,(8000),(0),(0)',
                 '5,"G.711A",8,0,(8000),(0),(0)',
                 '129,"IMA ADPCM",4,0,(8000),(0),(0)'),
    vtr=True,
    cid_spacing="tight",  # a real USR 5637 printed DATE=1203 with no spaces (4.1)
)

V253_HALF = replace(
    SIM7600, name="v253-halfduplex", **{**_V253_COMMON, "manufacturer": "CONEXANT",
                                        "model": "CX93001-EIS_V0.2002-V92"},
    vsm_formats=('1,"UNSIGNED PCM",8,0,(8000),(0),(0)',
                 '129,"IMA ADPCM",4,0,(8000),(0),(0)',
                 '130,"UNSIGNED PCM",8,0,(8000),(0),(0)',
                 '140,"2 Bit ADPCM",2,0,(8000),(0),(0)',
                 '141,"4 Bit ADPCM",4,0,(8000),(0),(0)'),
    vtr=False,
    cid_spacing="spaced",  # Rockwell/Conexant documents: DATE = 1203 (4.1)
)

# The EC25 in USB-audio mode on the box's side (sim/uac.py); the caller keeps serial PCM.
EC25_UAC = replace(EC25, name="quectel-ec25-uac", uac=True, caller_profile="quectel-ec25")

PROFILES = {p.name: p for p in (SIM7600, EC25, EC25_UAC, V253, V253_HALF)}

# +CLIP tails after "<number>",<type>; the last field is the CLI validity (0 given,
# 1 withheld, 2 not available) where the variant has it.
CLIP_TAILS = {"long": ',"",0,"",{validity}', "short": ",,,,{validity}",
              "quoted": ',"",128,"",{validity}', "none": ""}


def clip_line(profile, shown, tail=None):
    """The +CLIP line presenting `shown` ("" = withheld, type 128, validity 1)."""
    tail = CLIP_TAILS[tail or profile.clip_tail]
    if shown:
        return profile.clip.format(number=shown, type=number_type(profile, shown)) + \
            tail.format(validity=0)
    return profile.clip.format(number="", type=128) + tail.format(validity=1)


def get(name):
    """The profile called `name`; KeyError naming the known ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown modem profile {name!r}; known: {', '.join(sorted(PROFILES))}") from None


def _for_line(digits, line_no):
    """`digits` moved on by two for every line after the first (line 2's box is line 1's
    caller + 1), keeping the width; "" stays ""."""
    if not digits or line_no == 1:
        return digits
    return str(int(digits) + 2 * (line_no - 1)).zfill(len(digits))[-len(digits):]


def imsi(profile, role, line_no=1):
    """The SIM's IMSI for `role` ("box" or "caller") on line `line_no` of the loopback line."""
    return _for_line(profile.imsi[role], line_no)


def imei(profile, side, line_no=1):
    """A valid 15-digit IMEI for `side` ("box" or "caller") on line `line_no`: the profile's
    14 digits (moved on per line) plus the Luhn check digit."""
    body = _for_line(profile.imei_body[side], line_no)
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
