"""Fuzzing the SMS PDU decoder (issue 9, point 9): any PDU a network, a gateway or a broken
modem hands over decodes to a message with whole characters, or fails with PduError (a
LawlineError); concatenated parts join in any order."""

from hypothesis import given, strategies as st

from lawline.errors import LawlineError
from lawline.line import pdu as sms

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
    assert sms.Reassembler().add(sms.decode_pdu(pdu)) == "00ff10"
