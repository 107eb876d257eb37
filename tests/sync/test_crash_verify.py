"""The crash harness's checker catches what it must: a lost, duplicated or corrupt message."""

from lawline_rig.probe.crashbox import FRAME, expected_audio, verify
from lawline.sync.wavfile import header


def wav(n, frames):
    audio = expected_audio(n, frames)
    return header(len(audio)) + audio


def facts():
    return {"told": {"1": "260112001"}, "calls": [],
            "audio_at_kill": {"260112-093000-0001-consultation-13800130001.wav": 4 * FRAME,
                              "260112-093000-0002-consultation-13800130002.wav": 2 * FRAME}}


def rec(n):
    return {"call_id": f"260112-093000-{n:04x}"}


def test_all_there_is_clean():
    got = [("260112001", rec(1), wav(1, 4)), ("260112002", rec(2), wav(2, 2)),
           ("260112002", rec(2), wav(2, 2))]  # a re-sent copy under the same key is fine
    result = verify(facts(), "t", got)
    assert result["problems"] == [] and result["copies"] == 3 and result["messages"] == 2


def test_lost_duplicated_short_and_corrupt_are_reported():
    lost = verify(facts(), "t", [("260112001", rec(1), wav(1, 4))])
    assert lost["lost"] == 1 and "message 2 (640 bytes on disk at a kill) is lost" in \
        lost["problems"][0]
    twice = verify(facts(), "t", [("260112001", rec(1), wav(1, 4)),
                                  ("260112002", rec(2), wav(2, 2)),
                                  ("260112003", rec(2), wav(2, 2))])
    assert twice["duplicated"] == 1
    short = verify(facts(), "t", [("260112001", rec(1), wav(1, 4)),
                                  ("260112002", rec(2), wav(2, 1))])
    assert any("arrived with 320 bytes" in p for p in short["problems"])
    bad = bytearray(wav(1, 4))
    bad[100] ^= 0xFF
    corrupt = verify(facts(), "t", [("260112001", rec(1), bytes(bad)),
                                    ("260112002", rec(2), wav(2, 2))])
    assert any("audio differs" in p for p in corrupt["problems"])
    cut_header = wav(1, 4)[:-10]
    assert any("header says" in p for p in verify(
        facts(), "t", [("260112001", rec(1), cut_header),
                       ("260112002", rec(2), wav(2, 2))])["problems"])


def test_a_message_without_its_case_or_with_an_sms_twice_is_reported():
    from lawline_rig.probe.crashbox import verify_cases
    whole = {"call_id": "x", "case": True, "caller": "13800130001", "owner": "13900000001",
             "journal": True, "sms": [["caller case", "13800130001"],
                                      ["duty case", "13900000001"]]}
    facts = {"told": {"1": "2601120001"}, "cases": {"2601120001": whole}}
    assert verify_cases(facts) == []
    assert verify_cases({"told": {"1": "2601120001"}, "cases": {}}) == [
        "message 1 (case 2601120001, caller told) has no voicemail item"]
    assert verify_cases({"told": {}, "cases": {"2601120001": dict(whole, case=False)}}) == [
        "voicemail 2601120001 has no case"]
    twice = dict(whole, sms=whole["sms"] + [["duty case", "13900000001"]], journal=False)
    assert verify_cases({"told": {}, "cases": {"2601120001": twice}}) == [
        "case 2601120001 has no case journal item in the outbox",
        "case 2601120001: 2 duty case SMS to 13900000001"]
    missing = dict(whole, sms=whole["sms"][:1])
    assert verify_cases({"told": {}, "cases": {"2601120001": missing}}) == [
        "case 2601120001: 0 duty case SMS to 13900000001"]
