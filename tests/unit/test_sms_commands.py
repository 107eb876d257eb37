"""Duty SMS commands that cannot be spoofed (issue 9 point 4), without a line: the parser
(records/messages.py), who may act (records/office.py: sender_refusal, may_act, national)
and the office acting on real SQLite: owners, the head, exact case numbers, the help text's
rate limit, and untrusted text logged quoted."""

import logging

import pytest

from lawline import config as configuration
from lawline.line import pdu as codec
from lawline.records import messages
from lawline.records.cases import Case
from lawline.records.messages import Command, parse_command
from lawline.records.office import (HELP, HELP_PER_HOUR, Office, may_act, national,
                                    sender_refusal)

A, B, HEAD = "13900000001", "13900000002", "13900000009"
ROTA = ("date,shift,name,role,mobile,staff_no\n"
        "{d},day,张律师,lawyer,13900000001,11\n"
        "{d},day,李调解,mediator,13900000002,12\n")


# -- the parser ----------------------------------------------------------------------------

def test_a_command_is_a_word_then_every_digit_in_a_row():
    assert parse_command("结案 2612010001") == Command("resolved", "2612010001")
    assert parse_command("R2612010001").case == "2612010001"
    assert parse_command("接：2612010001") == Command("assigned", "2612010001")
    assert parse_command("转办 2612010001 劳动局") == Command("referred", "2612010001", "劳动局")
    # one digit too many or too few stays in the number: it names no neighbouring case
    assert parse_command("结案 26120100011").case == "26120100011"
    assert parse_command("结案 261201000").case == "261201000"
    assert parse_command("结案 2612010001 已回电").note == "已回电"
    assert parse_command("结案2612010001已回电").case == "2612010001"


@pytest.mark.parametrize("text", [
    "你好", "结案", "结案 ", "好的 2612010001", "结案 2612010001l", "结案 261201000I",
    "结案 26120100O1", "结案 2612010001abc", "改派 2612010001", "改派 2612010001 张律师",
    "结案 " + "1" * 33, "【0148】新案件2612010001（法律咨询），来电13800000000。",
    "【0148】案件2612010001已结案。", "",
])
def test_not_a_command(text):
    assert parse_command(text) is None


def test_full_width_digits_letters_and_punctuation_are_read_as_ascii():
    assert parse_command("结案 ２６１２０１０００１") == Command("resolved", "2612010001")
    assert parse_command("Ｒ　２６１２０１０００１") == Command("resolved", "2612010001")
    assert parse_command("接：２６１２０１０００１") == Command("assigned", "2612010001")
    assert parse_command("ａ2612010001").state == "assigned"


@pytest.mark.parametrize("digits", [
    "٢٦١٢٠١٠٠٠١",            # Arabic-Indic
    "۲۶۱۲۰۱۰۰۰۱",            # extended Arabic-Indic (Persian)
    "२६१२०१०००१",            # Devanagari
    "𝟐𝟔𝟏𝟐𝟎𝟏𝟎𝟎𝟎𝟏",            # mathematical bold
    "261201000١",            # one odd digit at the end
])
def test_other_scripts_digits_are_refused_not_normalised(digits):
    assert parse_command(f"结案 {digits}") is None
    assert messages.odd_digits(digits)
    assert not messages.odd_digits("２６１２０１０００１ 2612010001 三①²")


def test_reassign_names_the_person_it_goes_to():
    assert parse_command("改派 2612010001 13900000002 请跟进") == \
        Command("reassigned", "2612010001", "请跟进", "13900000002")
    assert parse_command("ASSIGN 2612010001 +8613900000002").to == "+8613900000002"


# -- who sent it ---------------------------------------------------------------------------

def test_national_form_of_a_sender():
    for spelling in ("13900000001", "+8613900000001", "008613900000001", "8613900000001",
                     "139-0000-0001", " 139 0000 0001 "):
        assert national(spelling) == "13900000001", spelling
    assert national("+12025550123") == "+12025550123"      # never the mobile 12025550123
    assert national("0012025550123") == "+12025550123"
    assert national("07730148") == "07730148"
    for junk in ("", "ICBC", "1390000000１", "139*0001", "+", "١٣٩"):
        assert national(junk) == "", junk


