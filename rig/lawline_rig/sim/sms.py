"""SMS on the simulated GSM modems (27.005; reference/modems.md section 3).

Each side keeps a SIM message store; AT+CMGS sends (PDU or text mode, with the `> ` prompt and
Ctrl-Z), the network delivers to the other side (+CMTI: "SM",<idx>, readable with AT+CMGR in
the reader's own mode, deletable with AT+CMGD) or, for any other number, into the outside
world's mailbox that tests read through the control socket.
"""

import asyncio
import logging
import time

from lawline.line import pdu as codec
from .atparse import unquote
from .replies import Reply

log = logging.getLogger("lawline_rig.sim")

CTRL_Z, ESC = 0x1A, 0x1B
PROMPT = b"\r\n> "        # 27.005 3.5.1: CR LF '>' space, no OK (modems.md 3.3)
STATUS_TEXT = {0: "REC UNREAD", 1: "REC READ", 2: "STO UNSENT", 3: "STO SENT"}
TEXT_STATUS = {v: k for k, v in STATUS_TEXT.items()}


def cms(code):
    return Reply(ok=False, final=f"+CMS ERROR: {code}")


def national(number):
    """A number without the China country prefix (+86 or 0086), for matching subscribers."""
    if number.startswith("+86"):
        return number[3:]
    if number.startswith("0086"):
        return number[4:]
    return number.lstrip("+")


def same_subscriber(a, b):
    return bool(a) and bool(b) and national(a) == national(b)


class Stored:
    __slots__ = ("pdu", "tpdu_length", "status", "message")

    def __init__(self, pdu, tpdu_length, message):
        self.pdu = pdu
        self.tpdu_length = tpdu_length
        self.status = 0  # REC UNREAD
        self.message = message


class SmsState:
    """One side's SMS settings and SIM store (settings reset with the module, store kept)."""

    def __init__(self, profile):
        self.capacity = profile.sms_capacity
        self.store = {}          # index -> Stored (on the SIM: survives resets)
        self.waiting = []        # (sender, message, sender type) the network holds while full
        self.next_mr = 0
        self.reset()

    def reset(self):
        self.cmgf = 0
        self.cscs = "IRA"
        self.csmp = [17, 167, 0, 0]
        self.cnmi = [2, 1, 0, 0, 0]
        self.memories = ["SM", "SM", "SM"]

    def free_index(self):
        for i in range(self.capacity):
            if i not in self.store:
                return i
        return None


class Mailbox:
    """SMS sent to numbers that are neither side: the outside world (duty phones, the office
    head). Parts are joined per (sender, recipient, reference)."""

    def __init__(self):
        self.messages = []
        self._open = {}

    def add(self, sender, message, mr):
        entry = {"from": sender, "to": message.number, "text": "", "parts": 1,
                 "complete": True, "references": [mr], "time": time.time()}
        c = message.concat
        if c is None or c.total <= 1:
            entry["text"] = message.text
            self.messages.append(entry)
            return entry
        key = (sender, message.number, c.ref, c.total)
        entry = self._open.get(key)
        if entry is None:
            entry = {"from": sender, "to": message.number, "text": "", "parts": c.total,
                     "complete": False, "references": [], "time": time.time(), "_parts": {}}
            self._open[key] = entry
            self.messages.append(entry)
        entry["_parts"][c.seq] = (message.dcs, message.payload, message.text)
        entry["references"].append(mr)
        parts = entry["_parts"]
        entry["text"] = codec.join_parts([parts[i] for i in sorted(parts)])
        if len(parts) == c.total:
            entry["complete"] = True
            del self._open[key]
        return entry

    def listing(self):
        return [{k: v for k, v in m.items() if not k.startswith("_")} for m in self.messages]


# -- the commands ------------------------------------------------------------------------------

