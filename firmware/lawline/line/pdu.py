"""SMS in PDU mode (3GPP 23.040 / 23.038; reference/modems.md section 3).

The box sends in PDU mode because only PDU mode can carry the concatenation header that long
Chinese texts need (modems.md 3.1). Limits (3.5): 160 GSM-7 septets or 70 UCS-2 code units in
a single message; 153 / 67 per part behind the 6-byte header with an 8-bit reference.
Characters outside the BMP (emoji) are two UCS-2 code units (a surrogate pair) and are never
split across parts.

Pure functions and small value objects only: the modem driver (modem.py) and the simulated
modems (sim/) both use them, and tests cross-check them against python-gsmmodem's codec.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ..errors import LawlineError

# -- GSM 7-bit default alphabet and its extension table (23.038 6.2.1) ---------------------

_BASIC = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
          "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_EXTENSION = {0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[", 0x3D: "~",
              0x3E: "]", 0x40: "|", 0x65: "€"}
_ESC = 0x1B
_TO_SEPTETS: dict[str, tuple[int, ...]] = {ch: (i,) for i, ch in enumerate(_BASIC) if i != _ESC}
_TO_SEPTETS.update({ch: (_ESC, code) for code, ch in _EXTENSION.items()})

DCS_GSM7 = 0x00
DCS_8BIT = 0x04
DCS_UCS2 = 0x08

SINGLE_UCS2 = 70
PART_UCS2 = 67       # behind the 6-byte concatenation header (8-bit reference)
SINGLE_GSM7 = 160
PART_GSM7 = 153
SINGLE_8BIT = 140
PART_8BIT = 134


class PduError(LawlineError, ValueError):
    """A PDU that cannot be decoded; the message says where it went wrong."""


def gsm7_septets(text: str) -> list[int] | None:
    """The septets of `text` in the GSM default alphabet, or None if a character is not in it."""
    out: list[int] = []
    for ch in text:
        septets = _TO_SEPTETS.get(ch)
        if septets is None:
            return None
        out.extend(septets)
    return out


def gsm7_text(septets: Iterable[int]) -> str:
    out: list[str] = []
    escaped = False
    for s in septets:
        if escaped:
            out.append(_EXTENSION.get(s, " "))  # 23.038: unknown extension -> space
            escaped = False
        elif s == _ESC:
            escaped = True
        else:
            out.append(_BASIC[s])
    return "".join(out)


def pack_septets(septets: Iterable[int], fill_bits: int = 0) -> bytes:
    """Septets packed LSB first into octets, after `fill_bits` zero bits (UDH alignment)."""
    value, bits, out = 0, fill_bits, bytearray()
    for s in septets:
        value |= (s & 0x7F) << bits
        bits += 7
        while bits >= 8:
            out.append(value & 0xFF)
            value >>= 8
            bits -= 8
    if bits:
        out.append(value & 0xFF)
    return bytes(out)


def unpack_septets(data: bytes, count: int, fill_bits: int = 0) -> list[int]:
    value, bits = 0, 0
    out: list[int] = []
    for octet in data:
        value |= octet << bits
        bits += 8
        if fill_bits:
            value >>= fill_bits
            bits -= fill_bits
            fill_bits = 0
        while bits >= 7 and len(out) < count:
            out.append(value & 0x7F)
            value >>= 7
            bits -= 7
    if len(out) < count:
        raise PduError(f"user data holds {len(out)} septets, its length says {count}")
    return out


# -- addresses -------------------------------------------------------------------------------

TOA_INTERNATIONAL = 0x91
TOA_UNKNOWN = 0x81
TOA_NATIONAL = 0xA1
TOA_ALPHANUMERIC = 0xD0
# The type of number (TON, bits 6-4 of the type-of-address octet, 23.040 9.1.2.5) by name.
# Only the first three are numeric addresses a person's phone sends from; an alphanumeric
# originator is free text any SMS gateway lets its customer choose (a bank's name, or a duty
# lawyer's mobile number spelt out), so it must never be taken for that number.
ADDRESS_TYPES = ("unknown", "international", "national", "network", "subscriber",
                 "alphanumeric", "abbreviated", "reserved")


def address_type(toa: int) -> str:
    """The type of number of a type-of-address octet, by name (ADDRESS_TYPES)."""
    return ADDRESS_TYPES[(toa >> 4) & 0x07]


def encode_address(number: str, toa: int | None = None) -> bytes:
    """Address field (23.040 9.1.2.5): digit count, type of address, swapped BCD."""
    digits = number[1:] if number.startswith("+") else number
    if not digits or any(c not in "0123456789*#" for c in digits):
        raise ValueError(f"not a phone number: {number!r}")
    if toa is None:
        toa = TOA_INTERNATIONAL if number.startswith("+") else TOA_UNKNOWN
    return bytes([len(digits), toa]) + _bcd(digits)


def encode_alphanumeric_address(name: str) -> bytes:
    """An alphanumeric originator (TON 101): up to 11 GSM-7 characters, packed; the length
    counts the semi-octets the packed text fills."""
    septets = gsm7_septets(name)
    if not septets or len(septets) > 11:
        raise ValueError(f"not an alphanumeric originator (1-11 GSM characters): {name!r}")
    return bytes([(len(septets) * 7 + 3) // 4, TOA_ALPHANUMERIC]) + pack_septets(septets)


def _bcd(digits: str) -> bytes:
    table = {"*": 0xA, "#": 0xB}
    nibbles = [table[d] if d in table else int(d) for d in digits]
    if len(nibbles) % 2:
        nibbles.append(0xF)
    return bytes(nibbles[i] | (nibbles[i + 1] << 4) for i in range(0, len(nibbles), 2))


def _unbcd(data: bytes, count: int | None = None) -> str:
    out: list[str] = []
    for octet in data:
        for nibble in (octet & 0x0F, octet >> 4):
            if nibble == 0xF:
                continue
            out.append("0123456789*#abc"[nibble] if nibble < 15 else "")
    text = "".join(out)
    return text[:count] if count is not None else text


def decode_address(data: bytes, pos: int) -> tuple[str, int]:
    """(number, next position) of the address field at `pos`."""
    try:
        count, toa = data[pos], data[pos + 1]
    except IndexError:
        raise PduError("PDU ends inside an address") from None
    octets = (count + 1) // 2
    raw = data[pos + 2:pos + 2 + octets]
    if len(raw) < octets:
        raise PduError("PDU ends inside an address")
    if toa & 0x70 == 0x50:  # alphanumeric sender (a bank, an operator): GSM-7 packed
        number = gsm7_text(unpack_septets(raw, count * 4 // 7))
    else:
        number = _unbcd(raw, count)
        if toa & 0x70 == 0x10:
            number = "+" + number
    return number, pos + 2 + octets


def decode_smsc(data: bytes) -> tuple[str, int]:
    """(SMSC number or '', position of the TPDU) for a PDU that starts with the SMSC field."""
    length = data[0]
    if length == 0:
        return "", 1
    toa, raw = data[1], data[2:1 + length]
    number = _unbcd(raw)
    return ("+" + number if toa & 0x70 == 0x10 else number), 1 + length


def encode_smsc(number: str) -> bytes:
    if not number:
        return b"\x00"
    digits = number.lstrip("+")
    body = bytes([TOA_INTERNATIONAL if number.startswith("+") else TOA_UNKNOWN]) + _bcd(digits)
    return bytes([len(body)]) + body


# -- time stamps (23.040 9.2.3.11) -------------------------------------------------------------

def encode_scts(when: float | None = None, quarter_hours: int = 32) -> bytes:
    """Service-centre time stamp; China is +32 quarter-hours (modems.md 3.4)."""
    t = time.gmtime((time.time() if when is None else when) + quarter_hours * 900)
    fields = [t.tm_year % 100, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec]
    out = bytes(((v % 10) << 4) | (v // 10) for v in fields)
    tz = abs(quarter_hours)
    tz_octet = ((tz % 10) << 4) | (tz // 10) | (0x08 if quarter_hours < 0 else 0)
    return out + bytes([tz_octet])


def decode_scts(raw: bytes) -> str:
    """'yy/MM/dd,hh:mm:ss+zz' (the text-mode spelling) from the 7 octets."""
    digits = [((o & 0x0F) * 10 + (o >> 4)) for o in raw[:6]]
    tz_octet = raw[6]
    tz = (tz_octet & 0x07) * 10 + (tz_octet >> 4)
    sign = "-" if tz_octet & 0x08 else "+"
    return "{:02d}/{:02d}/{:02d},{:02d}:{:02d}:{:02d}".format(*digits) + f"{sign}{tz:02d}"


# -- user data -------------------------------------------------------------------------------

@dataclass
class Concat:
    ref: int
    total: int
    seq: int


def _udh(concat: Concat | None) -> bytes:
    if concat is None:
        return b""
    if concat.ref > 0xFF:
        ie = bytes([0x08, 4, concat.ref >> 8, concat.ref & 0xFF, concat.total, concat.seq])
    else:
        ie = bytes([0x00, 3, concat.ref, concat.total, concat.seq])
    return bytes([len(ie)]) + ie


def _parse_udh(ud: bytes) -> tuple[Concat | None, int]:
    """(Concat or None, header length in octets including its length octet)."""
    if not ud:
        raise PduError("user data header indicated but user data is empty")
    udhl = ud[0]
    header = ud[1:1 + udhl]
    if len(header) < udhl:
        raise PduError("user data header longer than the user data")
    concat: Concat | None = None
    i = 0
    while i + 2 <= len(header):
        iei, length = header[i], header[i + 1]
        value = header[i + 2:i + 2 + length]
        if len(value) < length:
            raise PduError(f"user data header element {iei:#04x} runs past the header")
        if iei == 0x00 and length == 3:
            concat = Concat(value[0], value[1], value[2])
        elif iei == 0x08 and length == 4:
            concat = Concat((value[0] << 8) | value[1], value[2], value[3])
        i += 2 + length
    if concat is not None and not 1 <= concat.seq <= concat.total:
        concat = None  # 23.040 9.2.3.24.1: a zero or too high number voids the element
    return concat, udhl + 1


def encode_user_data(dcs: int, payload: Sequence[int],
                     concat: Concat | None = None) -> tuple[int, bytes]:
    """(UDL, UD bytes). `payload` is septets (GSM-7) or bytes (UCS-2, 8-bit)."""
    udh = _udh(concat)
    if dcs == DCS_GSM7:
        header_bits = len(udh) * 8
        fill = (7 - header_bits % 7) % 7
        header_septets = (header_bits + fill) // 7
        # The fill bits pad the header to a septet boundary; the text starts after them.
        body = pack_septets(payload, fill)
        return header_septets + len(payload), udh + body
    return len(udh) + len(payload), udh + bytes(payload)


def decode_user_data(dcs: int, udhi: bool, udl: int,
                     ud: bytes) -> tuple[str | None, list[int] | bytes, Concat | None]:
    """(text or None for 8-bit and compressed data, raw payload bytes/septets, Concat or
    None)."""
    alphabet = data_alphabet(dcs)
    concat: Concat | None = None
    header = 0
    if udhi:
        concat, header = _parse_udh(ud)
    if alphabet == DCS_GSM7 and not compressed(dcs):
        header_bits = header * 8
        fill = (7 - header_bits % 7) % 7 if header else 0
        skip = (header_bits + fill) // 7
        septets = unpack_septets(ud[header:], udl - skip, fill)
        return gsm7_text(septets), septets, concat
    body = ud[header:udl]
    if len(ud) < udl:
        raise PduError(f"user data holds {len(ud)} octets, its length says {udl}")
    if alphabet == DCS_UCS2 and not compressed(dcs):
        # A lone surrogate (half an emoji) becomes U+FFFD here and an odd last octet is left
        # out: the text goes to logs, SQLite and JSON, which take only whole characters.
        # Parts are joined from `body` (decode_parts), where a pair that a careless sender
        # cut across two parts still becomes its character and what is left over is kept
        # as hex.
        return body[:len(body) - len(body) % 2].decode("utf-16-be", "replace"), body, concat
    return None, body, concat


def compressed(dcs: int) -> bool:
    """23.038 4: bit 5 of the general data coding groups (00xx, 01xx) marks compressed text;
    its user data length counts octets (23.040 9.2.3.16), and the box has no decompressor."""
    return dcs & 0x80 == 0 and bool(dcs & 0x20)


def coding(dcs: int) -> str:
    """How the box reads a part's user data: "gsm7", "ucs2", "8bit" or "compressed"."""
    if compressed(dcs):
        return "compressed"
    return {DCS_GSM7: "gsm7", DCS_UCS2: "ucs2"}.get(data_alphabet(dcs), "8bit")


