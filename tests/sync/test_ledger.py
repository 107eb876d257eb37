"""The call-outcome ledger (records/ledger.py): every kind of outcome in one durable step.

For each kind (a voicemail, the end of a bridged call with its rating and record, a referral,
a callback, an urgent escalation, a case opened by hand, a case resolved; the urgent ladder's
steps, arrival at the scene and a bridged call's recording, issue 17), a child process
commits it and is SIGKILLed after each statement in turn; the box then starts on what the kill
left (records/recovery.start_up: the ledger, then the spool re-scan) and the outcome is there
whole, exactly once, or (killed before its entry was on disk, when nobody had been told) not
at all. Real files, real SQLite, a real SIGKILL.
"""

import json
import os
import re
import signal

import pytest

from lawline import config as configuration
from lawline.records import outcomes as o
from lawline.records.cases import CaseChanged
from lawline.records.office import Office
from lawline.records.recovery import start_up
from lawline.sync.outbox import Outbox
from lawline.sync.recovery import recording_name
from lawline.sync.wavfile import header

CALLER, DUTY, MEDIATOR, HEAD = "13800138000", "13900000001", "13900000002", "13900000009"
AUDIO = bytes(range(256)) * 64
CALL_ID = "261207-100000-00a1"


def parts(spool):
    cfg = configuration.from_dict({
        "office": {"id": "county-0148", "name": "测试县法律服务专线", "head_mobile": HEAD},
        "duty": {"numbers": [DUTY], "mediators": [MEDIATOR]}, "spool": {"dir": str(spool)},
        "referral": [{"name": "县劳动监察大队", "phone": "07731112222", "address": "人民路1号",
                      "hours": "工作日"}]})
    spool.mkdir(parents=True, exist_ok=True)
    outbox = Outbox(spool / "outbox.db", spool, ["upstream"])
    return Office.from_config(cfg, spool, outbox), outbox


class Cut(BaseException):
    """A failure the step does not catch (as a power cut would not be caught)."""


def call(caller=CALLER):
    return o.Call(CALL_ID, caller, "07730148")


# -- one outcome of each kind, as the box commits it -------------------------------------------

def voicemail(office, step):
    wav = office.outbox.spool_dir / "incoming" / recording_name(CALL_ID, "consultation", CALLER)
    wav.parent.mkdir(exist_ok=True)
    wav.write_bytes(header(len(AUDIO)) + AUDIO)
    case = office.cases.next()
    office.commit([o.Voicemail(call(), "consultation", case, "", str(wav), 1.0, "# pressed",
                               menu_path=("1",))], step=step)


def bridged(office, step):
    case = office.cases.next()
    record = {"call_id": CALL_ID, "caller": CALLER, "started": 1796600000.0,
              "outcome": "bridged", "case_number": case, "rating": 1}
    office.commit([o.Bridged(call(), "consultation", case, "", o.Duty(DUTY)),
                   o.Rated(call(), case, 1, o.Duty(DUTY)), o.CallRecord(CALL_ID, record)],
                  step=step)


def referral(office, step):
    office.commit([o.Referred(call(), office.cases.next(), "",
                              o.Department("县劳动监察大队", "07731112222"))], step=step)


def callback(office, step):
    office.commit([o.Callback(call(), office.cases.next(), "", o.Duty(DUTY), 2)], step=step)


def escalation(office, step):
    office.commit([o.Escalated(call(), office.cases.next(), "", (MEDIATOR,), 60.0)],
                  step=step)


def opened(office, step):
    office.commit([o.Opened("service_request", office.cases.next(), "", CALLER,
                            notify_duty=(DUTY,))], step=step)


def resolved(office, step):
    """A case opened before (not under test), then resolved by its owner by SMS."""
    number = office.open_case("service_request", CALLER, owner=DUTY, state="assigned").number
    step("ready")
    office.commit([o.Moved(office.snapshot(number), "resolved", "张律师 by SMS", "已调解")],
                  step=step)