def _hex_or_text(modem, text):
    """A string parameter as the host meant it: UCS-2 hex when CSCS is UCS2 (3.2)."""
    if modem.sms.cscs == "UCS2":
        try:
            return bytes.fromhex(text).decode("utf-16-be", "surrogatepass")
        except ValueError:
            return None
    return text


def _to_host(modem, text):
    if modem.sms.cscs == "UCS2":
        return text.encode("utf-16-be", "surrogatepass").hex().upper()
    return text


def cmgf(modem, kind, args):
    if kind == "set" and args and args[0] in ("0", "1"):
        modem.sms.cmgf = int(args[0])
        return Reply()
    if kind == "read":
        return Reply([f"+CMGF: {modem.sms.cmgf}"])
    if kind == "test":
        return Reply(["+CMGF: (0-1)"])
    return cms(302) if kind == "set" else Reply(ok=False)


def cscs(modem, kind, args):
    if kind == "read":
        return Reply([f'+CSCS: "{modem.sms.cscs}"'])
    if kind == "set" and args and unquote(args[0]) in ("IRA", "GSM", "UCS2"):
        modem.sms.cscs = unquote(args[0])
        return Reply()
    if kind == "test":
        return Reply(['+CSCS: ("IRA","GSM","UCS2")'])
    return Reply(ok=False)


def csmp(modem, kind, args):
    if kind == "read":
        return Reply(["+CSMP: " + ",".join(map(str, modem.sms.csmp))])
    if kind == "test":
        return Reply()
    if kind == "set" and args and all(a.isdigit() for a in args if a) and len(args) <= 4:
        for i, a in enumerate(args):
            if a:
                modem.sms.csmp[i] = int(a)
        return Reply()
    return Reply(ok=False)


def cpms(modem, kind, args):
    s = modem.sms
    used, total = len(s.store), s.capacity
    if kind == "test":
        return Reply(['+CPMS: ("SM","ME"),("SM","ME"),("SM","ME")'])
    if kind == "read":
        return Reply(["+CPMS: " + ",".join(f'"{m}",{used},{total}' for m in s.memories)])
    if kind == "set" and args and all(unquote(a) in ("SM", "ME") for a in args if a):
        for i, a in enumerate(args[:3]):
            if a:
                s.memories[i] = unquote(a)
        return Reply([f"+CPMS: {used},{total},{used},{total},{used},{total}"])
    return cms(302)


def cnmi(modem, kind, args):
    s = modem.sms
    if kind == "read":
        return Reply(["+CNMI: " + ",".join(map(str, s.cnmi))])
    if kind == "test":
        return Reply(["+CNMI: (0-2),(0-2),(0,2),(0-2),(0,1)"])
    if kind == "set" and args and all(a.isdigit() for a in args if a) and len(args) <= 5:
        values = list(s.cnmi)
        for i, a in enumerate(args):
            if a:
                values[i] = int(a)
        if values[1] > 2:
            return cms(303)  # class 3 routing is not simulated: say "operation not supported"
        s.cnmi = values
        return Reply()
    return Reply(ok=False)


async def cmgs(modem, kind, args):
    """27.005 3.5.1: prompt, body to Ctrl-Z (ESC cancels), then +CMGS: <mr> and OK."""
    if kind == "test":
        return Reply()
    if kind != "set" or not args or not args[0]:
        return cms(302)
    s = modem.sms
    if s.cmgf == 0:
        if not args[0].isdigit():
            return cms(304)
        length = int(args[0])
        if not 7 <= length <= 164:
            return cms(304)
    else:
        da = _hex_or_text(modem, unquote(args[0]))
        if not da:
            return cms(305)
    body = await modem.read_body(PROMPT)
    if body is None:
        modem.log_decision("SMS input cancelled with ESC")
        return Reply()  # 27.005: ESC quits without sending; the modem says OK
    fault = modem.faults.take("sms_refuse")
    if fault is not None:
        modem.log_decision(f"sms_refuse fault answers +CMS ERROR: {fault}")
        return cms(fault)
    if s.cmgf == 0:
        message, error = _decode_submit(modem, body, length)
    else:
        message, error = _text_submit(modem, da, body)
    if error:
        return cms(error)
    if not modem.line.network_ready(modem):
        return cms(331)  # no network service
    await asyncio.sleep(modem.profile.sms_send_delay)
    mr = s.next_mr
    s.next_mr = (s.next_mr + 1) % 256
    modem.line.send_sms(modem, message, mr)
    return Reply([f"+CMGS: {mr}"])