@pytest.mark.parametrize("toa,kind", [(0x81, "unknown"), (0x91, "international"),
                                      (0xA1, "national"), (0xB1, "network"),
                                      (0xC1, "subscriber"), (0xD0, "alphanumeric"),
                                      (0xE1, "abbreviated"), (0xF1, "reserved")])
def test_only_numeric_types_of_number_may_command(toa, kind):
    assert codec.address_type(toa) == kind
    refused = sender_refusal("13900000001", kind)
    assert (refused is None) == (kind in ("unknown", "international", "national")), refused
    assert sender_refusal("13900000001", "") is not None
    assert sender_refusal("139*0000", "unknown") is not None


def test_an_alphanumeric_originator_survives_the_codec_with_its_type():
    pdu, _ = codec.encode_deliver(A, codec.DCS_UCS2, "结案".encode("utf-16-be"),
                                  sender_type="alphanumeric")
    message = codec.decode_pdu(pdu)
    assert (message.number, message.sender_type) == (A, "alphanumeric")
    pdu, _ = codec.encode_deliver(A, codec.DCS_UCS2, b"\x00a", sender_type="national")
    assert codec.decode_pdu(pdu).sender_type == "national"
    pdu, _ = codec.encode_deliver("+86" + A, codec.DCS_UCS2, b"\x00a")
    assert codec.decode_pdu(pdu).sender_type == "international"
    with pytest.raises(ValueError):
        codec.encode_alphanumeric_address("a name far too long")


def test_parts_from_a_name_never_join_parts_from_the_number_it_spells():
    text = "中" * 100
    assembler = codec.Reassembler()
    numeric = [codec.decode_pdu(codec.encode_deliver(A, codec.DCS_UCS2, p, c)[0])
               for p, c in _parts(text)]
    spoof = [codec.decode_pdu(codec.encode_deliver(A, codec.DCS_UCS2, p, c,
                                                   sender_type="alphanumeric")[0])
             for p, c in _parts("假" * 100)]
    assert assembler.add(numeric[0], now=0) is None
    assert assembler.add(spoof[1], now=0) is None      # same number, same reference
    assert assembler.add(numeric[1], now=0) == text
    [(number, partial, missing, kind)] = assembler.expire_parts(10, now=20)
    assert (number, missing, kind) == (A, [1], "alphanumeric") and partial == "假" * 33


def _parts(text):
    _, payloads = codec.split_text(text)
    return [(p, codec.Concat(7, len(payloads), i)) for i, p in enumerate(payloads, 1)]


# -- who may act (pure) --------------------------------------------------------------------

def _case(owner="", kind="service_request", state="assigned", number="2612010001"):
    return Case(number, kind, state, "13800000000", owner, "", "", None, 0.0, 0.0, None,
                None, None, None, None)


@pytest.mark.parametrize("state", ["resolved", "referred"])
def test_only_the_owner_or_the_head_resolves_or_refers(state):
    command = Command(state, "2612010001")
    mine = _case(owner="+86" + A)
    assert may_act(command, mine, A, is_head=False) is None
    assert may_act(command, mine, B, is_head=False)[1].startswith("该案件由他人负责")
    assert may_act(command, mine, HEAD, is_head=True) is None
    nobody = _case(owner="", state="new")
    assert may_act(command, nobody, B, is_head=False)[1] == "请先回复：接 2612010001"
    assert may_act(command, nobody, HEAD, is_head=True) is None


def test_anyone_listed_takes_an_unowned_case_but_only_the_head_reassigns():
    take = Command("assigned", "2612010001")
    assert may_act(take, _case(owner="", state="new"), B, is_head=False) is None
    assert may_act(take, _case(owner=A), B, is_head=False) is not None
    assert may_act(take, _case(owner=A), A, is_head=False) is None
    assert may_act(take, _case(owner=A), HEAD, is_head=True) is None
    hand = Command("reassigned", "2612010001", to=B)
    assert may_act(hand, _case(owner=A), A, False, target_listed=True) is None
    assert may_act(hand, _case(owner=A), B, False, target_listed=True) is not None
    assert may_act(hand, _case(owner=A), HEAD, True, target_listed=True) is None
    assert may_act(hand, _case(owner=A), HEAD, True, target_listed=False)[1] == \
        "改派对象不在值班名单中"


