"""The call script (call/script.py) driven by event scripts: no line, no media, no clock.

Each line of a script is `EVENT -> ACTION`: the event the driver would send, and the next
action the script must ask for (one that waits; SAY, LIMIT and the like are kept in
`call.log`). An action ending in `...` matches by its beginning. ASKs are answered from
`answers` (defaults below) and logged too.
"""

from types import SimpleNamespace

import pytest

from lawline import config
from lawline.call.menu import parse
from lawline.call.script import CallScript
from lawline.call.steps import Event
from lawline.clock import Clock
from lawline.duty.desk import DutyDesk
from lawline.records.outcomes import Department, Duty

MENU = SimpleNamespace(key_timeout=6.0, max_tries=3)
LIMITS = SimpleNamespace(max_call_seconds=3600.0, cases_per_number_per_day=6,
                         ring_alls_per_number_per_day=3, status_tries_per_call=3,
                         status_tries_per_number_per_day=10)
VOICEMAIL = SimpleNamespace(max_seconds=120.0, min_seconds=1.0)
SURVEY = SimpleNamespace(enabled=True, key_timeout=8.0, alert_at_or_below=2)
CASE = "2612010001"
READBACK = "PLAY case_number " + " ".join(f"digit_{d}" for d in CASE)

DEFAULTS = {
    "office_open": (True, "open (Tuesday 10:00)"),
    "cases_left": 5, "trunk_down": None, "can_bridge": True, "can_record": True,
    "numbers": {"lawyer": ["13900000001", "13900000002"], "mediator": ["13800000001"],
                "after_hours": []},
    "take": 1, "used": 0, "find_case": None, "pin_matches": False, "referrals": 2,
    "staff": None, "new_case": CASE,
    "has_address": False, "texts_left": 2, "may_text": None, "result_prompt": None,
    "referral": lambda i: Department(["县法律援助中心", "县劳动监察大队"][int(i)], "07731112222"),
    "ladder": lambda: [], "switchboard": None,   # issue 17: no ladder, no switchboard
}
RECORDING = {"reason": "# pressed", "seconds": 5.0, "complete": True,
             "began": "2026-12-01T10:00:10+0800", "path": "/spool/incoming/x.wav"}


class Call:
    def __init__(self, caller="13700000000", tree=None, survey=SURVEY, menu=None, **answers):
        """`menu`: a [menu] section as the config builds it (the box passes cfg.menu)."""
        self.answers = {**DEFAULTS, **answers}
        menu = menu or SimpleNamespace(**vars(MENU), tree=tree)
        self.script = CallScript(caller, "261201-100000-abcd", "01480000000", "county",
                                 menu, LIMITS, VOICEMAIL, survey, started=1000.0)
        self.log = []
        self.t = 1000.0
        self.waiting = self._take(self.script.start())

    def _answer(self, action):
        question, *args = action.names
        value = self.answers[question]
        if question == "numbers":
            value = value[args[0]]
        elif callable(value):
            value = value(*args)
        elif isinstance(value, list):   # one answer per time asked
            value = value.pop(0)
        return value

    def _take(self, actions):
        while True:
            for action in actions:
                self.log.append(str(action))
            action = actions[-1]
            if action.kind != "ask":
                return action
            actions = self.script.send(Event("answer", self._answer(action), self.t))

    def event(self, text):
        self.t += 1.0
        kind, _, value = text.partition(" ")
        kind = kind.lower()
        if kind.startswith("recorded"):   # RECORDED, RECORDED_HANGUP, RECORDED_CUT
            how = kind.partition("_")[2]
            info = dict(RECORDING, reason={"": "# pressed", "hangup": "caller hung up",
                                           "cut": "call_length"}[how])
            return Event({"": "recording_ended"}.get(how, how), info, self.t)
        if kind == "at":   # AT 2000 KEY 1: the event happens at that time
            self.t = float(value.split()[0])
            return Event(*self._split(value.split(" ", 1)[1]), at=self.t)
        return Event(kind, value or None, self.t, self._record(kind))

    def _split(self, text):
        kind, _, value = text.partition(" ")
        return kind.lower(), value or None

    def _record(self, kind):
        return {"bridged_s": 30.0} if kind in ("bridge_ended",) else {}

    def run(self, script):
        for n, line in enumerate(l.strip() for l in script.strip().splitlines()):
            if not line or line.startswith("#"):
                continue
            event, _, expected = (p.strip() for p in line.partition("->"))
            if event:
                actions = self.script.send(self.event(event))
                self.waiting = self._take(actions)
            got = str(self.waiting)
            ok = got.startswith(expected[:-3]) if expected.endswith("...") else got == expected
            assert ok, f"line {n + 1} {line!r}: the script asked for {got!r}\n" + \
                "\n".join(self.log[-12:])
        return self

    @property
    def record(self):
        return self.script.record

    def said(self, text):
        return any(text in entry for entry in self.log)


