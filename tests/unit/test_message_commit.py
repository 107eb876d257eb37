"""The one durable step per message (sync/message.py): a voicemail's item, its case, its case
journal item and the SMS to the caller and the duty person. A child process commits one
message and is SIGKILLed after each statement in turn (its own hook); the box then starts
on what the kill left (the message journal, then the spool re-scan, as sync/service.py
does) and every message has its case, its item and its SMS exactly once. Real files, real
SQLite, a real SIGKILL."""

import json
import os
import signal
import time

import pytest

from lawline import config as configuration
from lawline.records.office import Office
from lawline.sync import message
from lawline.sync.outbox import Outbox
from lawline.sync.recovery import recording_name, recover_spool
from lawline.sync.wavfile import header

CALLER, DUTY, HEAD = "13800138000", "13900000001", "13900000009"
AUDIO = bytes(range(256)) * 64


def parts(spool):
    cfg = configuration.from_dict({
        "office": {"id": "county-0148", "name": "测试县法律服务专线", "head_mobile": HEAD},
        "duty": {"numbers": [DUTY]}, "spool": {"dir": str(spool)}})
    spool.mkdir(parents=True, exist_ok=True)
    outbox = Outbox(spool / "outbox.db", spool, ["upstream"])
    return Office.from_config(cfg, spool, outbox), outbox


def leave_message(spool, step, box="consultation"):
    """What the call does for one voicemail: the recording, a case number, the one step."""
    office, outbox = parts(spool)
    incoming = spool / "incoming"
    incoming.mkdir(exist_ok=True)
    call_id = time.strftime("%y%m%d-%H%M%S") + "-00a1"
    wav = incoming / recording_name(call_id, box, CALLER)
    wav.write_bytes(header(len(AUDIO)) + AUDIO)
    case = office.cases.next()
    record = {"case_number": case, "box": box, "caller": CALLER, "line": "07730148",
              "office": "county-0148", "call_id": call_id, "ended_by": "# pressed",
              "duration_s": 1.0, "short": False}
    planned = message.plan_voicemail(office, outbox, record, wav, branch=box)
    message.commit_message(planned, outbox, office.cases, office.sms, step)
    return case


def start(spool):
    """The box's start-up on this spool: journal entries, then the re-scan."""
    office, outbox = parts(spool)
    message.apply_pending(outbox, office.cases, office.sms)
    recover_spool(outbox, office.cases, spool / "incoming", office_id="county-0148",
                  line_number="07730148", office=office)
    return office, outbox


def what_is_there(spool):
    office, outbox = parts(spool)
    items = {k: outbox.get(k).kind for k in outbox.keys()}
    voicemails = [k for k, kind in items.items() if kind == "voicemail"]
    found = {"voicemails": voicemails, "items": sorted(items),
             "cases": [c.number for c in office.cases.list()],
             "sms": sorted((r["case_number"], r["purpose"], r["number"])
                           for r in office.sms.rows()),
             "entries": sorted(p.name for p in message.journal_dir(spool).glob("*"))}
    for case in office.cases.list():
        found.setdefault("owners", {})[case.number] = case.owner
    outbox.close()
    office.cases.close()
    return found


def steps_of_one_message(tmp_path):
    names = []
    leave_message(tmp_path / "dry", names.append)
    return names


def test_a_message_commits_its_item_case_journal_and_both_sms_in_that_order(tmp_path):
    assert steps_of_one_message(tmp_path) == ["recording", "journal", "item", "case",
                                              "case journal", "sms 1", "sms 2", "done"]
    found = what_is_there(tmp_path / "dry")
    case, = found["voicemails"]
    assert found["cases"] == [case] and found["entries"] == []
    assert found["items"] == sorted([case, f"case-{case}-1"])
    assert found["sms"] == sorted([(case, "caller case", CALLER), (case, "duty case", DUTY)])
    pin = parts(tmp_path / "dry")[0].cases.get(case).pin
    text = next(r["text"] for r in parts(tmp_path / "dry")[0].sms.rows()
                if r["purpose"] == "caller case")
    assert pin and pin in text     # the PIN decided in the plan is the one the case keeps


def sigkill_at(name):
    def step(reached):
        if reached == name:
            os.kill(os.getpid(), signal.SIGKILL)
    return step


@pytest.mark.parametrize("cut", ["recording", "journal", "item", "case", "case journal",
                                 "sms 1", "sms 2", "done"])
