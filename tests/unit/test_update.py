"""Field updates (issue 20, firmware/lawline/update.py): the pure decisions. When a polled
bundle is installed, when new calls are held, what counts as a healthy new version, what a
boot says about the last attempt, and what the office is told. The steps that run RAUC, U-Boot
and the restarts are tried in QEMU by `make update-test` (tests/image/run_update_test.py)."""

import datetime as dt
import json
import re
from zoneinfo import ZoneInfo

import pytest

from lawline import config as configuration
from lawline.errors import ConfigError
from lawline import update

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(hh, mm):
    return dt.datetime(2026, 12, 7, hh, mm, tzinfo=SHANGHAI)


@pytest.mark.parametrize("text, inside, outside", [
    ("02:00-05:00", [(2, 0), (4, 59)], [(1, 59), (5, 0), (14, 0)]),
    ("23:30-01:30", [(23, 30), (0, 0), (1, 29)], [(1, 30), (12, 0), (23, 29)]),
    ("00:00-24:00", [(0, 0), (12, 0), (23, 59)], []),
    ("03:00-03:00", [(3, 0), (15, 0)], []),
])
def test_the_night_window_in_office_time(text, inside, outside):
    window = update.parse_window(text)
    assert all(update.in_window(window, at(*t)) for t in inside)
    assert not any(update.in_window(window, at(*t)) for t in outside)


def test_the_window_is_read_on_the_office_clock_not_the_hosts():
    window = update.parse_window("02:00-05:00")
    utc = dt.datetime(2026, 12, 6, 19, 0, tzinfo=dt.timezone.utc)     # 03:00 in Shanghai
    assert update.in_window(window, utc.astimezone(SHANGHAI))
    assert not update.in_window(window, utc)


@pytest.mark.parametrize("bad", ["2-5", "25:00-03:00", "02:00-24:30", "02:60-03:00", "",
                                 "02:00-05:00 ", "０２:00-05:00"])
def test_a_window_that_is_no_time_range_is_refused_with_the_option_named(bad):
    with pytest.raises(ConfigError, match=r"option 'window' in section \[update\]"):
        update.parse_window(bad)


def test_the_update_section_has_safe_defaults():
    cfg = configuration.from_dict({})
    assert cfg.update.url == "" and cfg.update.usb is True
    assert update.parse_window(cfg.update.window) == (120, 300)
    with pytest.raises(ConfigError, match=r"'poll_hours' in section \[update\]"):
        configuration.from_dict({"update": {"poll_hours": 0}})
    with pytest.raises(ConfigError, match=r"unknown option"):
        configuration.from_dict({"update": {"windows": "02:00-05:00"}})
    # the shape passes the option's pattern, the hours do not: refused when the file is read
    with pytest.raises(ConfigError, match=r"option 'window' in section \[update\]"):
        configuration.from_dict({"update": {"window": "25:00-03:00"}})


def decide(**kw):
    args = dict(bundle_version="2.0", running_version="1.0", failed_versions=set(),
                in_window_now=True, retry_failed=False)
    args.update(kw)
    return update.install_decision(**args)


def test_a_polled_bundle_installs_only_in_the_window_and_only_once_it_is_new():
    assert decide()[0] == "install"
    assert decide(in_window_now=False)[0] == "wait"
    assert decide(bundle_version="1.0")[0] == "skip"
    assert decide(bundle_version="1.0", retry_failed=True)[0] == "skip"


def test_a_version_that_failed_here_is_not_tried_again_but_may_be_installed_by_hand():
    what, why = decide(failed_versions={"2.0"})
    assert what == "skip" and "failed here before" in why
    assert decide(failed_versions={"2.0"}, retry_failed=True)[0] == "install"
    assert decide(failed_versions={"1.5"})[0] == "install"


def test_poll_due():
    assert update.poll_due(None, 1000.0, 6)
    assert not update.poll_due(1000.0, 1000.0 + 5 * 3600, 6)
    assert update.poll_due(1000.0, 1000.0 + 6 * 3600, 6)
    assert update.poll_due(1000.0, 10.0, 6)        # the clock went back: ask again


def test_the_flag_holds_new_calls_only_in_its_own_boot_and_not_for_ever():
    text = update.flag_text("boot-1", 1000.0, "restart for 2.0")
    assert update.flag_holds(text, "boot-1", 1001.0) == "restart for 2.0"
    assert update.flag_holds(text, "boot-2", 1001.0) is None
    assert update.flag_holds(text, "boot-1", 1000.0 + update.FLAG_HOLD) is None
    assert update.flag_holds(text, "boot-1", 999.0) is None
    for junk in ("", "{", "[]", json.dumps({"boot_id": "boot-1", "since": "x"})):
        assert update.flag_holds(junk, "boot-1", 1001.0) is None


def parts(**states):
    return {"parts": {name.replace("_", " "): {"state": s, "message": f"{name} says {s}"}
                      for name, s in states.items()}}