def data_alphabet(dcs: int) -> int:
    """23.038 4: the alphabet of a data coding scheme."""
    if dcs & 0xC0 == 0x00 or dcs & 0xC0 == 0x40:
        return (DCS_GSM7, DCS_8BIT, DCS_UCS2, DCS_8BIT)[(dcs >> 2) & 3]
    if dcs & 0xF0 == 0xF0:
        return DCS_8BIT if dcs & 0x04 else DCS_GSM7
    if dcs & 0xF0 == 0xE0:
        return DCS_UCS2
    return DCS_GSM7


# -- splitting a text into parts -------------------------------------------------------------

def split_text(text: str) -> tuple[int, list[list[int]] | list[bytes]]:
    """(dcs, [payload per part]) for `text`: GSM-7 septet lists when every character is in the
    default alphabet, UCS-2 byte strings otherwise. Escape pairs and surrogate pairs are never
    cut in two."""
    septets = gsm7_septets(text)
    if septets is not None:
        if len(septets) <= SINGLE_GSM7:
            return DCS_GSM7, [septets]
        parts: list[list[int]] = []
        start = 0
        while start < len(septets):
            end = min(start + PART_GSM7, len(septets))
            if end < len(septets) and septets[end - 1] == _ESC and \
                    (end - 1 == start or septets[end - 2] != _ESC):
                end -= 1  # never end a part on the escape of an escape pair
            parts.append(septets[start:end])
            start = end
        return DCS_GSM7, parts
    units = text.encode("utf-16-be", "surrogatepass")
    if len(units) <= SINGLE_UCS2 * 2:
        return DCS_UCS2, [units]
    chunks: list[bytes] = []
    start = 0
    while start < len(units):
        end = min(start + PART_UCS2 * 2, len(units))
        if end < len(units) and 0xD8 <= units[end - 2] <= 0xDB:
            end -= 2  # a high surrogate: its low half goes with it into the next part
        chunks.append(units[start:end])
        start = end
    return DCS_UCS2, chunks


