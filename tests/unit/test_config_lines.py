"""Several lines in one box: [[line]] tables, or the one [line] section as line 1 (config.py)."""

import tomllib

import pytest

from lawline import config
from lawline.errors import ConfigError


def load(text):
    return config.from_dict(tomllib.loads(text))


def test_one_line_section_is_line_1_with_the_office_number():
    cfg = load('[office]\nnumber = "07730148"\n[line]\nat_port = "/dev/a"\n')
    assert len(cfg.lines) == 1 and cfg.lines[0] is cfg.line
    assert cfg.line.at_port == "/dev/a" and cfg.line.number == "07730148"


def test_two_lines_of_different_profiles():
    cfg = load('''
        [office]
        number = "07730148"
        [[line]]
        at_port = "/dev/lawline-at"
        audio_port = "/dev/lawline-audio"
        [[line]]
        profile = "v253"
        at_port = "/dev/ttyACM0"
        audio_port = "/dev/ttyACM0"
        number = "07730149"
        status_led_pin = 22
    ''')
    assert [(l.profile, l.number) for l in cfg.lines] == [("simcom-sim7600", "07730148"),
                                                          ("v253", "07730149")]
    assert cfg.line is cfg.lines[0] and cfg.lines[1].status_led_pin == 22
    assert cfg.lines[1].answer_after_rings == 1    # every [line] option, with its default


@pytest.mark.parametrize("text, names", [
    ('[[line]]\nat_port = "/dev/a"\naudio_port = "/dev/b"\n'
     '[[line]]\nat_port = "/dev/a"\naudio_port = "/dev/c"\nnumber = "07730149"',
     "[[line]] number 2: port '/dev/a' is line 1's too"),
    ('[[line]]\nat_port = "/dev/a"\naudio_port = "/dev/b"\n'
     '[[line]]\nat_port = "/dev/c"\naudio_port = "/dev/d"',
     "[[line]] number 2: option 'number' is missing"),
    ('[[line]]\nspeed = 9600', "[[line]] number 1: unknown option 'speed'"),
    ('[[line]]\nprofile = "nokia"', "option 'profile' in section [[line] number 1]"),
    ('[[line]]\nnumber = "call me"', "option 'number' in section [[line] number 1]"),
])
def test_line_errors_name_the_line_and_option(text, names):
    with pytest.raises(ConfigError) as caught:
        load(text)
    assert names in str(caught.value)


def test_the_example_says_how_to_write_several_lines():
    assert "[[line]]" in config.example()
