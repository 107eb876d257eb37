"""The telephone's duties (issue 17, points 2, 9 and 10) in the call script, as event
scripts (the harness of test_call_script.py): the urgent ladder up to the office head, the
prefecture and the switchboard; calls handed up to the switchboard after hours; calls the
switchboard transfers down, straight to their branch by header or DTMF code, else the
menu; the recording notice and the recorded bridge."""

from types import SimpleNamespace

from lawline.line.callerid import CallerId
from lawline.sip.switchboard import Transfer

from .test_call_script import GOODBYE, GREETED, THE_END, Call

HEAD, PREFECTURE, BOARD = "13900000009", "07731234567", "1600148"
LADDER = [("head", HEAD, "负责人"), ("prefecture", PREFECTURE, "市级值班")]
RECORDING_ON = SimpleNamespace(enabled=True, keep_days=90.0, play_roles=["head"])
CODES = {"1": "consultation", "2": "service_request", "3": "urgent", "5": "complaint"}


def transfer(branch=None, caller="13800138000", code_seconds=3.0):
    return Transfer(BOARD, CallerId(caller) if caller else CallerId("", "", "withheld"),
                    "pai" if caller else "", branch, "header" if branch else "",
                    branch or "", CODES, code_seconds)


class Recorded(Call):
    """A call whose bridge the driver recorded (call/driver._bridge, record=True)."""

    def _record(self, kind):
        if kind == "bridge_ended":
            return {"bridged_s": 30.0, "recording": {
                "path": "/spool/recordings/x-bridged-13700000000.wav", "seconds": 30.0,
                "started": "2026-12-01T10:00:20+0800", "other": "13900000001"}}
        return super()._record(kind)


def make(cls=Call, transfer_=None, recording=None, **answers):
    call = cls.__new__(cls)
    Call.__init__(call, **answers)
    if transfer_ is not None or recording is not None:   # a script built with them
        from lawline.call.script import CallScript
        old = call.script
        call.script = CallScript(old.caller if transfer_ is None else
                                 transfer_.caller.number, old.id, "01480000000", "county",
                                 old.cfg_menu, old.limits, old.vm, old.survey, started=1000.0,
                                 transfer=transfer_, recording=recording)
        call.log = []
        call.waiting = call._take(call.script.start())
    return call


# -- point 2: the urgent ladder ----------------------------------------------------------

def test_nobody_of_the_mediators_so_the_head_then_the_prefecture_takes_it():
    call = make(ladder=lambda: LADDER).run(GREETED + """
        KEY 3 -> PLAY connecting_urgent
        PROMPT_ENDED -> RING 13800000001
        LEG_FAILED -> COMMIT Escalated
        COMMITTED 2612010001 -> PLAY urgent_ladder
        PROMPT_ENDED -> RING 13900000009
        LEG_FAILED -> COMMIT LadderStep
        COMMITTED 2612010001 -> RING 07731234567
        LEG_ACCEPTED 07731234567 -> COMMIT LadderStep
        COMMITTED 2612010001 -> BRIDGE 07731234567
        BRIDGE_ENDED -> PLAY rate_call
        PROMPT_ENDED -> WAIT_KEY
        TIMEOUT -> PLAY goodbye
    """ + THE_END)
    r = call.record
    assert [(s["step"], s["outcome"]) for s in r["ladder"]] == [
        ("mediators", "no_answer"), ("head", "failed"), ("prefecture", "accepted")]
    assert r["taken_by"] == {"step": "prefecture", "number": PREFECTURE, "name": "市级值班"}
    assert r["outcome"] == "bridged" and r["bridged_to"] == PREFECTURE
    # the case the escalation opened is the call's: no second case when the call ends
    assert r["case_number"] == "2612010001" and not call.said("COMMIT Bridged")


