"""The SMS codec (line/pdu.py), checked against python-gsmmodem's independent PDU codec both
ways, and on the limits of modems.md 3.5."""

import pytest

from lawline.line import pdu as sms

gsm_pdu = pytest.importorskip("gsmmodem.pdu", reason="python-gsmmodem-new is a test extra")

CHINESE_150 = ("您好，这里是县法律服务专线。请按一号键咨询法律问题，按二号键申请法律服务。" * 5)[:150]


def test_a_150_character_chinese_text_is_three_ucs2_parts_of_67_67_16():
    pdus = sms.encode_submit("+8613800138000", CHINESE_150, ref=7)
    decoded = [gsm_pdu.decodeSmsPdu(p.hex) for p in pdus]
    assert [len(d["text"]) for d in decoded] == [67, 67, 16]
    assert "".join(d["text"] for d in decoded) == CHINESE_150
    for seq, d in enumerate(decoded, 1):
        concat = d["udh"][0]
        assert (concat.reference, concat.parts, concat.number) == (7, 3, seq)
        assert d["number"] == "+8613800138000"
    # AT+CMGS=<n> counts the TPDU without the SMSC octet (modems.md 3.3)
    assert all(p.tpdu_length == len(bytes.fromhex(p.hex)) - 1 for p in pdus)


def test_seventy_ucs2_units_fit_one_message_and_seventy_one_do_not():
    assert len(sms.encode_submit("10086", "中" * 70)) == 1
    assert len(sms.encode_submit("10086", "中" * 71)) == 2


def test_gsm7_limits_and_escape_pairs_are_not_cut():
    assert len(sms.encode_submit("10086", "a" * 160)) == 1
    assert len(sms.encode_submit("10086", "a" * 161)) == 2
    text = "a" * 152 + "€" + "b" * 10   # the escape pair would straddle the 153rd septet
    dcs, parts = sms.split_text(text)
    assert dcs == sms.DCS_GSM7 and parts[0][-1] != 0x1B
    for t in (text, "hello [world] {x} ~^|\\", "Ωmega £5 ¥10 @home"):
        got = "".join(gsm_pdu.decodeSmsPdu(p.hex)["text"] for p in sms.encode_submit("1", t))
        assert got == t


def test_emoji_surrogate_pairs_stay_whole_and_reassemble():
    text = "a" + "😀" * 40          # 81 UTF-16 units: the 67th unit is a high surrogate
    dcs, parts = sms.split_text(text)
    assert dcs == sms.DCS_UCS2 and [len(p) // 2 for p in parts] == [67, 14]
    text = "😀" * 40                # 80 units: a part of 67 would end inside a pair
    dcs, parts = sms.split_text(text)
    assert [len(p) // 2 for p in parts] == [66, 14]
    assembler = sms.Reassembler()
    out = [assembler.add(sms.decode_pdu(p.hex)) for p in sms.encode_submit("123", text, ref=3)]
    assert out == [None, text]


def test_python_gsmmodem_pdus_decode_and_reassemble_out_of_order():
    for text in ("hello", "你好" * 80, "x" * 300):
        pdus = gsm_pdu.encodeSmsSubmitPdu("+8613800138000", text, reference=9)
        messages = [sms.decode_pdu(str(p)) for p in reversed(pdus)]
        assembler = sms.Reassembler()
        results = [assembler.add(m) for m in messages]
        assert results[-1] == text and all(r is None for r in results[:-1])
        assert messages[0].kind == "submit" and messages[0].number == "+8613800138000"


def test_deliver_pdus_decode_with_python_gsmmodem_including_alphanumeric_time_and_udh():
    pdu, length = sms.encode_deliver("+8613800138000", sms.DCS_UCS2, "你好".encode("utf-16-be"))
    d = gsm_pdu.decodeSmsPdu(pdu)
    assert (d["type"], d["number"], d["text"]) == ("SMS-DELIVER", "+8613800138000", "你好")
    assert d["time"].utcoffset().total_seconds() == 8 * 3600   # +32 quarter-hours (3.4)
    septets = bytes(sms.gsm7_septets("Hi [x]"))
    pdu, _ = sms.encode_deliver("10086", sms.DCS_GSM7, septets, sms.Concat(5, 2, 1))
    d = gsm_pdu.decodeSmsPdu(pdu)
    assert d["text"] == "Hi [x]" and d["udh"][0].reference == 5
    mine = sms.decode_pdu(pdu)
    assert mine.timestamp.endswith("+32") and mine.concat == sms.Concat(5, 2, 1)


def test_sixteen_bit_reference_header_is_written_and_read():
    parts = ["中" * 66, "文" * 10]
    pdus = [sms.encode_deliver("10086", sms.DCS_UCS2, t.encode("utf-16-be"),
                               sms.Concat(300, 2, i))[0] for i, t in enumerate(parts, 1)]
    assert gsm_pdu.decodeSmsPdu(pdus[0])["udh"][0].reference == 300
    assembler = sms.Reassembler()
    messages = [sms.decode_pdu(p) for p in pdus]
    assert messages[0].concat.ref == 300
    assert [assembler.add(m) for m in messages][-1] == "".join(parts)


def test_malformed_pdus_raise_pdu_error():
    for bad in ("", "zz", "00", "0011000B911368", "07911326040000F0040B911346610089F60000"):
        with pytest.raises(sms.PduError):
            sms.decode_pdu(bad)


def test_incomplete_messages_are_handed_back_with_the_missing_parts():
    assembler = sms.Reassembler()
    pdus = sms.encode_submit("123", "中" * 150, ref=1)
    assert assembler.add(sms.decode_pdu(pdus[0].hex), now=0) is None
    assert assembler.add(sms.decode_pdu(pdus[2].hex), now=1) is None
    assert assembler.expire(3600, now=10) == []
    [(number, text, missing)] = assembler.expire(3600, now=4000)
    assert number == "123" and missing == [2] and text == "中" * 83 and len(assembler) == 0


def test_first_parts_that_never_finish_are_capped_and_handed_back_not_dropped():
    """A sender who sends first parts with a new reference each time holds at most
    MAX_PENDING messages; the oldest come back as partial text at the next expire."""
    assembler = sms.Reassembler()
    cap = sms.Reassembler.MAX_PENDING
    for ref in range(cap + 5):
        first = sms.encode_submit("13900000009", "中" * 150, ref=ref)[0]   # a new reference each
        assert assembler.add(sms.decode_pdu(first.hex), now=ref) is None
    assert len(assembler) == cap
    early = assembler.expire(3600, now=cap + 5)          # nothing is an hour old yet
    assert len(early) == 5 and all(missing == [2, 3] for _, _, missing in early)
    assert all(text == "中" * 67 for _, text, _ in early)
    assert len(assembler) == cap
