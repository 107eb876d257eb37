"""Modem profiles: each real modem's quirks as data (STYLE.md: "modem quirks are data").

Facts are from reference/modems.md; the section is named next to each. Facts marked [?] there
are guesses until measured on hardware (board/HIL.md lists how).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# SMS setup shared by the GSM modems: PDU mode (concatenation needs it, 3.1), messages kept on
# the SIM, and a +CMTI notification for each new one (3.4).
SMS_INIT = (
    "AT+CMGF=0",
    'AT+CPMS="SM","SM","SM"',
    "AT+CNMI=2,1,0,0,0",
)


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    init_commands: tuple[str, ...]  # sent once after the port opens; failures are logged
    urc_prefixes: tuple[str, ...]   # lines routed as unsolicited
    audio_on: str                 # opens call audio on the audio port
    audio_off: str
    audio_retries: int            # how often audio_on is retried when refused
    audio_retry_delay: float      # seconds between those retries
    call_begin: tuple[str, ...] = ()  # URCs that mean "the call is up"
    call_end: tuple[str, ...] = ()    # URCs that mean "the call is over"
    dtmf_prefix: str = "+RXDTMF:"
    dtmf_is_ascii_code: bool = False
    frame_bytes: int = 320        # S16LE 8 kHz mono, 20 ms
    kind: str = "gsm"             # "gsm" (driver: modem.Modem) or "v253" (v253.V253Modem)
    audio_backend: str = "serial"  # "serial" PCM port, "v253" (shares the AT port), "soundcard"
    audio_on_soundcard: str = ""  # audio_on when the call audio is on a USB sound card
    call_state_from_clcc: bool = False   # +CLCC URCs (AT+CLCC=1) carry call begin and end
    call_state_from_ccinfo: bool = False  # +QIND: "ccinfo" URCs carry them (Quectel, 2.1)
    hangup_command: str = "AT+CHUP"
    sms: bool = True
    sms_timeout: float = 60.0     # AT+CMGS may take long (the manual allows 120 s, 3.3)
    reset_command: str = "AT+CFUN=1,1"   # soft reset when the modem stops answering
    boot_seconds: float = 20.0    # a real module answers AT this long after a reset (1.7)
    usb_id: str = ""              # vendor:product, for board/99-lawline-modem.rules
    # port role -> USB interface number
    usb_interfaces: dict[str, int] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)


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
    ) + SMS_INIT,
    urc_prefixes=("RING", "+CRING:", "+CLIP:", "VOICE CALL:", "NO CARRIER", "MISSED_CALL:",
                  "+RXDTMF:", "+CLCC:", "+CREG:", "+CSQN:", "+CPIN:", "RDY", "SMS DONE",
                  "PB DONE", "+CMTI:", "START", "+SMS FULL"),
    # SIM7600 answers ERROR to CPCMREG until the call is fully up; chan_quectel waits 1 s
    # and retries up to 5 times (1.5).
    audio_on="AT+CPCMREG=1",
    audio_off="AT+CPCMREG=0",
    audio_retries=5,
    audio_retry_delay=1.0,
    call_begin=("VOICE CALL: BEGIN",),
    call_end=("VOICE CALL: END", "NO CARRIER"),
    # CRESET re-enumerates USB (5.1 callpilot #121): the ports may come back renamed.
    reset_command="AT+CRESET",
    usb_id="1e0e:9001",
    usb_interfaces={"at": 2, "audio": 4},  # 1.1 (ModemManager's port rules)
)

EC25 = Profile(
    name="quectel-ec25",
    description="Quectel EC25/EG25-G (PCM on the NMEA port after AT+QPCMV=1,0)",
    init_commands=(
        "ATE0",
        "AT+CMEE=2",
        "AT+CRC=0",
        "AT+CLIP=1",
        "AT+CLCC=1",                       # call state URCs: there is no VOICE CALL: (2.1)
        'AT+QINDCFG="ccinfo",1,0',         # +QIND: "ccinfo" too; state -1 = released (2.1)
        "AT+QTONEDET=1",                   # DTMF as +QTONEDET: <decimal ASCII> (2.2)
        'AT+QGPSCFG="outport","none"',     # keep NMEA sentences off the PCM port (2.3)
    ) + SMS_INIT,
    urc_prefixes=("RING", "+CRING:", "+CLIP:", "NO CARRIER", "+CLCC:", "+QIND:", "+QTONEDET:",
                  "+CREG:", "+CPIN:", "RDY", "+CMTI:", "+QUSIM:", "+CFUN:", "SMS DONE",
                  "PB DONE", "+SMS FULL", "POWERED DOWN"),
    audio_on="AT+QPCMV=1,0",              # mode 0: raw PCM on the USB NMEA port (2.3)
    audio_off="AT+QPCMV=0",
    audio_on_soundcard="AT+QPCMV=1,2",    # mode 2: USB sound card (UAC); needs a reboot once
    audio_retries=3,
    audio_retry_delay=1.0,
    call_begin=(),
    call_end=("NO CARRIER",),
    dtmf_prefix="+QTONEDET:",
    dtmf_is_ascii_code=True,
    call_state_from_clcc=True,
    call_state_from_ccinfo=True,
    reset_command="AT+CFUN=1,1",
    usb_id="2c7c:0125",
    usb_interfaces={"at": 2, "audio": 1},  # 2.1: audio on the NMEA interface
)

V253 = Profile(
    name="v253",
    description="V.253 voice modem on an analog line (audio in-band on the AT port)",
    init_commands=(),                     # v253.V253Modem sends its own sequence (4.1, 4.2)
    urc_prefixes=("RING", "DATE", "TIME", "NMBR", "NAME", "MESG", "DRON", "DROF", "CIDM",
                  "NO CARRIER", "BUSY", "NO DIALTONE"),
    audio_on="AT+VTR",
    audio_off="",
    audio_retries=0,
    audio_retry_delay=0.0,
    call_end=("NO CARRIER",),
    dtmf_prefix="",
    kind="v253",
    audio_backend="v253",
    hangup_command="ATH",
    sms=False,
    reset_command="ATZ",
    boot_seconds=2.0,
)

PROFILES = {p.name: p for p in (SIM7600, EC25, V253)}


def get(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown modem profile {name!r}; known: {', '.join(sorted(PROFILES))}")