def test_the_ladder_hands_the_call_up_to_the_switchboard_last():
    call = make(ladder=lambda: [("head", HEAD, "负责人"), ("switchboard", BOARD, "1600148")],
                switchboard=lambda reason: BOARD).run(GREETED + """
        KEY 3 -> PLAY connecting_urgent
        PROMPT_ENDED -> RING 13800000001
        LEG_FAILED -> COMMIT Escalated
        COMMITTED 2612010001 -> PLAY urgent_ladder
        PROMPT_ENDED -> RING 13900000009
        LEG_FAILED all_busy -> COMMIT LadderStep
        COMMITTED 2612010001 -> PLAY switchboard_transfer
        PROMPT_ENDED -> HANDOVER 1600148
        LEG_ACCEPTED 1600148 -> COMMIT LadderStep
        COMMITTED 2612010001 -> BRIDGE 1600148
        BRIDGE_ENDED -> PLAY goodbye
    """ + THE_END)
    r = call.record
    assert [(s["step"], s["outcome"]) for s in r["ladder"]] == [
        ("mediators", "no_answer"), ("head", "busy"), ("switchboard", "handed_over")]
    assert r["outcome"] == "overflow" and r["overflow"]["reason"] == "ladder"
    assert "rating" not in r and not call.said("PLAY rate_call")


def test_a_ladder_nobody_answers_ends_in_the_urgent_voicemail_on_its_case():
    call = make(ladder=lambda: LADDER).run(GREETED + """
        KEY 3 -> PLAY connecting_urgent
        PROMPT_ENDED -> RING 13800000001
        LEG_FAILED -> COMMIT Escalated
        COMMITTED 2612010001 -> PLAY urgent_ladder
        PROMPT_ENDED -> RING 13900000009
        LEG_FAILED -> COMMIT LadderStep
        COMMITTED 2612010001 -> RING 07731234567
        LEG_FAILED -> COMMIT LadderStep
        COMMITTED 2612010001 -> PLAY mediator_unavailable record_message
        PROMPT_ENDED -> RECORD urgent
        RECORDED -> COMMIT Voicemail
    """)
    assert len(call.record["ladder"]) == 3
    assert call.script.case_opened


def test_no_ladder_when_nothing_can_be_put_through():
    call = make(ladder=lambda: LADDER, can_bridge=False).run(GREETED + """
        KEY 3 -> COMMIT Escalated
        COMMITTED 2612010001 -> PLAY mediator_unavailable record_message
    """)
    assert not call.said("ASK ladder")


def test_a_mediator_who_accepts_opens_the_case_before_the_bridge():
    call = make(ladder=lambda: LADDER).run(GREETED + """
        KEY 3 -> PLAY connecting_urgent
        PROMPT_ENDED -> RING 13800000001
        LEG_ACCEPTED 13800000001 -> COMMIT LadderStep
        COMMITTED 2612010001 -> BRIDGE 13800000001
        BRIDGE_ENDED -> PLAY rate_call
        PROMPT_ENDED -> WAIT_KEY
        KEY 5 -> PLAY rate_thanks
    """ + GOODBYE)
    r = call.record
    assert r["ladder"][-1]["outcome"] == "accepted" and r["case_number"] == "2612010001"
    assert call.said("COMMIT Rated CallRecord") and not call.said("COMMIT Bridged")


# -- point 9a: handed up to the switchboard after hours ----------------------------------

def test_after_hours_nobody_accepts_so_the_switchboard_takes_the_call():
    call = make(office_open=(False, "closed (Saturday)"),
                switchboard=lambda reason: BOARD if reason == "after_hours" else None
                ).run("""
        -> ANSWER
        ANSWERED -> PLAY after_hours
        PROMPT_ENDED -> PLAY switchboard_transfer
        PROMPT_ENDED -> HANDOVER 1600148
        LEG_ACCEPTED 1600148 -> BRIDGE 1600148
        BRIDGE_ENDED -> PLAY goodbye
    """ + THE_END)
    r = call.record
    assert r["branch"] == "after_hours" and r["outcome"] == "overflow"
    assert r["overflow"]["to"] == BOARD and r["overflow"]["outcome"] == "handed_over"
    assert not call.said("COMMIT Bridged")      # the county opens no case of its own


def test_after_hours_a_switchboard_that_does_not_answer_leaves_the_voicemail():
    call = make(office_open=(False, "closed"), switchboard=lambda reason: BOARD).run("""
        -> ANSWER
        ANSWERED -> PLAY after_hours
        PROMPT_ENDED -> PLAY switchboard_transfer
        PROMPT_ENDED -> HANDOVER 1600148
        LEG_FAILED -> PLAY record_message
    """)
    assert call.record["overflow"]["outcome"] == "failed"


