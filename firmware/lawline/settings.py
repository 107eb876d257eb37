"""Every option of the box's configuration, typed: one frozen dataclass per section.

This is the one table of options (STYLE.md 7): each field carries its default, unit, bounds,
choices and the line of documentation that the example file prints (`lawline config
--example`, config.py generates it from here). A part takes its own sections' types from this
module (a `DutySection` is what the duty desk reads), and a type checker sees every option it
reads: `cfg.duty.ring_timeout` is a float, declared once. Reading a file and checking each
value against its option is config.py's; checks that look at several options together live
beside the part that owns them, and config.py calls them.

A section is frozen: parts get values, never a place to change them. `option()` marks a field
as a configuration option; a field without it (the menu's parsed `tree`) is derived at load.
`tables_only`: an option only a [[line]] table takes, not the single [line] section.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, get_type_hints


@dataclass(frozen=True)
class Option:
    """One option as the loader, the example and `lawline check` see it."""
    name: str
    kind: type                 # str, int, float, bool, list (of str)
    default: Any
    doc: str
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    pattern: str | None = None
    office_sets: bool = False  # a lab default every office must replace (lawline check)
    tables_only: bool = False
    required: bool = True      # a [[table]] option that must be given (False: its default)


def option(default: Any, doc: str, *, unit: str = "", minimum: float | None = None,
           maximum: float | None = None, choices: tuple[str, ...] | None = None,
           pattern: str | None = None, office_sets: bool = False,
           tables_only: bool = False, required: bool = True) -> Any:
    """A configuration option with its default and documentation (a dataclass field).
    `required`: only for [[table]] options; False lets a table leave it out."""
    meta = {"option": {"doc": doc, "unit": unit, "minimum": minimum, "maximum": maximum,
                       "choices": choices, "pattern": pattern, "office_sets": office_sets,
                       "tables_only": tables_only, "required": required}}
    if isinstance(default, list):
        items = tuple(default)
        return field(default_factory=lambda: list(items), metadata=meta)
    return field(default=default, metadata=meta)


_KINDS = {str: str, int: int, float: float, bool: bool, list[str]: list}


def options(section: type) -> list[Option]:
    """The options of a section class, in the order they are declared."""
    hints = get_type_hints(section)
    out = []
    for f in dataclasses.fields(section):
        meta = f.metadata.get("option")
        if meta is None:
            continue
        default = f.default if f.default_factory is dataclasses.MISSING else \
            f.default_factory()
        out.append(Option(f.name, _KINDS[hints[f.name]], default, **meta))
    return out


# What the dial plan allows by default (sip/dialplan.py bars the rest whatever this says).
DEFAULT_DIAL_ALLOW = (
    "1[3-9]XXXXXXXXX",          # mobiles (the barred blocks below still apply)
    "{area}[2-9]XXXXXX",        # the county's landlines with area code, 7 and 8 digits
    "{area}[2-9]XXXXXXX",
    "[2-9]XXXXXX",              # the same, dialled locally without the area code
    "[2-9]XXXXXXX",
)


@dataclass(frozen=True)
class OfficeSection:
    """The office that runs the line: its name, number, head and time zone."""
    SECTION: ClassVar[str] = 'office'
    id: str = option('county-0148',
        'Short name of this line; upstream paths start with it',
        pattern='[A-Za-z0-9._-]{1,64}', office_sets=True)
    name: str = option('县法律服务专线', 'Name of the line, for logs and reports')
    number: str = option('07730148',
        "The line's own phone number",
        pattern='\\+?[0-9]{3,20}', office_sets=True)
    head_mobile: str = option('',
        'Mobile of the office head: cover gaps, overdue cases, complaints, low ratings '
        'and the daily summary go there by SMS (empty: log only)',
        pattern='(\\+?[0-9]{5,20})?', office_sets=True)
    timezone: str = option('Asia/Shanghai',
        'Time zone of the office (IANA name): office hours and the duty rota follow it, '
        "whatever the system's time zone is")
    area_code: str = option('',
        "The county's telephone area code with its 0, like 0773 (empty: the one [office] "
        "number starts with); the dial plan's {area}",
        pattern='(0[0-9]{2,3})?')


@dataclass(frozen=True)
class LineSection:
    """One modem ([line], or each [[line]] table): its ports, profile and health checks."""
    SECTION: ClassVar[str] = 'line'
    profile: str = option('simcom-sim7600',
        'Modem model',
        choices=('simcom-sim7600', 'quectel-ec25', 'v253'))
    at_port: str = option('/dev/ttyUSB2',
        'Serial port for AT commands (best: the stable name board/99-lawline-modem.rules '
        'makes, /dev/lawline-at)')
    audio_port: str = option('/dev/ttyUSB4',
        'Serial port carrying call audio (PCM); /dev/lawline-audio with the udev rules; '
        'for a V.253 modem the same as at_port')
    audio_backend: str = option('profile',
        "Where call audio flows: 'profile' (the modem's own: serial PCM port, or in-band "
        "on a V.253 port), 'serial', or 'soundcard' (EC25 in USB-audio mode, or a codec "
        'HAT)',
        choices=('profile', 'serial', 'soundcard'))
    sound_device: str = option('',
        "Sound-card device for audio_backend = 'soundcard' (a PortAudio/ALSA name, e.g. "
        "'hw:CARD=Android,DEV=0' for the EC25)")
    health_interval: float = option(30.0,
        "How often an idle modem is asked 'AT' to check that it still answers",
        unit='s', minimum=1.0)
    health_timeout: float = option(3.0,
        "How long that 'AT' may take before the modem counts as not answering",
        unit='s', minimum=0.1)
    recovery_max_backoff: float = option(300.0,
        'Longest wait between attempts to bring back a modem that stopped answering or '
        'whose port went away',
        unit='s', minimum=1.0)
    reset_after_hangup: bool = option(False,
        'Reset the module after every call (SIM7600 firmware whose audio degrades from '
        'the second call on; reference/modems.md 5.1)')
    answer_after_rings: int = option(1, 'Answer after this many rings', unit='rings', minimum=1)
    command_timeout: float = option(5.0,
        'How long the modem may take to answer a command',
        unit='s', minimum=0.1)
    audio_retry_delay: float = option(1.0,
        'Wait between refused attempts to open call audio (SIM7600 refuses CPCMREG until '
        'the call is fully up)',
        unit='s', minimum=0.0)
    number: str = option('',
        "This line's own phone number (line 1: [office] number when empty)",
        pattern='(\\+?[0-9]{3,20})?', tables_only=True)
    status_led_pin: int = option(0,
        "BCM GPIO pin of this line's status LED (0: none; line 1 also takes [hat] "
        'status_led_pin)',
        minimum=0, maximum=27, tables_only=True)


@dataclass(frozen=True)
class MenuSection:
    """The menu's timing and tries; its keys are [menu.keys] and [menu.submenu.NAME]
    (call/menu.py), parsed into `tree`."""
    SECTION: ClassVar[str] = 'menu'
    key_timeout: float = option(6.0,
        'How long to wait for a key after the menu',
        unit='s', minimum=0.5)
    max_tries: int = option(3,
        'Invalid keys, silences and repeats (key 0) before the box says goodbye',
        minimum=1)
    prompt: str = option('menu',
        'Prompt the menu plays after the greeting (its keys are in [menu.keys], '
        'call/menu.py)',
        pattern='[a-z0-9_]{1,64}')
    # the menu itself, from [menu.keys] and [menu.submenu.NAME] (call/menu.parse)
    tree: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class LimitsSection:
    """Abuse limits (call/script.py, records/limits.py): each hit is logged and counted in the
    periodic report. "Per number" is per call for a withheld caller (withheld_callers)."""
    SECTION: ClassVar[str] = 'limits'
    max_call_seconds: float = option(3600.0,
        'Longest call, from answer to hang-up, bridged time included; then goodbye and '
        'the line is free again',
        unit='s', minimum=30)
    cases_per_number_per_day: int = option(6,
        'Cases one calling number may open in a day; after that it hears that it should '
        'call again tomorrow (key 9 still works)',
        unit='cases', minimum=1)
    sms_per_number_per_day: int = option(10,
        'SMS the box sends one number in a day (office staff in the rota and the office '
        'head are not counted); more are dropped',
        unit='SMS', minimum=1)
    ring_alls_per_number_per_day: int = option(3,
        'Urgent disputes (key 3) one calling number may ring every mediator with in a '
        'day; after that it goes straight to voicemail',
        unit='ring-alls', minimum=1)
    withheld_callers: str = option('per_call',
        "Daily limits for callers without caller ID: 'per_call' (each withheld call is "
        'its own caller: on an analog line without caller-ID service every caller is '
        "withheld) or 'pooled' (all withheld callers of the day share one number's "
        'allowance)',
        choices=('per_call', 'pooled'))
    sms_per_hour: int = option(60,
        'SMS to callers the box sends in any hour, all numbers together; more wait in the '
        'queue until the hour allows. Staff alerts are not counted and always go first',
        unit='SMS', minimum=1)
    status_tries_per_call: int = option(3,
        'Case numbers (or PINs) a caller may key for case status (key 9) in one call',
        unit='tries', minimum=1)
    status_tries_per_number_per_day: int = option(10,
        'Wrong case status tries one calling number may make in a day; after that key 9 '
        'tells it nothing until tomorrow',
        unit='tries', minimum=1)
    wrong_pins_per_number_per_day: int = option(5,
        'Wrong case PINs one calling number may key in a day, over all cases; after that '
        'key 9 asks it no more PINs until tomorrow',
        unit='tries', minimum=1)
    wrong_pins_per_case_per_day: int = option(5,
        'Wrong PINs keyed for one case, from any numbers, before its PIN is changed: the '
        "new PIN goes by SMS to the case's caller and the office head is told the case is "
        'being guessed at (never a lock-out of the rightful caller)',
        unit='tries', minimum=1)


@dataclass(frozen=True)
class DutySection:
    """Who is rung, how long, and the rota files (duty/)."""
    SECTION: ClassVar[str] = 'duty'
    numbers: list[str] = option(['13900000001'],
        'Mobile numbers of the duty lawyers, called in this order for key 1',
        office_sets=True)
    ring_timeout: float = option(20.0, 'How long each duty phone may ring', unit='s', minimum=1)
    confirm_timeout: float = option(10.0,
        'After a duty phone answers: time to press 1 before it counts as not answered',
        unit='s', minimum=1)
    mediators: list[str] = option([],
        'Mobile numbers of the mediators, all rung at once for an urgent dispute (key 3) '
        'when no rota names them')
    referrals: list[str] = option([],
        'Other numbers the box may call (departments it transfers to); the box dials '
        'nothing outside the duty lists, the rota and this list')
    rota_files: list[str] = option([],
        'Duty rota files (CSV or XLSX: date,shift,name,role,mobile[,staff_no], or '
        'weekday,... for a weekly pattern); empty: ring [duty] numbers')
    shifts: list[str] = option(['day 08:30-17:30', 'night 17:30-08:30'],
        "Shifts: 'NAME HH:MM-HH:MM [all|workdays|restdays]'; an end before the start ends "
        'the next morning')
    pattern_anchor: str = option('2024-01-01',
        "A Monday: week 1 of a multi-week pattern (rota 'week' column) starts then",
        pattern='\\d{4}-\\d{2}-\\d{2}')
    gap_days: int = option(7,
        'Warn about shifts nobody covers this many days ahead',
        unit='days', minimum=0, maximum=366)
    required_roles: list[str] = option(['lawyer'],
        'Roles every shift needs (lawyer, mediator): a shift without one is a gap')


@dataclass(frozen=True)
class DialplanSection:
    """What the box may ever dial (sip/dialplan.py): duty lists and rota rows outside it are
    errors. International, premium, information-service, satellite and service-number
    prefixes are barred whatever these say."""
    SECTION: ClassVar[str] = 'dialplan'
    allow: list[str] = option(list(DEFAULT_DIAL_ALLOW),
        'Numbers the box may dial, whole numbers in national form (+86 dropped): digits, '
        'X any digit, [2-9] one digit of a range, {area} the area code; default: mobiles '
        "and the county's landlines")
    deny: list[str] = option([],
        'Beginnings of numbers never to dial, on top of the built-in barred prefixes (00 '
        'and + abroad, 1259X, 16x but the mobile 162/165/166/167, 179XX, 95, 96, '
        'satellite 1349 and 174), like ["0773110"]')


@dataclass(frozen=True)
class HoursSection:
    """Office hours by day (duty/calendar.py)."""
    SECTION: ClassVar[str] = 'hours'
    always_open: bool = option(False,
        'Staffed around the clock (7x24): never play the after-hours greeting, whatever '
        'the hours and holidays below say')
    monday: str = option('08:30-12:00,13:30-17:30',
        'Office hours on a working Monday (ranges, comma-separated; empty: closed)')
    tuesday: str = option('08:30-12:00,13:30-17:30', 'Office hours on a working Tuesday')
    wednesday: str = option('08:30-12:00,13:30-17:30', 'Office hours on a working Wednesday')
    thursday: str = option('08:30-12:00,13:30-17:30', 'Office hours on a working Thursday')
    friday: str = option('08:30-12:00,13:30-17:30', 'Office hours on a working Friday')
    saturday: str = option('', 'Office hours on an ordinary Saturday')
    sunday: str = option('', 'Office hours on an ordinary Sunday')
    makeup_day: str = option('08:30-12:00,13:30-17:30',
        'Office hours on a make-up working Saturday or Sunday (调休)')


@dataclass(frozen=True)
class CalendarSection:
    """Public holidays and make-up working days (duty/calendar.py)."""
    SECTION: ClassVar[str] = 'calendar'
    holidays_file: str = option('',
        'Local holiday file (TOML: off = [dates], on = [dates], years = [years it '
        'covers]); it wins over the national calendar')
    warn_from: str = option('12-01',
        "From this day (MM-DD) warn when next year's holiday data is missing",
        pattern='\\d{2}-\\d{2}')


@dataclass(frozen=True)
class CasesSection:
    """When cases are due and who is told (records/office.py)."""
    SECTION: ClassVar[str] = 'cases'
    due_hours: float = option(72.0,
        'A case not resolved this long after it opened is overdue: its owner is alerted',
        unit='h', minimum=0.01)
    urgent_due_hours: float = option(4.0,
        'The same for urgent disputes (key 3)',
        unit='h', minimum=0.01)
    head_after_hours: float = option(24.0,
        'After the owner was alerted: alert the office head if still not resolved',
        unit='h', minimum=0.01)
    check_minutes: float = option(10.0,
        'How often overdue cases and cover gaps are checked',
        unit='min', minimum=0.01)
    summary_at: str = option('18:00',
        'Daily summary SMS to the office head at this time (empty: none)',
        pattern='(\\d{2}:\\d{2})?')
    next_steps: str = option('值班人员将在一个工作日内与您联系。', "What the caller's SMS says happens next")


@dataclass(frozen=True)
class SurveySection:
    """The caller's rating after a bridged call."""
    SECTION: ClassVar[str] = 'survey'
    enabled: bool = option(True,
        'After a bridged call the duty person ended, ask the caller for a 1-5 rating')
    alert_at_or_below: int = option(2,
        'Ratings this low or lower alert the office head',
        minimum=1, maximum=5)
    key_timeout: float = option(8.0, 'How long to wait for the rating key', unit='s', minimum=0.5)
    sms: bool = option(True,
        "When a case is resolved, text its caller (a mobile) a satisfaction survey to "
        'answer with 1-5; the answer is kept on the case, low ones alert the office head')
    sms_reply_days: float = option(7.0,
        'How long after the survey SMS an answer still counts',
        unit='days', minimum=0.1)