GREETED = """
-> ANSWER
ANSWERED -> PLAY greeting menu
"""
THE_END = """
PROMPT_ENDED -> HANG_UP
DONE -> FINISH
DONE -> COMMIT ...
COMMITTED -> END
"""
GOODBYE = "PROMPT_ENDED -> PLAY goodbye\n" + THE_END


def commit_and_readback(case=CASE):
    return f"""
    COMMITTED {case} -> PLAY recorded
    PROMPT_ENDED -> {READBACK}
    PROMPT_ENDED -> {READBACK}
    """ + GOODBYE


# -- the menu ----------------------------------------------------------------------------

def test_key_2_records_a_service_request():
    call = Call().run(GREETED + """
        KEY 2 -> PLAY record_request
        PROMPT_ENDED -> RECORD service_request
        RECORDED -> COMMIT Voicemail
    """ + commit_and_readback())
    r = call.record
    assert r["branch"] == "service_request" and r["outcome"] == "voicemail"
    assert r["voicemail"] == {"case_number": CASE, "seconds": 5.0}
    assert r["menu_path"] == ["2"] and r["duration_s"] is not None
    assert call.said("COMMIT CallRecord")


def test_a_key_during_the_greeting_chooses_at_once():
    call = Call().run("""
        -> ANSWER
        ANSWERED -> PLAY greeting menu
        KEY 5 -> PLAY complaint_staff
    """)
    assert call.record["branch"] == "complaint"


def test_invalid_keys_and_silence_are_tries_then_goodbye():
    call = Call().run(GREETED + """
        PROMPT_ENDED -> WAIT_KEY
        KEY 8 -> PLAY invalid_key menu
        PROMPT_ENDED -> WAIT_KEY
        TIMEOUT -> PLAY no_key menu
        KEY * -> PLAY goodbye
    """ + THE_END)
    r = call.record
    assert r["outcome"] == "no_input" and r["limits_hit"] == ["menu_tries"]
    assert r["menu_path"] == ["invalid:8", "timeout", "invalid:*"]
    assert call.said("LIMIT menu_tries")


def test_key_0_repeats_the_menu_and_counts_as_a_try():
    call = Call().run(GREETED + """
        KEY 0 -> PLAY menu
        KEY 0 -> PLAY menu
        KEY 0 -> PLAY goodbye
    """ + THE_END)
    assert call.record["menu_path"] == ["0", "0", "0"]
    assert call.record["limits_hit"] == ["menu_tries"]


def test_a_number_that_opened_its_days_cases_hears_the_limit():
    call = Call(cases_left=0).run(GREETED + """
        KEY 2 -> PLAY limit_reached goodbye
    """ + THE_END)
    assert call.record["outcome"] == "limited"
    assert call.record["limits_hit"] == ["cases_per_day"]


# -- key 1: the duty lawyer ----------------------------------------------------------------

def test_key_1_bridged_then_rated():
    call = Call().run(GREETED + """
        KEY 1 -> PLAY connecting
        PROMPT_ENDED -> RING 13900000001 13900000002
        LEG_ACCEPTED 13900000002 -> BRIDGE 13900000002
        BRIDGE_ENDED -> PLAY rate_call
        PROMPT_ENDED -> WAIT_KEY
        KEY 1 -> PLAY rate_thanks
    """ + GOODBYE)
    r = call.record
    assert r["outcome"] == "bridged" and r["bridged_to"] == "13900000002"
    assert r["rating"] == 1 and r["bridged_s"] == 30.0
    assert r["seconds_to_person"] == 4.0   # four events after the start, a second each


