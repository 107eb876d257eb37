"""sip/hunt.py and sip/leg.py without a call: who may be dialled (toll-fraud guard, checked
again when dialling, naming where a refused number came from), the whisper a duty phone
hears, how SIP answers become outcomes, and key 3 in the menu. Calls
through a real trunk are in tests/scenarios/test_trunk.py."""

import asyncio
import logging
import wave

import pytest

from lawline import config
from lawline.call.menu import Menu
from lawline.prompts import Prompts, read_pcm
from lawline.duty.desk import DutyDesk

hunt = pytest.importorskip("lawline.sip.hunt")   # needs pjsua2
from lawline.sip import leg as legs  # noqa: E402
from lawline.sip.dialplan import DialPlan  # noqa: E402


def box_config(tmp_path, **duty):
    values = {"numbers": ["13900000001", "13900000002"], "mediators": ["13900000021"],
              "referrals": ["+8607732345678"]}
    values.update(duty)
    return config.from_dict({"duty": values, "spool": {"dir": str(tmp_path / "spool")}})


def dialler_of(cfg):
    """The dialler as the box builds it: from its own sections, never the whole config."""
    return hunt.Dialler(None, None, duty=cfg.duty, sip=cfg.sip, plan=DialPlan.from_config(cfg))


def test_the_box_may_dial_the_duty_lists_and_nothing_else(tmp_path):
    allowed = hunt.allowed_destinations(box_config(tmp_path).duty)
    assert allowed == {"13900000001", "13900000002", "13900000021", "07732345678"}


def test_the_rota_adds_its_people(tmp_path):
    rota = tmp_path / "rota.csv"
    rota.write_text("weekday,shift,name,role,mobile\nmon,day,张律师,lawyer,13900000031\n"
                    "tue,day,李调解员,mediator,+8613900000032\n", encoding="utf-8")
    cfg = box_config(tmp_path, rota_files=[str(rota)])
    allowed = hunt.allowed_destinations(cfg.duty, DutyDesk.from_config(cfg))
    assert {"13900000031", "13900000032", "13900000001"} <= allowed


def test_the_dialler_refuses_a_number_nobody_configured(tmp_path, caplog):
    dialler = dialler_of(box_config(tmp_path))
    caplog.set_level(logging.ERROR, "lawline.sip")
    for number in ("13812345678", "139000000011", "1390000000*", ""):
        assert dialler.place(number) is None
    assert "toll-fraud guard: refused to dial '13812345678'" in caplog.text
    assert dialler.uri("13900000001") == "sip:13900000001@127.0.0.1:5070"


def test_the_dialler_holds_its_own_sections_not_the_whole_config(tmp_path):
    cfg = box_config(tmp_path)
    dialler = dialler_of(cfg)
    assert not any(isinstance(v, config.Config) for v in vars(dialler).values())
    assert dialler.sip is cfg.sip and dialler.allowed == hunt.allowed_destinations(cfg.duty)
    with pytest.raises(TypeError):
        hunt.Dialler(None, None, cfg)       # the whole config is no longer a way in


def test_a_refused_number_is_a_leg_result_not_a_call(tmp_path):
    dialler = dialler_of(box_config(tmp_path))
    results, leg = asyncio.run(hunt.sequential(dialler, ["13812345678"], None, 1, 1,
                                               asyncio.Event()))
    assert leg is None and [r.outcome for r in results] == ["refused"]


def tone(path, seconds):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x10\x00" * int(8000 * seconds))


@pytest.fixture
def prompts(tmp_path):
    d = tmp_path / "prompts"
    d.mkdir()
    lengths = {"whisper": 0.5, "whisper_consultation": 0.2, "whisper_urgent": 0.3,
               "whisper_keys": 0.4, "whisper_caller": 0.1, "whisper_withheld": 0.15}
    lengths.update({f"digit_{d}": 0.01 * (d + 1) for d in range(10)})
    for name, seconds in lengths.items():
        tone(d / f"{name}.wav", seconds)
    return Prompts(d)


def seconds(path):
    return len(read_pcm(path)) / 16000


def test_whisper_says_the_kind_the_keys_then_the_caller_digit_by_digit(prompts, tmp_path):
    out = hunt.build_whisper(prompts, "urgent", "139", tmp_path / "w.wav")
    parts = 0.3 + 0.4 + 0.1 + 0.02 + 0.04 + 0.10      # urgent, keys, caller, 1, 3, 9
    assert seconds(out) == pytest.approx(parts + 5 * 0.05, abs=0.002)   # 5 gaps of 50 ms
    withheld = hunt.build_whisper(prompts, "consultation", "", tmp_path / "w2.wav")
    assert seconds(withheld) == pytest.approx(0.2 + 0.4 + 0.15 + 2 * 0.05, abs=0.002)


def test_whisper_falls_back_to_the_plain_prompt(prompts, tmp_path):
    (prompts.dir / "whisper_keys.wav").unlink()
    out = hunt.build_whisper(prompts, "consultation", "139", tmp_path / "w.wav")
    assert out == prompts.dir / "whisper.wav"


@pytest.mark.parametrize("code, outcome", [(486, "busy"), (600, "busy"), (603, "declined"),
                                           (408, "no_answer"), (480, "no_answer"),
                                           (487, "no_answer"), (404, "failed"),
                                           (407, "failed"), (488, "failed")])
def test_sip_answers_become_leg_outcomes(code, outcome):
    assert legs._outcome(code) == outcome


def test_leg_results_go_into_the_call_record():
    result = legs.LegResult("139", "accepted", 200, 2.5, 0.004)
    assert result.as_record() == {"number": "139", "outcome": "accepted", "sip_code": 200,
                                  "seconds_to_accept": 2.5, "setup_s": 0.004}


def test_key_3_is_the_urgent_dispute():
    decision = Menu().key("3")
    assert decision.action == "branch" and decision.branch == "urgent"


def test_the_dialler_checks_the_plan_again_and_names_where_the_number_came_from(
        tmp_path, caplog):
    hunt = pytest.importorskip("lawline.sip.hunt")      # needs pjsua2
    cfg = config.from_dict({"duty": {"numbers": ["13900000001"]},
                            "spool": {"dir": str(tmp_path / "spool")}})
    dialler = hunt.Dialler(None, None, duty=cfg.duty, sip=cfg.sip,
                           plan=DialPlan.from_config(cfg))
    dialler.plan = DialPlan(deny=("1390000",), area_code="0773")   # tightened since loading
    caplog.set_level(logging.ERROR, "lawline.sip")
    assert dialler.place("13900000001") is None
    assert "toll-fraud guard: refused to dial '13900000001' (from [duty] numbers): denied " \
           "by [dialplan] deny '1390000'" in caplog.text
