"""A USB sound card that goes away is lost, not spun on (issue 15, point 8): the EC25's card
in USB-audio mode, reached through real PortAudio and alsa-lib (the simulator's card is an
ALSA PCM over FIFOs, sim/uac.py). When it goes, its capture reads end of file and PortAudio
calls back as fast as the CPU goes; the box finds that (or a stream that stopped, or
callbacks that stopped coming), says so once, aborts the stream, and its supervisor reopens
the card once it is back."""

import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(__file__)
IDLE = 0.15


def test_a_sound_card_that_goes_away_is_the_line_lost_then_found_again(loopback):
    pytest.importorskip("sounddevice", reason="sounddevice (and Debian libportaudio2) needed")
    line = loopback("quectel-ec25-uac")
    env = dict(os.environ, ALSA_CONFIG_PATH="/usr/share/alsa/alsa.conf:" +
               line["box"]["alsa_config"], PYTHONPATH=os.pathsep.join(
                   [HERE] + os.environ.get("PYTHONPATH", "").split(os.pathsep)).rstrip(os.pathsep))
    done = subprocess.run([sys.executable, os.path.join(HERE, "soundcard_lost.py"),
                           json.dumps(line.info), line.dir, "4000"], env=env,
                          capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert 40 <= report["pace_before"] <= 60, report          # 50 frames of 20 ms a second
    assert report["noticed"], report
    assert report["busiest"] < IDLE, report
    assert report["back"] and report["lost_after"] is None, report
    assert 40 <= report["pace_after"] <= 70, report           # its clock, not a spin
    assert len(report["card_said"]) == 1, report
    assert report["card_said"][0].startswith("modem box: sound card 'lawline_box' lost: "), report
    assert any("the call audio went away (sound card 'lawline_box' lost" in line
               for line in report["supervisor_said"]), report