@dataclass(frozen=True)
class ReportSection:
    """When the periodic report is made (records/report.py)."""
    SECTION: ClassVar[str] = 'report'
    weekday: str = option('monday',
        'Weekly report (last Monday-Sunday) is made on this day',
        choices=('monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'))
    at: str = option('06:00',
        '...at this time; the monthly report on the 1st',
        pattern='\\d{2}:\\d{2}')


DEFAULT_TOPICS = ("婚姻家庭", "劳动争议", "土地纠纷", "债务合同", "交通事故", "邻里纠纷", "其他")


@dataclass(frozen=True)
class TopicsSection:
    """What callers ask about (records/measures.py, records/report.py): every call and case
    can carry one topic of this list."""
    SECTION: ClassVar[str] = 'topics'
    names: list[str] = option(list(DEFAULT_TOPICS),
        "Topics a call or case can carry, in the report's order: set by the duty person's "
        'SMS (主题 <case> <topic or its number in this list>), on the office page, or chosen '
        'by the caller in a sub-menu whose keys name one (topic = "劳动争议"); the weekly and '
        'monthly report groups by them')


@dataclass(frozen=True)
class CallbacksSection:
    """The callback list (records/calls.py): callers who hung up with no result."""
    SECTION: ClassVar[str] = 'callbacks'
    enabled: bool = option(True,
        'Put a caller who hung up while it rang, in the menu, while the duty phones rang or '
        'before the recording began (and showed a number) on the callback list; the duty '
        'person gets one SMS per number a day, in office hours (after hours: the next '
        'morning), and answers 回拨 <number> once they called back')
    min_wait: float = option(0.0,
        'Callers who gave up sooner than this are counted in the report but not listed '
        '(0: every one)',
        unit='s', minimum=0)