# -- SMS-SUBMIT (host to network) ----------------------------------------------------------

@dataclass
class SubmitPdu:
    hex: str              # what goes after the prompt (SMSC octet "00" included)
    tpdu_length: int      # AT+CMGS=<n>: octets without the SMSC field (modems.md 3.3)


def encode_submit(number: str, text: str, ref: int = 0, validity: int = 0xA7) -> list[SubmitPdu]:
    """The SMS-SUBMIT PDUs for `text` to `number`: one, or several with a concatenation header
    sharing the 8-bit reference `ref`. Validity 0xA7 = 24 hours (relative format)."""
    dcs, payloads = split_text(text)
    total = len(payloads)
    if total > 255:
        raise ValueError(f"text too long for one SMS ({total} parts)")
    out: list[SubmitPdu] = []
    for seq, payload in enumerate(payloads, 1):
        concat = Concat(ref & 0xFF, total, seq) if total > 1 else None
        udl, ud = encode_user_data(dcs, payload, concat)
        first = 0x01 | 0x10 | (0x40 if concat else 0)  # SUBMIT, relative validity, UDHI
        tpdu = (bytes([first, 0x00]) + encode_address(number) +
                bytes([0x00, dcs, validity, udl]) + ud)
        out.append(SubmitPdu(("00" + tpdu.hex()).upper(), len(tpdu)))
    return out


