"""What a call leaves in the office (records/office.py): its case and the SMS that go with it.

The call script (call/script.py) decides; these functions, run by the driver, open the cases:
the referral (key 4), the urgent dispute nobody accepted (key 3), and at the end of every
call the case its record calls for (bridged, voicemail, complaint), with the rating.
"""

import json
import logging

from ..records import messages as text
from ..records.office import is_mobile

log = logging.getLogger("lawline.call")

AFTER_TALK = "如需继续办理，请来电并提供案件编号。"   # what a bridged caller's SMS says next
KINDS = {"consultation": "consultation", "after_hours": "consultation",
         "service_request": "service_request", "urgent": "urgent", "complaint": "complaint"}


def refer(office, referrals, index, caller, call_id):
    """Key 4: the chosen department as a case, and by SMS to a mobile caller.
    Returns (case number, department name, whether an SMS was queued)."""
    chosen = referrals[index]
    case = office.open_case("referral", caller, state="referred", call_id=call_id,
                            detail=json.dumps({"referral": chosen.name}, ensure_ascii=False),
                            notify_caller=False, note=f"referred to {chosen.name}")
    texted = is_mobile(caller)
    if texted:
        office.sms.queue(caller, text.caller_referral(office.name, case.number, chosen, case.pin),
                         "caller referral", case.number)
    return case.number, chosen.name, texted


def escalate_urgent(office, caller, call_id, numbers, waited_s, number=None):
    """Key 3, nobody accepted: the case now; SMS to every mediator on duty and the office
    head with it and the caller's number. Returns the case number."""
    numbers = list(numbers) or office.desk.numbers("mediator")
    case = office.open_case("urgent", caller, number=number or office.new_number(),
                            call_id=call_id, notify_caller=True, note="no mediator accepted")
    minutes = round(waited_s / 60) if waited_s else None
    message = text.urgent_escalation(case.number, caller, minutes, office.name)
    told = numbers + ([office.head] if office.head else [])
    for mobile in told:
        office.sms.queue(mobile, message, "urgent escalation", case.number)
    log.info("call %s from %s: urgent case %s: nobody accepted; SMS to %s", call_id,
             caller or "withheld", case.number, ", ".join(told) or "nobody (no mediators, no head)")
    return case.number, told


def callback(office, caller, call_id, numbers, place=None):
    """Every duty phone was busy and the caller asked to be called back: a case with the
    caller's number, owned by the first duty person on the list, who gets it by SMS (the
    duty SMS asks them to call the caller back). Returns the case number."""
    owner = numbers[0] if numbers else ""
    person = office.desk.person(owner) if owner else None
    case = office.open_case("consultation", caller, owner=owner,
                            owner_name=person.name if person else "", call_id=call_id,
                            state="assigned" if owner else "new",
                            detail=json.dumps({"callback": True, "queue_place": place}),
                            notify_duty=[owner] if owner else [],
                            note="callback requested: every duty phone was busy")
    return case.number


def close_call(office, record, caller, call_id, alert_at_or_below):
    """The case a finished call's record calls for, its SMS and its rating."""
    branch, outcome = record.get("branch"), record.get("outcome")
    kind = KINDS.get(branch)
    if kind is None:
        return
    if outcome == "bridged":
        owner = record.get("bridged_to", "")
        person = office.desk.person(owner)
        case = office.open_case(kind, caller, number=record.get("case_number"), owner=owner,
                                owner_name=person.name if person else "", call_id=call_id,
                                state="assigned", notify_duty=[owner], next_steps=AFTER_TALK)
    elif record.get("voicemail"):
        # opened with its SMS when the message was committed (sync/message.py)
        case = office.cases.get(record["case_number"])
        if case is None:
            return
    else:
        return
    record["case_number"] = case.number
    rating = record.get("rating")
    if rating:
        office.cases.rate(case.number, rating)
    if rating and rating <= alert_at_or_below:
        log.warning("call %s: rated %d of 5; office head alerted", call_id, rating)
        office.sms.queue(office.head, text.low_rating(case.number, rating, caller,
                                                      case.owner_name or case.owner,
                                                      office.name),
                         "low rating", case.number)

