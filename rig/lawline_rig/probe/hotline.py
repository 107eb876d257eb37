"""Scripted calls for the hotline's own logic: cases, SMS, the rota, the calendar.

Shared by `lawline demo` and tests/scenarios/test_hotline.py. The caller's SMS arrive on the
simulated caller modem (its own line driver reads them); SMS to duty mobiles and the office
head leave the loopback line and are read from the simulator's mailbox (sim.sms_sent).
"""

import asyncio

from .. import sim
from . import hearing, scenarios
from .rig import async_wait_until

DUTY_TONE = scenarios.DUTY_TONE


def _same(a, b):
    def norm(n):
        n = (n or "").strip()
        return n[3:] if n.startswith("+86") else n
    return norm(a) == norm(b)


async def caller_sms(rig, containing, timeout=40):
    """The first SMS on the caller's phone whose text holds `containing`."""
    caller = rig.caller

    def find():
        pump = caller._pump
        if pump is None or pump.done():
            # between calls nobody reads the caller modem's events: collect its SMS here
            while not caller.modem.events.empty():
                event = caller.modem.events.get_nowait()
                if event.kind == "sms":
                    caller.sms.append(event)
        return next((e.detail for e in caller.sms if containing in (e.detail or "")), None)
    text = await async_wait_until(find, timeout, f"an SMS on the caller's phone with "
                                  f"{containing!r}")
    caller.note(f"SMS received: {text}")
    return text


def outside_sms(rig, to=None, containing=""):
    """Complete SMS the box sent to numbers outside the line (duty mobiles, office head)."""
    return [m for m in sim.sms_sent(rig.dir) if m.get("complete", True) and
            (to is None or _same(m["to"], to)) and containing in m["text"]]


async def wait_outside_sms(rig, to, containing, timeout=40):
    found = await async_wait_until(lambda: outside_sms(rig, to, containing), timeout,
                                   f"an SMS to {to} with {containing!r}")
    rig.caller.note(f"SMS to {to}: {found[0]['text']}")
    return found[0]


def deliver_sms(rig, sender, text, sender_type=None):
    """An SMS from an outside mobile (a duty person replying) arrives at the box;
    `sender_type` "alphanumeric": from a name (an SMS gateway spelling `sender`)."""
    spec = {"to": "box", "from": sender, "text": text}
    if sender_type:
        spec["from_type"] = sender_type
    reply = sim.control_request(rig.dir, {"sms_deliver": spec})
    if not reply.get("ok"):
        raise AssertionError(f"the simulator refused to deliver the SMS: {reply}")


async def service_request_with_sms(rig, duty_number="13900000001"):
    """Key 2: a recorded request becomes a case; the caller gets its number by SMS and the
    duty lawyer gets the case with the caller's number."""
    result = await scenarios.leave_message(rig, "2", "record_request")
    case = result["voicemail"]["record"]["case_number"]
    to_caller = await caller_sms(rig, case)
    assert "法律服务申请" in to_caller and "按9" in to_caller, to_caller
    duty = await wait_outside_sms(rig, duty_number, case)
    caller_number = rig.sim["caller"]["number"]
    assert caller_number in duty["text"], f"the duty SMS lacks the caller's number: {duty}"
    result["case"] = case
    result["sms"] = [("caller " + caller_number, to_caller), (duty["to"], duty["text"])]
    return result


async def status_call(rig, case, expect="status_resolved"):
    """Key 9, the case number and #: the caller hears the case's status."""
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    await caller.press("9")
    await caller.hear("enter_case", 30)
    await caller.press(case + "#")
    await caller.hear(expect, 30)
    await caller.wait_ended(30)
    call = (await rig.next_record("call", after))["record"]
    assert call["branch"] == "case_status" and call["outcome"] == "status_told", call
    return call


async def complaint_naming_staff(rig, staff_no):
    """Key 5, the staff number of the person complained about, then the complaint."""
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    await caller.press("5")
    await caller.hear("complaint_staff", 30)
    await caller.press(staff_no + "#")
    await caller.hear("record_complaint", 30)
    await caller.hear("beep", 20)
    caller.audio.speak(hearing.make_tone(scenarios.CALLER_TONE, 1.0))
    await asyncio.sleep(2.0)      # the caller speaks for this long
    caller.audio.quiet()
    await caller.press("#")
    await caller.hear("recorded", 20)  # stored before this is said: no need to hear the
    await caller.hang_up()             # case number read back twice
    await caller.wait_ended(20)
    call = (await rig.next_record("call", after))["record"]
    assert call["outcome"] == "complaint" and not call["duty_legs"], call
    assert call["named_staff"]["staff_no"] == staff_no, call
    return call


async def rated_call(rig, rating="1"):
    """Key 1, the duty phone accepts, then hangs up first: the caller rates the call."""
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    await caller.press("1")
    await caller.hear("connecting", 30)
    await caller.hear_tone(DUTY_TONE, 30)
    rig.procs.pop("duty").stop()          # the duty person hangs up
    await caller.hear("rate_call", 30)
    await caller.press(rating)
    await caller.hear("rate_thanks", 20)
    await caller.wait_ended(30)
    call = (await rig.next_record("call", after))["record"]
    assert call["outcome"] == "bridged" and call["rating"] == int(rating), call
    return call


async def urgent_unanswered(rig):
    """Key 3, no mediator accepts: every mediator on duty and the office head get an SMS
    with the case and the caller's number; the caller is offered a message and hangs up."""
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    await caller.press("3")
    await caller.hear("beep", 90)     # after the ring-all and the "nobody free" prompt
    await caller.hang_up()
    await caller.wait_ended(20)
    return (await rig.next_record("call", after))["record"]


async def referral(rig, key):
    """Key 4: the departments are read out; the caller picks one and gets it by SMS."""
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    await caller.press("4")
    await caller.hear("referral_intro", 30)
    await caller.press(key)
    await caller.hear("referral_sent", 30)
    await caller.wait_ended(30)
    call = (await rig.next_record("call", after))["record"]
    assert call["branch"] == "referral" and call["outcome"] == "referred", call
    text = await caller_sms(rig, call["case_number"])
    return call, text


# -- the urgent ladder (issue 17.2) -----------------------------------------------------------

async def urgent_ladder(rig, head="13900000009", prefecture="07732345678"):
    """Key 3: no mediator accepts, nor the office head; the prefecture's number takes the
    call (the duty phone: "no-answer,<prefecture>=accept"). The caller hears the ladder's
    prompt and then the prefecture; the mediators and the head are told who took it."""
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    await caller.press("3")
    await caller.hear("connecting_urgent", 20)
    await caller.hear("urgent_ladder", 40)           # the mediators rang out
    caller.audio.speak(hearing.make_tone(scenarios.CALLER_TONE, 1.0))
    await caller.hear_tone(DUTY_TONE, 60)            # the head rang out; the prefecture took it
    await caller.hang_up()
    caller.audio.quiet()
    await caller.wait_ended(10)
    call = (await rig.next_record("call", after))["record"]
    steps = [(s["step"], s["outcome"]) for s in call.get("ladder", [])]
    assert steps[-1] == ("prefecture", "accepted"), steps
    told = await wait_outside_sms(rig, head, f"已由市级值班（{prefecture}）")
    caller.note("ladder: " + ", ".join(f"{s} {o}" for s, o in steps))
    return {"record": call, "sms": [(head, told["text"])]}
