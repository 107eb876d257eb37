"""Storage on the loopback line (issue 9 points 7 and 8): the box starts on a spool whose
outbox.db is garbage and whose last message (a recording and its record, left readable by
others) is on disk but in no database. It sets the database aside, alerts the office head by
SMS, delivers the old message, answers a call whose voicemail reaches upstream with a new case
number, and keeps everything it holds private: folders 0700, files 0600."""

import json
import os
import stat
import time

import pytest

from lawline.records.cases import parse_number
from lawline.sync.recovery import recording_name
from lawline.sync.wavfile import header
from lawline_rig.probe import hotline, scenarios
from lawline_rig.probe.rig import async_wait_until

from ..conftest import run_call

pytestmark = pytest.mark.scenario

HEAD = "13900000009"
GARBAGE = bytes(range(256)) * 64
AUDIO = os.urandom(16000)


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def rig(module_rigs):
    rig = module_rigs.rig("storage", start=False, duty_behaviour="no-answer",
                          box_options={"office": {"head_mobile": HEAD}})
    old = os.umask(0o022)     # the spool as an installer or an older firmware left it
    try:
        incoming = rig.spool_dir / "incoming"
        incoming.mkdir(parents=True)
        # the last message before the damage: committed once, now in no database
        rig.old_case = time.strftime("%y%m%d") + "0041"
        call_id = time.strftime("%y%m%d-%H%M%S") + "-0a41"
        wav = incoming / recording_name(call_id, "consultation", "13800138000")
        wav.write_bytes(header(len(AUDIO)) + AUDIO)
        (incoming / f"{rig.old_case}.json").write_text(json.dumps(
            {"case_number": rig.old_case, "box": "consultation", "caller": "13800138000",
             "call_id": call_id, "duration_s": 0.5, "ended_by": "# pressed"}))
        rig.old_wav = wav
        (rig.spool_dir / "outbox.db").write_bytes(GARBAGE)
        (rig.spool_dir / "outbox.db-wal").write_bytes(GARBAGE[:5000])
    finally:
        os.umask(old)
    assert mode(wav) == 0o644 and mode(rig.spool_dir) == 0o755
    rig.start()
    return rig     # the factory stops it and checks that the box exited cleanly


def test_a_garbage_outbox_is_set_aside_and_the_office_alerted(rig):
    kept = sorted((rig.spool_dir / "damaged").glob("outbox.db.*"))
    assert [p.read_bytes() for p in kept if not p.name.endswith("-wal")] == [GARBAGE], kept
    assert any(p.name.endswith("-wal") for p in kept), kept
    log = rig.box_log()
    assert "outbox.db was damaged" in log and "nothing deleted" in log
    assert "ready on" in log

    async def alerted(rig):
        await hotline.wait_outside_sms(rig, HEAD, "outbox.db 已损坏")
    run_call(rig, alerted)


def test_the_message_on_disk_reaches_upstream_again(rig):
    async def delivered(rig):
        remote = rig.upstream_path(rig.old_case, "voicemail.wav")
        await async_wait_until(lambda: remote.exists() and
                               remote.read_bytes() == rig.old_wav.read_bytes(), 30,
                               f"{remote} upstream")
    run_call(rig, delivered)


def test_a_call_after_the_damage_leaves_a_voicemail_that_reaches_upstream(rig):
    result = run_call(rig, scenarios.consultation_voicemail)   # asserts upstream has it
    case = result["voicemail"]["record"]["case_number"]
    assert parse_number(case) > parse_number(rig.old_case), (case, rig.old_case)
    rig.new_wav = scenarios._local(rig, result["voicemail"]["files"]["voicemail.wav"])


def test_everything_the_box_keeps_is_private(rig):
    spool = rig.spool_dir
    folders = [spool, spool / "incoming", spool / "damaged", spool / "tmp"]
    files = [rig.new_wav, rig.old_wav, spool / "outbox.db", spool / "cases.db",
             *spool.glob("*.db-wal"), *spool.glob("*.db-shm"), *(spool / "damaged").iterdir(),
             *(spool / "incoming").glob("*.json")]
    assert len(files) > 8, files
    assert {str(p): oct(mode(p)) for p in folders if mode(p) != 0o700} == {}
    assert {str(p): oct(mode(p)) for p in files if mode(p) & 0o077} == {}
    assert oct(mode(rig.new_wav)) == oct(0o600)
    assert "were readable by others; now the service's only" in rig.box_log()
