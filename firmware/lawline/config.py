"""The box's configuration: one TOML file, read once and strictly.

Every option is declared here with its type, unit, default and a line of documentation; the
example file (`lawline config --example`) is generated from the same table, so the two never
disagree. Errors name the section and the option; unknown keys are errors, because a typo is
the commonest installer mistake (STYLE.md 7).
"""

import math
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Raspberry Pi OS bullseye and older
    import tomli as tomllib

from .errors import ConfigError
from .sip.dialplan import DEFAULT_ALLOW as DEFAULT_DIAL_ALLOW

REPO_PROMPTS = Path(__file__).resolve().parents[2] / "prompts"


@dataclass(frozen=True)
class Option:
    name: str
    kind: type          # str, int, float, bool, list (of str)
    default: object
    doc: str
    unit: str = ""
    minimum: float = None
    maximum: float = None
    choices: tuple = None
    pattern: str = None
    office_sets: bool = False   # a lab default every office must replace (lawline check)


def _o(*args, **kw):
    return Option(*args, **kw)


SCHEMA = {
    "office": [
        _o("id", str, "county-0148", "Short name of this line; upstream paths start with it",
           pattern=r"[A-Za-z0-9._-]{1,64}", office_sets=True),
        _o("name", str, "县法律服务专线", "Name of the line, for logs and reports"),
        _o("number", str, "07730148", "The line's own phone number", pattern=r"\+?[0-9]{3,20}",
           office_sets=True),
        _o("head_mobile", str, "",
           "Mobile of the office head: cover gaps, overdue cases, complaints, low ratings and "
           "the daily summary go there by SMS (empty: log only)", pattern=r"(\+?[0-9]{5,20})?",
           office_sets=True),
        _o("timezone", str, "Asia/Shanghai", "Time zone of the office (IANA name): office "
           "hours and the duty rota follow it, whatever the system's time zone is"),
        _o("area_code", str, "", "The county's telephone area code with its 0, like 0773 "
           "(empty: the one [office] number starts with); the dial plan's {area}",
           pattern=r"(0[0-9]{2,3})?"),
    ],
    "line": [
        _o("profile", str, "simcom-sim7600", "Modem model",
           choices=("simcom-sim7600", "quectel-ec25", "v253")),
        _o("at_port", str, "/dev/ttyUSB2", "Serial port for AT commands (best: the stable "
           "name board/99-lawline-modem.rules makes, /dev/lawline-at)"),
        _o("audio_port", str, "/dev/ttyUSB4", "Serial port carrying call audio (PCM); "
           "/dev/lawline-audio with the udev rules; for a V.253 modem the same as at_port"),
        _o("audio_backend", str, "profile", "Where call audio flows: 'profile' (the modem's "
           "own: serial PCM port, or in-band on a V.253 port), 'serial', or 'soundcard' "
           "(EC25 in USB-audio mode, or a codec HAT)",
           choices=("profile", "serial", "soundcard")),
        _o("sound_device", str, "", "Sound-card device for audio_backend = 'soundcard' (a "
           "PortAudio/ALSA name, e.g. 'hw:CARD=Android,DEV=0' for the EC25)"),
        _o("health_interval", float, 30.0, "How often an idle modem is asked 'AT' to check "
           "that it still answers", "s", minimum=1.0),
        _o("health_timeout", float, 3.0, "How long that 'AT' may take before the modem "
           "counts as not answering", "s", minimum=0.1),
        _o("recovery_max_backoff", float, 300.0, "Longest wait between attempts to bring "
           "back a modem that stopped answering or whose port went away", "s", minimum=1.0),
        _o("reset_after_hangup", bool, False, "Reset the module after every call (SIM7600 "
           "firmware whose audio degrades from the second call on; reference/modems.md 5.1)"),
        _o("answer_after_rings", int, 1, "Answer after this many rings", "rings", minimum=1),
        _o("command_timeout", float, 5.0, "How long the modem may take to answer a command",
           "s", minimum=0.1),
        _o("audio_retry_delay", float, 1.0,
           "Wait between refused attempts to open call audio (SIM7600 refuses CPCMREG until "
           "the call is fully up)", "s", minimum=0.0),
    ],
    "menu": [
        _o("key_timeout", float, 6.0, "How long to wait for a key after the menu", "s",
           minimum=0.5),
        _o("max_tries", int, 3, "Invalid keys, silences and repeats (key 0) before the box "
           "says goodbye", minimum=1),
        _o("prompt", str, "menu", "Prompt the menu plays after the greeting (its keys are in "
           "[menu.keys], call/menu.py)", pattern=r"[a-z0-9_]{1,64}"),
    ],
    # Abuse limits (call/script.py, records/limits.py): each hit is logged and counted in the
    # periodic report. "Per number" is per call for a withheld caller (withheld_callers).
    "limits": [
        _o("max_call_seconds", float, 3600.0, "Longest call, from answer to hang-up, bridged "
           "time included; then goodbye and the line is free again", "s", minimum=30),
        _o("cases_per_number_per_day", int, 6, "Cases one calling number may open in a day; "
           "after that it hears that it should call again tomorrow (key 9 still works)",
           "cases", minimum=1),
        _o("sms_per_number_per_day", int, 10, "SMS the box sends one number in a day (office "
           "staff in the rota and the office head are not counted); more are dropped",
           "SMS", minimum=1),
        _o("ring_alls_per_number_per_day", int, 3, "Urgent disputes (key 3) one calling "
           "number may ring every mediator with in a day; after that it goes straight to "
           "voicemail", "ring-alls", minimum=1),
        _o("withheld_callers", str, "per_call", "Daily limits for callers without caller "
           "ID: 'per_call' (each withheld call is its own caller: on an analog line without "
           "caller-ID service every caller is withheld) or 'pooled' (all withheld callers of "
           "the day share one number's allowance)", choices=("per_call", "pooled")),
        _o("sms_per_hour", int, 60, "SMS to callers the box sends in any hour, all numbers "
           "together; more wait in the queue until the hour allows. Staff alerts are not "
           "counted and always go first", "SMS", minimum=1),
        _o("status_tries_per_call", int, 3, "Case numbers (or PINs) a caller may key for "
           "case status (key 9) in one call", "tries", minimum=1),
        _o("status_tries_per_number_per_day", int, 10, "Wrong case status tries one calling "
           "number may make in a day; after that key 9 tells it nothing until tomorrow",
           "tries", minimum=1),
        _o("wrong_pins_per_number_per_day", int, 5, "Wrong case PINs one calling number "
           "may key in a day, over all cases; after that key 9 asks it no more PINs until "
           "tomorrow", "tries", minimum=1),
        _o("wrong_pins_per_case_per_day", int, 5, "Wrong PINs keyed for one case, from any "
           "numbers, before its PIN is changed: the new PIN goes by SMS to the case's caller "
           "and the office head is told the case is being guessed at (never a lock-out of the "
           "rightful caller)", "tries", minimum=1),
    ],
    "duty": [
        _o("numbers", list, ["13900000001"],
           "Mobile numbers of the duty lawyers, called in this order for key 1",
           office_sets=True),
        _o("ring_timeout", float, 20.0, "How long each duty phone may ring", "s", minimum=1),
        _o("confirm_timeout", float, 10.0,
           "After a duty phone answers: time to press 1 before it counts as not answered",
           "s", minimum=1),
        _o("mediators", list, [],
           "Mobile numbers of the mediators, all rung at once for an urgent dispute (key 3) "
           "when no rota names them"),
        _o("referrals", list, [],
           "Other numbers the box may call (departments it transfers to); the box dials "
           "nothing outside the duty lists, the rota and this list"),
        _o("rota_files", list, [],
           "Duty rota files (CSV or XLSX: date,shift,name,role,mobile[,staff_no], or "
           "weekday,... for a weekly pattern); empty: ring [duty] numbers"),
        _o("shifts", list, ["day 08:30-17:30", "night 17:30-08:30"],
           "Shifts: 'NAME HH:MM-HH:MM [all|workdays|restdays]'; an end before the start "
           "ends the next morning"),
        _o("pattern_anchor", str, "2024-01-01",
           "A Monday: week 1 of a multi-week pattern (rota 'week' column) starts then",
           pattern=r"\d{4}-\d{2}-\d{2}"),
        _o("gap_days", int, 7, "Warn about shifts nobody covers this many days ahead", "days",
           minimum=0, maximum=366),
        _o("required_roles", list, ["lawyer"],
           "Roles every shift needs (lawyer, mediator): a shift without one is a gap"),
    ],
    # What the box may ever dial (sip/dialplan.py): duty lists and rota rows outside it are
    # errors. International, premium, information-service, satellite and service-number
    # prefixes are barred whatever these say.
    "dialplan": [
        _o("allow", list, list(DEFAULT_DIAL_ALLOW),
           "Numbers the box may dial, whole numbers in national form (+86 dropped): digits, "
           "X any digit, [2-9] one digit of a range, {area} the area code; default: mobiles "
           "and the county's landlines"),
        _o("deny", list, [], "Beginnings of numbers never to dial, on top of the built-in "
           "barred prefixes (00 and + abroad, 1259X, 16x but the mobile 162/165/166/167, "
           "179XX, 95, 96, satellite 1349 and 174), like [\"0773110\"]"),
    ],
    "hours": [
        _o("always_open", bool, False, "Staffed around the clock (7x24): never play the "
           "after-hours greeting, whatever the hours and holidays below say"),
        _o("monday", str, "08:30-12:00,13:30-17:30", "Office hours on a working Monday "
           "(ranges, comma-separated; empty: closed)"),
        _o("tuesday", str, "08:30-12:00,13:30-17:30", "Office hours on a working Tuesday"),
        _o("wednesday", str, "08:30-12:00,13:30-17:30", "Office hours on a working Wednesday"),
        _o("thursday", str, "08:30-12:00,13:30-17:30", "Office hours on a working Thursday"),
        _o("friday", str, "08:30-12:00,13:30-17:30", "Office hours on a working Friday"),
        _o("saturday", str, "", "Office hours on an ordinary Saturday"),
        _o("sunday", str, "", "Office hours on an ordinary Sunday"),
        _o("makeup_day", str, "08:30-12:00,13:30-17:30",
           "Office hours on a make-up working Saturday or Sunday (调休)"),
    ],
    "calendar": [
        _o("holidays_file", str, "",
           "Local holiday file (TOML: off = [dates], on = [dates], years = [years it covers]); "
           "it wins over the national calendar"),
        _o("warn_from", str, "12-01",
           "From this day (MM-DD) warn when next year's holiday data is missing",
           pattern=r"\d{2}-\d{2}"),
    ],
    "cases": [
        _o("due_hours", float, 72.0, "A case not resolved this long after it opened is "
           "overdue: its owner is alerted", "h", minimum=0.01),
        _o("urgent_due_hours", float, 4.0, "The same for urgent disputes (key 3)", "h",
           minimum=0.01),
        _o("head_after_hours", float, 24.0,
           "After the owner was alerted: alert the office head if still not resolved", "h",
           minimum=0.01),
        _o("check_minutes", float, 10.0, "How often overdue cases and cover gaps are checked",
           "min", minimum=0.01),
        _o("summary_at", str, "18:00", "Daily summary SMS to the office head at this time "
           "(empty: none)", pattern=r"(\d{2}:\d{2})?"),
        _o("next_steps", str, "值班人员将在一个工作日内与您联系。",
           "What the caller's SMS says happens next"),
    ],
    "survey": [
        _o("enabled", bool, True, "After a bridged call the duty person ended, ask the "
           "caller for a 1-5 rating"),
        _o("alert_at_or_below", int, 2, "Ratings this low or lower alert the office head",
           minimum=1, maximum=5),
        _o("key_timeout", float, 8.0, "How long to wait for the rating key", "s",
           minimum=0.5),
    ],
    "report": [
        _o("weekday", str, "monday", "Weekly report (last Monday-Sunday) is made on this day",
           choices=("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                    "sunday")),
        _o("at", str, "06:00", "...at this time; the monthly report on the 1st",
           pattern=r"\d{2}:\d{2}"),
    ],
    "health": [
        _o("at", str, "08:00", "The box's daily status to the office (signal, trunk, uploads "
           "waiting, disk left) at this time; it is also sent when one of them changes "
           "(empty: only on changes)", pattern=r"(\d{2}:\d{2})?"),
        _o("check_minutes", float, 5.0, "How often the box samples its health", "min",
           minimum=0.1),
        _o("sms", bool, True, "Send the status by SMS to [office] head_mobile"),
        _o("email", bool, True, "Send it by e-mail too ([email] to), through the outbox"),
    ],
    "sip": [
        _o("bind", str, "127.0.0.1", "Address the SIP stack (and each call's RTP) listens on; "
           "0.0.0.0 (every interface) only with a [trunk], and then warned about"),
        _o("port", int, 5060, "UDP port of the SIP stack (0 = any free port)", minimum=0,
           maximum=65535),
        _o("uri_template", str, "sip:{number}@127.0.0.1:5070",
           "How a duty number becomes a SIP URI; {number} is replaced (a lab default: "
           "set it, or a [trunk] registrar)", office_sets=True),
        _o("log_level", int, 1, "pjsua2 log level (0-6); its lines go to the debug log",
           minimum=0, maximum=6),
    ],
    "trunk": [
        _o("registrar", str, "", "SIP URI of the trunk's registrar, like sip:sip.example.cn "
           "(empty: no trunk; duty phones are called directly by [sip] uri_template)"),
        _o("outbound_proxy", str, "", "SIP URI every request goes through, like "
           "sip:proxy.example.cn;lr (empty: none)"),
        _o("username", str, "", "Digest user name of the trunk account"),
        _o("domain", str, "", "SIP domain of the account (empty: the registrar's host)"),
        _o("password_file", str, "", "File holding the trunk password; it must be readable "
           "only by the service (chmod 600)"),
        _o("caller_id", str, "", "Number the duty phones see in From and P-Asserted-Identity "
           "(empty: [office] number)", pattern=r"(\+?[0-9]{3,20})?"),
        _o("dial_template", str, "sip:{number}@{domain}",
           "How a number becomes the request URI through the trunk ({number}, {domain})"),
        _o("expiry", int, 300, "Registration lifetime asked of the registrar; pjsua2 "
           "registers again before it runs out", "s", minimum=5),
        _o("keepalive", float, 30.0, "Send the registrar an OPTIONS this often to notice an "
           "outage between registrations (0: off)", "s", minimum=0),
        _o("reply_timeout", float, 5.0, "No reply to a REGISTER or OPTIONS within this time: "
           "the trunk counts as unregistered", "s", minimum=0.5),
        _o("retry_min", float, 2.0, "First wait before registering again after a failure; "
           "it doubles each time", "s", minimum=0.5),
        _o("retry_max", float, 300.0, "Longest wait between registration attempts", "s",
           minimum=1),
        _o("transport", str, "udp", "SIP transport to the trunk", choices=("udp", "tls")),
        _o("srtp", str, "off", "Encrypt call audio with SRTP (SDES)",
           choices=("off", "optional", "mandatory")),
        _o("ca_file", str, "", "PEM file of the CA that signed the trunk's TLS certificate "
           "(transport = \"tls\"; the certificate and its name are always checked)"),
    ],
    "voicemail": [
        _o("max_seconds", float, 120.0, "Longest message", "s", minimum=1),
        _o("min_seconds", float, 1.0, "Shorter messages are still kept, but flagged", "s",
           minimum=0),
    ],
    "spool": [
        _o("dir", str, "/var/lib/lawline/spool",
           "Writable directory for voicemails, call records and the outbox"),
        _o("max_mb", float, 2048.0, "Most the spool may hold; when a message no longer fits "
           "callers are told the box cannot record (nothing undelivered is ever deleted)",
           "MB", minimum=1),
        _o("warn_percent", float, 80.0, "Warn (log, lawline check) when the spool is this "
           "full", "%", minimum=1),
        _o("min_free_mb", float, 64.0, "Stop recording when the spool's partition has less "
           "free space than this", "MB", minimum=0),
    ],
    "outbox": [
        _o("retention_days", float, 30.0, "Delete the spool files of items every target "
           "acknowledged once they are this old (never before)", "days", minimum=1),
        _o("alert_after_hours", float, 4.0, "Alert (log, and SMS to [office] head_mobile) "
           "when the oldest undelivered item is this old", "h", minimum=0.01),
        _o("alert_every_hours", float, 12.0, "Repeat that alert this often while it lasts",
           "h", minimum=0.1),
        _o("backoff_cap", float, 600.0, "Longest wait between retries of one delivery", "s",
           minimum=1),
    ],
    "upstream": [
        _o("url", str, "", "Base URL voicemails and records are PUT to, as "
           "{url}/{office id}/{YYYY-MM-DD}/{key}/{file} (empty: no HTTPS target)"),
        _o("token_file", str, "", "File holding the upstream bearer token (readable only by "
           "the service); empty: no token"),
        _o("timeout", float, 20.0, "Upload timeout per file", "s", minimum=1),
        _o("ca_file", str, "", "PEM file of the CA that signed the upstream's certificate, "
           "if not a public one (certificates are always checked)"),
        _o("username", str, "", "User name for HTTP basic auth (instead of a token)"),
        _o("password_file", str, "", "File holding the basic-auth password"),
        _o("allow_insecure", bool, False, "Allow a token or password over an http:// url "
           "(in clear: only on a private link; logged at every start)"),
    ],
    "email": [
        _o("to", list, [], "Office mailbox(es) each voicemail is mailed to, WAV attached "
           "(empty: no e-mail)"),
        _o("complaint_to", list, [], "Supervisor mailbox(es) for complaints (key 5) "
           "instead of [email] to; empty: [email] to"),
        _o("sender", str, "", "From address of the mails"),
        _o("host", str, "", "SMTP server"),
        _o("port", int, 587, "SMTP port (587 submission with STARTTLS, 465 TLS)", minimum=1,
           maximum=65535),
        _o("security", str, "starttls", "starttls, tls (port 465) or none (no login then)",
           choices=("starttls", "tls", "none")),
        _o("username", str, "", "SMTP login (empty: no AUTH)"),
        _o("password_file", str, "", "File holding the SMTP password"),
        _o("ca_file", str, "", "CA of the SMTP server's certificate, if not a public one"),
        _o("timeout", float, 30.0, "SMTP timeout", "s", minimum=1),
    ],
    "s3": [
        _o("endpoint", str, "", "S3-compatible server, as https://host[:port] (empty: no "
           "S3 target)"),
        _o("bucket", str, "", "Bucket the objects go to"),
        _o("prefix", str, "", "Object name prefix inside the bucket"),
        _o("region", str, "us-east-1", "Region used in the request signature"),
        _o("access_key", str, "", "Access key id"),
        _o("secret_file", str, "", "File holding the secret access key"),
        _o("ca_file", str, "", "CA of the server's certificate, if not a public one"),
        _o("timeout", float, 30.0, "Upload timeout per object", "s", minimum=1),
        _o("allow_insecure", bool, False, "Allow an http:// endpoint (requests and "
           "recordings in clear: only on a private link; logged at every start)"),
    ],
    "prompts": [
        _o("dir", str, "", "Prompt directory (contains zh-CN/); empty: the bundled prompts"),
        _o("language", str, "zh-CN", "Prompt language folder"),
    ],
    "web": [
        _o("bind", str, "0.0.0.0", "Address the office's web page (lawline web) listens on: "
           "the LAN address, or 0.0.0.0 for every interface"),
        _o("port", int, 8443, "HTTPS port of the office's web page", minimum=1,
           maximum=65535),
        _o("data_dir", str, "", "Where the page keeps its accounts, sessions, audit log and "
           "certificate (empty: web/ in the spool)"),
        _o("cert_file", str, "", "PEM certificate the page serves (empty: a self-signed one "
           "made at first start in data_dir)"),
        _o("key_file", str, "", "PEM private key of cert_file"),
        _o("session_minutes", float, 30.0, "A login ends after this long without a page "
           "being opened", "min", minimum=1),
        _o("max_failures", int, 5, "Wrong passwords in a row that lock an account until "
           "the office head unlocks it", minimum=1),
        _o("address_failures", int, 20, "Wrong passwords from one address within 10 "
           "minutes before that address must wait", minimum=1),
    ],
    "hat": [
        _o("power_key_pin", int, 0, "BCM pin wired to the modem's power key (Waveshare "
           "SIM7600 HAT with the PWR-D6 jumper: 6); 0: the box cannot power-cycle the modem",
           minimum=0, maximum=27),
        _o("power_key_seconds", float, 2.0, "How long the power key is held to switch the "
           "module on (Waveshare: 2 s on, reference/modems.md 1.7)", "s", minimum=0.1),
        _o("power_off_seconds", float, 3.0, "How long it is held to switch the module off "
           "(Waveshare: 3 s)", "s", minimum=0.1),
        _o("status_led_pin", int, 0, "BCM pin of the status LED (on: ready; blinking: "
           "trouble); 0: none", minimum=0, maximum=27),
    ],
}

# Sections written as TOML arrays of tables ([[referral]]): each entry has these options.
# [[line]] tables (several lines in one box, one modem each) take every [line] option and these.
LINE_OPTIONS = [
    _o("number", str, "", "This line's own phone number (line 1: [office] number when empty)",
       pattern=r"(\+?[0-9]{3,20})?"),
    _o("status_led_pin", int, 0, "BCM GPIO pin of this line's status LED (0: none; line 1 "
       "also takes [hat] status_led_pin)", minimum=0, maximum=27),
]

TABLES = {
    "referral": [
        _o("name", str, "", "Department the caller is referred to (key 4)"),
        _o("phone", str, "", "Its phone number, as the caller should dial it"),
        _o("address", str, "", "Its address"),
        _o("hours", str, "", "When it is open, in words (周一至周五 9:00-17:00)"),
    ],
}


class Section:
    def __init__(self, name, values):
        self._name = name
        self.__dict__.update(values)

    def __repr__(self):
        return f"<[{self._name}] {vars(self)}>"


class Config:
    def __init__(self, sections, path=None):
        self.path = path
        for name, values in sections.items():
            setattr(self, name, Section(name, values))

    @property
    def spool_dir(self):
        return Path(self.spool.dir)

    @property
    def prompts_dir(self):
        base = Path(self.prompts.dir) if self.prompts.dir else REPO_PROMPTS
        return base / self.prompts.language

    def upstream_token(self):
        if not self.upstream.token_file:
            return None
        from .secretfile import read_secret   # refused when others may read the file
        return read_secret(self.upstream.token_file, "upstream", "token_file")


# Sanity bounds for what no option needs more of: a typo like 1e300 or a pasted blob fails at
# load, not later inside a timer, a loop over days, or a log line.
LARGEST = 10 ** 9
LONGEST_TEXT = 4096
LONGEST_LIST = 1000
LARGEST_FILE = 1024 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _shown(value):
    """A value for an error message: short, and never a 5000-digit integer (which Python
    refuses to turn into text)."""
    if isinstance(value, int) and abs(value) > LARGEST:
        return f"a {value.bit_length()}-bit number"
    return repr(value)[:80]


def _check_text(where, value):
    if len(value) > LONGEST_TEXT:
        raise ConfigError(f"{where} is {len(value)} characters long; at most {LONGEST_TEXT}")
    if _CONTROL.search(value):
        raise ConfigError(f"{where}: {value[:80]!r} contains a control character")


def _check(section, opt, value):
    where = f"option '{opt.name}' in section [{section}]"
    kind = opt.kind
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value) if abs(value) <= LARGEST else math.inf
    if kind is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings, like [\"13900000001\"]")
        if len(value) > LONGEST_LIST:
            raise ConfigError(f"{where} has {len(value)} entries; at most {LONGEST_LIST}")
        for item in value:
            _check_text(where, item)
    elif not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where} must be {kind.__name__}, not {type(value).__name__} "
                          f"({_shown(value)})")
    if kind is str:
        _check_text(where, value)
    if kind in (int, float):
        if isinstance(value, float) and not math.isfinite(value):  # nan passes any test below
            raise ConfigError(f"{where} must be a number, not {value!r}")
        largest = LARGEST if opt.maximum is None else opt.maximum
        if value > largest:
            raise ConfigError(f"{where} must be at most {largest:g}"
                              f"{opt.unit and ' ' + opt.unit}, not {_shown(value)}")
    if opt.minimum is not None and value < opt.minimum:
        raise ConfigError(f"{where} must be at least {opt.minimum:g}{opt.unit and ' ' + opt.unit}"
                          f", not {_shown(value)}")
    if opt.choices and value not in opt.choices:
        raise ConfigError(f"{where} must be one of {', '.join(opt.choices)}; not {value!r}")
    # ASCII digits only: \d would take ٠-٩ and full-width digits too
    if opt.pattern and not re.fullmatch(opt.pattern, value, re.ASCII):
        raise ConfigError(f"{where}: {value!r} is not a valid {opt.doc.lower()}")
    return value