@dataclass
class Message:
    """One decoded SMS-SUBMIT or SMS-DELIVER."""
    kind: str                 # "submit" or "deliver"
    number: str               # destination (submit) or originator (deliver)
    dcs: int
    text: str                 # "" for 8-bit and compressed data (see decode_parts)
    payload: bytes            # the user data without its header (UCS-2/8-bit octets, septets)
    concat: Concat | None = None
    smsc: str = ""
    reference: int = 0        # TP-MR of a submit
    timestamp: str = ""       # deliver: 'yy/MM/dd,hh:mm:ss+zz'
    udhi: bool = False
    extra: dict[str, int] = field(default_factory=dict)
    sender_type: str = ""     # type of number of `number` (ADDRESS_TYPES): "alphanumeric"...


def decode_pdu(hex_text: str, with_smsc: bool = True) -> Message:
    """Decode an SMS-SUBMIT or SMS-DELIVER PDU given as hex. PduError when malformed."""
    try:
        data = bytes.fromhex(hex_text.strip())
    except ValueError:
        raise PduError("PDU is not hex") from None
    if not data:
        raise PduError("empty PDU")
    try:
        return _decode(data, with_smsc)
    except IndexError:
        raise PduError("PDU ends early") from None


def _decode(data: bytes, with_smsc: bool) -> Message:
    smsc, pos = decode_smsc(data) if with_smsc else ("", 0)
    first = data[pos]
    mti = first & 0x03
    udhi = bool(first & 0x40)
    pos += 1
    if mti == 0x01:
        reference = data[pos]
        address = pos + 1
        number, pos = decode_address(data, address)
        pid, dcs = data[pos], data[pos + 1]
        pos += 2
        vpf = (first >> 3) & 0x03
        pos += {0: 0, 2: 1, 1: 7, 3: 7}[vpf]
        kind, stamp = "submit", ""
    elif mti == 0x00:
        reference = 0
        address = pos
        number, pos = decode_address(data, address)
        pid, dcs = data[pos], data[pos + 1]
        stamp = decode_scts(data[pos + 2:pos + 9])
        pos += 9
        kind = "deliver"
    else:
        raise PduError(f"message type {mti} is neither SMS-DELIVER nor SMS-SUBMIT")
    udl = data[pos]
    ud = data[pos + 1:]
    text, septets_or_octets, concat = decode_user_data(dcs, udhi, udl, ud)
    payload = bytes(septets_or_octets)    # GSM-7: the septets, one per octet
    return Message(kind, number, dcs, text or "", payload, concat, smsc, reference, stamp, udhi,
                   {"pid": pid}, address_type(data[address + 1]))


