"""Fuzzing the SMS PDU decoder (issue 9, point 9): any PDU a network, a gateway or a broken
modem hands over decodes to a message with whole characters, or fails with PduError (a
LawlineError); concatenated parts join in any order, whatever mix of codings they use, and
what cannot be decoded is kept as hex and said once (issue 15, point 4)."""

import itertools
import logging

from hypothesis import given, strategies as st

from lawline.errors import LawlineError
from lawline.line import pdu as sms, profiles
from lawline.line.modem import Modem

octet = st.integers(0, 255)


def bcd(digits):
    return sms.encode_address(digits)[2:] if digits else b""


@st.composite
def address(draw):
    """An originator: numeric (any type of number, any nibbles) or alphanumeric."""
    kind = draw(st.sampled_from(["digits", "alpha", "raw"]))
    if kind == "digits":
        digits = draw(st.text("0123456789*#", min_size=1, max_size=20))
        toa = draw(st.sampled_from([0x81, 0x91, 0xA1, 0xC1]) | octet)
        return bytes([len(digits), toa]) + bcd(digits)
    if kind == "alpha":
        name = draw(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ", min_size=1, max_size=11))
        septets = sms.gsm7_septets(name)
        return bytes([(len(septets) * 7 + 3) // 4, 0xD0]) + sms.pack_septets(septets)
    count = draw(octet)
    return bytes([count, draw(octet)]) + draw(st.binary(max_size=(count + 1) // 2))


@st.composite
def header(draw):
    """A user data header: concatenation (8-bit and 16-bit reference, sane or not), other
    elements, and lengths that lie."""
    elements = draw(st.lists(st.one_of(
        st.tuples(octet, octet, octet).map(lambda v: bytes([0x00, 3, *v])),
        st.tuples(octet, octet, octet, octet).map(lambda v: bytes([0x08, 4, *v])),
        st.tuples(octet, st.binary(max_size=8)).map(lambda v: bytes([v[0], len(v[1])]) + v[1]),
        st.binary(max_size=6)), max_size=3))
    body = b"".join(elements)
    length = draw(st.just(len(body)) | octet)
    return bytes([length]) + body


@st.composite
def user_data(draw, dcs):
    alphabet = sms.data_alphabet(dcs)
    if alphabet == sms.DCS_UCS2:
        units = draw(st.lists(st.integers(0, 0xFFFF), max_size=70))  # lone surrogates too
        body = b"".join(u.to_bytes(2, "big") for u in units)
        body += draw(st.sampled_from([b"", b"\xd8", b"\xdc\x00"]))
    elif alphabet == sms.DCS_GSM7:
        body = sms.pack_septets(draw(st.lists(st.integers(0, 127), max_size=160)))
    else:
        body = draw(st.binary(max_size=140))
    return body


@st.composite
def deliver_pdu(draw):
    smsc = draw(st.sampled_from([b"\x00", sms.encode_smsc("+8613800100500")]) |
                st.binary(max_size=12).map(lambda b: bytes([len(b)]) + b))
    udhi = draw(st.booleans())
    first = draw(st.sampled_from([0x04, 0x00, 0x24]) | octet)
    first = (first | 0x40) if udhi else (first & ~0x40)
    dcs = draw(st.sampled_from([0x00, 0x04, 0x08, 0xF4, 0xE0, 0x11]) | octet)
    udh = draw(header()) if udhi else b""
    ud = udh + draw(user_data(dcs))
    udl = len(ud) if sms.data_alphabet(dcs) != sms.DCS_GSM7 else len(ud) * 8 // 7
    udl = draw(st.just(udl) | octet)
    tpdu = (bytes([first]) + draw(address()) + bytes([draw(octet), dcs]) +
            draw(st.binary(min_size=7, max_size=7)) + bytes([min(udl, 255)]) + ud)
    pdu = smsc + tpdu
    cut = draw(st.integers(0, len(pdu)))
    return (pdu if draw(st.booleans()) else pdu[:cut]).hex()


def decoded_or_typed_error(text):
    try:
        message = sms.decode_pdu(text)
    except sms.PduError as exc:
        assert isinstance(exc, LawlineError)
        return None
    # Every field is whole text: it goes to logs, SQLite and JSON.
    message.text.encode("utf-8")
    message.number.encode("utf-8")
    message.smsc.encode("utf-8")
    assert isinstance(message.payload, bytes)
    if message.concat is not None:
        assert 1 <= message.concat.seq <= message.concat.total
    return message


@given(deliver_pdu())
def test_any_deliver_pdu_decodes_or_is_a_pdu_error(pdu):
    message = decoded_or_typed_error(pdu)
    if message is not None and message.kind == "deliver":
        text = sms.Reassembler().add(message)
        assert text is None or isinstance(text, str)
        if text is not None:
            text.encode("utf-8")


@given(st.one_of(st.binary(max_size=200).map(bytes.hex), st.text(max_size=400)))
def test_any_text_from_the_modem_decodes_or_is_a_pdu_error(text):
    decoded_or_typed_error(text)


printable = st.text(st.characters(blacklist_categories=("Cs",)), max_size=400)


@given(printable, st.sampled_from(["13900000001", "+8613900000001"]), octet)
def test_a_submitted_text_decodes_to_itself_in_any_part_order(text, number, ref):
    parts = [sms.decode_pdu(p.hex) for p in sms.encode_submit(number, text, ref=ref)]
    assert all(p.number == number for p in parts)
    for order in (parts, parts[::-1], parts[1:] + parts[:1]):
        joined = sms.Reassembler()
        results = [joined.add(p, now=0) for p in order]
        assert results[-1] == text and all(r is None for r in results[:-1])
        assert len(joined) == 0


@given(st.lists(st.integers(0xD800, 0xDFFF), min_size=1, max_size=5))
def test_lone_surrogates_become_replacement_characters(units):
    body = b"".join(u.to_bytes(2, "big") for u in units)
    pdu, _ = sms.encode_deliver("13900000001", sms.DCS_UCS2, body)
    message = sms.decode_pdu(pdu)
    message.text.encode("utf-8")
    assert "\ufffd" in message.text or len(message.text) < len(units)


def test_emoji_cut_across_two_parts_is_joined_whole():
    pair = "😀".encode("utf-16-be")
    first, _ = sms.encode_deliver("13900000001", sms.DCS_UCS2, "甲".encode("utf-16-be") +
                                  pair[:2], sms.Concat(7, 2, 1))
    second, _ = sms.encode_deliver("13900000001", sms.DCS_UCS2, pair[2:],
                                   sms.Concat(7, 2, 2))
    joined = sms.Reassembler()
    assert joined.add(sms.decode_pdu(first), now=0) is None
    assert joined.add(sms.decode_pdu(second), now=0) == "甲😀"


@given(st.sampled_from([sms.Concat(300, 0, 1), sms.Concat(5, 2, 0), sms.Concat(5, 2, 3)]))
def test_impossible_part_numbers_void_the_concatenation_header(concat):
    """23.040 9.2.3.24.1: total 0, part 0 or a part past the total: the element is ignored
    and the part is a message of its own, not one that waits forever."""
    pdu, _ = sms.encode_deliver("13900000001", sms.DCS_UCS2, "你好".encode("utf-16-be"), concat)
    message = sms.decode_pdu(pdu)
    assert message.concat is None
    assert sms.Reassembler().add(message) == "你好"


@given(st.integers(1, 40))
def test_a_truncated_pdu_is_a_pdu_error(keep):
    pdu, _ = sms.encode_deliver("13900000001", sms.DCS_UCS2, "法律服务专线".encode("utf-16-be"))
    data = bytes.fromhex(pdu)
    keep = min(keep, len(data) - 1)
    try:
        sms.decode_pdu(data[:keep].hex())
    except sms.PduError:
        return
    raise AssertionError(f"{keep} of {len(data)} octets decoded")


def test_alphanumeric_sender_decodes_as_text():
    name = "BANKOFCHINA"
    septets = sms.gsm7_septets(name)
    address = bytes([(len(septets) * 7 + 3) // 4, 0xD0]) + sms.pack_septets(septets)
    tpdu = bytes([0x04]) + address + bytes([0, 8]) + sms.encode_scts(0) + bytes([4]) + \
        "余额".encode("utf-16-be")
    message = sms.decode_pdu((b"\x00" + tpdu).hex())
    assert (message.number, message.text) == (name, "余额")


def test_8bit_data_is_handed_on_as_hex():
    pdu, _ = sms.encode_deliver("13900000001", sms.DCS_8BIT, b"\x00\xff\x10")
    assert sms.Reassembler().add(sms.decode_pdu(pdu)) == "[hex 00ff10]"


# -- reassembly of any mix of codings (issue 15, point 4) ---------------------------------------

GSM7_CHARS = [c for c in sms._BASIC if c != "\x1b"] + sorted(sms._EXTENSION.values())


@st.composite
def part(draw):
    """One part's (coding, content): GSM-7 or UCS-2 text of whole characters, or 8-bit data
    that is printable UTF-8 text or any bytes at all."""
    kind = draw(st.sampled_from(["gsm7", "ucs2", "8bit"]))
    if kind == "gsm7":
        return kind, draw(st.text(st.sampled_from(GSM7_CHARS), max_size=40))
    if kind == "ucs2":
        return kind, draw(st.text(st.characters(blacklist_categories=("Cs",)), max_size=30))
    return kind, draw(st.one_of(st.binary(max_size=60),
                                st.text(max_size=20).map(lambda t: t.encode("utf-8"))))


def pdu_of(kind, content, concat):
    if kind == "gsm7":
        return sms.encode_deliver("13900000001", sms.DCS_GSM7, sms.gsm7_septets(content),
                                  concat)[0]
    if kind == "ucs2":
        return sms.encode_deliver("13900000001", sms.DCS_UCS2, content.encode("utf-16-be"),
                                  concat)[0]
    return sms.encode_deliver("13900000001", sms.DCS_8BIT, content, concat)[0]


def expected_text(parts, hexed=None):
    """What the office must get: each run of one coding joined in order; a run of 8-bit data
    as text when it is printable UTF-8, else as hex (listed in `hexed`)."""
    out = []
    for kind, run in itertools.groupby(parts, key=lambda p: p[0]):
        run = [content for _, content in run]
        if kind != "8bit":
            out.append("".join(run))
            continue
        data = b"".join(run)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None and all(c.isprintable() or c in "\r\n\t" for c in text):
            out.append(text)
        else:
            out.append(f"[hex {data.hex()}]")
            if hexed is not None:
                hexed.append(data.hex())
    return "".join(out)


@given(st.lists(part(), min_size=1, max_size=6), octet, st.randoms(use_true_random=False))
def test_any_mix_of_codings_joins_in_order_and_hex_is_said_once(parts, ref, rng):
    concat = [sms.Concat(ref, len(parts), i) for i in range(1, len(parts) + 1)]
    messages = [sms.decode_pdu(pdu_of(kind, content, c))
                for (kind, content), c in zip(parts, concat)]
    if len(parts) == 1:
        messages[0].concat = None          # a message of one part has no header
    rng.shuffle(messages)
    said = []
    joined = sms.Reassembler(on_undecoded=lambda *a: said.append(a))
    results = [joined.add(m, now=0) for m in messages]
    assert all(r is None for r in results[:-1]) and len(joined) == 0
    hexed = []
    assert results[-1] == expected_text(parts, hexed)
    results[-1].encode("utf-8")
    if hexed:                              # said once per message, each stretch listed
        [(number, kind, kept)] = said
        assert number == "13900000001" and [k.hex for k in kept] == hexed
        assert all(k.coding == "8-bit" for k in kept)
    else:
        assert said == []


@given(st.lists(part(), min_size=2, max_size=5), octet)
def test_a_message_whose_parts_stop_coming_is_handed_on_in_order(parts, ref):
    """The parts that came are joined as above when the rest never come (expire)."""
    total = len(parts) + 1                              # the last part never comes
    joined = sms.Reassembler()
    for i, (kind, content) in enumerate(parts, 1):
        assert joined.add(sms.decode_pdu(pdu_of(kind, content, sms.Concat(ref, total, i))),
                          now=0) is None
    [(number, text, missing)] = joined.expire(3600, now=3600)
    assert (number, missing, text) == ("13900000001", [total], expected_text(parts))


def test_8bit_parts_join_to_their_text_not_to_nothing():
    parts = [("8bit", "法律服务".encode("utf-8")[:5]), ("8bit", "法律服务".encode("utf-8")[5:])]
    assert expected_text(parts) == "法律服务"       # a character cut across two parts
    joined = sms.Reassembler()
    results = [joined.add(sms.decode_pdu(pdu_of(k, c, sms.Concat(9, 2, i))), now=0)
               for i, (k, c) in enumerate(parts, 1)]
    assert results == [None, "法律服务"]


def test_mixed_ucs2_and_8bit_keeps_the_8bit_part():
    said = []
    joined = sms.Reassembler(on_undecoded=lambda *a: said.append(a))
    parts = [("ucs2", "请回电"), ("8bit", b"\x01\x02\xff"), ("gsm7", " 13900000001")]
    results = [joined.add(sms.decode_pdu(pdu_of(k, c, sms.Concat(4, 3, i))), now=0)
               for i, (k, c) in enumerate(parts, 1)]
    assert results[-1] == "请回电[hex 0102ff] 13900000001"
    [(_, _, [kept])] = said
    assert str(kept) == "8-bit (data, not text): [hex 0102ff]"


def test_an_escape_cut_across_two_gsm7_parts_is_one_character():
    first = sms.encode_deliver("10086", sms.DCS_GSM7, sms.gsm7_septets("EUR ") + [0x1B],
                               sms.Concat(1, 2, 1))[0]
    second = sms.encode_deliver("10086", sms.DCS_GSM7, [0x65] + sms.gsm7_septets("5"),
                                sms.Concat(1, 2, 2))[0]
    joined = sms.Reassembler()
    assert [joined.add(sms.decode_pdu(p), now=0) for p in (first, second)] == [None, "EUR €5"]


def test_what_ucs2_cannot_decode_is_kept_as_hex():
    said = []
    body = "甲".encode("utf-16-be") + b"\xd8\x3d" + "乙".encode("utf-16-be") + b"\x00"
    pdu, _ = sms.encode_deliver("13900000001", sms.DCS_UCS2, body)     # lone half, odd octet
    text = sms.Reassembler(on_undecoded=lambda *a: said.append(a)).add(sms.decode_pdu(pdu))
    assert text == "甲[hex d83d]乙[hex 00]"
    [(_, _, kept)] = said
    assert [k.why for k in kept] == ["half a surrogate pair", "an odd octet"]


def test_compressed_text_is_kept_as_hex():
    pdu, _ = sms.encode_deliver("13900000001", 0x24, b"\x12\x34")   # 8-bit, compressed
    assert sms.decode_pdu(pdu).text == ""
    assert sms.Reassembler().add(sms.decode_pdu(pdu)) == "[hex 1234]"


class _Said(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@given(st.lists(part(), min_size=1, max_size=5), octet)
def test_the_driver_hands_on_every_mix_once_and_logs_what_it_kept_as_hex(parts, ref):
    """modem.Modem joins the parts it reads off the SIM (`_received_pdu`, as AT+CMGR gives
    them): one `sms` event with the whole text, and one log line, the hex quoted, when part
    of it could not be decoded."""
    log = logging.getLogger("lawline.fuzz.sms")
    log.propagate = False
    said = _Said()
    log.addHandler(said)
    try:
        modem = Modem(profiles.SIM7600, "/nonexistent/at", "/nonexistent/audio", name="fuzz",
                      log=log)
        total = len(parts)
        for i, (kind, content) in enumerate(parts, 1):
            modem._received_pdu(i, pdu_of(kind, content, sms.Concat(ref, total, i)
                                          if total > 1 else None))
    finally:
        log.removeHandler(said)
    events = []
    while not modem.events.empty():
        events.append(modem.events.get_nowait())
    hexed = []
    text = expected_text(parts, hexed)
    assert [(e.kind, e.number, e.detail) for e in events] == [("sms", "13900000001", text)]
    warned = [line for line in said.lines if "could not be decoded" in line]
    assert len(warned) == (1 if hexed else 0), said.lines
    for data in hexed:
        assert repr(f"8-bit (data, not text): [hex {data}]") in warned[0]
