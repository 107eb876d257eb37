"""The unit tier is pure: every test here runs under the guard of tests/unit/guard.py, which
fails a test that starts a process, opens a socket or a pseudo-terminal, uses pjsua2 or waits
in real time, naming what it tried. Tests that need real parts live in the tiers above."""

from .guard import _pure_module, pure, pytest_runtest_makereport  # noqa: F401