def test_complaints_are_the_heads_unless_they_name_the_head():
    command = Command("resolved", "2612010001")
    complaint = _case(owner=HEAD, kind="complaint")
    assert may_act(command, complaint, A, is_head=False)[1] == "投诉案件只能由负责人处理"
    assert may_act(command, complaint, HEAD, is_head=True) is None
    assert may_act(command, complaint, HEAD, is_head=True, barred=True) is not None
    assert may_act(command, None, HEAD, is_head=True)[1] == "没有这个案件编号"


# -- the office on real SQLite -------------------------------------------------------------

def _office(tmp_path, **duty):
    from lawline.clock import Clock
    rota = tmp_path / "rota.csv"
    cfg = configuration.from_dict({
        "office": {"head_mobile": HEAD},
        "duty": {"rota_files": [] if duty else [str(rota)],
                 "shifts": ["day 00:00-12:00", "night 12:00-00:00"], "gap_days": 0, **duty},
        "spool": {"dir": str(tmp_path / "spool")},
    })
    rota.write_text(ROTA.format(d=Clock(cfg.office.timezone).today()),  # the office's date
                    encoding="utf-8")
    spool = tmp_path / "spool"
    spool.mkdir()
    return Office.from_config(cfg, spool)


@pytest.fixture
def office(tmp_path):
    return _office(tmp_path)


def _replies(office, number):
    return [r["text"] for r in office.sms.rows() if national(r["number"]) == national(number)
            and r["purpose"] in ("command reply", HELP)]


def test_a_digit_too_many_or_too_few_never_acts_on_a_neighbouring_case(office):
    old = office.open_case("service_request", "", number="261201001", owner=A,
                           state="assigned")                      # a nine-digit case
    new = office.open_case("service_request", "", number="2612010001", owner=A,
                           state="assigned")
    for typo in ("2612010011", "26120100011", "261201000", "26120100", "12010001"):
        assert office.on_sms(A, f"结案 {typo}", "unknown") is False, typo
        assert _replies(office, A)[-1] == f"【0148】未能处理（案件{typo}）：没有这个案件编号"
    assert office.cases.get(old.number).state == office.cases.get(new.number).state == "assigned"
    assert office.on_sms(A, "结案 ２６１２０１０００１", "unknown") is True    # full-width
    assert office.cases.get(new.number).state == "resolved"
    assert office.cases.get(old.number).state == "assigned"
    assert office.on_sms("+86" + A, f"办结 {old.number}", "international") is True
    assert office.cases.get(old.number).state == "resolved"


def test_owner_head_and_other_duty_staff(office):
    case = office.open_case("service_request", "13800000000", owner=A, owner_name="张律师",
                            state="assigned")
    assert office.on_sms(B, f"结案 {case.number}", "unknown") is False
    assert office.on_sms(B, f"接 {case.number}", "unknown") is False
    assert office.on_sms(B, f"转办 {case.number}", "unknown") is False
    assert office.cases.get(case.number).state == "assigned"
    assert office.cases.get(case.number).owner == A
    assert "只有负责人或主任可以处理" in _replies(office, B)[-1]
    # the head hands it to B; B may now resolve it, A no longer
    assert office.on_sms("0086" + HEAD, f"改派 {case.number} {B}", "unknown") is True
    assert office.cases.get(case.number).owner == B
    assert any(case.number in r["text"] for r in office.sms.rows(purpose="duty case")
               if r["number"] == B)
    assert office.on_sms(A, f"结案 {case.number}", "unknown") is False
    assert office.on_sms("86" + B, f"结案 {case.number}", "unknown") is True
    assert office.cases.get(case.number).state == "caller_informed"
    # a case nobody owns: taken first, then resolved
    free = office.open_case("urgent", "13800000001")
    assert office.on_sms(B, f"结案 {free.number}", "national") is False
    assert _replies(office, B)[-1].endswith(f"请先回复：接 {free.number}")
    assert office.on_sms(B, f"接 {free.number}", "national") is True
    assert office.cases.get(free.number).owner == B
    assert office.on_sms(B, f"R {free.number}", "national") is True
    # the head resolves anyone's case
    other = office.open_case("consultation", "", owner=A, state="assigned")
    assert office.on_sms(HEAD, f"结案 {other.number}", "unknown") is True