def _check_trunk(trunk):
    """[trunk] options that only make sense together (the password file itself is read,
    and its mode checked, when the box starts: sip/trunk.py)."""
    if not trunk["registrar"]:
        return
    for name in ("username", "password_file"):
        if not trunk[name]:
            raise ConfigError(f"option '{name}' in section [trunk] is required when "
                              "'registrar' is set")
    for name in ("registrar", "outbound_proxy"):
        if trunk[name] and not re.match(r"sips?:", trunk[name]):
            raise ConfigError(f"option '{name}' in section [trunk] must be a SIP URI like "
                              f"sip:sip.example.cn, not {trunk[name]!r}")
    if "{number}" not in trunk["dial_template"]:
        raise ConfigError("option 'dial_template' in section [trunk] must contain {number}")
    if trunk["transport"] == "tls" and not trunk["ca_file"]:
        raise ConfigError("option 'ca_file' in section [trunk] is required with "
                          "transport = \"tls\" (the trunk's certificate is always checked)")
    if trunk["retry_max"] < trunk["retry_min"]:
        raise ConfigError("option 'retry_max' in section [trunk] must be at least retry_min")


def _check_timezone(name):
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"option 'timezone' in section [office]: {name!r} is not a time zone "
                          "name like Asia/Shanghai") from None


