"""Shared fixtures. The rig factory (`rigs` per test, `module_rigs` per module: probe/rig.py
`Rigs`) starts real processes: the loopback line, the box, a pjsua2 duty phone and an HTTP
upstream; `make hil` options swap the line for real modems (`hil_ports`)."""

import asyncio
import os

import pytest
from hypothesis import HealthCheck, settings

from lawline_rig.probe.fixtures import module_rigs, rigs  # noqa: F401  (the rig factory)

from .servers.kamailio import kamailio  # noqa: F401  (session fixture: the SIP trunk)

# Property tests (test_fuzz_*.py in tests/unit and tests/line). `make test` runs a fixed set of
# examples: derandomize picks the same ones on every machine and every run, so a red CI run is
# red again on the developer's desk, and no example database is needed. `make fuzz`
# (HYPOTHESIS_PROFILE=fuzz) draws fresh random examples, many more, and keeps any failure in
# .hypothesis/ (ignored by git) to try it first next time. Each example must finish within a
# second (issue 9).
settings.register_profile("ci", max_examples=200, deadline=1000, derandomize=True,
                          database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=int(os.environ.get("FUZZ_EXAMPLES", 2000)),
                          deadline=1000, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# -- running the tiers side by side (make test: pytest -n 5 --dist loadfile) ------------------

# Files whose tests of one parameter share nothing with another's (a module-scoped rig or line
# per modem profile, one clock per run): their parameters may run on different workers at
# once, each keeping its own tests in order. Any other file runs whole on one worker.
SPLIT_BY_PARAMETER = ("tests/line/test_contract.py", "tests/scenarios/test_calls.py",
                      "tests/scenarios/test_voicemail_lines.py",
                      "tests/scenarios/test_modems.py", "tests/hours/test_any_hour.py")
# The slowest tiers start first, so the last worker is not left with a long file at the end.
FIRST = ("tests/scenarios/", "tests/web/", "tests/systemd/", "tests/hours/", "tests/line/",
         "tests/servers/", "tests/sync/", "tests/sip/", "rig/tests/", "tests/commands/")


@pytest.hookimpl(optionalhook=True)     # a run with -p no:xdist (tests/hours) has no such hook
def pytest_xdist_make_scheduler(config, log):
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class ByFileOrParameter(LoadFileScheduling):
        def _split_scope(self, nodeid):
            path = nodeid.split("::", 1)[0]
            if path.endswith(SPLIT_BY_PARAMETER) and nodeid.endswith("]") and "[" in nodeid:
                return path + "[" + nodeid.rsplit("[", 1)[1]
            return path
    return ByFileOrParameter(config, log)


# The tiers whose tests wait on real time beside four other test files on two shared cores
# (audio heard through the loopback line, SIP timers, browsers, booting containers). A test
# there that fails is run once more on its own fixtures, and `make test` lists it (-rR) with
# the first failure's traceback: CPU starvation can cost a frame of audio or a timer now and
# then (each such failure of the last rounds passed alone), while a real fault fails twice.
# The pure tier and its any-hour runs (tests/unit, tests/hours) never get a second try.
REAL_TIME = ("tests/scenarios/", "tests/web/", "tests/systemd/", "tests/line/",
             "tests/servers/", "tests/sync/", "tests/sip/", "tests/reports/", "rig/tests/",
             "centre/tests/")
SECOND_TRY = pytest.mark.flaky(reruns=1, reruns_delay=1)


_FIRST_TRIES = []      # (nodeid, why) of every real-time test's failed first try


def pytest_runtest_logreport(report):
    if report.outcome == "rerun":
        lines = (report.longreprtext or "").strip().splitlines()
        errors = [line[1:].strip() for line in lines if line.startswith("E ")][:3]
        _FIRST_TRIES.append((report.nodeid, " / ".join(errors) or (lines[-1] if lines else "")))


def pytest_terminal_summary(terminalreporter):
    """What each second try followed: the first try's error lines, so a failure that a
    second try hid is still read."""
    if _FIRST_TRIES:
        terminalreporter.section("first tries that failed")
        for nodeid, why in _FIRST_TRIES:
            terminalreporter.line(f"{nodeid}: {why[:500]}")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    def tier(item):
        path = item.nodeid
        return next((n for n, start in enumerate(FIRST) if path.startswith(start)), len(FIRST))
    items[:] = [item for _, _, item in sorted((tier(item), n, item)
                                              for n, item in enumerate(items))]
    if config.pluginmanager.hasplugin("rerunfailures"):
        for item in items:
            if item.nodeid.startswith(REAL_TIME) and not item.get_closest_marker("flaky"):
                item.add_marker(SECOND_TRY)


def pytest_addoption(parser):
    group = parser.getgroup("lawline hardware in loop")
    for name in ("box-at", "box-audio", "caller-at", "caller-audio", "box-number",
                 "caller-number", "box-profile", "caller-profile"):
        group.addoption(f"--{name}", default=None, help=f"real modem: {name.replace('-', ' ')}")


@pytest.fixture(scope="session")
def hil_ports(request):
    """The real modems of a hardware-in-loop rig (board/HIL.md), or None on the loopback line.
    A V.253 box has one port (audio = AT) and is rung by a GSM modem (a SIM7600 unless
    --caller-profile says otherwise)."""
    opt = request.config.getoption
    if not opt("box_at"):
        return None
    profile = opt("box_profile") or "simcom-sim7600"
    # the loopback line's profile names (tests/line/test_contract.py) name the driver's
    # profile and where the call audio is: an EC25 in USB-audio mode has it on a sound card
    # (BOX_AUDIO is then its ALSA name, e.g. hw:CARD=Android,DEV=0); a half-duplex V.253
    # modem is driven by the same V.253 driver
    driver = {"quectel-ec25-uac": "quectel-ec25", "v253-halfduplex": "v253"}.get(profile,
                                                                                  profile)
    caller_profile = opt("caller_profile") or ("simcom-sim7600" if driver == "v253"
                                               else driver)
    box = {"at": opt("box_at"), "audio": opt("box_audio") or opt("box_at"),
           "number": opt("box_number"), "driver_profile": driver}
    if profile == "quectel-ec25-uac":
        box["sound_device"] = opt("box_audio")
    return {"profile": profile, "box": box,
            "caller": {"at": opt("caller_at"), "audio": opt("caller_audio"),
                       "number": opt("caller_number") or "", "driver_profile": caller_profile}}


def run_call(rig, scenario, *args):
    """Run one scripted call with a fresh caller on its own event loop."""
    async def main():
        caller = await rig.start_caller()
        try:
            return await scenario(rig, *args)
        finally:
            await caller.close()
    try:
        return asyncio.run(main())
    except BaseException:
        if rig.caller is None:          # failed before a caller existed: nothing was heard
            raise
        from lawline_rig.probe import hearing
        heard = rig.dir / "caller-heard-on-failure.wav"
        hearing.write_wav(heard, rig.caller.heard_audio())
        print(f"  caller's audio kept in {heard}")
        print("\n".join(f"  caller: {text}" for _, text in rig.caller.transcript))
        print("--- box log (tail) ---")
        print(rig.box_log()[-4000:])
        raise