def test_key_1_without_a_rating_when_the_survey_is_off():
    call = Call(survey=SimpleNamespace(enabled=False, key_timeout=8.0)).run(GREETED + """
        KEY 1 -> PLAY connecting
        PROMPT_ENDED -> RING ...
        LEG_ACCEPTED 13900000001 -> BRIDGE 13900000001
        BRIDGE_ENDED -> PLAY goodbye
    """ + THE_END)
    assert "rating" not in call.record


def test_key_1_nobody_accepts_so_voicemail():
    call = Call().run(GREETED + """
        KEY 1 -> PLAY connecting
        PROMPT_ENDED -> RING ...
        LEG_FAILED -> PLAY duty_unavailable record_message
        PROMPT_ENDED -> RECORD consultation
        RECORDED -> COMMIT Voicemail
    """ + commit_and_readback())
    assert call.record["outcome"] == "voicemail" and call.said("no duty phone accepted")


def test_key_1_with_the_trunk_down_goes_straight_to_voicemail():
    call = Call(trunk_down="trunk not registered at 10.0.0.1").run(GREETED + """
        KEY 1 -> PLAY trunk_down record_message
    """)
    assert call.record["trunk"] == "unregistered"


def test_key_1_on_a_modem_that_cannot_bridge():
    call = Call(can_bridge=False).run(GREETED + """
        KEY 1 -> PLAY duty_unavailable record_message
    """)
    assert call.record["bridging_unavailable"] is True


def test_key_1_without_duty_numbers():
    call = Call(numbers={**DEFAULTS["numbers"], "lawyer": []}).run(GREETED + """
        KEY 1 -> PLAY duty_unavailable record_message
    """)
    assert call.said("no duty numbers configured")


def test_caller_hangs_up_while_the_duty_phone_rings():
    call = Call().run(GREETED + """
        KEY 1 -> PLAY connecting
        PROMPT_ENDED -> RING ...
        HANGUP -> FINISH
        DONE -> COMMIT CallRecord
        COMMITTED -> END
    """)
    assert call.record["outcome"] == "abandoned" and call.said("caller hung up")


# -- key 3: urgent dispute -----------------------------------------------------------------

def test_key_3_rings_every_mediator_at_once():
    call = Call().run(GREETED + """
        KEY 3 -> PLAY connecting_urgent
        PROMPT_ENDED -> RING 13800000001
        LEG_ACCEPTED 13800000001 -> COMMIT LadderStep
        COMMITTED 2612010001 -> BRIDGE 13800000001
    """)
    assert call.said("ASK take ring_alls")
    assert call.record["taken_by"]["number"] == "13800000001"   # its case opened at once


def test_key_3_nobody_accepts_opens_the_case_then_voicemail():
    call = Call(new_case="2612010007").run(GREETED + """
        KEY 3 -> PLAY connecting_urgent
        PROMPT_ENDED -> RING 13800000001
        LEG_FAILED -> COMMIT Escalated
        COMMITTED 2612010007 -> PLAY mediator_unavailable record_message
        PROMPT_ENDED -> RECORD urgent
    """)
    assert call.record["case_number"] == "2612010007" and call.script.case_opened


def test_key_3_past_the_days_ring_alls_goes_to_voicemail():
    call = Call(take=4).run(GREETED + """
        KEY 3 -> PLAY mediator_unavailable record_message
    """)
    assert call.record["ring_all"] == "limited"
    assert call.record["limits_hit"] == ["ring_alls_per_day"]


# -- key 4: referral -----------------------------------------------------------------------

def test_key_4_refers_and_texts_the_caller():
    phone = " ".join(f"digit_{d}" for d in "07731112222")
    call = Call().run(GREETED + f"""
        KEY 4 -> PLAY referral_intro
        PROMPT_ENDED -> PLAY referral:0
        PROMPT_ENDED -> PLAY referral:1
        KEY 2 -> COMMIT Referred
        COMMITTED 2612010002 -> PLAY referral_phone {phone} referral_options
        PROMPT_ENDED -> WAIT_KEY
        TIMEOUT -> PLAY referral_sent goodbye
    """)
    assert call.record["referral"] == "县劳动监察大队" and call.record["outcome"] == "referred"