@dataclass(frozen=True)
class HealthSection:
    """The box's status to the office (records/health.py)."""
    SECTION: ClassVar[str] = 'health'
    at: str = option('08:00',
        "The box's daily status to the office (signal, trunk, uploads waiting, disk left) "
        'at this time; it is also sent when one of them changes (empty: only on changes)',
        pattern='(\\d{2}:\\d{2})?')
    check_minutes: float = option(5.0,
        'How often the box samples its health',
        unit='min', minimum=0.1)
    sms: bool = option(True, 'Send the status by SMS to [office] head_mobile')
    email: bool = option(True, 'Send it by e-mail too ([email] to), through the outbox')


@dataclass(frozen=True)
class SipSection:
    """The box's SIP user agent (sip/endpoint.py)."""
    SECTION: ClassVar[str] = 'sip'
    bind: str = option('127.0.0.1',
        "Address the SIP stack (and each call's RTP) listens on; 0.0.0.0 (every "
        'interface) only with a [trunk], and then warned about')
    port: int = option(5060,
        'UDP port of the SIP stack (0 = any free port)',
        minimum=0, maximum=65535)
    uri_template: str = option('sip:{number}@127.0.0.1:5070',
        'How a duty number becomes a SIP URI; {number} is replaced (a lab default: set '
        'it, or a [trunk] registrar)',
        office_sets=True)
    log_level: int = option(1,
        'pjsua2 log level (0-6); its lines go to the debug log',
        minimum=0, maximum=6)


