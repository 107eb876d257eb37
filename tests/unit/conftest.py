"""Fixtures for unit tests that need the loopback line: a real simulator process per test."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest
from hypothesis import HealthCheck, settings

# Property tests (test_fuzz_*.py). `make test` runs a fixed set of examples: derandomize
# picks the same ones on every machine and every run, so a red CI run is red again on the
# developer's desk, and no example database is needed. `make fuzz` (HYPOTHESIS_PROFILE=fuzz)
# draws fresh random examples, many more, and keeps any failure in .hypothesis/ (ignored by
# git) to try it first next time. Each example must finish within a second (issue 9).
settings.register_profile("ci", max_examples=200, deadline=1000, derandomize=True,
                          database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=int(os.environ.get("FUZZ_EXAMPLES", 2000)),
                          deadline=1000, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


class LoopbackLine:
    """A running `lawline sim` with its sim.json loaded; `info[side][...]` as written there."""

    def __init__(self, profile, ring_interval=0.3):
        # A short directory: the control socket path must fit in sockaddr_un (108 bytes).
        self.dir = tempfile.mkdtemp(prefix="lawline-sim-")
        self.log_path = os.path.join(self.dir, "sim.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "lawline_rig.sim", "--state-dir", self.dir, "--profile",
                 profile, "--ring-interval", str(ring_interval)],
                stdout=log, stderr=subprocess.STDOUT)
        ready = os.path.join(self.dir, "sim.json")
        deadline = time.monotonic() + 10
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"simulator not ready: {self.log()}")
            time.sleep(0.02)
        with open(ready) as f:
            self.info = json.load(f)

    def __getitem__(self, key):
        return self.info[key]

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wire(self):
        try:
            with open(os.path.join(self.dir, "wire.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        assert rc == 0, self.log()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def loopback():
    """Start loopback lines: `loopback("quectel-ec25")`; all are stopped after the test."""
    started = []

    def start(profile="simcom-sim7600", ring_interval=0.3):
        line = LoopbackLine(profile, ring_interval)
        started.append(line)
        return line
    yield start
    for line in started:
        line.stop()
