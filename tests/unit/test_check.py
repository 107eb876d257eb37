"""`lawline check` tells the truth: each check against real files, a real clock state and
real processes (the upstream and trunk probes against real servers are in
tests/sync/test_check_upstream.py and tests/servers/test_check_trunk.py; the command in a
child Python without pjsua2: tests/commands/test_check_commands.py)."""

import datetime as dt
from pathlib import Path

from lawline import check, config as configuration

REPO = Path(__file__).resolve().parents[2]


def rows(fn, *args, **kw):
    report = check.Report()
    fn(*args, report, **kw)
    return report.rows


def cfg_with(tmp_path, **sections):
    return configuration.from_dict({"spool": {"dir": str(tmp_path / "spool")}, **sections})


def tree(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_missing_prompt_audio_is_fail_and_nothing_is_written(tmp_path):
    lang = tmp_path / "prompts" / "zh-CN"
    lang.mkdir(parents=True)
    (lang / "greeting.txt").write_text("您好", encoding="utf-8")
    before = tree(tmp_path / "prompts")
    cfg = cfg_with(tmp_path, prompts={"dir": str(tmp_path / "prompts")})
    [(state, part, message)] = rows(check.check_prompts, cfg)
    assert (state, part) == ("fail", "prompts")
    assert "3 of 3 prompts have no audio" in message and "greeting" in message
    assert "beep" in message and "ringback" in message
    assert tree(tmp_path / "prompts") == before       # no generated/ tones made by a check


def test_no_prompt_texts_at_all_is_fail(tmp_path):
    cfg = cfg_with(tmp_path, prompts={"dir": str(tmp_path / "nothing")})
    [(state, _, message)] = rows(check.check_prompts, cfg)
    assert state == "fail" and "no prompt texts" in message


def test_prompts_with_audio_are_ok(tmp_path):
    lang = tmp_path / "prompts" / "zh-CN"
    (lang / "generated").mkdir(parents=True)
    (lang / "greeting.txt").write_text("您好", encoding="utf-8")
    for name in ("greeting", "beep", "ringback"):
        (lang / "generated" / f"{name}.wav").write_bytes(b"RIFF")
    cfg = cfg_with(tmp_path, prompts={"dir": str(tmp_path / "prompts")})
    assert rows(check.check_prompts, cfg)[0][:2] == ("ok", "prompts")


def test_clock_wrong_zone_and_unsynchronised_are_warnings(tmp_path):
    cfg = cfg_with(tmp_path)
    flag = tmp_path / "synchronized"
    report = check.Report()
    check.check_clock(cfg, report, zone="Etc/UTC", synced_flag=flag,
                      clock_state=lambda: check.TIME_ERROR)
    states = [(s, m) for s, _, m in report.rows]
    assert states[0][0] == "warn" and "Etc/UTC, not the office's Asia/Shanghai" in states[0][1]
    assert states[1][0] == "warn" and "not synchronised" in states[1][1]
    flag.write_text("")
    report = check.Report()
    check.check_clock(cfg, report, zone="Asia/Shanghai", synced_flag=flag,
                      clock_state=lambda: check.TIME_ERROR)
    assert report.rows == [("ok", "clock", "synchronised (systemd-timesyncd)")]


def test_clock_state_comes_from_the_kernel():
    # adjtimex(2) for real: TIME_OK..TIME_ERROR (0-5), whatever this machine's NTP state is
    assert check.kernel_clock_state() in range(6)


def test_system_zone_from_tz_or_localtime(tmp_path):
    assert check.system_zone(environ={"TZ": ":Asia/Shanghai"}) == "Asia/Shanghai"
    link = tmp_path / "localtime"
    link.symlink_to("/usr/share/zoneinfo/Asia/Urumqi")
    assert check.system_zone(link, environ={}) == "Asia/Urumqi"


def test_office_hours_follow_the_configured_zone_not_the_system_one(tmp_path):
    from lawline import build
    tokyo = build.clock(configuration.from_dict({"office": {"timezone": "Asia/Tokyo"}}))
    utc = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    assert abs(tokyo.now() - (utc + dt.timedelta(hours=9))) < dt.timedelta(minutes=1)
    shanghai = build.clock(configuration.from_dict({}))
    assert abs(shanghai.now() - (utc + dt.timedelta(hours=8))) < dt.timedelta(minutes=1)
    # reading a config sets nothing global: the first clock still says Tokyo
    assert abs(tokyo.now() - (utc + dt.timedelta(hours=9))) < dt.timedelta(minutes=1)


def test_a_wrong_zone_name_is_a_config_error():
    import pytest
    from lawline.errors import ConfigError
    with pytest.raises(ConfigError, match=r"option 'timezone' in section \[office\]"):
        configuration.from_dict({"office": {"timezone": "China/Beijing"}})


def test_lab_defaults_are_named_until_the_office_sets_them(tmp_path):
    [(state, _, message)] = rows(check.check_lab_defaults, cfg_with(tmp_path))
    assert state == "warn"
    for option in ("[office] id", "[office] number", "[duty] numbers", "[sip] uri_template"):
        assert option in message
    assert "SET THIS" in configuration.example()
    cfg = cfg_with(tmp_path, office={"id": "xx-county", "number": "07731148",
                                     "head_mobile": "13800000009"},
                   duty={"numbers": ["13812345678"]},
                   sip={"uri_template": "sip:{number}@10.0.0.2"})
    assert rows(check.check_lab_defaults, cfg) == []
