"""The hotline's own branches of a call, mixed into CallSession (flow.py): after hours,
referrals (key 4), case status (key 9), the complaint's staff number (key 5), the rating
after a bridged call, the urgent dispute nobody accepted (key 3), and at the end of every
call the case it opens and the SMS that go with it.

The office (records/office.py: duty desk, case book, SMS queue) is `box.office`; without it
(a box built by an older test) these parts step aside and the call behaves as before.
"""

import json
import logging
import secrets

from ..duty.roster import normal_mobile
from ..records import messages as text
from ..records.cases import NUMBER_DIGITS, PIN_DIGITS, is_case_number, same_number
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

    async def read_digits(self, most, timeout, first=None, grace=1.5):
        """Keys until '#' or `timeout` seconds of silence between keys. After `most` digits
        it waits `grace` seconds more for the '#' callers press anyway (so it does not cut
        into the next prompt); a digit then makes the answer too long, which matches no
        case or PIN (never a shorter one)."""
        digits = first or ""
        while len(digits) <= most:
            key = await self.wait_key(timeout if len(digits) < most else grace)
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
        if await self._told_cases_limit():
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
        """Key 9 tells a case's status only to its caller: on the phone that opened it, or
        with the PIN from the case SMS. Whether the number exists is never told: a stranger
        is asked for a PIN either way and hears "not found". Tries are bounded per call and
        per number per day ([limits]); a lookup never changes the case."""
        office, limits = self.office, self.cfg.limits
        book = getattr(office, "limits", None)
        queries = self.record.setdefault("status_queries", [])
        self.record["outcome"] = "status_unknown"
        for attempt in range(limits.status_tries_per_call):
            if book is not None and book.used("status_tries", self.caller) >= \
                    limits.status_tries_per_number_per_day:
                self._limit_hit("status_tries_day", f"{limits.status_tries_per_number_per_day} "
                                "wrong case status tries today; nothing told")
                await self.play("case_not_found", interruptible=False)
                break
            key = await self.play("enter_case")
            digits = await self.read_digits(NUMBER_DIGITS, self.cfg.menu.key_timeout,
                                            first=key if key and key.isdigit() else None)
            queries.append(digits)
            case = office.cases.get(digits) if office and is_case_number(digits) else None
            if case is not None and same_number(case.caller, self.caller):
                await self._tell_status(case, "the caller's own phone")
                break
            if digits:
                key = await self.play("enter_pin")
                pin = await self.read_digits(PIN_DIGITS, self.cfg.menu.key_timeout,
                                             first=key if key and key.isdigit() else None)
                if case is not None and case.pin and secrets.compare_digest(pin, case.pin):
                    self.record["status_by_pin"] = True
                    await self._tell_status(case, "the case's PIN")
                    break
                if book is not None:
                    book.take("status_tries", self.caller)
            self.say("case status: %r is no case of this caller, or the PIN is wrong; nothing "
                     "told (try %d of %d)", digits, attempt + 1, limits.status_tries_per_call)
            await self.play("case_not_found", interruptible=False)
        else:
            self._limit_hit("status_tries_call", f"{limits.status_tries_per_call} case status "
                            "tries in this call")
        await self.play("goodbye", interruptible=False)
        await self.modem.hangup()

    async def _tell_status(self, case, how):
        self.say("case status %s: %s, told (%s)", case.number, case.state, how)
        readback = self.box.tmp_dir / f"{self.id}-status.wav"
        self.prompts.concat(["case_number"] + [f"digit_{d}" for d in case.number] +
                            [STATUS_PROMPTS[case.state]], readback)
        try:
            await self._play_file(readback, interruptible=False)
        finally:
            readback.unlink(missing_ok=True)
        self.record["outcome"] = "status_told"

    # -- abuse limits on the menu's branches ([limits], records/limits.py) ----------------

    async def _told_cases_limit(self):
        """True (the caller told, the line hung up) when this number already opened
        [limits] cases_per_number_per_day cases today."""
        office = self.office
        if office is None or getattr(office, "limits", None) is None:
            return False
        if office.limits.cases_left(office.cases, self.caller) > 0:
            return False
        self.record["outcome"] = "limited"
        self._limit_hit("cases_per_day", f"{self.cfg.limits.cases_per_number_per_day} cases "
                        "opened today; no new case")
        await self.play("limit_reached", "goodbye", interruptible=False)
        await self.modem.hangup()
        return True

    def _ring_all_allowed(self):
        """Counts this key-3 ring-all; False once the number used its day's ring-alls."""
        office = self.office
        if office is None or getattr(office, "limits", None) is None:
            return True
        cap = self.cfg.limits.ring_alls_per_number_per_day
        if office.limits.take("ring_alls", self.caller) <= cap:
            return True
        self.record["ring_all"] = "limited"
        self._limit_hit("ring_alls_per_day", f"{cap} ring-alls today; straight to voicemail")
        return False

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
            office.sms.queue(self.caller, text.caller_referral(office.name, case.number, chosen,
                                                               case.pin),
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
