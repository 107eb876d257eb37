"""board/99-lawline-modem.rules names the ports the profiles say (modems.md 1.1, 2.1, 5.5)."""

import re
from pathlib import Path

from lawline.line import profiles

RULES = Path(__file__).resolve().parents[2] / "board" / "99-lawline-modem.rules"


def _rules():
    out = {}
    for line in RULES.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = dict(re.findall(r'(\w+(?:\{\w+\})?)[=!+]=?"([^"]*)"', line))
        assert fields["SUBSYSTEM"] == "tty", line
        key = (f'{fields["ENV{ID_VENDOR_ID}"]}:{fields["ENV{ID_MODEL_ID}"]}',
               int(fields["ENV{ID_USB_INTERFACE_NUM}"]))
        out[key] = fields["SYMLINK"]
    return out


def test_every_usb_modem_profile_gets_stable_at_and_audio_links():
    rules = _rules()
    for profile in profiles.PROFILES.values():
        if not profile.usb_id:
            continue
        assert rules[(profile.usb_id, profile.usb_interfaces["at"])] == "lawline-at"
        assert rules[(profile.usb_id, profile.usb_interfaces["audio"])] == "lawline-audio"
    assert len(rules) == 4