def still_lab_defaults(config):
    """Options every office must set that still hold the example's lab value, as
    "[section] option" strings (lawline check warns about them)."""
    out = []
    for section, options in SCHEMA.items():
        for opt in options:
            if not opt.office_sets:
                continue
            if section == "sip" and opt.name == "uri_template" and config.trunk.registrar:
                continue    # duty phones are reached through the trunk
            if getattr(getattr(config, section), opt.name) == opt.default:
                out.append(f"[{section}] {opt.name}")
    return out


def from_dict(data, path=None):
    sections = {}
    tables = {}
    line_tables = None
    if isinstance(data.get("line"), list):   # [[line]]: several lines, one modem each
        line_tables = data["line"]
        data = {k: v for k, v in data.items() if k != "line"}
    for name, options in TABLES.items():
        tables[name] = _tables(name, options, data.get(name, []))
    for name in data:
        if name in TABLES:
            continue
        if name not in SCHEMA:
            raise ConfigError(f"unknown section [{name}]; known sections: "
                              f"{', '.join(sorted(set(SCHEMA) | set(TABLES)))}")
        if not isinstance(data[name], dict):
            raise ConfigError(f"[{name}] must be a section, not a value")
    menu_tables = {}
    for name, options in SCHEMA.items():
        given = dict(data.get(name, {}))
        if name == "menu":   # [menu.keys] and [menu.submenu.NAME]: the tree (call/menu.py)
            menu_tables = {k: given.pop(k) for k in ("keys", "submenu") if k in given}
        values = {}
        for opt in options:
            if opt.name in given:
                values[opt.name] = _check(name, opt, given.pop(opt.name))
            else:
                values[opt.name] = opt.default
        if given:
            known = ", ".join(o.name for o in options)
            raise ConfigError(f"unknown option '{sorted(given)[0]}' in section [{name}]; "
                              f"known options: {known}")
        sections[name] = values
    for option in ("numbers", "mediators", "referrals"):
        for number in sections["duty"][option]:
            if not re.fullmatch(r"\+?[0-9]{3,20}", number):
                raise ConfigError(f"option '{option}' in section [duty]: {number!r} is not a "
                                  "phone number")
    if "{number}" not in sections["sip"]["uri_template"]:
        raise ConfigError("option 'uri_template' in section [sip] must contain {number}")
    if sections["sip"]["bind"] in ("", "0.0.0.0", "::", "[::]") and \
            not sections["trunk"]["registrar"]:
        # Without a trunk nothing needs to reach the box first, and a Pi with a mobile data
        # link may have a public address: SIP (and each call's RTP) on every interface would
        # face the internet (DESIGN.md, Security).
        raise ConfigError(f"option 'bind' in section [sip]: {sections['sip']['bind']!r} "
                          "listens on every interface, and without a [trunk] registrar "
                          "nothing needs to reach the box: give the address of the network "
                          "the duty phones are on (127.0.0.1 when they are on this box)")
    lines = _lines(line_tables, sections["line"], sections["office"]["number"])
    _check_pins(sections["hat"], lines)
    sections["line"] = lines[0]
    from .call.menu import parse as parse_menu   # keys, branches, sub-menus, loops
    sections["menu"]["tree"] = parse_menu(menu_tables.get("keys"), menu_tables.get("submenu"),
                                          sections["menu"]["prompt"])
    _check_trunk(sections["trunk"])
    _check_timezone(sections["office"]["timezone"])
    config = Config(sections, path)
    from .duty import clock   # office hours and the rota follow [office] timezone
    clock.use_zone(sections["office"]["timezone"])
    for name, entries in tables.items():
        setattr(config, name, entries)
    config.lines = [config.line] + [Section("line", values) for values in lines[1:]]
    from .duty.desk import validate_config  # hours, shifts, dates: errors name the option
    validate_config(config)
    from .sync.settings import validate_config as validate_sync  # targets, spool limits
    validate_sync(config)
    from .sip.dialplan import validate_config as validate_dialplan  # [dialplan], [duty] lists
    validate_dialplan(config)
    return config