# -- the telephone's duties (issue 17): the urgent ladder, arrival at the scene, recordings --

PREFECTURE = "07731234567"


def _escalated_case(office, step):
    """An urgent case the mediators did not take (not under test), then `step("ready")`."""
    case = office.cases.next()
    office.commit([o.Escalated(call(), case, "", (MEDIATOR,), 20.0)])
    step("ready")
    return case


def ladder_taken(office, step):
    """A mediator takes the call: the case opens theirs, the others are told who."""
    office.commit([o.LadderStep(call(), office.cases.next(), "", "mediators", MEDIATOR,
                                "accepted", 12.0, o.Duty(MEDIATOR), (MEDIATOR, DUTY),
                                opens=True)], step=step)


def ladder_step(office, step):
    """A step of the ladder nobody answered: a history row that keeps the state."""
    case = _escalated_case(office, step)
    office.commit([o.LadderStep(call(), case, "", "head", HEAD, "no_answer", 40.0)],
                  step=step)


def ladder_up(office, step):
    """The head takes the call on the ladder: the case is theirs, the mediator told."""
    case = _escalated_case(office, step)
    office.commit([o.LadderStep(call(), case, "", "head", HEAD, "accepted", 40.0,
                                o.Duty(HEAD), (MEDIATOR,))], step=step)


def on_scene(office, step):
    """The mediator who took it reports reaching the scene (SMS 到场)."""
    case = office.cases.next()
    office.commit([o.LadderStep(call(), case, "", "mediators", MEDIATOR, "accepted", 12.0,
                                o.Duty(MEDIATOR), (), opens=True)])
    step("ready")
    office.commit([o.OnScene(office.snapshot(case), "李调解 by SMS", MEDIATOR, "李调解")],
                  step=step)


def recording(office, step):
    """A bridged call's recording, with the caller's consent: an item with its WAV."""
    wav = office.outbox.spool_dir / "recordings" / recording_name(CALL_ID, "bridged", CALLER)
    wav.parent.mkdir(exist_ok=True)
    wav.write_bytes(header(len(AUDIO)) + AUDIO)
    office.commit([o.CallRecording(call(), str(wav), 1.0, None, None, DUTY, 90.0)], step=step)


def missed(office, step):
    """A caller hung up while it rang (issue 17.6): the call record, the call book, the
    callback list."""
    record = {"call_id": CALL_ID, "caller": CALLER, "started": 1796600000.0,
              "outcome": "missed", "abandoned_in": "ringing", "abandoned_after_s": 7.0}
    office.commit([o.CallRecord(CALL_ID, record)], step=step)


def topic(office, step):
    """A duty person sets a case's topic by SMS (issue 17.5): a checked change first."""
    number = office.open_case("service_request", CALLER, owner=DUTY, state="assigned").number
    step("ready")
    office.commit([o.Topic(office.snapshot(number), "劳动争议", "张律师 by SMS")], step=step)


def called_back(office, step):
    """The duty phone says it called a missed caller back: the entry done, upstream."""
    office.commit([o.CallRecord(CALL_ID, {"call_id": CALL_ID, "caller": CALLER,
                                          "started": 1796600000.0, "outcome": "missed",
                                          "abandoned_after_s": 7.0})])
    step("ready")
    entries = tuple(office.calls.entries(open_only=True))
    office.commit([o.CalledBack(entries, "张律师 by SMS", "sms", "已解答")], step=step)


KINDS = {"voicemail": voicemail, "bridged": bridged, "referral": referral,
         "callback": callback, "escalation": escalation, "opened": opened,
         "resolved": resolved, "ladder_taken": ladder_taken, "ladder_step": ladder_step,
         "ladder_up": ladder_up, "on_scene": on_scene, "recording": recording,
         "missed": missed, "topic": topic, "called_back": called_back}
