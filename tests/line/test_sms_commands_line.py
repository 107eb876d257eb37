"""Duty SMS commands on the loopback line (issue 9 point 4): the simulated network delivers
SMS-DELIVER PDUs to the box's modem, the real driver reads them (+CMTI, AT+CMGR) and hands
them, with the originator's type of number, through the box's own SMS hook to the office;
its replies go back out through the driver (AT+CMGS) to the simulated outside world.

Each test also sends the control case that must act, so none can pass by acting on nothing.
"""

import asyncio
import logging
import types

import lawline_rig.sim
from lawline import config as configuration
from lawline.app import Box
from lawline.line.modem import Modem
from lawline.records.office import HELP, Office, national

A, B, HEAD = "13900000001", "13900000002", "13900000009"


def _office(tmp_path):
    from lawline.clock import Clock
    rota = tmp_path / "rota.csv"
    cfg = configuration.from_dict({
        "office": {"head_mobile": HEAD},
        "duty": {"rota_files": [str(rota)], "shifts": ["day 00:00-12:00", "night 12:00-00:00"],
                 "gap_days": 0},
        "spool": {"dir": str(tmp_path / "spool")},
    })
    today = Clock(cfg.office.timezone).today()      # the office's date, not the host's
    rota.write_text("date,shift,name,role,mobile,staff_no\n"
                    f"{today},day,张律师,lawyer,{A},11\n"
                    f"{today},day,李调解,mediator,{B},12\n", encoding="utf-8")
    (tmp_path / "spool").mkdir()
    return Office.from_config(cfg, tmp_path / "spool")


class Desk:
    """The box's modem on the loopback line and the office behind it."""

    def __init__(self, line, office):
        self.line, self.office = line, office
        info = line["box"]
        self.modem = Modem(info["driver_profile"], info["at"], info["audio"], name="box")
        self.box = types.SimpleNamespace(office=office)    # what Box.on_sms needs

    async def __aenter__(self):
        await self.modem.start()
        self.office.attach_modem(self.modem)
        return self

    async def __aexit__(self, *exc):
        self.modem.close()

    async def sms(self, sender, text, sender_type=None):
        """An SMS from outside reaches the box; returns the line event and the office's
        answer once every reply it owed went out through the modem."""
        spec = {"to": "box", "from": sender, "text": text}
        if sender_type:
            spec["from_type"] = sender_type
        reply = lawline_rig.sim.control_request(self.line.dir, {"sms_deliver": spec})
        assert reply.get("ok"), reply
        while True:
            event = await asyncio.wait_for(self.modem.events.get(), 15)
            if event.kind == "sms":
                break
        assert event.detail == text
        done = Box.on_sms(self.box, event)
        await self.office.sms.send_due()
        assert not self.office.sms.rows(state="pending")
        return event, done

    def sent_to(self, number):
        return [m["text"] for m in lawline_rig.sim.sms_sent(self.line.dir)
                if national(m["to"]) == national(number)]


def test_an_alphanumeric_sender_spelling_the_owners_number_does_not_act(rigs, tmp_path,
                                                                        caplog):
    caplog.set_level(logging.INFO)
    line = rigs.line()
    office = _office(tmp_path)
    case = office.open_case("service_request", "", owner=A, owner_name="张律师",
                            state="assigned")

    async def main():
        async with Desk(line, office) as desk:
            event, _ = await desk.sms(A, f"结案 {case.number}", "alphanumeric")
            assert (event.number, event.sender_type) == (A, "alphanumeric")
            assert office.cases.get(case.number).state == "assigned"
            assert desk.sent_to(A) == [] and lawline_rig.sim.sms_sent(line.dir) == []
            # the same text from the owner's real number, international form, acts
            event, _ = await desk.sms("+86" + A, f"结案 {case.number}")
            assert event.sender_type == "international"
            assert office.cases.get(case.number).state == "resolved"
            assert desk.sent_to(A) == [f"【0148】案件{case.number}已结案。"]
    asyncio.run(main())
    # the driver and the office say what came from whom, quoted
    assert "SMS from '13900000001' (alphanumeric)" in caplog.text
    assert "sms from '13900000001' ignored: its originator is alphanumeric" in caplog.text


def test_one_digit_too_many_does_not_resolve_the_neighbouring_case(rigs, tmp_path):
    line = rigs.line("quectel-ec25")
    office = _office(tmp_path)
    old = office.open_case("consultation", "", number="261201001", owner=A, state="assigned")
    new = office.open_case("consultation", "", number="2612010001", owner=A, state="assigned")

    async def main():
        async with Desk(line, office) as desk:
            for typo in ("2612010011", "26120100011", "261201000"):
                _, done = await desk.sms(A, f"结案 {typo}")
                assert done is False
                assert desk.sent_to(A)[-1] == f"【0148】未能处理（案件{typo}）：没有这个案件编号"
            assert office.cases.get(old.number).state == "assigned"
            assert office.cases.get(new.number).state == "assigned"
            _, done = await desk.sms(A, "结案 ２６１２０１０００１", "national")   # full-width
            assert done is True
            assert office.cases.get(new.number).state == "resolved"
            assert office.cases.get(old.number).state == "assigned"
    asyncio.run(main())


def test_another_duty_person_cannot_resolve_the_owners_case_but_the_head_can(rigs,
                                                                            tmp_path):
    line = rigs.line()
    office = _office(tmp_path)
    case = office.open_case("service_request", "", owner=A, owner_name="张律师",
                            state="assigned")

    async def main():
        async with Desk(line, office) as desk:
            _, done = await desk.sms(B, f"结案 {case.number}")
            assert done is False and office.cases.get(case.number).state == "assigned"
            assert "只有负责人或主任可以处理" in desk.sent_to(B)[-1]
            _, done = await desk.sms(B, f"接 {case.number}")
            assert done is False and office.cases.get(case.number).owner == A
            _, done = await desk.sms("+86" + HEAD, f"结案 {case.number}")
            assert done is True and office.cases.get(case.number).state == "resolved"
            assert desk.sent_to(HEAD) == [f"【0148】案件{case.number}已结案。"]
    asyncio.run(main())


def test_two_auto_responders_do_not_loop(rigs, tmp_path):
    """A duty phone that answers every SMS with "I am driving" against the box's help text:
    the box answers once, then stays quiet, so the exchange ends by itself."""
    line = rigs.line()
    office = _office(tmp_path)
    auto_reply = "【自动回复】我正在开车，稍后联系您。"

    async def main():
        async with Desk(line, office) as desk:
            rounds, seen = 0, 0
            await desk.sms(B, auto_reply)            # it starts the exchange
            while len(desk.sent_to(B)) > seen and rounds < 10:
                seen = len(desk.sent_to(B))
                rounds += 1
                await desk.sms(B, auto_reply)        # it answers what the box sent
            # a flood from it changes nothing either
            for _ in range(3):
                await desk.sms(B, auto_reply)
            return rounds
    assert asyncio.run(main()) == 1
    sent = [m for m in lawline_rig.sim.sms_sent(line.dir) if national(m["to"]) == B]
    assert len(sent) == 1 and sent[0]["text"].startswith("【0148】未识别的指令")
    assert len(office.sms.rows(purpose=HELP)) == 1
