"""Every call the generator makes into the box's code, in this one module.

A generated county is a real box's records: its config (lawline.config.from_dict), its
office as the box builds it (lawline.build: case book, SMS queue, limits, the call-outcome
ledger) on its Outbox, the call script (call/script.CallScript) driven event by event the way
call/driver.py drives it (its `commit` actions go to Office.commit, the ledger's one durable
step), the office's case moves (Office.act), the daily health report
(records/health.Health.send), and the upload layout and file names (sync/settings.LAYOUT,
sync/http.remote_name, and for a live bucket the box's own S3Target). Nothing here writes a
record's JSON by hand.

The box stamps its records with the wall clock (time.time) and reads the office's time from
its Clock (lawline/clock.py), which reads time.time too: to write a year in minutes this
process runs on a simulated clock (`SimClock`): time.time, time.localtime and time.strftime
read it, so office hours, holidays, case numbers, due times and upload folders all fall on
the simulated day. It is only ever installed in the generator's own process (run.py starts
one per worker).
"""

from __future__ import annotations

import os
import shutil
import time
import wave
from pathlib import Path

from lawline import build
from lawline import config as configuration
from lawline.call.driver import new_call_id
from lawline.call.script import CallScript
from lawline.call.steps import Event
from lawline.clock import Clock
from lawline.records.cases import CaseError
from lawline.records.health import Health, HealthReport
from lawline.records.outcomes import Department, Escalated
from lawline.sync.http import remote_name
from lawline.sync.outbox import Outbox
from lawline.sync.settings import LAYOUT

TARGET = "upstream"
PROMPT_SECONDS = {"greeting": 6.0, "menu": 14.0}


class SimClock:
    """The process's wall clock, moved by the generator. `install()` once per process."""

    def __init__(self, start):
        self.t = float(start)
        self._real = (time.time, time.localtime, time.strftime)

    def install(self):
        os.environ["TZ"] = "Asia/Shanghai"
        time.tzset()
        real_localtime, real_strftime = self._real[1], self._real[2]
        time.time = lambda: self.t
        time.localtime = lambda secs=None: real_localtime(self.t if secs is None else secs)
        time.strftime = lambda fmt, t=None: real_strftime(
            fmt, real_localtime(self.t) if t is None else t)
        self.clock = Clock("Asia/Shanghai")     # the office's: reads time.time, so this one

    def set(self, t):
        self.t = max(self.t, float(t))

    def advance(self, seconds):
        self.set(self.t + seconds)


