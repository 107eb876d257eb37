"""Private at rest (issue 9 point 7), with real files: every secret file gets the trunk
password's mode check (the trunk's own: tests/sip/test_sip_trunk.py), credentials never cross http:// unless the config says
allow_insecure = true (and the box logs it), the spool is made private, and the rig moves the
office clock only inside the box's process. (The box's umask on the loopback line:
tests/scenarios/test_storage.py; the clock in a child process with LAWLINE_FAKE_NOW:
tests/commands/test_clock_env.py.)"""

import logging

import pytest

from lawline import config as configuration
from lawline.errors import ConfigError
from lawline.sync.settings import build_targets, insecure
from lawline.sync.spool import make_private


def secret(tmp_path, name, mode, text="s3cret-7f2a"):
    path = tmp_path / name
    path.write_text(text + "\n", encoding="utf-8")
    path.chmod(mode)
    return path


SECRETS = [  # section, option, the other options that make the section a target
    ("upstream", "token_file", {"url": "https://up.example.cn/0148"}),
    ("upstream", "password_file", {"url": "https://up.example.cn/0148", "username": "box"}),
    ("email", "password_file", {"to": ["office@county.example"], "sender": "box@x.example",
                                "host": "smtp.example.cn", "username": "box"}),
    ("s3", "secret_file", {"endpoint": "https://s3.example.cn", "bucket": "b",
                           "access_key": "AK"}),
]


@pytest.mark.parametrize("section, option, options", SECRETS)
@pytest.mark.parametrize("mode, who", [(0o644, "its group and everyone"),
                                       (0o640, "its group"), (0o604, "everyone")])
def test_a_secret_file_others_can_read_is_refused(tmp_path, section, option, options, mode,
                                                  who):
    path = secret(tmp_path, "secret", mode)
    cfg = configuration.from_dict({"spool": {"dir": str(tmp_path)},
                                   section: dict(options, **{option: str(path)})})
    with pytest.raises(ConfigError) as refused:
        build_targets(cfg)
    text = str(refused.value)
    assert f"option '{option}' in section [{section}]" in text
    assert f"readable by {who}" in text and f"chmod 600 {path}" in text
    assert "s3cret" not in text


@pytest.mark.parametrize("section, option, options", SECRETS)
def test_a_private_secret_file_is_read(tmp_path, section, option, options):
    path = secret(tmp_path, "secret", 0o600)
    cfg = configuration.from_dict({"spool": {"dir": str(tmp_path)},
                                   section: dict(options, **{option: str(path)})})
    targets = build_targets(cfg)
    assert section in targets.names


@pytest.mark.parametrize("values, option", [
    ({"upstream": {"url": "http://up.example.cn/0148", "token_file": "TOKEN"}},
     "option 'url' in section [upstream]"),
    ({"upstream": {"url": "http://up.example.cn/0148", "username": "box",
                   "password_file": "TOKEN"}}, "option 'url' in section [upstream]"),
    ({"s3": {"endpoint": "http://s3.example.cn", "bucket": "b", "access_key": "AK",
             "secret_file": "TOKEN"}}, "option 'endpoint' in section [s3]"),
    ({"email": {"to": ["o@x.example"], "sender": "b@x.example", "host": "smtp.x",
                "security": "none", "username": "box", "password_file": "TOKEN"}},
     "option 'security' in section [email]"),
])
def test_credentials_over_http_are_refused(tmp_path, values, option):
    token = secret(tmp_path, "token", 0o600)
    for options in values.values():
        for name in ("token_file", "password_file", "secret_file"):
            if name in options:
                options[name] = str(token)
    with pytest.raises(ConfigError) as refused:
        configuration.from_dict(values)
    assert option in str(refused.value)
    if "email" not in values:
        assert "allow_insecure = true" in str(refused.value)


def test_allow_insecure_is_explicit_and_logged(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="lawline.sync")
    token = secret(tmp_path, "token", 0o600)
    cfg = configuration.from_dict({
        "spool": {"dir": str(tmp_path)},
        "upstream": {"url": "http://10.0.0.2/0148", "token_file": str(token),
                     "allow_insecure": True},
        "s3": {"endpoint": "http://10.0.0.3:9000", "bucket": "b", "access_key": "AK",
               "secret_file": str(token), "allow_insecure": True}})
    assert set(insecure(cfg)) == {"upstream", "s3"}
    assert build_targets(cfg).names == ["upstream", "s3"]
    assert "[upstream] allow_insecure = true: the token goes to http://10.0.0.2/0148 " \
           "unencrypted" in caplog.text
    assert "[s3] allow_insecure = true" in caplog.text
    assert "s3cret" not in caplog.text
    # http without any credential (the demo's local receiver) needs no switch
    plain = configuration.from_dict({"upstream": {"url": "http://127.0.0.1:8080/"}})
    assert insecure(plain) == {}
    with pytest.raises(ConfigError, match="allow_insecure"):
        configuration.from_dict({"upstream": {"url": "http://x.example/", "allow_insecure":
                                              "yes"}})


def test_make_private_takes_group_and_other_bits_off_the_spool(tmp_path):
    spool = tmp_path / "spool"
    (spool / "incoming").mkdir(parents=True)
    wav = spool / "incoming" / "a.wav"
    wav.write_bytes(b"RIFF")
    wav.chmod(0o664)
    (spool / "incoming").chmod(0o755)
    spool.chmod(0o775)
    assert make_private(spool) == 3
    assert oct(spool.stat().st_mode & 0o777) == oct(0o700)
    assert oct((spool / "incoming").stat().st_mode & 0o777) == oct(0o700)
    assert oct(wav.stat().st_mode & 0o777) == oct(0o600)
    assert make_private(spool) == 0


def test_the_rig_moves_the_clock_inside_the_box_process():
    from lawline.clock import Clock
    clock = Clock("Asia/Shanghai", moved_to="2026-02-14T10:00:00")
    assert clock.faked and clock.now().strftime("%Y-%m-%d %H") == "2026-02-14 10"
    assert not Clock("Asia/Shanghai").faked
    with pytest.raises(ValueError, match="not a local ISO time"):
        Clock("Asia/Shanghai").move_to("Saturday")
    # the box's command line has no way to it: only cli.main's moved_to (the rig, in-process)
    from lawline import cli
    with pytest.raises(SystemExit):
        cli.main(["run", "--moved-to", "2026-02-14T10:00:00"])
