"""Start-up recovery: recordings a cut left behind are repaired and delivered, flagged
interrupted; damaged spool entries are set aside with a log line, never deleted."""

import json
import logging
import struct

import pytest

from lawline import config as configuration
from lawline.records.office import Office
from lawline.records.recovery import recover_spool
from lawline.sync import Outbox
from lawline.sync.outbox import RECORD_FORMAT
from lawline.sync.recovery import check_item_files, recording_name
from lawline.sync.wavfile import HEADER, header, inspect, repair_wav

from .helpers import commit_voicemail, due

AUDIO = bytes(range(256)) * 50


@pytest.fixture
def box(tmp_path):
    spool = tmp_path / "spool"
    outbox = Outbox(spool / "outbox.db", spool, ["upstream"])
    cfg = configuration.from_dict({"office": {"id": "county-0148"},
                                   "spool": {"dir": str(spool)}})
    office = Office.from_config(cfg, spool, outbox)
    yield outbox, office, spool / "incoming"
    outbox.close()
    office.cases.close()


def recover(outbox, office, incoming):
    return recover_spool(office, outbox, incoming, line_number="07730148", min_seconds=1.0)


def test_repair_sets_the_header_to_the_audio_on_disk(tmp_path):
    wav = tmp_path / "cut.wav"
    wav.write_bytes(header(0) + AUDIO + b"\x01")  # as the recorder leaves it, plus half a sample
    assert not inspect(wav)["complete"]
    assert repair_wav(wav)
    facts = inspect(wav)
    assert facts["complete"] and facts["data_bytes"] == len(AUDIO)
    assert wav.read_bytes()[HEADER:] == AUDIO
    assert not repair_wav(wav)  # a second pass changes nothing
    short = tmp_path / "short.wav"
    short.write_bytes(b"RIF")  # killed while writing the header
    assert repair_wav(short) and inspect(short)["complete"]
    with pytest.raises(ValueError):
        (tmp_path / "x.wav").write_bytes(b"garbage" * 10)
        repair_wav(tmp_path / "x.wav")


def test_a_recording_cut_short_is_delivered_flagged_with_the_callers_number(box, caplog):
    caplog.set_level(logging.INFO, logger="lawline.sync")
    outbox, cases, incoming = box
    incoming.mkdir(parents=True)
    wav = incoming / recording_name("260112-093000-ab12", "complaint", "13912345678")
    wav.write_bytes(header(0) + AUDIO)
    keys = recover(outbox, cases, incoming)
    assert len(keys) == 1
    item = outbox.get(keys[0])
    assert item.kind == "voicemail" and item.record["interrupted"] is True
    assert item.record["caller"] == "13912345678" and item.record["box"] == "complaint"
    assert item.record["call_id"] == "260112-093000-ab12"
    assert item.record["duration_s"] == round(len(AUDIO) / 16000, 2)
    assert item.files["voicemail.wav"].read_bytes() == header(len(AUDIO)) + AUDIO
    assert item.deliveries["upstream"]["state"] == "pending"
    assert f"recording {wav.name} was cut short" in caplog.text
    assert "caller 13912345678" in caplog.text
    # recovery again finds nothing: the recording now belongs to an item
    assert recover(outbox, cases, incoming) == []


def test_the_case_number_the_cut_record_drew_is_kept(box):
    outbox, cases, incoming = box
    incoming.mkdir(parents=True)
    wav = incoming / recording_name("260112-093000-ab12", "consultation", None)
    wav.write_bytes(header(len(AUDIO)) + AUDIO)  # complete, but the commit never finished
    drawn = cases.cases.next()
    (incoming / f"{drawn}.json").write_text(json.dumps(
        {"case_number": drawn, "box": "consultation", "call_id": "260112-093000-ab12",
         "caller": "", "menu_path": ["1"]}))
    assert recover(outbox, cases, incoming) == [drawn]
    record = outbox.get(drawn).record
    assert record["menu_path"] == ["1"] and record["interrupted"] is True
    assert record["caller"] == ""


def test_uncommitted_call_record_garbage_and_temporaries(box, caplog):
    outbox, cases, incoming = box
    incoming.mkdir(parents=True)
    (incoming / "call-260112-093000-ab12.json").write_text('{"outcome": "bridged"}')
    (incoming / "260112009.json").write_text("{not json")
    (incoming / ".260112010.json.x1y2.tmp").write_text("{")
    (incoming / "noise.wav").write_bytes(b"not a wav at all, just bytes" * 4)
    keys = recover(outbox, cases, incoming)
    assert keys == ["call-260112-093000-ab12"]
    assert outbox.get(keys[0]).record == {"outcome": "bridged", "interrupted": True,
                                          "record_format": RECORD_FORMAT}
    damaged = outbox.spool_dir / "damaged"
    assert sorted(p.name for p in damaged.iterdir()) == ["260112009.json", "noise.wav"]
    assert (damaged / "260112009.json").read_text() == "{not json"  # kept as it was
    assert not (incoming / ".260112010.json.x1y2.tmp").exists()
    assert "260112009.json set aside" in caplog.text and "nothing was deleted" in caplog.text


def test_damaged_record_file_is_rewritten_from_the_outbox_copy(box, caplog):
    outbox, cases, incoming = box
    _, record = commit_voicemail(outbox, "260112001")
    item = due(outbox, "upstream", "260112001")
    item.files["record"].write_text("garbage{")
    check_item_files(item)
    assert json.loads(item.files["record"].read_text()) == dict(record,
                                                                record_format=RECORD_FORMAT)
    assert "record file 260112001.json of 260112001 was damaged" in caplog.text


def test_truncated_wav_is_repaired_before_upload_and_a_missing_one_waits(box, caplog):
    outbox, cases, incoming = box
    path, _ = commit_voicemail(outbox, "260112001")
    with open(path, "r+b") as f:  # the disk lost the tail of a committed recording
        f.truncate(HEADER + 1000)
    item = due(outbox, "upstream", "260112001")
    check_item_files(item)
    assert inspect(path)["complete"] and struct.unpack("<I", path.read_bytes()[40:44])[0] == 1000
    assert "(truncated); header repaired" in caplog.text
    path.unlink()
    with pytest.raises(FileNotFoundError, match="is missing; the item waits"):
        check_item_files(item)


def test_a_recovered_message_is_opened_as_a_case_with_its_sms(box):
    outbox, office, incoming = box
    incoming.mkdir(parents=True)
    (incoming / recording_name("260112-093000-ab12", "service_request", "13912345678")
     ).write_bytes(header(0) + AUDIO)
    [key] = recover(outbox, office, incoming)
    case = office.cases.get(key)
    assert case is not None and case.caller == "13912345678"
    assert [r["purpose"] for r in office.sms.rows()] == ["caller case", "duty case"]
