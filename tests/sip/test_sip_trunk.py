"""sip/trunk.py without a network: the [trunk] options, the password file's mode, the words
of a refusal, the retry schedule, the dial URI and headers. Registration against a real
registrar is in tests/scenarios/test_trunk.py."""

import os

import pytest

from lawline import config
from lawline.errors import ConfigError
from lawline.secretfile import read_secret

from ..unit.test_private_at_rest import secret as secret_file

trunk = pytest.importorskip("lawline.sip.trunk")   # needs pjsua2


def secret(tmp_path, mode, text="s3cret\n"):
    path = tmp_path / "trunk.password"
    path.write_text(text)
    os.chmod(path, mode)
    return path


def trunk_config(tmp_path, **options):
    values = {"registrar": "sip:sip.example.cn", "username": "box",
              "password_file": str(secret(tmp_path, 0o600))}
    values.update(options)
    return config.from_dict({"office": {"number": "07730148"}, "trunk": values})


def test_without_a_registrar_there_is_no_trunk():
    cfg = config.from_dict({})
    assert not trunk.configured(cfg)
    assert cfg.trunk.dial_template == "sip:{number}@{domain}"


@pytest.mark.parametrize("mode, who", [(0o644, "its group and everyone"), (0o640, "its group"),
                                       (0o604, "everyone")])
def test_a_password_file_others_can_read_is_refused(tmp_path, mode, who):
    path = secret(tmp_path, mode)
    with pytest.raises(ConfigError) as err:
        trunk.read_password(path)
    text = str(err.value)
    assert "option 'password_file' in section [trunk]" in text
    assert f"readable by {who}" in text and f"chmod 600 {path}" in text


def test_a_private_password_file_is_read(tmp_path):
    assert trunk.read_password(secret(tmp_path, 0o600)) == "s3cret"
    assert trunk.read_password(secret(tmp_path, 0o400, "x")) == "x"


def test_missing_or_empty_password_files_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        trunk.read_password(tmp_path / "nope")
    with pytest.raises(ConfigError, match="is empty"):
        trunk.read_password(secret(tmp_path, 0o600, "\n"))


@pytest.mark.parametrize("options, message", [
    ({"registrar": "sip:x"}, "option 'username' in section [trunk] is required"),
    ({"registrar": "sip:x", "username": "u"}, "'password_file' in section [trunk] is required"),
    ({"registrar": "x.example.cn", "username": "u", "password_file": "/p"}, "must be a SIP URI"),
    ({"registrar": "sip:x", "username": "u", "password_file": "/p", "transport": "tls"},
     "option 'ca_file' in section [trunk] is required"),
    ({"registrar": "sip:x", "username": "u", "password_file": "/p",
      "dial_template": "sip:x@y"}, "'dial_template' in section [trunk] must contain {number}"),
    ({"registrar": "sip:x", "username": "u", "password_file": "/p", "srtp": "yes"},
     "option 'srtp' in section [trunk] must be one of off, optional, mandatory"),
    ({"registrar": "sip:x", "username": "u", "password_file": "/p", "retry_min": 10.0,
      "retry_max": 5.0}, "'retry_max' in section [trunk] must be at least retry_min"),
])
def test_trunk_options_that_do_not_fit_together_name_the_option(options, message):
    with pytest.raises(ConfigError) as err:
        config.from_dict({"trunk": options})
    assert message in str(err.value)


def test_duty_lists_must_hold_phone_numbers():
    with pytest.raises(ConfigError, match="option 'mediators' in section \\[duty\\]"):
        config.from_dict({"duty": {"mediators": ["13900000021", "call me"]}})
    with pytest.raises(ConfigError, match="option 'referrals' in section \\[duty\\]"):
        config.from_dict({"duty": {"referrals": ["sip:evil@example.com"]}})


def test_refusals_in_plain_words_naming_the_user():
    assert trunk.explain(401, "Unauthorized", "box") == "401 wrong password for user box"
    assert trunk.explain(407, "Proxy Authentication Required", "box") == \
        "407 wrong password for user box"
    assert trunk.explain(404, "Not Found", "box") == "404 the trunk does not know user box"
    assert trunk.explain(408, "Request Timeout", "box") == "408 no reply from the registrar"
    assert trunk.explain(503, "SSL certificate verification error", "box") == \
        "503 cannot reach the registrar: SSL certificate verification error"
    assert trunk.explain(503, "Service Unavailable", "box") == "503 Service Unavailable"


def test_retries_double_up_to_the_longest_wait():
    assert [trunk.retry_delay(n, 2, 60) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    # a trunk away for days: thousands of failures still wait the longest, never overflow
    assert trunk.retry_delay(1100, 5.0, 300.0) == trunk.retry_delay(10 ** 6, 5.0, 300.0) == 300.0


def test_dial_uri_caller_id_and_pai(tmp_path):
    cfg = trunk_config(tmp_path, outbound_proxy="sip:proxy.example.cn;lr")
    t = trunk.Trunk(cfg.trunk, cfg.office)     # its own sections, not the whole config
    assert t.domain == "sip.example.cn"
    assert t.aor == "07730148@sip.example.cn"
    assert t.uri_for("13900000001") == "sip:13900000001@sip.example.cn"
    assert t.call_headers() == [("P-Asserted-Identity", "<sip:07730148@sip.example.cn>")]
    assert not t.registered and t.state.sentence() == \
        "SIP trunk sip:sip.example.cn unregistered: not registered yet"


def test_a_tls_trunk_says_so_in_its_uris(tmp_path):
    cfg = trunk_config(tmp_path, registrar="sip:sip.example.cn:5061", caller_id="0773",
                       domain="example.cn", transport="tls", ca_file="/ca.pem")
    t = trunk.Trunk(cfg.trunk, cfg.office)
    assert t.registrar == "sip:sip.example.cn:5061;transport=tls"
    assert t.uri_for("139") == "sip:139@example.cn;transport=tls"
    assert t.aor == "0773@example.cn"
    assert trunk._with_tls("sip:a;transport=udp") == "sip:a;transport=udp"


def test_registered_state_reads_as_one_sentence():
    state = trunk.TrunkState("sip:t", "box", "0773@t", registered=True, expires=300)
    assert state.sentence() == "SIP trunk sip:t registered as 0773@t (user box), expires in 300 s"
    assert state.as_dict()["registered"] is True


def test_the_trunk_password_uses_the_same_check_as_every_secret_file(tmp_path):
    """Private at rest (issue 9 point 7): tests/unit/test_private_at_rest.py has the others."""
    open_file = secret_file(tmp_path, "trunk", 0o644)
    with pytest.raises(ConfigError, match=r"option 'password_file' in section \[trunk\]: .* "
                                          r"readable by its group and everyone"):
        trunk.read_password(open_file)
    assert trunk.read_password(secret_file(tmp_path, "ok", 0o600)) == "s3cret-7f2a"
    with pytest.raises(ConfigError, match="is empty"):
        read_secret(secret_file(tmp_path, "empty", 0o600, ""), "trunk", "password_file")
