"""systemd/lawline-web.service: the page is its own unit, hardened at least like the box's,
with no device at all (the modem, GPIO and sound card are the box's alone)."""

import re
import subprocess
from pathlib import Path

UNITS = Path(__file__).resolve().parents[2] / "systemd"


def settings(path):
    out = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def exposure(path):
    done = subprocess.run(["systemd-analyze", "security", "--offline=true", str(path)],
                          capture_output=True, text=True, timeout=60)
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", done.stdout)
    assert found, done.stdout[-2000:] + done.stderr[-2000:]
    return float(found[1])


def test_the_page_has_its_own_unit_that_runs_lawline_web_without_devices():
    unit = settings(UNITS / "lawline-web.service")
    assert unit["ExecStart"][0].split()[1:3] == ["web", "--config"]
    assert unit["User"] == ["lawline"] and unit["Type"] == ["notify"]
    assert "DeviceAllow" not in unit and unit["PrivateDevices"] == ["yes"]
    assert unit["Restart"] == ["on-failure"]
    box = settings(UNITS / "lawline.service")
    assert "web" not in box["ExecStart"][0]


def test_the_page_unit_is_hardened_at_least_like_the_box():
    page, box = exposure(UNITS / "lawline-web.service"), exposure(UNITS / "lawline.service")
    assert page <= box and page < 2.0, (page, box)