def _decode_submit(modem, body, length):
    text = body.decode("ascii", "replace").strip()
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        modem.log_decision("AT+CMGS: the PDU is not hex; +CMS ERROR: 304")
        return None, 304
    if not raw or len(raw) - 1 - raw[0] != length:
        modem.log_decision(f"AT+CMGS={length}: the TPDU is {len(raw) - 1 - (raw[0] if raw else 0)}"
                           " octets; +CMS ERROR: 304")
        return None, 304
    try:
        message = codec.decode_pdu(text)
    except codec.PduError as exc:
        modem.log_decision(f"AT+CMGS: undecodable PDU ({exc}); +CMS ERROR: 304")
        return None, 304
    if message.kind != "submit":
        return None, 304
    return message, None


def _text_submit(modem, da, body):
    s = modem.sms
    raw = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    dcs = codec.data_alphabet(s.csmp[3])
    if s.cscs == "UCS2":
        try:
            text = bytes.fromhex(raw.decode("ascii").replace("\n", "")).decode("utf-16-be",
                                                                              "surrogatepass")
        except ValueError:
            return None, 305
    else:
        text = raw.decode("latin-1")
        if dcs == codec.DCS_UCS2:
            # UCS-2 coding with a non-UCS2 character set: SIMCom answers 305 (modems.md 3.2)
            return None, 305
    if dcs == codec.DCS_UCS2:
        payload = text.encode("utf-16-be", "surrogatepass")
        if len(payload) > codec.SINGLE_UCS2 * 2:
            return None, 305
        message = codec.Message("submit", da, codec.DCS_UCS2, text, payload)
    else:
        septets = codec.gsm7_septets(text)
        if septets is None or len(septets) > codec.SINGLE_GSM7:
            return None, 305
        message = codec.Message("submit", da, codec.DCS_GSM7, text, bytes(septets))
    return message, None


def _read_reply(modem, index, stored, prefix):
    """The +CMGR/+CMGL header and body of a stored message in the reader's mode, as one
    reply item: 27.005 puts the body on the line right after the header (no blank line)."""
    return ["\r\n".join(_read_lines(modem, index, stored, prefix))]


def _read_lines(modem, index, stored, prefix):
    s = modem.sms
    if s.cmgf == 0:
        head = f"{prefix}: {index}," if prefix == "+CMGL" else f"{prefix}: "
        return [f"{head}{stored.status},,{stored.tpdu_length}", stored.pdu]
    m = stored.message
    status = STATUS_TEXT[stored.status]
    head = f'{prefix}: {index},"{status}"' if prefix == "+CMGL" else f'{prefix}: "{status}"'
    text = m.text if codec.data_alphabet(m.dcs) != codec.DCS_8BIT else m.payload.hex().upper()
    return [f'{head},"{_to_host(modem, m.number)}","","{m.timestamp}"', _to_host(modem, text)]


def cmgr(modem, kind, args):
    if kind == "test":
        return Reply()
    if kind != "set" or not args or not args[0].isdigit():
        return cms(302)
    index = int(args[0])
    stored = modem.sms.store.get(index)
    if stored is None:
        return cms(321)  # invalid memory index
    lines = _read_reply(modem, index, stored, "+CMGR")
    if stored.status == 0:
        stored.status = 1
    return Reply(lines)


