"""`make bench`, the SIP trunk part: figures, not pass/fail, through a real Kamailio.

    python -m lawline_rig.sipbench [--calls N] [--state-dir DIR]

Runs from the repository (it uses the test trunk in tests/servers/): Kamailio with digest
auth on 127.0.0.1, a registered duty phone that answers at once and presses 1 after 0.5 s,
and the box on the loopback line. For each call:

- call set-up through the trunk: the box's INVITE to CONFIRMED (both proxy-auth round trips
  included), as the box measured it (call record, duty_legs[].setup_s);
- the callee's 1 to two-way audio: from the duty phone sending 1 (its event log) until the
  caller hears the duty phone's tone AND the duty phone hears the caller's tone (each found
  in 40 ms frames of what that side recorded).
"""

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from .probe import hearing
from .probe.rig import wait_until
from .probe.scenarios import CALLER_TONE, DUTY_TONE

REPO = Path(__file__).resolve().parents[3]
DUTY = "13900000012"
FRAME = 320            # 40 ms at 8 kHz


def first_tone(pcm, hz, start=0, level=0.6):
    """Index of the first 40 ms frame at or after `start` that is mostly `hz`, or None."""
    for i in range(max(0, start), len(pcm) - FRAME, FRAME // 2):
        if hearing.tone_level(pcm[i:i + FRAME], hz) >= level:
            return i
    return None


async def one_call(rig, n):
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    await caller.press("1")
    caller.audio.speak(hearing.make_tone(CALLER_TONE, 1.0))
    await caller.hear_tone(DUTY_TONE, 40, window=0.1)
    now, heard = time.time(), caller.audio.listener.recording()
    await asyncio.sleep(1.0)
    await caller.hang_up()
    caller.audio.quiet()
    await caller.wait_ended(10)
    record = (await rig.next_record("call", after))["record"]
    events = [e for e in rig.phone_events(DUTY) if e.get("call") == n]
    pressed = next(e["t"] for e in events if e["event"] == "dtmf_sent")
    confirmed = next(e["t"] for e in events if e["event"] == "confirmed")
    # the caller's side: where in its recording the duty tone began, as wall-clock time
    i = first_tone(heard, DUTY_TONE, len(heard) - int((now - pressed + 1) * 8000))
    caller_hears = now - (len(heard) - i) / 8000 if i is not None else None
    # the duty phone's side: its recording starts when the call is confirmed
    wav = rig.dir / f"phone-{DUTY}-{n}.wav"
    wait_until(lambda: wav.exists() and hearing.load_wav(wav).size > 8000, 10, str(wav))
    duty_pcm = hearing.load_wav(wav)
    j = first_tone(duty_pcm, CALLER_TONE, int((pressed - confirmed) * 8000))
    duty_hears = confirmed + j / 8000 if j is not None else None
    leg = record["duty_legs"][-1]
    return {"setup_s": leg["setup_s"],
            "caller_hears_s": caller_hears - pressed if caller_hears else None,
            "duty_hears_s": duty_hears - pressed if duty_hears else None}


def _summary(values, scale=1.0, digits=1):
    values = [v * scale for v in values if v is not None]
    if not values:
        return None
    return {"median": round(statistics.median(values), digits),
            "min": round(min(values), digits), "max": round(max(values), digits),
            "calls": len(values)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--state-dir")
    args = parser.parse_args(argv)
    state = Path(args.state_dir or tempfile.mkdtemp(prefix="lawline-bench-trunk-"))
    sys.path.insert(0, str(REPO))        # the test trunk lives with the tests
    from tests.servers.kamailio import Kamailio
    from tests.servers.trunk_rig import TrunkRig

    trunk = Kamailio(state / "kamailio")
    rig = TrunkRig(state / "rig", trunk, box_options={
        "duty": {"ring_timeout": 8.0, "confirm_timeout": 6.0}})

    async def run():
        caller = await rig.start_caller()
        try:
            return [await one_call(rig, n) for n in range(1, args.calls + 1)]
        finally:
            await caller.close()

    try:
        trunk.start()
        rig.start(box=False, duty=False)
        rig.phone(DUTY, "accept", "--answer-after", "0", "--key-delay", "0.5")
        rig.use(numbers=[DUTY])
        calls = asyncio.run(run())
    finally:
        rig.stop()
        trunk.stop()
    two_way = [max(c["caller_hears_s"], c["duty_hears_s"]) for c in calls
               if c["caller_hears_s"] is not None and c["duty_hears_s"] is not None]
    figures = {
        "trunk_call_setup_invite_to_confirmed_ms": _summary([c["setup_s"] for c in calls],
                                                            1000, 1),
        "callee_1_to_two_way_audio_ms": _summary(two_way, 1000, 0),
        "callee_1_to_caller_hears_callee_ms": _summary([c["caller_hears_s"] for c in calls],
                                                       1000, 0),
        "callee_1_to_callee_hears_caller_ms": _summary([c["duty_hears_s"] for c in calls],
                                                       1000, 0),
        "calls": calls,
    }
    print(json.dumps(figures, indent=2))
    (state / "bench-trunk.json").write_text(json.dumps(figures, indent=2))
    print(f"bench: results in {state / 'bench-trunk.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