def encode_deliver(sender: str, dcs: int, payload: Sequence[int], concat: Concat | None = None,
                   smsc: str = "+8613800100500", when: float | None = None,
                   sender_type: str | None = None) -> tuple[str, int]:
    """The SMS-DELIVER PDU (hex, SMSC field included) a network hands to the recipient.
    `sender_type` "alphanumeric" spells `sender` as a name, "national" marks a number national
    (TON 010); otherwise "+" makes it international and no "+" unknown."""
    if sender_type == "alphanumeric":
        address = encode_alphanumeric_address(sender)
    else:
        address = encode_address(sender, TOA_NATIONAL if sender_type == "national" else None)
    udl, ud = encode_user_data(dcs, list(payload) if dcs == DCS_GSM7 else payload, concat)
    first = 0x04 | (0x40 if concat else 0)  # DELIVER, no more messages to send, UDHI
    tpdu = (bytes([first]) + address + bytes([0x00, dcs]) + encode_scts(when) +
            bytes([udl]) + ud)
    return (encode_smsc(smsc) + tpdu).hex().upper(), len(tpdu)


# -- reassembly ----------------------------------------------------------------------------
#
# A long message's parts may each have their own coding (a gateway that sends the Chinese part
# in UCS-2 and a code or link as 8-bit data, or GSM-7 parts with an 8-bit one in between).
# They are joined in order, each run of parts of one coding as one stream: GSM-7 septets (an
# escape a sender left at the end of one part belongs to the next part's first septet), UCS-2
# code units (a surrogate pair cut across two parts is still one character), 8-bit octets. A
# run of 8-bit data is text when it is printable UTF-8 (what gateways send as "8-bit text");
# what cannot be decoded (other 8-bit data, compressed text, half a surrogate pair, an odd
# octet) is kept in the text as hex, HEX_MARK, and listed, so the driver logs it once: nothing
# a caller sent is dropped without a word.

