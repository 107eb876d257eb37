"""What reaches a line while its call closes: the call reads its events until its end and
closes for a while after (the message stored, the record committed); a caller who redials at
once rings in that while, and an SMS may come in it. Both are the idle line's again once the
call is over (call/lines.py): the redial is answered on its first ring, the SMS handed on."""

import asyncio
from types import SimpleNamespace

from lawline.call.lines import Line
from lawline.line import create_modem
from lawline_rig.wait import async_wait_until


class _Supervisor:
    """The line's supervisor after a call ([line] reset_after_hangup off): nothing to do."""

    async def after_call(self):
        pass


def test_a_redial_and_an_sms_that_come_while_a_call_closes_are_the_lines(rigs):
    line = rigs.line("simcom-sim7600")
    number = line["box"]["number"]

    def modem(side):
        info = line[side]
        return create_modem(info["driver_profile"], info["at"], info["audio"], name=side,
                            audio_retry_delay=0.1)

    async def main():
        box, caller = modem("box"), modem("caller")
        await box.start()
        await caller.start()
        answered_at_ring, texts = [], []
        stop = asyncio.Event()
        served = Line(1, SimpleNamespace(answer_after_rings=1), box, None, _Supervisor(),
                      None, number)

        async def take_call(line, events):
            answered_at_ring.append(line.modem.rings)
            await line.modem.answer()
            # a call hands the SMS that come during it on, as the call driver does
            # (_pump_events): the text may be read only once the next call rang
            while (event := await asyncio.wait_for(events.get(), 20)).kind != "ended":
                if event.kind == "sms":
                    texts.append(event)
            if len(answered_at_ring) > 1:
                stop.set()
                return
            # closing slowly: meanwhile the caller texts the box and rings again
            await caller.send_sms(number, "结案 2612070001")
            await caller.dial(number)
            await async_wait_until(lambda: {"sms", "caller_id"} <= {e.kind for e in
                                                                      events._queue},
                                   20, "the SMS and the new call's caller ID")

        serving = asyncio.ensure_future(served.serve(stop, take_call, texts.append))
        try:
            await caller.dial(number)                  # the second call: take_call dials
            for _ in range(2):
                await async_wait_until(lambda: caller.in_call, 20, "the box to answer")
                await caller.hangup()
                await async_wait_until(lambda: not caller.in_call, 10, "the call's end")
            await asyncio.wait_for(serving, 20)
        finally:
            serving.cancel()
            box.close()
            caller.close()
        return answered_at_ring, texts

    answered_at_ring, texts = asyncio.run(main())
    assert answered_at_ring == [1, 1], answered_at_ring     # not a ring late
    assert [e.detail for e in texts] == ["结案 2612070001"], texts