# -- point 9b: transferred down by the switchboard ---------------------------------------

def test_a_transfer_with_a_reason_header_goes_straight_to_its_branch():
    call = make(transfer_=transfer("service_request")).run("""
        -> ANSWER
        ANSWERED -> PLAY record_request
        PROMPT_ENDED -> RECORD service_request
    """)
    r = call.record
    assert r["caller"] == "13800138000" and r["branch"] == "service_request"
    assert r["transferred"] == {"from": BOARD, "caller_from": "pai", "caller_raw": None,
                                "reason": "service_request", "how": "header",
                                "said": "service_request"}
    assert not call.said("PLAY greeting")


def test_a_transfer_with_a_dtmf_code_goes_straight_to_its_branch():
    call = make(transfer_=transfer(), ladder=lambda: [("switchboard", BOARD, "")]).run("""
        -> ANSWER
        ANSWERED -> WAIT_KEY
        KEY 3 -> WAIT_KEY
        KEY # -> PLAY connecting_urgent
        PROMPT_ENDED -> RING 13800000001
        LEG_FAILED -> COMMIT Escalated
        COMMITTED 2612010001 -> PLAY mediator_unavailable record_message
    """)
    r = call.record
    assert r["transferred"]["how"] == "dtmf" and r["transferred"]["said"] == "3"
    assert r["branch"] == "urgent"
    # a call that came down from the switchboard is never handed back up to it
    assert not call.said("HANDOVER") and not call.said("ASK switchboard")


def test_a_transfer_without_a_reason_runs_the_menu():
    call = make(transfer_=transfer(caller="")).run("""
        -> ANSWER
        ANSWERED -> WAIT_KEY
        TIMEOUT -> PLAY greeting menu
        KEY 2 -> PLAY record_request
    """)
    r = call.record
    assert r["caller"] == "" and r["transferred"]["reason"] is None
    assert r["menu_path"] == ["2"]


def test_a_code_that_names_no_reason_runs_the_menu():
    call = make(transfer_=transfer()).run("""
        -> ANSWER
        ANSWERED -> WAIT_KEY
        KEY 7 -> WAIT_KEY
        TIMEOUT -> PLAY greeting menu
    """)
    assert call.record["transferred"]["said"] == "7"


# -- point 10: recording with consent ----------------------------------------------------

def test_with_recording_on_the_caller_hears_the_notice_and_the_bridge_is_recorded():
    call = make(Recorded, recording=RECORDING_ON).run("""
        -> ANSWER
        ANSWERED -> PLAY greeting recording_notice menu
        KEY 1 -> PLAY connecting
        PROMPT_ENDED -> RING 13900000001 13900000002
        LEG_ACCEPTED 13900000001 -> BRIDGE 13900000001
        BRIDGE_ENDED -> PLAY rate_call
        PROMPT_ENDED -> WAIT_KEY
        TIMEOUT -> PLAY goodbye
        PROMPT_ENDED -> HANG_UP
        DONE -> FINISH
        DONE -> COMMIT Bridged CallRecording CallRecord
    """)
    assert call.script.noticed and call.record["recording_notice"]
    commit = call.waiting
    recording = commit.names[1]
    assert recording.case == "2612010001" and recording.other == "13900000001"
    assert commit.names[2].record["recording"] == {"key": "recording-261201-100000-abcd",
                                                   "seconds": 30.0}


def test_recording_off_by_default_no_notice_and_no_recording():
    call = Call().run(GREETED + """
        KEY 1 -> PLAY connecting
        PROMPT_ENDED -> RING 13900000001 13900000002
        LEG_ACCEPTED 13900000001 -> BRIDGE 13900000001
    """)
    assert not call.script._records() and "recording_notice" not in call.record


def test_a_transferred_call_hears_the_notice_before_its_branch():
    call = make(transfer_=transfer("consultation"), recording=RECORDING_ON).run("""
        -> ANSWER
        ANSWERED -> PLAY recording_notice
        PROMPT_ENDED -> PLAY connecting
    """)
    assert call.script._records()