def test_key_4_without_departments():
    Call(referrals=0).run(GREETED + """
        KEY 4 -> PLAY referral_none goodbye
    """ + THE_END)


def test_key_4_with_no_choice_says_goodbye_after_the_tries():
    call = Call(referrals=1).run(GREETED + """
        KEY 4 -> PLAY referral_intro
        PROMPT_ENDED -> PLAY referral:0
        PROMPT_ENDED -> WAIT_KEY
        KEY 7 -> PLAY referral_intro
        PROMPT_ENDED -> PLAY referral:0
        PROMPT_ENDED -> WAIT_KEY
        TIMEOUT -> PLAY referral_intro
        KEY 8 -> PLAY goodbye
    """ + THE_END)
    assert call.said("key 7 is not a department") and call.said("referral menu: no key")
    assert call.record["outcome"] == "referral_none"


# -- key 5: complaint ----------------------------------------------------------------------

def test_key_5_asks_the_staff_number_then_records():
    call = Call(staff=lambda digits: Duty("13900000005", "王五", "0042") if digits == "0042" else None).run(GREETED + """
        KEY 5 -> PLAY complaint_staff
        KEY 0 -> WAIT_KEY
        KEY 0 -> WAIT_KEY
        KEY 4 -> WAIT_KEY
        KEY 2 -> WAIT_KEY
        KEY # -> PLAY record_complaint
        PROMPT_ENDED -> RECORD complaint
    """)
    assert call.record["named_staff"] == {"staff_no": "0042", "name": "王五"}
    assert call.record["outcome"] == "complaint"


def test_key_5_with_the_spool_full():
    call = Call(can_record=False).run(GREETED + """
        KEY 5 -> PLAY service_unavailable goodbye
    """ + THE_END)
    assert call.record["outcome"] == "spool_full"


# -- key 9: case status ----------------------------------------------------------------------

def keyed(number):
    return "\n".join(f"KEY {d} -> WAIT_KEY" for d in number)


def test_key_9_tells_the_callers_own_case():
    own = {"number": CASE, "state": "assigned", "mine": True}
    call = Call(find_case=lambda digits: own if digits == CASE else None).run(
        GREETED + "KEY 9 -> PLAY enter_case\nPROMPT_ENDED -> WAIT_KEY\n" + keyed(CASE) + f"""
        KEY # -> PLAY case_number {' '.join('digit_' + d for d in CASE)} status_assigned
        PROMPT_ENDED -> PLAY goodbye
    """ + THE_END)
    assert call.record["outcome"] == "status_told"
    assert call.said(f"case status {CASE}: assigned, told (the caller's own phone)")


def test_key_9_another_numbers_case_needs_its_pin():
    other = {"number": CASE, "state": "resolved", "mine": False}
    call = Call(find_case=lambda digits: other, pin_matches=lambda n, pin: pin == "1234").run(
        GREETED + "KEY 9 -> PLAY enter_case\nPROMPT_ENDED -> WAIT_KEY\n" + keyed(CASE) + """
        KEY # -> PLAY enter_pin
        KEY 1 -> WAIT_KEY
        KEY 2 -> WAIT_KEY
        KEY 3 -> WAIT_KEY
        KEY 4 -> WAIT_KEY
        KEY # -> PLAY case_number ...
    """)
    assert call.record["status_by_pin"] is True


def test_key_9_wrong_pins_use_up_the_calls_tries():
    tries = "".join(f"""
        {'KEY 9' if n == 0 else 'PROMPT_ENDED'} -> PLAY enter_case
        KEY 5 -> WAIT_KEY
        KEY # -> PLAY enter_pin
        KEY 0 -> WAIT_KEY
        KEY # -> PLAY case_not_found
    """ for n in range(3))
    call = Call(find_case=None).run(GREETED + tries + GOODBYE)
    assert call.record["status_queries"] == ["5", "5", "5"]
    assert call.record["limits_hit"] == ["status_tries_call"]
    assert call.log.count("ASK take status_tries") == 3


def test_key_9_after_the_days_wrong_tries_tells_nothing():
    call = Call(used=10).run(GREETED + """
        KEY 9 -> PLAY case_not_found
    """ + GOODBYE)
    assert call.record["limits_hit"] == ["status_tries_day"]


