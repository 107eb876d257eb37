"""The line tier: the box's own line drivers against the loopback line (a real simulator
process on pseudo-terminals), with threads and real-time audio. Run under the shared lock."""

import pytest

from ..unit.conftest import LoopbackLine


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
