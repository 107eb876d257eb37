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


def test_an_outcome_without_its_case_or_with_an_sms_twice_is_reported():
    from lawline_rig.probe.crashbox import verify_items, verify_outcomes
    call = "261207-100000-0001"        # call 1: a bridged call (crashbox.KINDS)
    whole = {"kind": "consultation", "state": "assigned", "caller": "13800130001",
             "owner": "13900000001", "rating": 1, "call_id": call, "voicemail": False,
             "journal": ["case-2612070001-1"],
             "sms": [["caller case", "13800130001"], ["duty case", "13900000001"],
                     ["low rating", "13900000009"]]}
    told = {1: {"kind": "bridged", "case": "2612070001"}}
    facts = {"outcomes": told, "cases": {"cases": {"2612070001": whole}, "items": {}}}
    assert verify_outcomes(facts) == []
    assert verify_outcomes(dict(facts, cases={"cases": {}, "items": {}})) == [
        "outcome 1 (bridged, case 2612070001, told) has no case"]
    twice = dict(whole, sms=whole["sms"] + [["duty case", "13900000001"]])
    assert verify_outcomes(dict(facts, cases={"cases": {"2612070001": twice}, "items": {}})) \
        == ["case 2612070001 (bridged): 2 duty case SMS to 13900000001"]
    doubled = {"2612070001": whole, "2612070002": whole}
    assert verify_outcomes(dict(facts, cases={"cases": doubled, "items": {}}))[0] == \
        f"call {call} has 2 cases: ['2612070001', '2612070002']"
    items = {"cases": {"items": {"case-2612070001-1": "case", "call-x": "call",
                                 "2612070001": "voicemail"}}}
    assert verify_items(items, "t", ["case-2612070001-1", "call-x"])["problems"] == []
    lost = verify_items(items, "t", ["case-2612070001-1"])
    assert lost["lost"] == 1 and lost["problems"] == ["t: item call-x is missing"]