# kinds whose file is found again at start-up when the kill came before its entry
FOUND_AGAIN = ("voicemail", "recording")


# -- issue 17: the office's duties (records/duties.py) ------------------------------------------

PROVIDER, DEPARTMENT = "13700000011", "13700000021"


def service_request(office):
    return office.open_case("service_request", CALLER, owner=DUTY, state="assigned").number


def dispatched(office, step):
    number = service_request(office)
    step("ready")
    office.commit([o.Dispatched(office.snapshot(number), "张律师 by SMS",
                                o.Provider("王律师", PROVIDER), "12月08日 09:30", 1796700000.0,
                                "城关镇")], step=step)


def arrived(office, step):
    number = service_request(office)
    office.commit([o.Dispatched(office.snapshot(number), "head", o.Provider("王律师", PROVIDER),
                                "12月08日 09:30", 1796700000.0, "城关镇")])
    step("ready")
    office.commit([o.Arrived(office.snapshot(number), "王律师 by SMS")], step=step)


def missed(office, step):
    number = service_request(office)
    office.commit([o.Dispatched(office.snapshot(number), "head", o.Provider("王律师", PROVIDER),
                                "12月08日 09:30", 1796700000.0, "城关镇")])
    step("ready")
    office.commit([o.AppointmentMissed(office.snapshot(number), (HEAD, DUTY))], step=step)


def handoff(office, step):
    office.commit([o.Referred(call(), office.cases.next(), "",
                              o.Department("县劳动监察大队", "07731112222", sms=DEPARTMENT,
                                           email="jc@example.org"), "384105", 1796900000.0,
                              "12月10日")], step=step)


def replied(office, step):
    handoff(office, lambda name: None)
    number = office.cases.by_reply_code("384105")
    step("ready")
    office.commit([o.Replied(office.snapshot(number), "县劳动监察大队 by SMS", "已追回工资")],
                  step=step)


def overdue(office, step):
    handoff(office, lambda name: None)
    number = office.cases.by_reply_code("384105")
    step("ready")
    office.commit([o.ReplyOverdue(office.snapshot(number), (HEAD,))], step=step)


def told(office, step):
    number = office.open_case("complaint", "07731234567", owner=HEAD, state="assigned").number
    office.act(number, "resolved", "head", "已调查处理")
    step("ready")
    office.commit([o.Told(call("07731234567"), number)], step=step)


def surveyed(office, step):
    number = service_request(office)
    office.act(number, "resolved", "张律师", "已解答")
    step("ready")
    office.commit([o.Surveyed(office.snapshot(number), 1, o.Duty(DUTY, "张律师"))], step=step)


def texted(office, step):
    number = office.cases.next()
    department = o.Department("县劳动监察大队", "07731112222", "人民路1号")
    office.commit([o.Referred(call(), number, "", department)])
    step("ready")
    office.commit([o.ReferralTexted(call(), number, "13912345678", department)], step=step)


def availability(office, step):
    office.commit([o.AvailabilityChanged(DUTY, "张律师", "off", 1796700000.0, "12月08日 09:30",
                                         "张律师 (13900000001) by SMS", "sms", DUTY,
                                         ("lawyer",))], step=step)


KINDS.update({"dispatched": dispatched, "arrived": arrived, "missed": missed,
              "handoff": handoff, "replied": replied, "overdue": overdue, "told": told,
              "surveyed": surveyed, "texted": texted, "availability": availability})