def test_a_sigkill_after_any_statement_leaves_each_message_whole_exactly_once(tmp_path, cut):
    spool = tmp_path / "spool"
    pid = os.fork()
    if pid == 0:
        try:
            leave_message(spool, sigkill_at(cut))
        finally:
            os._exit(3)     # reached only if the kill did not come
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status

    start(spool)[1].close()
    found = what_is_there(spool)
    case, = found["voicemails"]          # one message, one item: never none, never two
    assert found["cases"] == [case], found
    assert found["items"] == sorted([case, f"case-{case}-1"]), found
    assert found["sms"] == sorted([(case, "caller case", CALLER),
                                   (case, "duty case", DUTY)]), found
    assert found["owners"][case] == DUTY
    assert found["entries"] == [], found
    if cut == "recording":   # no journal entry yet: the re-scan delivered it as cut short
        office, outbox = parts(spool)
        assert outbox.get(case).record["interrupted"] is True
        outbox.close()
    start(spool)[1].close()                # a second start adds nothing
    assert what_is_there(spool) == found


class Cut(BaseException):
    """A failure the step does not catch (as a power cut would not be caught)."""


@pytest.mark.parametrize("cut", ["item", "case", "case journal", "sms 1", "sms 2"])
def test_a_failure_while_applying_keeps_the_entry_for_the_next_start(tmp_path, cut):
    spool = tmp_path / "spool"

    def step(reached):
        if reached == cut:
            raise Cut(reached)
    with pytest.raises(Cut):
        leave_message(spool, step)
    assert len(what_is_there(spool)["entries"]) == 1
    start(spool)[1].close()
    found = what_is_there(spool)
    assert found["entries"] == [] and len(found["voicemails"]) == 1 and \
        len(found["sms"]) == 2 and len(found["cases"]) == 1


def test_an_unreadable_entry_is_set_aside_and_a_pending_recording_is_not_taken_for_cut(
        tmp_path):
    spool = tmp_path / "spool"
    office, outbox = parts(spool)
    folder = message.journal_dir(spool)
    folder.mkdir()
    (folder / "2601010001.json").write_text("{not json")
    assert message.apply_pending(outbox, office.cases, office.sms) == []
    assert not (folder / "2601010001.json").exists()
    assert (spool / "damaged" / "2601010001.json").exists()
    # an entry whose apply fails stays for the next start, and the re-scan does not take
    # its recording for a cut one (that would be the message twice)
    wav = spool / "incoming" / recording_name("260101-093000-00b2", "consultation", CALLER)
    wav.parent.mkdir()
    wav.write_bytes(header(0) + AUDIO)
    entry = {"key": "2601010002", "kind": "voicemail", "record": "not a record",
             "files": {"voicemail.wav": f"incoming/{wav.name}"}, "case": None,
             "case_journal": None, "sms": []}
    (folder / "2601010002.json").write_text(json.dumps(entry))
    assert message.apply_pending(outbox, office.cases, office.sms) == []
    assert (folder / "2601010002.json").exists()
    assert wav.resolve() in message.pending_files(spool)
    assert recover_spool(outbox, office.cases, spool / "incoming", office_id="county-0148",
                         line_number="07730148", office=office) == []


def test_an_open_urgent_case_gets_only_its_item(tmp_path):
    """Key 3, nobody accepted: the case and its SMS went out then; the voicemail after adds
    the item only."""
    spool = tmp_path / "spool"
    office, outbox = parts(spool)
    case = office.open_case("urgent", CALLER, call_id="x").number
    before = len(office.sms.rows())
    wav = spool / "incoming" / "u.wav"
    wav.parent.mkdir(exist_ok=True)
    wav.write_bytes(header(len(AUDIO)) + AUDIO)
    planned = message.plan_voicemail(office, outbox, {"case_number": case, "box": "urgent",
                                                      "caller": CALLER}, wav, branch="urgent")
    assert planned["case"] is None and planned["sms"] == []
    message.commit_message(planned, outbox, office.cases, office.sms)
    assert outbox.get(case).kind == "voicemail" and len(office.sms.rows()) == before


def test_the_duty_person_of_the_duty_list_is_never_capped(tmp_path):
    """[duty] numbers without a rota are staff: the eleventh case SMS of a day still goes to
    them (records/limits.py caps callers only); the caller of eleven messages is capped."""
    spool = tmp_path / "spool"
    for _ in range(11):
        leave_message(spool, lambda step: None)
    office, outbox = parts(spool)
    states = {(r["purpose"], r["state"]) for r in office.sms.rows()
              if r["id"] == max(x["id"] for x in office.sms.rows()
                                if x["purpose"] == r["purpose"])}
    assert states == {("duty case", "pending"), ("caller case", "limited")}
