"""sip/dialplan.py: which numbers the box may ever dial, and where a refused one is named
(config option, rota row). Pure: no SIP stack. (The dialler's log:
tests/sip/test_sip_hunt.py; `lawline duty --check`: tests/commands/test_duty_check.py.)"""


import pytest

from lawline import config
from lawline.duty.desk import DutyDesk
from lawline.errors import ConfigError
from lawline.sip import dialplan
from lawline.sip.dialplan import DialPlan
from lawline.sip.door import exposure

PLAN = DialPlan(area_code="0773")


@pytest.mark.parametrize("number", [
    "13900000001", "+8613900000001", "008613900000001", "139 0000 0001", "15012345678",
    "16612345678", "19912345678", "17312345678",
    "07732345678", "0773-2345678", "077323456789", "+867732345678", "+8607732345678",
    "2345678", "23456789",
])
def test_mobiles_and_the_countys_landlines_may_be_dialled(number):
    assert PLAN.refusal(number) is None


@pytest.mark.parametrize("number, why", [
    ("+4412345678", "international"), ("0044123456789", "international"),
    ("+1 202 555 0100", "international"), ("00861", "not in the dial plan"),
    ("16900000000", "(169)"), ("16012345678", "(160)"), ("16812345678", "(168)"),
    ("16312345678", "(163)"), ("12590123456", "(1259X)"), ("125901234", "(1259X)"),
    ("1790913900000001", "IP long-distance"), ("17951", "IP long-distance"),
    ("13490000000", "satellite"), ("17400000000", "satellite"),
    ("95588", "service number"), ("96123", "local service number"),
    ("0773955880", "service number"), ("07731259012", "(1259X)"),
    ("+8616900000000", "(169)"), ("008616900000000", "(169)"),
    ("07712345678", "not in the dial plan"),    # another county's landline
    ("12348", "not in the dial plan"), ("110", "not in the dial plan"),
    ("1390000000", "not in the dial plan"), ("139000000011", "not in the dial plan"),
    ("1390000000*", "not a phone number"), ("", "not a phone number"),
    ("１３９００００００01", "not a phone number"),      # full-width digits are not dialled
    ("07731234567", "not in the dial plan"),    # a local number never starts with 1
])
def test_everything_else_is_refused_with_a_reason(number, why):
    assert why in (PLAN.refusal(number) or "accepted"), number


def test_barred_prefixes_stay_barred_whatever_allow_says():
    plan = DialPlan(allow=("169XXXXXXXX", "XXXXX", "00XXXXXXXXXXX"), area_code="0773")
    assert "(169)" in plan.refusal("16900000000")
    assert "service number" in plan.refusal("95588")
    assert "international" in plan.refusal("004412345678")
    assert plan.refusal("12348") is None        # allowed by the office's own pattern


def test_deny_adds_beginnings_and_a_bad_pattern_names_the_option():
    plan = DialPlan(deny=("1380013",), area_code="0773")
    assert "denied by [dialplan] deny '1380013'" in plan.refusal("13800138000")
    assert plan.refusal("13800238000") is None
    with pytest.raises(ConfigError, match=r"option 'allow' in section \[dialplan\]: '1\[3-'"):
        DialPlan(allow=("1[3-",))
    with pytest.raises(ConfigError, match=r"option 'deny' in section \[dialplan\]: '12\*'"):
        DialPlan(deny=("12*",))


def test_the_area_code_comes_from_the_office_number_unless_configured():
    assert dialplan.area_of(config.from_dict({})) == "0773"      # [office] number 07730148
    beijing = config.from_dict({"office": {"number": "01012340148"}})
    assert dialplan.area_of(beijing) == "010"
    plan = DialPlan.from_config(beijing)
    assert plan.refusal("01023456789") is None and plan.refusal("07732345678")
    cfg = config.from_dict({"office": {"area_code": "0771"}})
    assert DialPlan.from_config(cfg).refusal("07712345678") is None
    with pytest.raises(ConfigError, match=r"option 'area_code' in section \[office\]"):
        config.from_dict({"office": {"area_code": "773"}})


@pytest.mark.parametrize("option", ["numbers", "mediators", "referrals"])
def test_a_barred_number_in_the_duty_lists_is_a_config_error(option):
    with pytest.raises(ConfigError, match=rf"option '{option}' in section \[duty\]: "
                                          r"'16900000000' is refused by the dial plan: "
                                          r"a dial-up or information-service number"):
        config.from_dict({"duty": {option: ["13900000001", "16900000000"]}})
    with pytest.raises(ConfigError, match=rf"option '{option}' in section \[duty\]: "
                                          r"'\+4412345678' is refused .*international"):
        config.from_dict({"duty": {option: ["+4412345678"]}})


def test_a_barred_mobile_in_a_rota_names_the_row_and_the_last_good_rota_stays(tmp_path):
    rota = tmp_path / "rota.csv"
    rota.write_text("weekday,shift,name,role,mobile\nmon,day,张律师,lawyer,13900000031\n",
                    encoding="utf-8")
    cfg = config.from_dict({"duty": {"rota_files": [str(rota)]},
                            "spool": {"dir": str(tmp_path / "spool")}})
    desk = DutyDesk.from_config(cfg)
    assert desk.roster.configured and not desk.rota_errors
    rota.write_text("weekday,shift,name,role,mobile\nmon,day,张律师,lawyer,13900000031\n"
                    "tue,day,王某,lawyer,16900000000\nwed,day,李某,mediator,+85212345678\n",
                    encoding="utf-8")
    errors, _ = desk.check_files()
    assert errors == [
        "rota.csv row 3, column E (mobile): '16900000000' is refused by the dial plan: "
        "a dial-up or information-service number (169)",
        "rota.csv row 4, column E (mobile): '+85212345678' is refused by the dial plan: "
        "an international number"]
    assert {p for p in desk.roster.people()} == {"13900000031"}, "the old rota is in force"


def test_sip_on_every_interface_is_an_error_without_a_trunk_and_a_warning_with_one(tmp_path):
    with pytest.raises(ConfigError, match=r"option 'bind' in section \[sip\]: '0.0.0.0' "
                                          "listens on every interface"):
        config.from_dict({"sip": {"bind": "0.0.0.0"}})
    secret = tmp_path / "pw"
    secret.write_text("x")
    trunk = {"registrar": "sip:127.0.0.1:5080", "username": "box",
             "password_file": str(secret)}
    state, text = exposure(config.from_dict({"sip": {"bind": "0.0.0.0"}, "trunk": trunk}))
    assert state == "warn" and "every interface (0.0.0.0:5060)" in text, text
    state, text = exposure(config.from_dict({"trunk": trunk}))
    assert state == "ok" and "only the trunk (127.0.0.1:5080) may send" in text, text
    state, text = exposure(config.from_dict({}))
    assert state == "ok" and "nothing outside a call is answered" in text, text


@pytest.mark.parametrize("number", ["+8600442079460958", "+86 00 1 202 555 0100",
                                    "00860044207946095", "+86 0086 13900000001"])
def test_an_international_prefix_behind_86_is_still_international(number):
    # "+86" then "00": the trunk dials 00..., an international call, whatever allow says
    plan = DialPlan(allow=("0XXXXXXXXXXXXX", "0XXXXXXXXXXXX", "0XXXXXXXXXXXXXXX"),
                    area_code="0773")
    assert dialplan.barred(number) == "an international number"
    assert "international" in plan.refusal(number)