def state(spool):
    """What is there, with case numbers made N so two runs compare."""
    office, outbox = parts(spool)
    n = lambda text: re.sub(r"\d{10,}", "N", str(text))  # noqa: E731  (keys with times too)
    found = {
        "items": sorted((outbox.get(k).kind, n(k)) for k in outbox.keys()),
        "cases": sorted((c.kind, c.state, c.owner, c.caller, c.rating)
                        for c in office.cases.list()),
        "history": sorted((n(c.number), st, by) for c in office.cases.list()
                          for _, st, by, _ in office.cases.history(c.number)),
        "sms": sorted((r["purpose"], r["number"]) for r in office.sms.rows()),
        "entries": sorted(p.name for p in (spool / "ledger").glob("*")),
        # issue 17: which duty columns each case has, and who signed off
        "duties": sorted((c.kind, tuple(sorted(office.cases.duties(c.number))))
                         for c in office.cases.list()),
        "availability": sorted((a["what"], a["who"])
                               for a in office.duties.availability.changes()),
        # the call book and the callback list (records/calls.py); topics
        "calls": sorted(r["call_id"] for r in office.calls.calls(0, 4e9)),
        "callbacks": sorted((e["number"], e["calls"], e["done_how"])
                            for e in office.calls.entries()),
        "topics": sorted(c.topic for c in office.cases.list()),
    }
    outbox.close()
    office.cases.close()
    return found


def steps_of(kind, spool):
    names = []
    office, outbox = parts(spool)
    KINDS[kind](office, names.append)
    outbox.close()
    return names


def sigkill_at(index):
    calls = [0]

    def step(name):
        if calls[0] == index:
            os.kill(os.getpid(), signal.SIGKILL)
        calls[0] += 1
    return step


def restart(spool):
    office, outbox = parts(spool)
    start_up(office, outbox, spool, line_number="07730148")
    outbox.close()
    office.cases.close()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_sigkill_after_any_statement_leaves_the_outcome_whole_once_or_not_at_all(tmp_path,
                                                                                   kind):
    names = steps_of(kind, tmp_path / "dry")
    first = names.index("files") if "files" in names else 0
    assert names[-1] == "done" and "journal" in names
    after = state(tmp_path / "dry")
    assert after["entries"] == []
    office, outbox = parts(tmp_path / "before")     # the commit stopped before it began

    def stop(name):
        if name == "files":
            raise Cut(name)
    with pytest.raises(Cut):
        KINDS[kind](office, stop)
    outbox.close()
    before = state(tmp_path / "before")
    kills = {"whole": 0, "none": 0}
    for index in range(first, len(names)):
        spool = tmp_path / f"kill-{index}"
        pid = os.fork()
        if pid == 0:
            try:
                office, _ = parts(spool)
                KINDS[kind](office, sigkill_at(index))
            finally:
                os._exit(3)     # reached only if the kill did not come
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
        restart(spool)
        found = state(spool)
        journalled = index >= names.index("journal")
        if journalled or (kind in FOUND_AGAIN and index >= names.index("files")):
            # on disk: it is all there, once (a voicemail cut before its entry comes back
            # from the spool re-scan, flagged interrupted, with its case and SMS)
            assert found == after, (names[index], found)
            kills["whole"] += 1
        else:
            # not on disk: nobody was told anything; nothing of it is there
            assert found == before, (names[index], found)
            kills["none"] += 1
        restart(spool)                              # a second start adds nothing
        assert state(spool) == found
    assert kills["whole"] >= 1
    print(f"{kind}: {len(names)} statements, {kills}")


# -- the journal itself --------------------------------------------------------------------------

def test_a_failure_while_applying_keeps_the_entry_for_the_next_start(tmp_path):
    spool = tmp_path / "spool"
    names = steps_of("bridged", tmp_path / "dry")
    for name in names[names.index("journal") + 1:-1]:
        where = tmp_path / name.replace(" ", "-")
        office, _ = parts(where)

        def step(reached, cut=name):
            if reached == cut:
                raise Cut(reached)
        with pytest.raises(Cut):
            bridged(office, step)
        assert len(state(where)["entries"]) == 1
        restart(where)
        assert state(where) == state(tmp_path / "dry")
    assert not spool.exists()