@dataclass(frozen=True)
class TrunkSection:
    """The SIP trunk the box registers with (sip/trunk.py)."""
    SECTION: ClassVar[str] = 'trunk'
    registrar: str = option('',
        "SIP URI of the trunk's registrar, like sip:sip.example.cn (empty: no trunk; duty "
        'phones are called directly by [sip] uri_template)')
    outbound_proxy: str = option('',
        'SIP URI every request goes through, like sip:proxy.example.cn;lr (empty: none)')
    username: str = option('', 'Digest user name of the trunk account')
    domain: str = option('', "SIP domain of the account (empty: the registrar's host)")
    password_file: str = option('',
        'File holding the trunk password; it must be readable only by the service (chmod '
        '600)')
    caller_id: str = option('',
        'Number the duty phones see in From and P-Asserted-Identity (empty: [office] '
        'number)',
        pattern='(\\+?[0-9]{3,20})?')
    dial_template: str = option('sip:{number}@{domain}',
        'How a number becomes the request URI through the trunk ({number}, {domain})')
    expiry: int = option(300,
        'Registration lifetime asked of the registrar; pjsua2 registers again before it '
        'runs out',
        unit='s', minimum=5)
    keepalive: float = option(30.0,
        'Send the registrar an OPTIONS this often to notice an outage between '
        'registrations (0: off)',
        unit='s', minimum=0)
    reply_timeout: float = option(5.0,
        'No reply to a REGISTER or OPTIONS within this time: the trunk counts as '
        'unregistered',
        unit='s', minimum=0.5)
    retry_min: float = option(2.0,
        'First wait before registering again after a failure; it doubles each time',
        unit='s', minimum=0.5)
    retry_max: float = option(300.0,
        'Longest wait between registration attempts',
        unit='s', minimum=1)
    transport: str = option('udp', 'SIP transport to the trunk', choices=('udp', 'tls'))
    srtp: str = option('off',
        'Encrypt call audio with SRTP (SDES)',
        choices=('off', 'optional', 'mandatory'))
    ca_file: str = option('',
        'PEM file of the CA that signed the trunk\'s TLS certificate (transport = "tls"; '
        'the certificate and its name are always checked)')