def test_a_digit_after_a_full_case_number_makes_it_too_long():
    seen = []
    Call(find_case=lambda digits: seen.append(digits)).run(
        GREETED + "KEY 9 -> PLAY enter_case\nPROMPT_ENDED -> WAIT_KEY\n" + keyed(CASE) +
        "\nKEY 1 -> PLAY enter_pin")
    assert seen == [CASE + "1"]


# -- after hours ---------------------------------------------------------------------------

def test_after_hours_rings_night_duty():
    call = Call(office_open=(False, "closed: Sunday"),
                numbers={**DEFAULTS["numbers"], "after_hours": ["13900000009"]}).run("""
        -> ANSWER
        ANSWERED -> PLAY after_hours
        PROMPT_ENDED -> PLAY connecting
        PROMPT_ENDED -> RING 13900000009
        LEG_FAILED -> PLAY duty_unavailable record_message
    """)
    assert call.record["branch"] == "after_hours"


# The office's own hours, calendar and rota answer "is the office open" and "who is on duty
# now" (duty/desk.py, on the office clock moved to the day): a make-up working Saturday is
# open, National Day is not, and the rota's night duty is rung. (It was a whole-box scenario
# that restarted the box twice only to re-test these branches.)
LAWYER = "13900000001"
HOURS_ROTA = f"""date,shift,name,role,mobile,staff_no
2026-11-30,day,张律师,lawyer,{LAWYER},11
2026-11-30,night,张律师,lawyer,{LAWYER},11
2026-02-14,day,张律师,lawyer,{LAWYER},11
2026-10-05,rest,张律师,lawyer,{LAWYER},11
"""


def desk_at(tmp_path, when):
    rota = tmp_path / "rota.csv"
    rota.write_text(HOURS_ROTA, encoding="utf-8")
    cfg = config.from_dict({
        "hours": {"always_open": False},
        "duty": {"rota_files": [str(rota)], "gap_days": 0,
                 "shifts": ["day 08:30-17:30 workdays", "night 17:30-08:30",
                            "rest 08:30-17:30 restdays"]},
        "spool": {"dir": str(tmp_path / "spool")}})
    clock = Clock(cfg.office.timezone)
    clock.move_to(when)
    return DutyDesk.from_config(cfg, clock)


def test_a_make_up_saturday_is_open_but_a_holiday_rings_the_rotas_duty(tmp_path):
    saturday = desk_at(tmp_path, "2026-02-14T10:00:00")
    call = Call(office_open=(saturday.is_open(), saturday.why())).run(GREETED + """
        HANGUP -> FINISH
        DONE -> COMMIT CallRecord
        COMMITTED -> END
    """)
    assert call.record["branch"] is None and call.record["outcome"] == "abandoned", call.record
    holiday = desk_at(tmp_path, "2026-10-05T10:00:00")
    assert not holiday.is_open()
    assert holiday.why() == "2026-10-05 is a public holiday (National Day)"
    call = Call(office_open=(False, holiday.why()),
                numbers={**DEFAULTS["numbers"],
                         "after_hours": holiday.after_hours_numbers()}).run("""
        -> ANSWER
        ANSWERED -> PLAY after_hours
        PROMPT_ENDED -> PLAY connecting
        PROMPT_ENDED -> RING 13900000001
    """)
    assert call.record["branch"] == "after_hours", call.record
    assert call.said("after hours: 2026-10-05 is a public holiday (National Day)")
    assert call.said("after hours: ringing night duty 13900000001")


def test_after_hours_without_a_rota_is_voicemail():
    Call(office_open=(False, "closed")).run("""
        -> ANSWER
        ANSWERED -> PLAY after_hours
        PROMPT_ENDED -> PLAY record_message
    """)


def test_after_hours_key_9_is_case_status():
    call = Call(office_open=(False, "closed")).run("""
        -> ANSWER
        ANSWERED -> PLAY after_hours
        KEY 9 -> PLAY enter_case
    """)
    assert call.record["branch"] == "case_status" and call.record["menu_path"] == ["9"]


# -- the end of a call: hang-up, cut, failure --------------------------------------------------

def test_caller_hangs_up_during_the_greeting():
    call = Call().run(GREETED + """
        HANGUP -> FINISH
        DONE -> COMMIT CallRecord
        COMMITTED -> END
    """)
    assert call.record["outcome"] == "abandoned" and call.script.done