def test_health_wants_ready_every_modem_and_a_registered_trunk():
    assert update.health_missing("activating", None, False) == \
        ["lawline.service is activating, not READY"]
    assert update.health_missing("active", None, False)
    assert update.health_missing("active", parts(modem="ok"), False) == []
    assert update.health_missing("active", parts(modem="ok", modem_2="fail"), False) == \
        ["modem 2: modem_2 says fail"]
    assert update.health_missing("active", parts(spool="ok"), False) == ["no modem reported yet"]
    assert update.health_missing("active", parts(modem="ok"), True) == \
        ["trunk not registered (no state yet)"]
    assert update.health_missing("active", parts(modem="ok", trunk="fail"), True) == \
        ["trunk not registered (trunk says fail)"]
    assert update.health_missing("active", parts(modem="ok", trunk="ok"), True) == []


CHECK_BEFORE = """\
[ok  ] config: /etc/lawline/lawline.toml is valid
[FAIL] upstream: https://office.example/ unreachable: timed out
[WARN] clock: not synchronised
"""
CHECK_AFTER = CHECK_BEFORE + "[FAIL] prompts: 3 of 40 prompts have no audio\n"


def test_only_check_failures_the_old_version_did_not_have_count():
    before, after = update.check_failures(CHECK_BEFORE), update.check_failures(CHECK_AFTER)
    assert before == {"upstream": "https://office.example/ unreachable: timed out"}
    assert update.new_check_failures(before, before) == {}
    assert update.new_check_failures(before, after) == \
        {"prompts": "3 of 40 prompts have no audio"}


def test_the_health_verdict_waits_then_rolls_back_with_the_reason():
    assert update.health_verdict([], {}, True, 5, 600)[0] == "good"
    assert update.health_verdict([], {}, False, 5, 600)[0] == "wait"
    verdict, why = update.health_verdict(["lawline.service is activating, not READY"], {},
                                         False, 599, 600)
    assert verdict == "wait"
    verdict, why = update.health_verdict(["lawline.service is activating, not READY"], {},
                                         False, 600, 600)
    assert verdict == "bad" and "activating" in why
    verdict, why = update.health_verdict([], {"prompts": "missing"}, True, 700, 600)
    assert verdict == "bad" and why == "lawline check: prompts: missing"
    # not "good" on a failed check even with time left: it waits for the next round
    assert update.health_verdict([], {"prompts": "missing"}, True, 10, 600)[0] == "wait"


@pytest.mark.parametrize("state, booted, expect", [
    ("installing", "A", "interrupted"),      # cut while RAUC wrote slot B
    ("written", "A", "interrupted"),         # cut after writing, before activating
    ("installing", "B", "trying"),           # cut after RAUC activated B, before the record
    ("installed", "B", "trying"),            # the restart into the new version
    ("installed", "A", "failed"),            # U-Boot did not get it to boot
    ("trying", "A", "failed"),               # it hung or lost power before its check
    ("rolling back", "A", "failed"),         # its health check failed
    ("trying", "B", None),                   # a second start during the trial: unchanged
    ("good", "B", None),
    ("refused", "A", None),
])
def test_what_a_boot_says_about_the_last_attempt(state, booted, expect):
    attempt = {"state": state, "target": "B", "slot": "A", "reason": "READY timed out"}
    outcome = update.boot_outcome(attempt, booted)
    assert (outcome[0] if outcome else None) == expect
    if state == "rolling back":
        assert outcome[1] == "READY timed out"


def test_raucs_refusals_in_plain_words():
    assert "signed" in update.rauc_refusal(
        "signature verification failed: unable to get local issuer certificate")
    assert "signed" in update.rauc_refusal("Failed to verify bundle signature")
    assert "another kind" in update.rauc_refusal(
        "Compatible mismatch: Expected 'lawline-a' but bundle manifest has 'other'")
    assert "not a valid RAUC bundle" in update.rauc_refusal(
        "Failed to open bundle: Bundle size too small")


def test_the_office_hears_which_version_failed_and_why_in_chinese():
    text = update.office_text({"state": "failed", "version": "2.0", "from": "1.0",
                               "reason": "lawline.service is activating, not READY"})
    assert text.startswith("线路盒软件更新失败") and "2.0" in text and "1.0" in text
    assert "电话服务没有就绪" in text and not re.search(r"[A-Za-z]", text), text
    for reason, words in (
            ("the new version never passed its health check (it hung, crashed or lost "
             "power before the check)", "没有完成自检"),
            ("the new version did not start (U-Boot went back to the old slot)", "没有启动"),
            ("modem: not answering; trunk not registered (408)", "通信模块没有应答、没有注册"),
            ("lawline check: upstream: refused", "自检发现新的错误"),
            ("something new", "请技术人员查看")):
        text = update.office_text({"state": "failed", "version": "2.0", "from": "1.0",
                                   "reason": reason})
        assert words in text and not re.search(r"[A-Za-z]", text), text
    text = update.office_text({"state": "refused", "version": None, "from": "1.0",
                               "source_words": "U盘（x.raucb）",
                               "reason": "not signed with the office's key"})
    assert "没有本办公室的有效签名" in text and "U盘" in text
    assert "断电" in update.office_text({"state": "interrupted", "version": "2.0"})