HEX_MARK = "[hex {}]"

# A part as the reassembler keeps it: (dcs, payload, text); see Message.
Part = tuple[int, bytes, str]
# (number, sender type, concatenation reference, parts in all)
PendingKey = tuple[str, str, int, int]
# on_undecoded(number, sender type, [Undecoded]): what a message kept as hex
OnUndecoded = Callable[[str, str, list["Undecoded"]], None]


@dataclass(frozen=True)
class Undecoded:
    """A stretch of a message kept as hex: its coding, why, and the hex (as in the text)."""
    coding: str
    why: str
    hex: str

    def __str__(self) -> str:
        return f"{self.coding} ({self.why}): {HEX_MARK.format(self.hex)}"


def _hex(data: bytes | bytearray, coding: str, why: str, out: list[str],
         kept: list[Undecoded]) -> None:
    if data:
        kept.append(Undecoded(coding, why, bytes(data).hex()))
        out.append(HEX_MARK.format(kept[-1].hex))


def _utf16(data: bytes, out: list[str], kept: list[Undecoded]) -> None:
    """UCS-2/UTF-16 code units to text; lone surrogates and an odd last octet as hex."""
    bad = bytearray()
    whole = len(data) - len(data) % 2
    i = 0
    while i < whole:
        unit = int.from_bytes(data[i:i + 2], "big")
        if 0xD800 <= unit <= 0xDBFF and i + 4 <= whole and \
                0xDC00 <= int.from_bytes(data[i + 2:i + 4], "big") <= 0xDFFF:
            size = 4
        elif 0xD800 <= unit <= 0xDFFF:
            bad += data[i:i + 2]
            i += 2
            continue
        else:
            size = 2
        _hex(bad, "UCS-2", "half a surrogate pair", out, kept)
        bad.clear()
        out.append(data[i:i + size].decode("utf-16-be"))
        i += size
    _hex(bad, "UCS-2", "half a surrogate pair", out, kept)
    _hex(data[whole:], "UCS-2", "an odd octet", out, kept)


def _octets(data: bytes | bytearray, out: list[str], kept: list[Undecoded]) -> None:
    text: str | None
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\r\n\t" for c in text):
        out.append(text)
    else:
        _hex(data, "8-bit", "data, not text", out, kept)