def _lines(tables, single, office_number):
    """Every line's options: the [[line]] tables, or the one [line] section as line 1."""
    extra = {o.name: o.default for o in LINE_OPTIONS}
    if tables is None:
        return [{**single, **extra, "number": office_number}]
    if not tables or not all(isinstance(t, dict) for t in tables):
        raise ConfigError("[[line]] must be written as one or more [[line]] tables")
    options = SCHEMA["line"] + LINE_OPTIONS
    out, ports = [], {}
    for k, given in enumerate(tables, start=1):
        given, values = dict(given), {}
        for opt in options:
            values[opt.name] = _check(f"[line] number {k}", opt, given.pop(opt.name)) \
                if opt.name in given else opt.default
        if given:
            raise ConfigError(f"[[line]] number {k}: unknown option '{sorted(given)[0]}'; "
                              f"known options: {', '.join(o.name for o in options)}")
        if k == 1 and not values["number"]:
            values["number"] = office_number
        if not values["number"]:
            raise ConfigError(f"[[line]] number {k}: option 'number' is missing (the line's "
                              "own phone number)")
        for port in {values["at_port"], values["audio_port"]}:
            if port in ports and ports[port] != k:
                raise ConfigError(f"[[line]] number {k}: port {port!r} is line "
                                  f"{ports[port]}'s too; one modem per line")
            ports[port] = k
        out.append(values)
    return out