def test_reassigning_to_someone_outside_the_lists_is_refused(office):
    case = office.open_case("consultation", "", owner=A, state="assigned")
    assert office.on_sms(HEAD, f"改派 {case.number} 13700000000", "unknown") is False
    assert office.cases.get(case.number).owner == A


def test_without_a_rota_the_duty_numbers_and_mediators_are_the_staff(tmp_path):
    office = _office(tmp_path, numbers=[A], mediators=["+86" + B])
    case = office.open_case("urgent", "")
    assert office.on_sms("8613900000002", f"接 {case.number}", "unknown") is True
    assert office.on_sms("13900000003", f"接 {case.number}", "unknown") is None


def test_alphanumeric_and_short_code_senders_never_act_and_get_no_reply(office, caplog):
    case = office.open_case("service_request", "", owner=A, state="assigned")
    for kind in ("alphanumeric", "abbreviated", "network", "subscriber", "reserved", ""):
        assert office.on_sms(A, f"结案 {case.number}", kind) is None, kind
    assert office.cases.get(case.number).state == "assigned"
    assert not office.sms.rows()
    assert "its originator is alphanumeric, not a phone number" in caplog.text


def test_help_is_rate_limited_per_sender_and_in_all(tmp_path):
    staff = [f"1390000{i:04d}" for i in range(HELP_PER_HOUR + 3)]
    office = _office(tmp_path, numbers=staff)
    for _ in range(5):                       # an auto-responder answering every text
        assert office.on_sms(staff[0], "我正在开车，稍后回复您。", "unknown") is None
    assert len(office.sms.rows(purpose=HELP)) == 1
    for number in staff[1:]:
        office.on_sms(number, "收到", "unknown")
    assert len(office.sms.rows(purpose=HELP)) == HELP_PER_HOUR     # the cap in all
    # an hour later the first sender may be helped again
    office.sms._db.execute("UPDATE sms SET created = created - 3601")
    office.on_sms(staff[0], "收到", "unknown")
    assert len(office.sms.rows(purpose=HELP, since=0)) == HELP_PER_HOUR + 1
    # commands still get their replies
    case = office.open_case("urgent", "")
    assert office.on_sms(staff[0], f"接 {case.number}", "unknown") is True
    assert _replies(office, staff[0])[-1].endswith("已由您接手。")


def test_senders_and_texts_are_logged_quoted(office, caplog):
    caplog.set_level(logging.INFO)
    case = office.open_case("service_request", "", owner=A, state="assigned")
    forged = "lawline.office INFO case 2612010001: resolved"
    office.on_sms("ICBC\n" + forged, f"结案 {case.number}", "alphanumeric")
    office.on_sms("13700000000", "hi\n" + forged, "unknown")
    office.on_sms(A, "hello\r\n" + forged, "unknown")
    office.on_sms(A, f"转办 {case.number} 劳动局\n" + forged, "unknown")
    assert not [r.getMessage() for r in caplog.records if "\n" in r.getMessage() or
                "\r" in r.getMessage()]
    assert "'ICBC\\nlawline.office" in caplog.text and "'hello\\r\\n" in caplog.text
    assert "note '劳动局\\nlawline.office" in caplog.text


@pytest.mark.parametrize("state", ["resolved", "referred", "assigned"])
def test_a_sender_without_a_number_never_acts_on_an_unowned_case(state):
    # a duty account on the page with no mobile: "" is not the owner of an unowned case
    refused = may_act(Command(state, "2612010001"), _case(owner="", state="new"), "",
                      is_head=False)
    assert refused is not None and "手机号" in refused[1]
