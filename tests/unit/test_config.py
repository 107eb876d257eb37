import pytest

from lawline import config
from lawline.errors import ConfigError


def write(tmp_path, text):
    p = tmp_path / "lawline.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_example_loads_and_documents_every_option(tmp_path):
    text = config.example()
    cfg = config.load(write(tmp_path, text))
    assert cfg.duty.ring_timeout == 20.0
    for section, options in config.SCHEMA.items():
        for opt in options:
            assert f"{opt.name} = " in text


def test_unknown_key_names_section_and_option(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown option 'ring_timout' in section \[duty\]"):
        config.load(write(tmp_path, "[duty]\nring_timout = 5\n"))


def test_unknown_section(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown section \[dutty\]"):
        config.load(write(tmp_path, "[dutty]\n"))


def test_bad_values_are_named(tmp_path):
    with pytest.raises(ConfigError, match=r"'ring_timeout' in section \[duty\] must be at least 1"):
        config.load(write(tmp_path, "[duty]\nring_timeout = 0\n"))
    with pytest.raises(ConfigError, match=r"'numbers' in section \[duty\]"):
        config.load(write(tmp_path, '[duty]\nnumbers = ["138-bad"]\n'))
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(write(tmp_path, "[duty\n"))
    with pytest.raises(ConfigError, match="must be float"):
        config.load(write(tmp_path, '[menu]\nkey_timeout = "6"\n'))


def test_chinese_text_round_trips(tmp_path):
    cfg = config.load(write(tmp_path, '[office]\nname = "某某县法律服务专线"\n'))
    assert cfg.office.name == "某某县法律服务专线"