def _silence_wav(path, seconds=0.2):
    """The recording's file: a short placeholder (the record carries the spoken length)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * int(8000 * seconds))


class CountyBox:
    """One county's box, on a spool of its own, recording what its stories make happen."""

    def __init__(self, county, spool, sim):
        self.county = county
        self.sim = sim
        self.spool = Path(spool)
        self.spool.mkdir(parents=True, exist_ok=True)
        n = county.n
        self.cfg = configuration.from_dict({
            "office": {"id": county.id, "name": f"{county.name}法律服务专线",
                       "number": f"0773{n:03d}0148", "head_mobile": f"1390{n:03d}0009"},
            "duty": {"numbers": [f"1390{n:03d}0001", f"1390{n:03d}0002",
                                 f"1390{n:03d}0003"],
                     "mediators": [f"1380{n:03d}0001", f"1380{n:03d}0002"]},
            "referral": [{"name": f"{county.name}劳动保障监察大队", "phone": "07730000123",
                          "address": "县人民路1号", "hours": "周一至周五 9:00-17:00"},
                         {"name": f"{county.name}信访局", "phone": "07730000456",
                          "address": "县政府大楼", "hours": "周一至周五 9:00-17:00"}],
            "spool": {"dir": str(self.spool)},
            "health": {"email": True, "sms": False},
        })
        self.clock = sim.clock
        self.outbox = Outbox(self.spool / "outbox.db", self.spool, [TARGET],
                             reserve_bytes=0, clock=self.clock)
        self.office = build.office(self.cfg, self.clock, self.outbox)
        self.health = Health(health=self.cfg.health, office=self.cfg.office,
                             outbox_cfg=self.cfg.outbox, spool_dir=self.spool,
                             outbox=self.outbox, clock=self.clock)
        self.incoming = self.spool / "incoming"
        self.incoming.mkdir(exist_ok=True)
        self.delivered = {}     # kind -> items uploaded

    # -- one call ----------------------------------------------------------------------------

    def call(self, story):
        """Drive the box's call script through one story; returns the case numbers opened."""
        self.sim.set(story.at)
        cfg = self.cfg
        script = CallScript(story.caller, new_call_id(self.clock), cfg.office.number,
                            cfg.office.id,
                            cfg.menu, cfg.limits, cfg.voicemail, cfg.survey,
                            started=time.time())
        keys = list(story.keys)
        actions = script.start()
        while True:
            for quick in actions[:-1]:
                self._quick(script, quick)
            action = actions[-1]
            if action.kind == "end":
                break
            event = self._event(script, story, keys, action)
            actions = script.send(event)
        number = script.record.get("case_number")
        return [number] if number else []

    def _quick(self, script, action):
        if action.kind == "limit":
            self.office.limits.hit(action.names[0], script.caller, action.options["detail"],
                                   call_id=script.id)

    def _event(self, script, story, keys, action):
        sim, kind = self.sim, action.kind
        if kind == "answer":
            sim.advance(0.5)
            return Event("answered", None, sim.t)
        if kind == "ask":
            return Event("answer", self._answer(script, action.names), sim.t)
        if kind in ("play", "wait_key"):
            if story.hangup_s is not None:
                sim.set(story.at + story.hangup_s)
                return Event("hangup", None, sim.t)
            interruptible = kind == "wait_key" or action.options.get("interruptible", True)
            if interruptible and keys:
                sim.advance(2.0 if kind == "wait_key" else
                            sum(PROMPT_SECONDS.get(n, 2.0) for n in action.names) * 0.7)
                return Event("key", keys.pop(0), sim.t)
            if kind == "wait_key":
                sim.advance(action.options.get("timeout", 6.0))
                return Event("timeout", None, sim.t)
            sim.advance(sum(PROMPT_SECONDS.get(n, 2.5) for n in action.names))
            return Event("prompt_ended", None, sim.t)
        if kind == "ring":
            numbers = list(action.names)
            if action.options.get("ring_all") or not story.accept:
                sim.advance(story.ring_s if story.accept else self.cfg.duty.ring_timeout)
                legs = [{"number": n, "outcome": "accepted" if story.accept and i == 0 else
                         "no_answer", "sip_code": 200 if story.accept and i == 0 else 408,
                         "seconds_to_accept": round(story.ring_s, 1) if story.accept and
                         i == 0 else None, "setup_s": 0.3} for i, n in enumerate(numbers)]
            else:
                sim.advance(story.ring_s)
                legs = [{"number": numbers[0], "outcome": "accepted", "sip_code": 200,
                         "seconds_to_accept": round(story.ring_s, 1), "setup_s": 0.3}]
            record = {"duty_legs": legs}
            if story.accept:
                return Event("leg_accepted", numbers[0], sim.t, record)
            return Event("leg_failed", None, sim.t, record)
        if kind == "bridge":
            sim.advance(story.talk_s)
            return Event("bridge_ended", None, sim.t, {"bridged_s": round(story.talk_s, 1)})
        if kind == "record":
            began = sim.t
            path = self.incoming / f"{script.id}-{action.names[0]}.wav"
            _silence_wav(path)
            sim.advance(min(story.voicemail_s, action.options["max_seconds"]))
            return Event("recording_ended", {
                "reason": "# pressed", "seconds": min(story.voicemail_s,
                                                      action.options["max_seconds"]),
                "complete": True, "began": time.strftime("%Y-%m-%dT%H:%M:%S%z",
                                                         time.localtime(began)),
                "path": str(path)}, sim.t)
        if kind == "commit":
            items = list(action.names)
            try:
                entry = self.office.commit(items, None, None, False)
            except (OSError, CaseError) as exc:
                return Event("commit_failed", str(exc), sim.t)
            record = {}
            if any(isinstance(item, Escalated) for item in items):
                record["escalated_to"] = [st["number"] for st in entry.steps
                                          if st["op"] == "sms"
                                          and st["purpose"] == "urgent escalation"]
            cases = entry.cases()
            return Event("committed", cases[0] if cases else None, sim.t, record)
        if kind in ("hang_up", "last_words", "stopped"):
            sim.advance(1.0)
            return Event("done", None, sim.t)
        if kind == "finish":
            return Event("done", None, sim.t)
        raise RuntimeError(f"the generator has no answer to the script's {action}")

    def _answer(self, script, names):
        """The office's answers, as call/driver.py's _q_ methods give them."""
        question, *args = names
        office, caller, cid = self.office, script.caller, script.id
        if question == "office_open":
            return office.desk.is_open(), office.desk.why()
        if question == "new_case":
            return office.cases.next()
        if question == "cases_left":
            return office.limits.cases_left(office.cases, caller, call_id=cid)
        if question == "trunk_down":
            return None
        if question in ("can_bridge", "can_record"):
            return True
        if question == "numbers":
            if args[0] == "after_hours":
                return office.desk.after_hours_numbers()
            return office.on_duty(args[0])
        if question == "take":
            return office.limits.take(args[0], caller, call_id=cid)
        if question == "used":
            return office.limits.used(args[0], caller, call_id=cid)
        if question == "find_case":
            return None
        if question == "pin_matches":
            return office.try_pin(args[0], args[1], caller, cid)
        if question == "queue_place":
            return 1
        if question == "queue_leave":
            return None
        if question == "referrals":
            return len(self.cfg.referral)
        if question == "referral":
            chosen = self.cfg.referral[args[0]]
            return Department(chosen.name, chosen.phone, chosen.address, chosen.hours)
        if question == "staff":
            person = office.desk.staff(args[0])
            return office.duty_person(person.mobile) if person else None
        # the duties of issue 17: a generated caller keys no mobile for a referral's text,
        # hears no result on the phone (find_case answers None), and a county's generated
        # office has neither an urgent ladder nor the 1600148 switchboard configured
        if question == "has_address":
            return office.duties.has_address(args[0])
        if question == "texts_left":
            return 0
        if question == "may_text":
            return "生成的来电不留手机号"
        if question == "result_prompt":
            return None
        if question == "ladder":
            return []
        if question == "switchboard":
            return None
        raise RuntimeError(f"the generator has no answer to the question {question!r}")

    # -- later in a case's life ----------------------------------------------------------

    def resolve(self, number, at):
        """The owner (or the office head, for a complaint) resolves the case by SMS."""
        self.sim.set(at)
        case = self.office.cases.get(number)
        if case is None or case.state in ("resolved", "caller_informed"):
            return
        who = case.owner_name or "office head"
        by = f"{who} ({case.owner or self.cfg.office.head_mobile}) by SMS"
        try:
            self.office.act(number, "resolved", by, note="已电话答复并办结")
        except Exception:  # noqa: BLE001 - a state the box refuses stays as it is
            return

    def health_report(self, at, signal, backlog, oldest_hours):
        self.sim.set(at)
        report = HealthReport(at=at, signal_dbm=signal, signal_trend="steady",
                              trunk=None, trunk_text="", backlog=backlog,
                              oldest_hours=oldest_hours, disk_free_mb=5200.0)
        self.health.send(report, "daily")

    # -- uploading ---------------------------------------------------------------------------

    def deliver_to_folder(self, root, before=None):
        """Every item due, in the box's upload layout under `root/{office}` (what the
        receiver or nginx stores for an HTTPS PUT), oldest first; items committed after
        `before` (epoch) wait (an uplink outage). Returns the number of items."""
        base = Path(root) / self.cfg.office.id
        done = 0
        while True:
            due = [d for d in self.outbox.due(TARGET, now=float("inf"), limit=500)
                   if before is None or d.created <= before]
            if not due:
                return done
            for item in due:
                for name, path in item.files.items():
                    rel = LAYOUT.format(day=item.day, key=item.key,
                                        file=remote_name(name, path))
                    dest = base / rel
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    if path.suffix == ".wav":
                        try:
                            os.link(path, dest)
                        except OSError:
                            shutil.copyfile(path, dest)
                    else:
                        shutil.copyfile(path, dest)
                self.outbox.mark_done(item.item_id, TARGET)
                self.delivered[item.kind] = self.delivered.get(item.kind, 0) + 1
                done += 1
            if len(due) < 500:
                return done

    def deliver_to_s3(self, endpoint, bucket, access_key, secret, before=None):
        """The same through the box's own S3 target (SigV4 PUTs), for a live bucket."""
        from lawline.sync.s3 import S3Target
        target = S3Target(TARGET, endpoint, bucket, access_key, secret,
                          prefix=self.cfg.office.id, layout=LAYOUT)
        done = 0
        while True:
            due = [d for d in self.outbox.due(TARGET, now=float("inf"), limit=500)
                   if before is None or d.created <= before]
            if not due:
                return done
            for item in due:
                target.put_item(item)
                self.outbox.mark_done(item.item_id, TARGET)
                self.delivered[item.kind] = self.delivered.get(item.kind, 0) + 1
                done += 1

    def pending(self):
        return len(self.outbox.pending(TARGET, now=self.sim.t))

    def oldest_pending_hours(self):
        oldest = self.outbox.oldest_pending(TARGET)
        return None if oldest is None else max(0.0, (self.sim.t - oldest) / 3600)

    def close(self):
        self.outbox.close()