def decode_parts(parts: Iterable[Part]) -> tuple[str, list[Undecoded]]:
    """(text, [Undecoded]) of parts [(dcs, payload, text)] in order, whatever their codings
    (see above). Never raises."""
    out: list[str] = []
    kept: list[Undecoded] = []
    runs: list[tuple[str, bytearray]] = []
    for dcs, payload, _text in parts:
        kind = coding(dcs)
        if runs and runs[-1][0] == kind:
            runs[-1][1].extend(payload)
        else:
            runs.append((kind, bytearray(payload)))
    for kind, data in runs:
        if kind == "gsm7":
            out.append(gsm7_text(s & 0x7F for s in data))
        elif kind == "ucs2":
            _utf16(bytes(data), out, kept)
        elif kind == "8bit":
            _octets(data, out, kept)
        else:
            _hex(data, "compressed", "no decompressor", out, kept)
    return "".join(out), kept


def join_parts(parts: Iterable[Part]) -> str:
    """The text of parts [(dcs, payload, text)] in order (decode_parts without the list)."""
    return decode_parts(parts)[0]


class Reassembler:
    """Collects the parts of concatenated messages. `add` returns the whole text once the last
    part is in (a single message is whole at once); `expire` hands back what is left of
    messages whose parts stopped coming, so no text is ever thrown away."""

    # Messages waiting for parts at once. A sender who sends first parts and never the rest
    # (each with a new reference) would otherwise grow this for an hour; past the cap the
    # oldest is handed back early by expire(), as partial text: nothing is thrown away.
    MAX_PENDING = 200

    def __init__(self, on_undecoded: OnUndecoded | None = None) -> None:
        # (number, sender type, ref, total) -> {seq: (dcs, payload, text)}, first seen: a part
        # from an alphanumeric "13900000001" never joins a message from the mobile itself
        self._pending: dict[PendingKey, tuple[dict[int, Part], float]] = {}
        # keys pushed out by the cap, for the next expire
        self._evicted: list[tuple[PendingKey, tuple[dict[int, Part], float]]] = []
        # on_undecoded(number, sender type, [Undecoded]): once per message that kept hex
        self.on_undecoded = on_undecoded

    def _join(self, number: str, sender_type: str, parts: Iterable[Part]) -> str:
        text, kept = decode_parts(parts)
        if kept and self.on_undecoded is not None:
            self.on_undecoded(number, sender_type, kept)
        return text

    def add(self, message: Message, now: float | None = None) -> str | None:
        if message.concat is None or message.concat.total <= 1:
            return self._join(message.number, message.sender_type,
                              [(message.dcs, message.payload, message.text)])
        c = message.concat
        key = (message.number, message.sender_type, c.ref, c.total)
        if key not in self._pending and len(self._pending) >= self.MAX_PENDING:
            oldest = min(self._pending, key=lambda k: self._pending[k][1])
            self._evicted.append((oldest, self._pending.pop(oldest)))
        parts, _ = self._pending.setdefault(key, ({}, time.monotonic() if now is None else now))
        parts[c.seq] = (message.dcs, message.payload, message.text)
        if len(parts) < c.total:
            return None
        del self._pending[key]
        return self._join(key[0], key[1], [parts[i] for i in sorted(parts)])

    def expire(self, older_than: float,
               now: float | None = None) -> list[tuple[str, str, list[int]]]:
        """[(number, partial text, missing part numbers)] for messages older than `older_than` s."""
        return [(number, text, missing) for number, text, missing, _ in
                self.expire_parts(older_than, now)]

    def expire_parts(self, older_than: float,
                     now: float | None = None) -> list[tuple[str, str, list[int], str]]:
        """As expire, each with the sender's type of number last."""
        now = time.monotonic() if now is None else now
        out: list[tuple[str, str, list[int], str]] = []
        due = [(key, entry) for key, entry in self._pending.items() if now - entry[1] >= older_than]
        for key, _ in due:
            del self._pending[key]
        due, self._evicted = self._evicted + due, []
        for key, (parts, _first) in due:
            missing = [i for i in range(1, key[3] + 1) if i not in parts]
            out.append((key[0], self._join(key[0], key[1], [parts[i] for i in sorted(parts)]),
                        missing, key[1]))
        return out

    def __len__(self) -> int:
        return len(self._pending)