@dataclass(frozen=True)
class VoicemailSection:
    """Recording a message."""
    SECTION: ClassVar[str] = 'voicemail'
    max_seconds: float = option(120.0, 'Longest message', unit='s', minimum=1)
    min_seconds: float = option(1.0,
        'Shorter messages are still kept, but flagged',
        unit='s', minimum=0)
    silence_seconds: float = option(8.0,
        'End the message after this long without the caller\'s voice (a phone put down '
        'without hanging up); on a V.253 modem its own detector too (AT+VSD, at most '
        '25.5 s); 0: only # or the longest message ends it',
        unit='s', minimum=0, maximum=600)
    silence_level: float = option(-45.0,
        "Below this level the caller's line counts as silent (RMS of a 20 ms frame)",
        unit='dBFS', minimum=-90, maximum=-10)


@dataclass(frozen=True)
class SpoolSection:
    """The spool partition's budget (sync/spool.py)."""
    SECTION: ClassVar[str] = 'spool'
    dir: str = option('/var/lib/lawline/spool',
        'Writable directory for voicemails, call records and the outbox')
    max_mb: float = option(2048.0,
        'Most the spool may hold; when a message no longer fits callers are told the box '
        'cannot record (nothing undelivered is ever deleted)',
        unit='MB', minimum=1)
    warn_percent: float = option(80.0,
        'Warn (log, lawline check) when the spool is this full',
        unit='%', minimum=1)
    min_free_mb: float = option(64.0,
        "Stop recording when the spool's partition has less free space than this",
        unit='MB', minimum=0)


@dataclass(frozen=True)
class OutboxSection:
    """What waits for upstream, and for how long (sync/outbox.py)."""
    SECTION: ClassVar[str] = 'outbox'
    retention_days: float = option(30.0,
        'Delete the spool files of items every target acknowledged once they are this old '
        '(never before)',
        unit='days', minimum=1)
    alert_after_hours: float = option(4.0,
        'Alert (log, and SMS to [office] head_mobile) when the oldest undelivered item is '
        'this old',
        unit='h', minimum=0.01)
    alert_every_hours: float = option(12.0,
        'Repeat that alert this often while it lasts',
        unit='h', minimum=0.1)
    backoff_cap: float = option(600.0,
        'Longest wait between retries of one delivery',
        unit='s', minimum=1)


@dataclass(frozen=True)
class UpstreamSection:
    """HTTPS PUT target (sync/http.py)."""
    SECTION: ClassVar[str] = 'upstream'
    url: str = option('',
        'Base URL voicemails and records are PUT to, as '
        '{url}/{office id}/{YYYY-MM-DD}/{key}/{file} (empty: no HTTPS target)')
    token_file: str = option('',
        'File holding the upstream bearer token (readable only by the service); empty: no '
        'token')
    timeout: float = option(20.0, 'Upload timeout per file', unit='s', minimum=1)
    ca_file: str = option('',
        "PEM file of the CA that signed the upstream's certificate, if not a public one "
        '(certificates are always checked)')
    username: str = option('', 'User name for HTTP basic auth (instead of a token)')
    password_file: str = option('', 'File holding the basic-auth password')
    allow_insecure: bool = option(False,
        'Allow a token or password over an http:// url (in clear: only on a private link; '
        'logged at every start)')


