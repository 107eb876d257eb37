"""Fuzzing the config loader (issue 9, point 9): whatever an installer types into the TOML
file (NaN, infinity, huge integers, ports past 65535, wrong types, unknown keys, odd Unicode,
damaged files), loading gives a Config or a ConfigError naming the section and option."""

import datetime as dt
import math

import pytest
from hypothesis import given, strategies as st

from lawline import config
from lawline.errors import ConfigError

odd_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "０７７３０１４８", "٠٧٧٣٠١٤٨", "13900000001\u200f", "a\x00b",
                     "\ud7ff", "08:30-12:00,13:30-17:30", "day 08:30-17:30 workdays",
                     "２０２６-１２-０１", "٢٠٢٤-٠١-٠١", "12-01", "18:00", "sip:{number}@x",
                     "http://[::1", "https://host:99999", "http://h/x?y", "/dev/null",
                     "x" * 5000, "simcom-sim7600", "tls", "monday", "\u0301\u0301"]))
number = st.one_of(st.integers(-10, 70000), st.integers(), st.sampled_from(
    [2 ** 63, -2 ** 63, 10 ** 400, 65535, 65536, 0, 1]),
    st.floats(allow_nan=True, allow_infinity=True))
value = st.recursive(
    st.one_of(odd_text, number, st.booleans(), st.just(dt.date(2026, 12, 1)),
              st.just(dt.time(8, 30))),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8)


@st.composite
def config_dict(draw):
    """Some sections with some options, each a plausible or a hostile value."""
    data = {}
    for name in draw(st.lists(st.sampled_from(sorted(config.SCHEMA)), max_size=6, unique=True)):
        options = config.SCHEMA[name]
        section = {}
        for opt in draw(st.lists(st.sampled_from(options), max_size=4)) if options else []:
            section[opt.name] = draw(st.one_of(value, st.just(opt.default)))
        if draw(st.integers(0, 9)) == 0:
            section[draw(st.text(max_size=10))] = draw(value)  # an unknown key
        data[name] = section
    if draw(st.booleans()):
        data["referral"] = draw(st.one_of(value, st.lists(st.dictionaries(
            st.sampled_from(["name", "phone", "address", "hours", "x"]), odd_text), max_size=2)))
    if draw(st.integers(0, 9)) == 0:
        data[draw(st.text(max_size=10))] = draw(value)     # an unknown section
    return data


def loads_or_config_error(data):
    try:
        cfg = config.from_dict(data)
    except ConfigError as exc:
        assert str(exc)
        return None
    for name, options in config.SCHEMA.items():
        for opt in options:
            got = getattr(getattr(cfg, name), opt.name)
            if isinstance(got, float):
                assert math.isfinite(got)
    return cfg


@given(config_dict())
def test_any_config_loads_or_names_what_is_wrong(data):
    loads_or_config_error(data)


toml_text = st.one_of(
    st.text(max_size=300),
    st.builds(lambda sec, key, val: f"[{sec}]\n{key} = {val}\n",
              st.sampled_from(sorted(config.SCHEMA)), st.sampled_from(
                  ["port", "bind", "numbers", "max_mb", "key_timeout", "x"]),
              st.sampled_from(["nan", "inf", "-inf", "+nan", "99999999999999999999999",
                               "0x7fffffffffffffff", "65536", "1e400", '"\\u0000"', "[1, 2]", "9" * 5000,
                               "{a = 1}", "1979-05-27T07:32:00Z", "true", '"٠٧٧٣"',
                               "[" * 2000 + "]" * 2000, "{a=" * 600 + "1" + "}" * 600])))


@given(st.one_of(toml_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
                 st.binary(max_size=300)))
def test_any_file_loads_or_names_what_is_wrong(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("cfg") / "lawline.toml"
    path.write_bytes(raw)
    try:
        config.load(path)
    except ConfigError as exc:
        assert str(path) in str(exc)


@pytest.mark.parametrize("section,option,bad", [
    ("sip", "port", 65536), ("email", "port", 70000), ("sip", "port", 2 ** 63),
    ("sip", "port", 10 ** 400), ("line", "health_interval", math.nan),
    ("line", "health_interval", math.inf), ("duty", "ring_timeout", -math.inf),
    ("duty", "ring_timeout", 10 ** 400), ("duty", "gap_days", 10 ** 6),
    ("sip", "log_level", 7), ("office", "number", "０７７３０１４８"),
    ("office", "number", "٠٧٧٣٠١٤٨"), ("duty", "pattern_anchor", "٢٠٢٤-٠١-٠١"),
    ("office", "name", "x" * 5000), ("calendar", "holidays_file", "/etc/\x00holidays"),
    ("duty", "numbers", ["13900000001"] * 1001), ("sip", "port", "5060"),
    ("sip", "port", True), ("line", "profile", ["v253"]),
    ("upstream", "url", "http://[::1"), ("upstream", "url", "https://host:99999/x"),
    ("s3", "endpoint", "https://[x"), ("s3", "endpoint", "https://host:port"),
])
def test_hostile_values_are_config_errors_naming_the_option(section, option, bad):
    with pytest.raises(ConfigError) as info:
        config.from_dict({section: {option: bad}})
    assert f"'{option}'" in str(info.value) and f"[{section}]" in str(info.value)


def test_numbers_too_long_to_print_are_config_errors():
    for section, option, bad in (("sip", "port", -10 ** 5000), ("duty", "ring_timeout",
                                                                10 ** 5000)):
        with pytest.raises(ConfigError, match=f"'{option}' in section \\[{section}\\]"):
            config.from_dict({section: {option: bad}})


def test_nan_and_huge_numbers_in_the_file(tmp_path):
    for text in ("[line]\nhealth_interval = nan\n", "[sip]\nport = 99999999999999999999\n",
                 "[sip]\nport = 65536\n", "[duty]\nring_timeout = inf\n"):
        path = tmp_path / "lawline.toml"
        path.write_text(text)
        with pytest.raises(ConfigError) as info:
            config.load(path)
        assert "option '" in str(info.value)


def test_deeply_nested_values_are_a_config_error(tmp_path):
    path = tmp_path / "lawline.toml"
    path.write_text("[sip]\nbind = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match="nested too deeply"):
        config.load(path)


def test_a_huge_file_is_refused_unread(tmp_path):
    path = tmp_path / "lawline.toml"
    path.write_bytes(b"# " + b"x" * (2 * config.LARGEST_FILE) + b"\n")
    with pytest.raises(ConfigError, match="larger than"):
        config.load(path)
