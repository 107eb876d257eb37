"""The SIP event poller (sip/endpoint.MediaCore.run) never ends on an error nor spins on one
(issue 15, point 8): a poll that fails is logged once; failing for POLL_LOST seconds is the
SIP stack lost, said once and told (on_lost), and the poller slows down; once polls work
again it says so and SIP requests are answered again. Real pjsua2, in its own process."""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(__file__)
IDLE = 0.15


def test_a_failing_sip_poller_says_so_once_keeps_polling_slowly_and_comes_back():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [HERE] + os.environ.get("PYTHONPATH", "").split(os.pathsep)).rstrip(os.pathsep))
    done = subprocess.run([sys.executable, os.path.join(HERE, "sip_poller_box.py")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert (report["answered_before"] or "").startswith("SIP/2.0 "), report
    assert report["busiest"] < IDLE, report
    assert report["lost"] and report["told"] == [report["lost"]], report
    assert report["poller_running"] and report["polls_after"] > 10, report
    assert (report["answered_after"] or "").startswith("SIP/2.0 "), report
    assert report["told_after"] == [None] and report["lost_after"] is None, report
    said = report["said"]
    assert sum("handling pjsua2's events failed" in line for line in said) == 1, said
    assert sum("the SIP stack is lost" in line for line in said) == 1, said
    assert sum("works again" in line for line in said) == 1, said