def cmgl(modem, kind, args):
    s = modem.sms
    if kind == "test":
        return Reply(["+CMGL: (0-4)" if s.cmgf == 0 else
                      '+CMGL: ("REC UNREAD","REC READ","STO UNSENT","STO SENT","ALL")'])
    if kind == "exec":
        wanted = 0 if s.cmgf == 0 else "REC UNREAD"
    elif kind == "set" and args:
        wanted = int(args[0]) if s.cmgf == 0 and args[0].isdigit() else unquote(args[0])
    else:
        return cms(302)
    if s.cmgf == 0 and wanted not in (0, 1, 2, 3, 4):
        return cms(302)
    if s.cmgf == 1 and wanted != "ALL" and wanted not in TEXT_STATUS:
        return cms(302)
    code = wanted if s.cmgf == 0 else (4 if wanted == "ALL" else TEXT_STATUS[wanted])
    lines = []
    for index in sorted(s.store):
        stored = s.store[index]
        if code == 4 or stored.status == code:
            lines += _read_reply(modem, index, stored, "+CMGL")
            if stored.status == 0:
                stored.status = 1
    return Reply(lines)


def cmgd(modem, kind, args):
    s = modem.sms
    if kind == "test":
        return Reply([f"+CMGD: ({','.join(map(str, sorted(s.store)))}),(0-4)"])
    if kind != "set" or not args or not args[0].isdigit():
        return cms(302)
    index = int(args[0])
    flag = int(args[1]) if len(args) > 1 and args[1].isdigit() else 0
    if flag == 0:
        s.store.pop(index, None)
    else:
        # 1 read, 2 read+sent, 3 read+sent+unsent, 4 all (27.005 3.5.4)
        drop = {1: {1}, 2: {1, 3}, 3: {1, 2, 3}, 4: {0, 1, 2, 3}}.get(flag)
        if drop is None:
            return cms(302)
        for i in [i for i, m in s.store.items() if m.status in drop]:
            del s.store[i]
    modem.line.sms_room(modem)
    return Reply()


COMMANDS = {"+CMGF": cmgf, "+CSCS": cscs, "+CSMP": csmp, "+CPMS": cpms, "+CNMI": cnmi,
            "+CMGS": cmgs, "+CMGR": cmgr, "+CMGL": cmgl, "+CMGD": cmgd}


# -- delivery (the network's side) --------------------------------------------------------------

def deliver(modem, sender, message, when=None, sender_type=None):
    """Hand an SMS-SUBMIT's content to `modem` as an SMS-DELIVER: stored with +CMTI, or
    routed directly with +CMT (CNMI mt=2). Returns the index, or None when held or routed.
    `sender_type` "alphanumeric" sends from a name (a bank, an SMS gateway's customer: any
    text, "13900000001" too), "national" from a national number (TON 010)."""
    payload = message.payload
    pdu, tpdu_length = codec.encode_deliver(sender, message.dcs, payload, message.concat,
                                            smsc=modem.smsc, when=when,
                                            sender_type=sender_type)
    delivered = codec.decode_pdu(pdu)
    s = modem.sms
    if s.cnmi[1] == 2:
        if s.cmgf == 0:
            modem.urc(f"+CMT: ,{tpdu_length}\r\n{pdu}")
        else:
            modem.urc(f'+CMT: "{_to_host(modem, sender)}",,"{delivered.timestamp}"\r\n'
                      + _to_host(modem, delivered.text))
        modem.log_decision(f"SMS from {sender} routed directly (+CMT)")
        return None
    index = s.free_index()
    if index is None:
        s.waiting.append((sender, message, sender_type))
        modem.urc("+SMS FULL")
        modem.log_decision(f"SMS from {sender} held by the network: the SIM store is full")
        return None
    s.store[index] = Stored(pdu, tpdu_length, delivered)
    if s.cnmi[1] == 1:
        modem.urc(f'+CMTI: "{s.memories[2]}",{index}')
    part = f" (part {message.concat.seq} of {message.concat.total})" if message.concat else ""
    modem.log_decision(f"SMS from {sender} stored at {index}{part}")
    return index