@dataclass(frozen=True)
class EmailSection:
    """E-mail target for voicemails (sync/mail.py)."""
    SECTION: ClassVar[str] = 'email'
    to: list[str] = option([],
        'Office mailbox(es) each voicemail is mailed to, WAV attached (empty: no e-mail)')
    complaint_to: list[str] = option([],
        'Supervisor mailbox(es) for complaints (key 5) instead of [email] to; empty: '
        '[email] to')
    leadership: list[str] = option([],
        'Leadership mailbox(es) the weekly and monthly report goes to, with its chart '
        '(empty: the report goes upstream only)')
    sender: str = option('', 'From address of the mails')
    host: str = option('', 'SMTP server')
    port: int = option(587,
        'SMTP port (587 submission with STARTTLS, 465 TLS)',
        minimum=1, maximum=65535)
    security: str = option('starttls',
        'starttls, tls (port 465) or none (no login then)',
        choices=('starttls', 'tls', 'none'))
    username: str = option('', 'SMTP login (empty: no AUTH)')
    password_file: str = option('', 'File holding the SMTP password')
    ca_file: str = option('', "CA of the SMTP server's certificate, if not a public one")
    timeout: float = option(30.0, 'SMTP timeout', unit='s', minimum=1)


@dataclass(frozen=True)
class S3Section:
    """S3 target (sync/s3.py)."""
    SECTION: ClassVar[str] = 's3'
    endpoint: str = option('',
        'S3-compatible server, as https://host[:port] (empty: no S3 target)')
    bucket: str = option('', 'Bucket the objects go to')
    prefix: str = option('', 'Object name prefix inside the bucket')
    region: str = option('us-east-1', 'Region used in the request signature')
    access_key: str = option('', 'Access key id')
    secret_file: str = option('', 'File holding the secret access key')
    ca_file: str = option('', "CA of the server's certificate, if not a public one")
    timeout: float = option(30.0, 'Upload timeout per object', unit='s', minimum=1)
    allow_insecure: bool = option(False,
        'Allow an http:// endpoint (requests and recordings in clear: only on a private '
        'link; logged at every start)')


@dataclass(frozen=True)
class PromptsSection:
    """Where the prompts are."""
    SECTION: ClassVar[str] = 'prompts'
    dir: str = option('', 'Prompt directory (contains zh-CN/); empty: the bundled prompts')
    language: str = option('zh-CN', 'Prompt language folder')


@dataclass(frozen=True)
class WebSection:
    """The office's web page (web/)."""
    SECTION: ClassVar[str] = 'web'
    bind: str = option('0.0.0.0',
        "Address the office's web page (lawline web) listens on: the LAN address, or "
        '0.0.0.0 for every interface')
    port: int = option(8443, "HTTPS port of the office's web page", minimum=1, maximum=65535)
    data_dir: str = option('',
        'Where the page keeps its accounts, sessions, audit log and certificate (empty: '
        'web/ in the spool)')
    cert_file: str = option('',
        'PEM certificate the page serves (empty: a self-signed one made at first start in '
        'data_dir)')
    key_file: str = option('', 'PEM private key of cert_file')
    session_minutes: float = option(30.0,
        'A login ends after this long without a page being opened',
        unit='min', minimum=1)
    max_failures: int = option(5,
        'Wrong passwords in a row that lock a name for a while (1 min, doubling with each '
        'lock up to 1 h; a browser that logged in with it before is not held, the head can '
        'unlock by SMS code)',
        minimum=1)
    address_failures: int = option(20,
        'Wrong passwords from one address within 10 minutes before that address must wait '
        '(10 min, doubling up to a day)',
        minimum=1)


@dataclass(frozen=True)
class HatSection:
    """The HAT's GPIO pins (hat.py)."""
    SECTION: ClassVar[str] = 'hat'
    power_key_pin: int = option(0,
        "BCM pin wired to the modem's power key (Waveshare SIM7600 HAT with the PWR-D6 "
        'jumper: 6); 0: the box cannot power-cycle the modem',
        minimum=0, maximum=27)
    power_key_seconds: float = option(2.0,
        'How long the power key is held to switch the module on (Waveshare: 2 s on, '
        'reference/modems.md 1.7)',
        unit='s', minimum=0.1)
    power_off_seconds: float = option(3.0,
        'How long it is held to switch the module off (Waveshare: 3 s)',
        unit='s', minimum=0.1)
    status_led_pin: int = option(0,
        'BCM pin of the status LED (on: ready; blinking: trouble); 0: none',
        minimum=0, maximum=27)