def test_a_cut_at_the_maximum_length_says_goodbye():
    call = Call().run(GREETED + """
        KEY 1 -> PLAY connecting
        PROMPT_ENDED -> RING ...
        LEG_ACCEPTED 13900000001 -> BRIDGE 13900000001
        CUT call_length -> LAST_WORDS goodbye
        DONE -> FINISH
        DONE -> COMMIT ...
        COMMITTED -> END
    """)
    r = call.record
    assert r["outcome"] == "bridged" and r["cut"] == "call_length"
    assert r["limits_hit"] == ["call_length"]


def test_a_hang_up_while_recording_keeps_the_message():
    call = Call(new_case="2612010003").run(GREETED + """
        KEY 2 -> PLAY record_request
        PROMPT_ENDED -> RECORD service_request
        RECORDED_HANGUP -> COMMIT Voicemail
        COMMITTED 2612010003 -> FINISH
        DONE -> COMMIT ...
        COMMITTED -> END
    """)
    assert call.record["voicemail"]["case_number"] == "2612010003"


def test_a_cut_while_recording_keeps_the_message_then_goodbye():
    call = Call(new_case="2612010003").run(GREETED + """
        KEY 2 -> PLAY record_request
        PROMPT_ENDED -> RECORD service_request
        RECORDED_CUT -> COMMIT Voicemail
        COMMITTED 2612010003 -> LAST_WORDS goodbye
    """)
    assert call.record["cut"] == "call_length" and call.record["voicemail"]


def test_a_hang_up_during_the_beep_records_nothing():
    call = Call().run(GREETED + """
        KEY 2 -> PLAY record_request
        PROMPT_ENDED -> RECORD service_request
        HANGUP -> FINISH
    """)
    assert call.record["voicemail"] is None


def test_a_message_the_spool_cannot_take_is_told():
    call = Call().run(GREETED + """
        KEY 2 -> PLAY record_request
        PROMPT_ENDED -> RECORD service_request
        RECORDED -> COMMIT Voicemail
        COMMIT_FAILED disk_full -> PLAY service_unavailable goodbye
    """ + THE_END)
    assert call.record["outcome"] == "error" and call.record["error"] == "spool: disk_full"


def test_a_failure_inside_the_call_ends_that_call_only():
    call = Call().run(GREETED)
    try:
        raise ValueError("a damaged prompt")
    except ValueError as exc:
        call.waiting = call._take(call.script.throw(exc))
    assert str(call.waiting) == "LAST_WORDS service_unavailable goodbye"
    r = call.record
    assert r["outcome"] == "error" and r["error"] == "ValueError: a damaged prompt"
    assert "test_call_script.py" in r["error_at"]


def test_the_line_failing_ends_the_call_with_its_reason():
    call = Call().run(GREETED + """
        FAILED modem_gone -> FINISH
    """)
    assert call.record["outcome"] == "error" and call.record["error"] == "modem_gone"


# -- the menu from the config --------------------------------------------------------------------

def test_a_moved_key_and_a_sub_menu():
    tree = parse({"1": "service_request", "6": {"branch": "submenu", "menu": "family"},
                  "0": "repeat"},
                 {"family": {"prompt": "referral_intro",
                             "keys": {"1": {"branch": "consultation", "prompt": "connecting"},
                                      "0": "repeat"}}})
    call = Call(tree=tree).run(GREETED + """
        KEY 2 -> PLAY invalid_key menu
        KEY 1 -> PLAY record_request
    """)
    assert call.record["menu_path"] == ["invalid:2", "1"]
    call = Call(tree=tree).run(GREETED + """
        KEY 6 -> PLAY referral_intro
        KEY 0 -> PLAY referral_intro
        KEY 1 -> PLAY connecting
        PROMPT_ENDED -> PLAY connecting
    """)
    assert call.record["menu_path"] == ["6", "0", "1"] and call.said("sub-menu family")