def test_a_move_on_a_case_that_changed_meanwhile_is_refused_whole(tmp_path):
    office, outbox = parts(tmp_path / "spool")
    number = office.open_case("service_request", CALLER, owner=DUTY, state="assigned").number
    seen = office.snapshot(number)
    office.act(number, "resolved", "李 by SMS")                 # meanwhile, by SMS
    before = state(tmp_path / "spool")
    with pytest.raises(CaseChanged):
        office.commit([o.Moved(seen, "referred", "clerk on the page")])
    assert state(tmp_path / "spool") == before                  # nothing written, no entry


def test_an_unreadable_entry_is_set_aside_and_a_pending_recording_is_not_taken_for_cut(
        tmp_path):
    spool = tmp_path / "spool"
    office, outbox = parts(spool)
    folder = spool / "ledger"
    folder.mkdir()
    (folder / "2601010001.json").write_text("{not json")
    assert office.ledger.replay() == []
    assert not (folder / "2601010001.json").exists()
    assert (spool / "damaged" / "2601010001.json").exists()
    # an entry whose apply fails stays for the next start, and the re-scan does not take
    # its recording for a cut one (that would be the message twice)
    wav = spool / "incoming" / recording_name("260101-093000-00b2", "consultation", CALLER)
    wav.parent.mkdir()
    wav.write_bytes(header(0) + AUDIO)
    entry = {"key": "2601010002", "at": 1.0, "steps": [
        {"op": "item", "key": "2601010002", "kind": "voicemail", "record": "not a record",
         "files": {"voicemail.wav": f"incoming/{wav.name}"}}]}
    (folder / "2601010002.json").write_text(json.dumps(entry))
    assert office.ledger.replay() == []
    assert (folder / "2601010002.json").exists()
    assert wav.resolve() in office.ledger.pending_files()
    from lawline.records.recovery import recover_spool
    assert recover_spool(office, outbox, spool / "incoming", line_number="07730148") == []


def test_a_voicemail_journalled_by_a_box_before_the_ledger_is_applied_after_an_update(
        tmp_path):
    """spool/messages/<case>.json, the one-step journal of boxes before the ledger."""
    spool = tmp_path / "spool"
    office, outbox = parts(spool)
    wav = spool / "incoming" / recording_name(CALL_ID, "consultation", CALLER)
    wav.parent.mkdir()
    wav.write_bytes(header(len(AUDIO)) + AUDIO)
    case = "2612070001"
    old = {"key": case, "kind": "voicemail",
           "record": {"case_number": case, "box": "consultation", "caller": CALLER},
           "files": {"voicemail.wav": f"incoming/{wav.name}"},
           "case": {"number": case, "kind": "consultation", "caller": CALLER, "owner": DUTY,
                    "owner_name": "", "detail": "", "call_id": CALL_ID, "state": "assigned",
                    "due_hours": 72.0, "note": "opened: consultation", "now": 1796600000.0,
                    "pin": "1234"},
           "case_journal": {"case_number": case, "event": "opened"},
           "sms": [{"number": CALLER, "text": "您的案件", "purpose": "caller case"}]}
    (spool / "messages").mkdir()
    (spool / "messages" / f"{case}.json").write_text(json.dumps(old, ensure_ascii=False))
    restart(spool)
    found = state(spool)
    assert found["items"] == [("case", "case-N-1"), ("voicemail", "N")]
    assert found["sms"] == [("caller case", CALLER)] and len(found["cases"]) == 1
    assert not list((spool / "messages").glob("*.json"))


def test_the_duty_person_of_the_duty_list_is_never_capped(tmp_path):
    """[duty] numbers without a rota are staff: the eleventh case SMS of a day still goes to
    them (records/limits.py caps callers only); the caller of eleven messages is capped."""
    office, outbox = parts(tmp_path / "spool")
    for _ in range(11):
        opened(office, lambda name: None)
    rows = office.sms.rows()
    assert sum(1 for r in rows if r["number"] == DUTY and r["state"] == "pending") == 11
    assert sum(1 for r in rows if r["number"] == CALLER and r["state"] == "pending") == 10