@dataclass(frozen=True)
class UpdateSection:
    """Field updates (update.py, README "Field updates"): RAUC bundles signed with the
    office's or vendor's key, into the root slot that is not running, tried once, kept only
    if healthy."""
    SECTION: ClassVar[str] = 'update'
    url: str = option('',
        'HTTPS address of the update bundle (*.raucb) the office or vendor publishes; the '
        'box asks it every poll_hours and installs a new version in the window (empty: no '
        'polling; `lawline update FILE|URL` and USB sticks still work)')
    ca_file: str = option('',
        "PEM file of the CA that signed that server's certificate (empty: the system's CAs)")
    poll_hours: float = option(6.0,
        'How often the box asks the url for a new bundle',
        unit='h', minimum=0.25)
    window: str = option('02:00-05:00',
        'When (office time, HH:MM-HH:MM, past midnight allowed) a polled update is installed '
        'and the box restarts; never during a call',
        pattern='[0-9]{2}:[0-9]{2}-[0-9]{2}:[0-9]{2}')
    health_minutes: float = option(10.0,
        'How long a new version has on its first boot to be healthy (READY, modems '
        'answering, trunk registered, lawline check without a new FAIL) before the box goes '
        'back to the old one',
        unit='min', minimum=1)
    usb: bool = option(True, 'Install the update bundle on a USB stick plugged into the box')
    dir: str = option('/data/update',
        "Where downloads and the record of update attempts are kept (the image's data "
        'partition)')


@dataclass(frozen=True)
class ReferralTable:
    """One [[referral]] department (key 4); every option is required."""
    SECTION: ClassVar[str] = 'referral'
    name: str = option('', 'Department the caller is referred to (key 4)')
    phone: str = option('', 'Its phone number, as the caller should dial it')
    address: str = option('', 'Its address')
    hours: str = option('', 'When it is open, in words (周一至周五 9:00-17:00)')
    sms: str = option('',
        'Mobile that gets each case referred to it by SMS with a reply code; the '
        "department's reply from it (the code, then the result) closes the case (empty: "
        'no SMS)',
        pattern='(\\+?[0-9]{5,20})?', required=False)
    email: str = option('',
        'Mailbox that gets each case referred to it with its reply code (through [email]; '
        'empty: none)',
        required=False)


# -- the office's duties to a result (issue 17: on-site service, referral hand-off, the
#    outcome told, staff availability; records/duties.py) ------------------------------

@dataclass(frozen=True)
class OnsiteSection:
    """On-site service (上门服务): a service request dispatched to a [[provider]] with an
    appointment (records/duties.py)."""
    SECTION: ClassVar[str] = 'onsite'
    missed_after_minutes: float = option(60.0,
        'An appointment nobody reported arriving at (到场) this long after its time alerts '
        "the office head and the case's owner",
        unit='min', minimum=1)


@dataclass(frozen=True)
class HandoffSection:
    """A referral handed to its department, and checked back (records/duties.py)."""
    SECTION: ClassVar[str] = 'handoff'
    reply_working_days: int = option(3,
        "Working days (the holiday calendar's, 调休 included) a department has to reply "
        'with the case\'s code before the office head is alerted',
        unit='days', minimum=1, maximum=60)
    mobiles_per_call: int = option(2,
        "Mobiles a caller may key in one call to have a department's phone and address "
        'sent there by SMS (never dialled; the dial plan decides what is a mobile)',
        minimum=0, maximum=5)


@dataclass(frozen=True)
class ResultsSection:
    """The result the office wrote, as the caller gets it (records/messages.plain_result)."""
    SECTION: ClassVar[str] = 'results'
    sms_max_chars: int = option(120,
        "Longest result in the caller's closing SMS; a longer one is cut and ends with …",
        unit='characters', minimum=10, maximum=600)
    replace: list[str] = option(['结案=>办结', '转办=>转交有关部门办理', '来电人=>您',
                                 '当事人=>您'],
        "The office's wording rules: 'word=>plain words' applied to a result before the "
        'caller reads or hears it (internal words out, plain words in)')
    mask_mobiles: bool = option(True,
        "Mobile numbers in a result are masked (139****0001) before the caller gets it: "
        'staff write their own numbers into notes')
    tell_by_phone: bool = option(True,
        'A caller keying 9 on the phone that opened a resolved case hears the result too '
        '(spoken by espeak-ng), and a caller nobody could text is then counted as told')


@dataclass(frozen=True)
class AvailabilitySection:
    """Staff signing off and on, and the line's night or day mode, by SMS or on the page
    (records/duties.py, duty/desk.py)."""
    SECTION: ClassVar[str] = 'availability'
    mode_default_hours: float = option(12.0,
        "Night or day mode the office head sets without an end time lasts this long, then "
        'the office hours rule again',
        unit='h', minimum=0.1, maximum=168)
    sign_off_max_hours: float = option(72.0,
        'A sign-off (休息) without an end time, or a longer one, ends after this long',
        unit='h', minimum=0.1, maximum=720)


@dataclass(frozen=True)
class ProviderTable:
    """One [[provider]]: a law firm, notary office, grassroots legal-service office or
    judicial office a service request can be dispatched to (上门服务)."""
    SECTION: ClassVar[str] = 'provider'
    name: str = option('', 'Name of the person or organisation (张律师（某某律师事务所）)')
    kind: str = option('other',
        'What it is',
        choices=('law_firm', 'notary', 'legal_service', 'judicial_office', 'other'),
        required=False)
    mobile: str = option('',
        'Contact mobile: the appointment goes there by SMS, and 到场/结案 come from it',
        pattern='\\+?[0-9]{5,20}')
    email: str = option('', 'Contact e-mail (shown on the page)', required=False)
    area: str = option('', 'Area it serves (城关镇), shown when dispatching', required=False)


