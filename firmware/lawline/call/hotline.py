"""The hotline's own branches of a call, mixed into CallSession (flow.py): after hours,
referrals (key 4), case status (key 9), the complaint's staff number (key 5), the rating
after a bridged call, the urgent dispute nobody accepted (key 3), and at the end of every
call the case it opens and the SMS that go with it.

The office (records/office.py: duty desk, case book, SMS queue) is `box.office`; without it
(a box built by an older test) these parts step aside and the call behaves as before.
"""

import json
import logging

from ..duty.roster import normal_mobile
from ..records import messages as text
from ..records.office import is_mobile
from .prompts import PromptMissing

log = logging.getLogger("lawline.call")

AFTER_TALK = "如需继续办理，请来电并提供案件编号。"   # what a bridged caller's SMS says next
STATUS_PROMPTS = {"new": "status_new", "assigned": "status_assigned",
                  "referred": "status_referred", "resolved": "status_resolved",
                  "caller_informed": "status_resolved"}


class HotlineBranches:
    """Methods of CallSession; `self` is the call."""

    @property
    def office(self):
        return getattr(self.box, "office", None)

    # -- keys ------------------------------------------------------------------------------

    async def read_digits(self, most, timeout, first=None):
        """Keys until '#', `most` digits, or `timeout` seconds of silence between keys."""
        digits = first or ""
        while len(digits) < most:
            key = await self.wait_key(timeout)
            if key is None or key == "#":
                break
            if key.isdigit():
                digits += key
        return digits

    # -- after hours -----------------------------------------------------------------------

    async def _office_closed(self):
        """Outside office hours: the after-hours greeting, then whoever the rota has on duty
        now, else voicemail. Returns True when the call was handled here."""
        office = self.office
        if office is None or office.desk.is_open():
            return False
        self.record["branch"] = "after_hours"
        self.say("after hours: %s", office.desk.why())
        key = await self.play("after_hours")
        if key == "9":
            self.record["branch"] = "case_status"
            self.menu.path.append("9")
            await self._case_status()
            return True
        numbers = office.desk.after_hours_numbers()
        self.say("after hours: %s", f"ringing night duty {', '.join(numbers)}" if numbers
                 else "nobody on duty in the rota; voicemail")
        if numbers and await self._hunt(numbers):
            return True
        await self._voicemail("consultation", intro="duty_unavailable" if numbers else None)
        return True

    # -- key 9: case status ----------------------------------------------------------------

    async def _case_status(self):
        office = self.office
        for attempt in range(2):
            key = await self.play("enter_case")
            digits = await self.read_digits(9, self.cfg.menu.key_timeout,
                                            first=key if key and key.isdigit() else None)
            case = office.cases.get(digits) if office and len(digits) == 9 else None
            self.record.setdefault("status_queries", []).append(digits)
            if case is not None:
                self.say("case status %s: %s", digits, case.state)
                readback = self.box.tmp_dir / f"{self.id}-status.wav"
                self.prompts.concat(["case_number"] + [f"digit_{d}" for d in digits] +
                                    [STATUS_PROMPTS[case.state]], readback)
                await self._play_file(readback, interruptible=False)
                readback.unlink(missing_ok=True)
                office.caller_heard_status(digits)
                self.record["outcome"] = "status_told"
                break
            self.say("case status: %r is not a case number here", digits)
            await self.play("case_not_found", interruptible=False)
        else:
            self.record["outcome"] = "status_unknown"
        await self.play("goodbye", interruptible=False)
        await self.modem.hangup()

    # -- key 4: referrals ------------------------------------------------------------------

    async def _referral(self):
        office = self.office
        referrals = list(getattr(self.cfg, "referral", []))
        self.record["outcome"] = "referral_none"
        if not referrals or office is None:
            self.say("no referral departments configured")
            await self.play("referral_none", "goodbye", interruptible=False)
            await self.modem.hangup()
            return
        chosen = None
        for attempt in range(self.cfg.menu.max_tries):
            key = await self.play("referral_intro")
            for i in range(len(referrals)):
                if key is not None:
                    break
                try:
                    key = await self._play_file(office.referral_prompt(i), interruptible=True)
                except PromptMissing as exc:
                    log.warning("call %s: %s", self.id, exc)
            if key is None:
                key = await self.wait_key(self.cfg.menu.key_timeout)
            if key and key.isdigit() and 1 <= int(key) <= len(referrals):
                chosen = referrals[int(key) - 1]
                break
            self.say("referral menu: %s", f"key {key} is not a department" if key else "no key")
        if chosen is None:
            await self.play("goodbye", interruptible=False)
            await self.modem.hangup()
            return
        self.say("referred to %s", chosen.name)
        case = office.open_case("referral", self.caller, state="referred", call_id=self.id,
                                detail=json.dumps({"referral": chosen.name}, ensure_ascii=False),
                                notify_caller=False, note=f"referred to {chosen.name}")
        self.record["case_number"] = case.number
        self.record["referral"] = chosen.name
        self.record["outcome"] = "referred"
        self._case_opened = True
        if is_mobile(self.caller):
            office.sms.queue(self.caller, text.caller_referral(office.name, case.number, chosen),
                             "caller referral", case.number)
            await self.play("referral_sent", "goodbye", interruptible=False)
        else:
            await self.play("goodbye", interruptible=False)
        await self.modem.hangup()

    # -- key 5: who the complaint is about -------------------------------------------------

    async def _ask_staff_number(self):
        """The caller may key the staff number of the person complained about. That person
        is then kept out of everything about this complaint (reference/field.md (b) 7)."""
        office = self.office
        if office is None:
            return None
        key = await self.play("complaint_staff")
        if key == "#":
            return None
        digits = await self.read_digits(4, self.cfg.menu.key_timeout,
                                        first=key if key and key.isdigit() else None)
        person = office.desk.staff(digits) if digits else None
        if digits:
            self.record["named_staff"] = {"staff_no": digits,
                                          "name": person.name if person else None}
            self.say("complaint names staff number %s (%s)", digits,
                     person.name if person else "not in the rota")
        self._named = person
        return person

    # -- after a bridged call --------------------------------------------------------------

    async def _after_bridge(self, leg):
        """The duty person hung up first and the caller is still there: ask for a rating."""
        survey = getattr(self.cfg, "survey", None)
        if survey is not None and survey.enabled and self.office is not None:
            key = await self.play("rate_call")
            if key is None:
                key = await self.wait_key(survey.key_timeout)
            if key in ("1", "2", "3", "4", "5"):
                self.record["rating"] = int(key)
                self.say("rated the call %s of 5", key)
                await self.play("rate_thanks", interruptible=False)
            else:
                self.say("no rating given")
        await self.play("goodbye", interruptible=False)
        await self.modem.hangup()

    # -- key 3: nobody accepted ------------------------------------------------------------

    async def _urgent_unanswered(self, numbers=(), waited_s=None):
        """No mediator accepted an urgent dispute in time: open the case now and SMS every
        mediator on duty and the office head with it and the caller's number."""
        office = self.office
        if office is None:
            return None
        numbers = list(numbers) or office.desk.numbers("mediator")
        number = self.record.get("case_number") or office.new_number()
        case = office.open_case("urgent", self.caller, number=number, call_id=self.id,
                                notify_caller=True, note="no mediator accepted")
        self.record["case_number"] = case.number
        self._case_opened = True
        minutes = round(waited_s / 60) if waited_s else None
        message = text.urgent_escalation(case.number, self.caller, minutes, office.name)
        for mobile in numbers + ([office.head] if office.head else []):
            office.sms.queue(mobile, message, "urgent escalation", case.number)
        self.record["escalated_to"] = numbers + ([office.head] if office.head else [])
        self.say("urgent case %s: nobody accepted; SMS to %s", case.number,
                 ", ".join(self.record["escalated_to"]) or "nobody (no mediators, no head)")
        return case

    # -- the end of every call: its case and SMS -------------------------------------------

    def _casework(self):
        office = self.office
        if office is None or getattr(self, "_case_opened", False):
            return
        r = self.record
        branch, outcome = r.get("branch"), r.get("outcome")
        kind = {"consultation": "consultation", "after_hours": "consultation",
                "service_request": "service_request", "urgent": "urgent",
                "complaint": "complaint"}.get(branch)
        if kind is None:
            return
        if outcome == "bridged":
            owner = r.get("bridged_to", "")
            person = office.desk.person(owner)
            case = office.open_case(kind, self.caller, number=r.get("case_number"),
                                    owner=owner, owner_name=person.name if person else "",
                                    call_id=self.id, state="assigned", notify_duty=[owner],
                                    next_steps=AFTER_TALK)
        elif r.get("voicemail") and kind == "complaint":
            case = self._complaint_case(office)
        elif r.get("voicemail"):
            role = "mediator" if kind == "urgent" else "lawyer"
            owner, name, _ = office.duty_for(role) if branch != "after_hours" else ("", "", [])
            case = office.open_case(kind, self.caller, number=r["case_number"], owner=owner,
                                    owner_name=name, call_id=self.id,
                                    state="assigned" if owner else "new",
                                    notify_duty=[owner] if owner else [])
        else:
            return
        r["case_number"] = case.number
        self._case_opened = True
        if r.get("rating") and r["rating"] <= self.cfg.survey.alert_at_or_below:
            office.cases.rate(case.number, r["rating"])
            log.warning("call %s: rated %d of 5; office head alerted", self.id, r["rating"])
            office.sms.queue(office.head, text.low_rating(case.number, r["rating"], self.caller,
                                                          case.owner_name or case.owner,
                                                          office.name),
                             "low rating", case.number)
        elif r.get("rating"):
            office.cases.rate(case.number, r["rating"])

    def _complaint_case(self, office):
        named = getattr(self, "_named", None)
        head_named = named is not None and office.head and \
            normal_mobile(named.mobile) == normal_mobile(office.head)
        detail = {"named": {"staff_no": named.staff_no, "name": named.name,
                            "mobile": named.mobile}} if named else {}
        owner = "" if head_named else office.head
        case = office.open_case("complaint", self.caller, number=self.record["case_number"],
                                owner=owner, owner_name="" if head_named else "office head",
                                detail=json.dumps(detail, ensure_ascii=False), call_id=self.id)
        if head_named:
            log.warning("call %s: the complaint names the office head; it goes upstream only",
                        self.id)
        elif office.head:
            office.sms.queue(office.head, text.complaint_to_head(case.number, self.caller,
                                                                 named, office.name),
                             "complaint", case.number)
        return case