def _check_pins(hat, lines):
    """One GPIO pin, one job: each line's status LED on its own pin, none on the power key's.
    Line 1's LED is its status_led_pin or else [hat] status_led_pin, not both."""
    key = hat["power_key_pin"]
    if key and hat["status_led_pin"] == key:
        raise ConfigError(f"option 'status_led_pin' in section [hat]: BCM {key} is also "
                          "[hat] power_key_pin (the modem's power key); give the LED its own pin")
    first = lines[0]["status_led_pin"]
    if first and hat["status_led_pin"] and first != hat["status_led_pin"]:
        raise ConfigError(f"[[line]] number 1: option 'status_led_pin' (BCM {first}) and "
                          f"[hat] status_led_pin (BCM {hat['status_led_pin']}) both name line "
                          "1's status LED; set one of them")
    taken = {}
    for k, values in enumerate(lines, start=1):
        pin = values["status_led_pin"] or (hat["status_led_pin"] if k == 1 else 0)
        if not pin:
            continue
        if pin == key:
            raise ConfigError(f"[[line]] number {k}: option 'status_led_pin': BCM {pin} is "
                              "[hat] power_key_pin (the modem's power key); give the LED its "
                              "own pin")
        if pin in taken:
            raise ConfigError(f"[[line]] number {k}: option 'status_led_pin': BCM {pin} is "
                              f"line {taken[pin]}'s status LED too; one LED per line")
        taken[pin] = k


