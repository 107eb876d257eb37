"""The call script's part of the office's duties (issue 17), as event scripts
(tests/unit/test_call_script.py's harness): a referral's phone and address spoken and
repeated, its details texted to a mobile the caller keys (never dialled), and the result of a
resolved case spoken on the phone that opened it, which records the caller as told."""

from lawline.records.outcomes import Department

from .test_call_script import CASE, GREETED, THE_END, Call, keyed

PHONE = "07731112222"
DIGITS = " ".join(f"digit_{d}" for d in PHONE)
DEPARTMENT = Department("县劳动监察大队", PHONE, "县府路1号", "工作日", "13700000001",
                        "jc@example.org")
DETAILS = f"PLAY referral_phone {DIGITS} referral_address referral_address:1 referral_options"
CHOSEN = GREETED + """
    KEY 4 -> PLAY referral_intro
    PROMPT_ENDED -> PLAY referral:0
    PROMPT_ENDED -> PLAY referral:1
    KEY 2 -> COMMIT Referred
"""


def referral_call(**answers):
    return Call(referral=lambda i: DEPARTMENT, has_address=lambda i: i == 1, **answers)


def test_the_department_is_spoken_digit_by_digit_then_its_address_and_1_repeats_it():
    call = referral_call().run(CHOSEN + f"""
        COMMITTED 2612010002 -> {DETAILS}
        KEY 1 -> {DETAILS}
        PROMPT_ENDED -> WAIT_KEY
        KEY 1 -> {DETAILS}
        PROMPT_ENDED -> WAIT_KEY
        TIMEOUT -> PLAY referral_sent goodbye
    """ + THE_END)
    assert call.said("referral details again")
    assert call.record["outcome"] == "referred" and "referral_texted" not in call.record


def test_2_and_a_mobile_texts_the_details_there_once_it_passes_the_dial_plan():
    call = referral_call().run(CHOSEN + f"""
        COMMITTED 2612010002 -> {DETAILS}
        KEY 2 -> PLAY referral_enter_mobile
        PROMPT_ENDED -> WAIT_KEY
    """ + keyed("13912345678") + """
        KEY # -> COMMIT ReferralTexted
        COMMITTED -> PLAY referral_texted
        PROMPT_ENDED -> PLAY referral_sent goodbye
    """ + THE_END)
    assert call.record["referral_texted"] == [{"number": "139****5678", "sent": True}]
    assert "ASK may_text 13912345678" in call.log


def test_a_number_that_is_no_mobile_is_refused_and_the_details_play_again():
    call = referral_call(may_text=lambda d: None if d.startswith("139") else "not a mobile"
                         ).run(CHOSEN + f"""
        COMMITTED 2612010002 -> {DETAILS}
        KEY 2 -> PLAY referral_enter_mobile
        PROMPT_ENDED -> WAIT_KEY
    """ + keyed("16800001234") + f"""
        KEY # -> PLAY referral_not_mobile
        PROMPT_ENDED -> {DETAILS}
        KEY 3 -> PLAY referral_sent goodbye
    """)
    assert call.record["referral_texted"] == [{"number": "168****1234", "sent": False}]
    assert not call.said("COMMIT ReferralTexted")


def test_no_more_mobiles_in_this_call_goes_on_to_goodbye():
    call = referral_call(texts_left=0).run(CHOSEN + f"""
        COMMITTED 2612010002 -> {DETAILS}
        KEY 2 -> PLAY referral_sent goodbye
    """)
    assert call.said("no more in this call")


def test_a_department_without_phone_or_address_says_goodbye_as_before():
    call = Call(referral=lambda i: Department("县司法所")).run(CHOSEN + """
        COMMITTED 2612010002 -> PLAY referral_sent goodbye
    """)
    assert not call.said("referral_phone")


# -- key 9: the result on the phone that opened the case ----------------------------------------

def status(state, result=True):
    return {"number": CASE, "state": state, "mine": True, "result": result}


STATUS = "KEY 9 -> PLAY enter_case\nPROMPT_ENDED -> WAIT_KEY\n" + keyed(CASE)
READ = f"PLAY case_number {' '.join('digit_' + d for d in CASE)}"


def test_a_resolved_case_tells_its_caller_the_result_and_records_them_told():
    call = Call(find_case=lambda d: status("resolved"),
                result_prompt=lambda n: f"result:{n}").run(GREETED + STATUS + f"""
        KEY # -> {READ} status_resolved
        PROMPT_ENDED -> PLAY case_result result:{CASE}
        PROMPT_ENDED -> COMMIT Told
        COMMITTED {CASE} -> PLAY goodbye
    """ + THE_END)
    assert call.record["result_told"] == CASE and call.record["outcome"] == "status_told"
    assert call.said("the caller was told the result on the phone")


def test_a_caller_told_already_hears_it_again_without_a_second_record():
    call = Call(find_case=lambda d: status("caller_informed"),
                result_prompt=lambda n: f"result:{n}").run(GREETED + STATUS + f"""
        KEY # -> {READ} status_resolved
        PROMPT_ENDED -> PLAY case_result result:{CASE}
        PROMPT_ENDED -> PLAY goodbye
    """ + THE_END)
    assert call.log.count("COMMIT Told") == 0


def test_no_result_or_a_prompt_that_could_not_be_rendered_tells_the_status_only():
    Call(find_case=lambda d: status("resolved", result=False)).run(GREETED + STATUS + f"""
        KEY # -> {READ} status_resolved
        PROMPT_ENDED -> PLAY goodbye
    """ + THE_END)
    call = Call(find_case=lambda d: status("resolved")).run(GREETED + STATUS + f"""
        KEY # -> {READ} status_resolved
        PROMPT_ENDED -> PLAY goodbye
    """ + THE_END)
    assert "ASK result_prompt " + CASE in call.log


def test_a_told_that_cannot_be_stored_ends_the_call_normally():
    call = Call(find_case=lambda d: status("resolved"),
                result_prompt=lambda n: f"result:{n}").run(GREETED + STATUS + f"""
        KEY # -> {READ} status_resolved
        PROMPT_ENDED -> PLAY case_result result:{CASE}
        PROMPT_ENDED -> COMMIT Told
        COMMIT_FAILED disk full -> PLAY goodbye
    """ + THE_END)
    assert call.said("the result was told but not recorded: disk full")
