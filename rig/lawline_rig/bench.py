"""`make bench`: figures, not pass/fail, measured on the loopback line with real processes.

    python -m lawline_rig.bench [--calls N] [--bridged-seconds S] [--lines N] [--state-dir DIR]

- first prompt audio: from the caller's dial (the simulator sends the first RING at once) to
  the first non-silent audio frame the caller hears;
- CPU per second of bridged call: the box process's user+system CPU time (from /proc) over a
  window of a bridged call, divided by the window; the idle figure is the same with no call;
- box memory: resident set size after the calls;
- with --lines N: the loopback line and the box have N lines ([[line]]) and the bridged
  figures are for N calls bridged at once, one per line (each to its own duty number);
- duty accept to two-way audio: from the duty phone pressing 1 (its event log) to the caller
  hearing the duty phone's tone.
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from .probe import hearing
from .probe.rig import Rig
from .probe.scenarios import CALLER_TONE, DUTY_TONE

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return None


async def first_prompt(rig, calls):
    caller = rig.caller
    out = []
    for _ in range(calls):
        await caller.call(rig.box_number)
        start = caller.dialled_at
        while caller.audio.first_audio_at is None:
            await asyncio.sleep(0.005)
        out.append(caller.audio.first_audio_at - start)
        await caller.hang_up()
        await caller.wait_ended(10)
        await rig.next_record("call", rig.last_id() - 1)
    return out


async def bridge_one(rig, caller, line):
    await caller.call(rig.box_number_of(line))
    await caller.hear("greeting", 20)
    await caller.press("1")
    caller.audio.speak(hearing.make_tone(CALLER_TONE, 1.0))
    await caller.hear_tone(DUTY_TONE, 30, window=0.1)
    return time.time()


async def bridged(rig, seconds, callers):
    """Idle CPU, then every caller bridged at once (one per line): CPU per second and the
    first line's duty accept to two-way audio."""
    box = rig.procs["box"].pid
    idle0, t0 = cpu_seconds(box), time.monotonic()
    await asyncio.sleep(5)
    idle = (cpu_seconds(box) - idle0) / (time.monotonic() - t0)
    heard = await asyncio.gather(*(bridge_one(rig, caller, line)
                                   for line, caller in enumerate(callers, start=1)))
    events = rig.duty_events_list()
    pressed = [e["t"] for e in events if e.get("event") == "dtmf_sent"]
    accept_to_audio = max(heard) - pressed[-1] if pressed else None
    c0, t0 = cpu_seconds(box), time.monotonic()
    await asyncio.sleep(seconds)
    per_second = (cpu_seconds(box) - c0) / (time.monotonic() - t0)
    for caller in callers:
        await caller.hang_up()
        caller.audio.quiet()
    for caller in callers:
        await caller.wait_ended(10)
    return idle, per_second, accept_to_audio


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--bridged-seconds", type=float, default=20.0)
    parser.add_argument("--lines", type=int, default=1,
                        help="lines in the box; the bridged figures are for this many calls")
    parser.add_argument("--state-dir")
    args = parser.parse_args(argv)
    state = Path(args.state_dir or tempfile.mkdtemp(prefix="lawline-bench-"))
    rig = Rig(state, duty_behaviour="accept", lines=args.lines if args.lines > 1 else None)

    async def run():
        callers = [await rig.start_caller(line) for line in range(1, args.lines + 1)]
        try:
            firsts = await first_prompt(rig, args.calls)
            idle, per_second, accept = await bridged(rig, args.bridged_seconds, callers)
        finally:
            for caller in callers:
                await caller.close()
        return firsts, idle, per_second, accept

    try:
        rig.start(box=False)
        if args.lines > 1:
            rig.box_options["line"] = [
                {**rig.line_ports(k), "audio_retry_delay": 0.3,
                 **({"number": rig.box_number_of(k)} if k > 1 else {})}
                for k in range(1, args.lines + 1)]
            rig.box_options["duty"] = {"numbers": [f"1390000000{k}"
                                                   for k in range(1, args.lines + 1)]}
        rig.start_box()
        firsts, idle, per_second, accept = asyncio.run(run())
        memory = rss_mb(rig.procs["box"].pid)
    finally:
        rig.stop()
    figures = {
        "first_prompt_audio_after_ring_s": {
            "median": round(statistics.median(firsts), 3), "min": round(min(firsts), 3),
            "max": round(max(firsts), 3), "calls": len(firsts)},
        "box_cpu_s_per_s_bridged": round(per_second, 4),
        "box_cpu_s_per_s_idle": round(idle, 4),
        "box_rss_mb": round(memory, 1) if memory else None,
        "duty_accept_to_caller_hears_duty_s": round(accept, 3) if accept is not None else None,
        "bridged_window_s": args.bridged_seconds,
        "bridged_calls_at_once": args.lines,
    }
    print(json.dumps(figures, indent=2))
    (state / "bench.json").write_text(json.dumps(figures, indent=2))
    print(f"bench: results in {state / 'bench.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