def _tables(name, options, entries):
    """[[name]] entries: a list of Sections; each option required unless it has a default."""
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"[[{name}]] must be written as one or more [[{name}]] tables")
    out = []
    for number, given in enumerate(entries, start=1):
        given = dict(given)
        values = {}
        for opt in options:
            if opt.name not in given:
                raise ConfigError(f"[[{name}]] number {number}: option '{opt.name}' is missing")
            values[opt.name] = _check(f"[{name}] number {number}", opt, given.pop(opt.name))
        if given:
            raise ConfigError(f"[[{name}]] number {number}: unknown option '{sorted(given)[0]}'"
                              f"; known options: {', '.join(o.name for o in options)}")
        out.append(Section(name, values))
    return out


def load(path):
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(LARGEST_FILE + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    if len(raw) > LARGEST_FILE:
        raise ConfigError(f"{path} is larger than {LARGEST_FILE // 1024} KiB: not a config file")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses into nested arrays and inline tables
        raise ConfigError(f"{path}: not valid TOML: values nested too deeply") from None
    except ValueError as exc:  # an integer of more than 4300 digits, and the like
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return from_dict(data, path)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):   # an inline table ([menu] keys)
        return "{ " + ", ".join(f"{_toml_value(str(k))} = {_toml_value(v)}"
                                for k, v in value.items()) + " }"
    return repr(value)


