"""Shared fixtures. The scenario rig starts real processes: the loopback line, the box,
a pjsua2 duty phone and an HTTP upstream; `--hil` options swap the line for real modems."""

import asyncio

import pytest

from .servers.kamailio import kamailio  # noqa: F401  (session fixture: the SIP trunk)


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
    caller_profile = opt("caller_profile") or ("simcom-sim7600" if profile == "v253"
                                               else profile)
    return {"profile": profile,
            "box": {"at": opt("box_at"), "audio": opt("box_audio") or opt("box_at"),
                    "number": opt("box_number"), "driver_profile": profile},
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