def test_the_page_shows_a_recent_failure_as_a_warning_and_then_forgets_it():
    record = {"attempts": [{"state": "failed", "version": "2.0", "reason": "x",
                            "started": 1000.0}]}
    state, message = update.part_state(record, "1.0", 1000.0 + 3600)
    assert state == "warn" and "2.0" in message and "1.0" in message
    assert message.startswith("新版本 2.0 开机自检未通过")
    assert update.part_state(record, "1.0", 1000.0 + 8 * 86400) == ("ok", "运行版本 1.0")
    assert update.part_state({}, "1.0", 0)[0] == "ok"


@pytest.mark.parametrize("attempt", [
    None,
    {"state": "refused", "version": None, "reason": "not signed with the office's key"},
    {"state": "interrupted", "version": "2.0+g1a2b", "reason": "the install was cut off"},
    {"state": "failed", "version": "2.0+g1a2b", "reason": "lawline.service is activating"},
    {"state": "trying", "version": "2.0+g1a2b"},
    {"state": "waiting", "version": "2.0+g1a2b"},
])
def test_the_office_page_says_the_update_part_in_chinese_only(attempt):
    """The page shows staff a Chinese sentence (web/words.py); the versions and RAUC's or the
    health check's English stay in the technician's line."""
    from lawline.web import words
    record = {"attempts": [dict(attempt, started=1000.0)]} if attempt else {}
    state, message = update.part_state(record, "1.0+g9f8e (not an image)", 1000.0 + 60)
    said = words.part_name("update") + words.sentence("update", state, message)
    assert not re.search(r"[A-Za-z]", said), said


def office_in(tmp_path, head="13900000009"):
    from lawline.records.office import Office
    from lawline.sync.outbox import Outbox
    cfg = configuration.from_dict({"office": {"head_mobile": head},
                                   "spool": {"dir": str(tmp_path / "spool")}})
    spool = tmp_path / "spool"
    spool.mkdir()
    return Office.from_config(cfg, spool, Outbox(spool / "outbox.db", spool, []))


def test_the_box_tells_the_office_head_each_failure_once_and_shows_it(tmp_path):
    from lawline.status import Status
    office = office_in(tmp_path)
    status = Status(tmp_path / "state.json")
    now = 1_800_000_000.0
    record = {"attempts": [
        {"id": "old", "state": "failed", "version": "0.9", "started": now - 30 * 86400},
        {"id": "a1", "state": "refused", "version": None, "from": "1.0", "started": now - 60,
         "source_words": "U盘（x.raucb）", "reason": "not signed with the office's key"},
        {"id": "a2", "state": "good", "version": "1.1", "from": "1.0", "started": now - 50},
        {"id": "a3", "state": "failed", "version": "2.0", "from": "1.1", "started": now - 10,
         "reason": "lawline.service is activating, not READY"}]}
    shown = update.tell_office(status, office, "13900000009", record, "1.1", now)
    sms = [r for r in office.sms.rows() if r["purpose"] == "update failed"]
    assert [r["number"] for r in sms] == ["13900000009", "13900000009"]
    assert "没有本办公室的有效签名" in sms[0]["text"] and "2.0" in sms[1]["text"]
    assert status.get("update")["state"] == "warn" and shown[0] == "warn"
    # looked at again (every 15 s, or after a restart): nothing sent twice
    update.tell_office(status, office, "13900000009", record, "1.1", now + 15, shown)
    assert len([r for r in office.sms.rows() if r["purpose"] == "update failed"]) == 2
    # the week after, the page forgets it
    update.tell_office(status, office, "13900000009", record, "1.1", now + 8 * 86400, shown)
    assert status.get("update")["state"] == "ok"


def test_boot_files_follow_the_committed_slot_only_where_they_changed(tmp_path):
    src, dst = tmp_path / "slot", tmp_path / "fat"
    (src / "overlays").mkdir(parents=True)
    dst.mkdir()
    (src / "config.txt").write_text("[all]\nenable_uart=1\n")
    (src / "u-boot.bin").write_bytes(b"\x01" * 100)
    (src / "overlays" / "x.dtbo").write_bytes(b"dtbo")
    (dst / "u-boot.bin").write_bytes(b"\x01" * 100)
    (dst / "config.txt").write_text("[all]\n")
    (dst / "uboot.env").write_bytes(b"state")          # U-Boot's, not the slot's: kept
    assert update.sync_boot_files(src, dst) == ["config.txt", "overlays/x.dtbo"]
    assert (dst / "config.txt").read_text() == "[all]\nenable_uart=1\n"
    assert (dst / "uboot.env").read_bytes() == b"state"
    assert not list(dst.rglob("*.new"))
    assert update.sync_boot_files(src, dst) == []
    assert update.sync_boot_files(tmp_path / "none", dst) == []