def example():
    """The example configuration: every option, its unit and its default."""
    out = ["# lawline configuration (/etc/lawline/lawline.toml).",
           "# Every option is shown with its default; delete what you do not change.",
           "# Upload targets: each of [upstream] (url), [email] (to) and [s3] (endpoint) that",
           "# is filled in is one target; any mix works, and every voicemail and record stays",
           "# in the spool until all of them acknowledged it (e-mail takes voicemails only).",
           ""]
    for name, options in SCHEMA.items():
        out.append(f"[{name}]")
        for opt in options:
            unit = f" (unit: {opt.unit})" if opt.unit else ""
            out.append(f"# {opt.doc}{unit}")
            if opt.office_sets:
                out.append("# SET THIS: the value below is a lab default (lawline check warns)")
            out.append(f"{opt.name} = {_toml_value(opt.default)}")
        out.append("")
        if name == "menu":
            from .call.menu import example_lines
            out += example_lines() + [""]
    out += ["# Several lines in one box: instead of [line], one [[line]] table per modem with",
            "# the [line] options above and number (the line's own number) and status_led_pin.",
            ""]
    for name, options in TABLES.items():
        out.append(f"# [[{name}]] may be repeated; every option is required:")
        out.append(f"# [[{name}]]")
        for opt in options:
            out.append(f"# {opt.name} = \"\"    # {opt.doc}")
        out.append("")
    return "\n".join(out)


def dump(values):
    """TOML text for a dict of sections (used by the demo to write its config)."""
    out = []
    for name, options in values.items():
        if isinstance(options, list):  # [[name]] tables
            for entry in options:
                out.append(f"[[{name}]]")
                out.extend(f"{k} = {_toml_value(v)}" for k, v in entry.items())
                out.append("")
            continue
        out.append(f"[{name}]")
        for key, value in options.items():
            out.append(f"{key} = {_toml_value(value)}")
        out.append("")
    return "\n".join(out)