# A county's own menu from the TOML ([menu.keys], [menu.submenu.NAME]): a key moved, a
# sub-menu added (it was a whole-box scenario, tests/scenarios/test_menu_toml.py, that only
# re-tested these branches; the box hands the script cfg.menu as built here, app.py).
COUNTY_MENU = {
    "keys": {"1": "service_request",                        # moved: key 2 is today's
             "6": {"branch": "submenu", "menu": "more"},    # a sub-menu added
             "0": "repeat"},
    "submenu": {"more": {"prompt": "referral_intro",
                         "keys": {"5": "complaint", "0": "repeat"}}},
}


def test_a_county_menu_from_the_config_moves_a_key():
    menu = config.from_dict({"menu": COUNTY_MENU}).menu
    call = Call(menu=menu).run(GREETED + """
        KEY 2 -> PLAY invalid_key menu
        KEY 1 -> PLAY record_request
    """)
    assert call.record["menu_path"] == ["invalid:2", "1"], call.record
    assert call.record["branch"] == "service_request"


def test_a_county_menu_from_the_config_adds_a_sub_menu():
    menu = config.from_dict({"menu": COUNTY_MENU}).menu
    call = Call(menu=menu).run(GREETED + """
        KEY 6 -> PLAY referral_intro
        KEY 5 -> PLAY complaint_staff
    """)
    assert call.record["menu_path"] == ["6", "5"] and call.record["branch"] == "complaint"
    assert call.said("sub-menu more (key 6)")


@pytest.mark.parametrize("key", ["1", "2", "3", "4", "5", "9"])
def test_every_default_key_reaches_its_branch(key):
    branch = {"1": "consultation", "2": "service_request", "3": "urgent", "4": "referral",
              "5": "complaint", "9": "case_status"}[key]
    call = Call().run(GREETED)
    call.run(f"KEY {key} -> ...")
    assert call.record["branch"] == branch


# -- queue and callback (every duty phone in a call from this box) ---------------------------

def test_every_duty_phone_busy_queues_and_a_key_books_a_callback():
    call = Call(queue_place=[2], queue_leave=None, new_case="2612010005").run(GREETED + """
        KEY 1 -> PLAY connecting
        PROMPT_ENDED -> RING ...
        LEG_FAILED all_busy -> PLAY queue_place digit_2 queue_callback
        KEY 1 -> COMMIT Callback
        COMMITTED 2612010005 -> PLAY callback_booked goodbye
    """ + THE_END)
    r = call.record
    assert r["outcome"] == "callback" and r["case_number"] == "2612010005"
    assert r["queued"] is True and r["queue_place"] == 2 and call.script.case_opened
    assert call.said("ASK queue_leave")


def test_a_queued_caller_is_bridged_when_a_duty_phone_frees():
    call = Call(queue_place=[1, 1], queue_leave=None).run(GREETED + """
        KEY 1 -> PLAY connecting
        PROMPT_ENDED -> RING ...
        LEG_FAILED all_busy -> PLAY queue_place digit_1 queue_callback
        PROMPT_ENDED -> WAIT_KEY
        TIMEOUT -> RING 13900000001 13900000002
        LEG_ACCEPTED 13900000001 -> BRIDGE 13900000001
    """)
    assert call.record["outcome"] == "bridged" and call.record["queued"]


def test_a_queue_that_never_moves_ends_in_voicemail():
    call = Call(queue_place=[1, 1, 1], queue_leave=None).run(GREETED + """
        KEY 1 -> PLAY connecting
        PROMPT_ENDED -> RING ...
    """ + """
        LEG_FAILED all_busy -> PLAY queue_place digit_1 queue_callback
        KEY 5 -> RING ...
    """ * 3 + """
        LEG_FAILED all_busy -> PLAY duty_unavailable record_message
    """)
    assert call.said("left the queue without a duty phone")


def test_the_script_owns_no_io_no_asyncio_no_clock():
    """call/script.py, steps.py and menu.py import nothing that does I/O or keeps time."""
    import ast
    from pathlib import Path
    import lawline.call as package
    allowed = {"dataclasses", "re", "traceback", "errors", "records.cases", "menu", "steps",
               "phone", "records.outcomes",
               "typing"}        # annotations only: no I/O, no clock
    for name in ("script.py", "steps.py", "menu.py"):
        tree = ast.parse((Path(package.__file__).parent / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                used = {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                used = {(node.module or "").lstrip(".")}
            else:
                continue
            assert used <= allowed, f"{name} imports {used - allowed}"