# -- the telephone's duties (issue 17: the urgent ladder, the 1600148 switchboard, call
#    recording with consent) --------------------------------------------------------------

@dataclass(frozen=True)
class LadderSection:
    """The urgent ladder (key 3, call/script.py): when no mediator accepts within [duty]
    ring_timeout, who is called next, each with the urgent whisper and "press 1"."""
    SECTION: ClassVar[str] = 'ladder'
    steps: list[str] = option(['head', 'prefecture'],
        "Who is called, in this order, when no mediator accepts an urgent dispute: 'head' "
        "([office] head_mobile), 'prefecture' ([ladder] prefecture_number), 'switchboard' "
        '(the call is handed to [switchboard] number and leaves the county); a step without '
        'a number is skipped; empty: straight to voicemail as before')
    prefecture_number: str = option('',
        "The prefecture's duty number for urgent disputes (inside the dial plan); empty: "
        "the 'prefecture' step is skipped",
        pattern='(\\+?[0-9]{5,20})?')
    ring_timeout: float = option(20.0,
        'How long each step of the ladder rings before the next is called',
        unit='s', minimum=1)


@dataclass(frozen=True)
class SwitchboardSection:
    """The prefecture's 1600148 switchboard, both ways (sip/switchboard.py): calls nobody
    accepts after hours are handed up to it over the trunk, and calls it transfers down are
    taken straight to their branch."""
    SECTION: ClassVar[str] = 'switchboard'
    number: str = option('',
        "The switchboard's number as the trunk dials it (1600148, or with the area code); "
        'the one 160 number the dial plan lets through, and only for this (empty: no '
        'switchboard)',
        pattern='(\\+?[0-9]{3,20})?')
    overflow_after_hours: bool = option(True,
        'Outside office hours, when no night duty accepts, hand the call to the switchboard '
        '(with a whisper naming the county and the caller) instead of taking a voicemail')
    accept_transfers: bool = option(True,
        'Answer calls the switchboard transfers down through the trunk (From: its number); '
        'every other incoming call stays refused with 403')
    reason_header: str = option('X-Transfer-Reason',
        'SIP header in which the switchboard says why it transfers (a branch or a code of '
        'reasons); also sent up with an overflow',
        pattern='[A-Za-z][A-Za-z0-9-]{0,63}')
    reasons: list[str] = option(['1=consultation', '2=service_request', '3=urgent',
                                 '4=referral', '5=complaint', '9=case_status'],
        "Reason codes the switchboard sends (in the header or as DTMF digits ending with #): "
        "'CODE=branch'; a branch name in the header works too")
    code_seconds: float = option(3.0,
        'Without a reason header: how long to wait for a DTMF reason code after answering '
        'before the menu plays',
        unit='s', minimum=0)
    ring_timeout: float = option(30.0,
        'How long the switchboard may ring when a call is handed up to it',
        unit='s', minimum=1)
    max_calls: int = option(2,
        'Calls transferred down that may be up at once; more are answered 486 busy',
        unit='calls', minimum=1, maximum=16)


@dataclass(frozen=True)
class RecordingSection:
    """Recording bridged calls, with the caller's consent (off by default)."""
    SECTION: ClassVar[str] = 'recording'
    enabled: bool = option(False,
        'Record bridged calls (both sides) to the spool and upstream; callers hear the '
        'recording notice before the menu')
    keep_days: float = option(90.0,
        'Recordings are deleted from the box this long after every target acknowledged '
        'them (never before)',
        unit='days', minimum=1)
    play_roles: list[str] = option(['head'],
        "Office page roles that may play and download recordings (head, clerk, duty); "
        'every listening is audited')


class Section(Protocol):
    """A section or a [[table]] entry, as the loader makes it (config.from_dict): named by
    SECTION in the file, made from its values once each is checked against its option."""
    SECTION: ClassVar[str]

    def __init__(self, **values: Any) -> None: ...


# The sections in the order the example file shows them, and the [[name]] tables.
SECTIONS: tuple[type[Section], ...] = (
    OfficeSection, LineSection, MenuSection, LimitsSection, DutySection, DialplanSection,
    HoursSection, CalendarSection, CasesSection, SurveySection, ReportSection, TopicsSection,
    CallbacksSection, HealthSection,
    SipSection, TrunkSection, VoicemailSection, SpoolSection, OutboxSection, UpstreamSection,
    EmailSection, S3Section, PromptsSection, WebSection, HatSection)
# issue 17 (the office's duties)
SECTIONS += (OnsiteSection, HandoffSection, ResultsSection, AvailabilitySection)
# issue 17 (the telephone's duties)
SECTIONS += (LadderSection, SwitchboardSection, RecordingSection)
# issue 20 (field updates)
SECTIONS += (UpdateSection,)
TABLES: dict[str, type[Section]] = {"referral": ReferralTable}
TABLES["provider"] = ProviderTable
