"""board/: each supported HAT's config fragment is a valid [line]/[hat] config whose pins are
its pin map, its config.txt gives a Pi 5 the USB current a modem needs, the udev rules name
the ports the config uses, and board/hil.toml (HIL.md) is a valid config."""

import re
import sys
from pathlib import Path

import pytest

from lawline import config as configuration
from lawline.line import profiles

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

BOARD = Path(__file__).resolve().parents[2] / "board"
HATS = sorted(p.name for p in BOARD.iterdir() if (p / "pins.toml").exists())


def load(path):
    return tomllib.loads(path.read_text(encoding="utf-8"))


def test_the_three_supported_boards_are_there():
    assert HATS == ["quectel-ec25-hat", "usb-v253", "waveshare-sim7600x"]


@pytest.mark.parametrize("hat", HATS)
def test_each_board_config_is_valid_and_matches_its_pin_map(hat):
    pins = load(BOARD / hat / "pins.toml")
    cfg = configuration.from_dict(load(BOARD / hat / "lawline.toml"))
    assert cfg.line.profile == pins["modem_profile"]
    profiles.get(cfg.line.profile)
    assert cfg.hat.power_key_pin == pins["pins"]["power_key"]
    assert cfg.hat.status_led_pin == pins["pins"]["status_led"]
    assert cfg.line.at_port == "/dev/lawline-at"
    text = (BOARD / hat / "config.txt").read_text()
    assert re.search(r"^usb_max_current_enable=1$", text, re.M)


def symlinks(rules):
    out = set()
    for line in (BOARD / rules).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            out.update(re.findall(r'SYMLINK\+="([^"]+)"', line))
    return out


def test_udev_rules_name_what_the_configs_use():
    assert symlinks("99-lawline-modem.rules") == {"lawline-at", "lawline-audio"}
    assert symlinks("99-lawline-v253.rules") == {"lawline-at"}
    gpio = (BOARD / "99-lawline-gpio.rules").read_text()
    assert 'KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"' in gpio
    sysusers = (BOARD.parent / "systemd" / "lawline.sysusers").read_text()
    assert "m lawline gpio" in sysusers


def test_the_hil_config_named_in_hil_md_is_valid():
    assert "board/hil.toml" in (BOARD / "HIL.md").read_text()
    cfg = configuration.load(BOARD / "hil.toml")
    assert cfg.line.at_port == "/dev/lawline-at" and cfg.hat.power_key_pin == 6
