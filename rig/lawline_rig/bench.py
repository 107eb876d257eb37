"""`make bench`, the calls: figures, not pass/fail, on the loopback line with real processes,
each beside the bare pjsua2 pair's (bare.py) measured in the same run.

    python -m lawline_rig.bench [--calls N] [--bridged-seconds S] [--lines 1,2,4]
                                [--state-dir DIR] [--no-bare]

- first prompt audio: from the caller's dial (the simulator sends the first RING at once) to
  the first non-silent audio frame the caller hears;
- CPU per second: the box process's user+system CPU time (from /proc) over a window with no
  call (idle) and over a window of one bridged call; the bare pair's, per process;
- memory during the bridged call: RSS, its anonymous and file-backed parts, and PSS (shared
  library pages counted once per sharer) from /proc; the bare pair's the same way;
- one-way delay both ways, from clicks (probe/clicks.py): the caller sends a 700 Hz tone
  with a click every second, the duty phone a 1 kHz one; the simulator notes each click as
  it writes it to the box's audio port or reads it from there. The box's share runs from the
  box's audio port to the duty phone's media port and back; the loopback line's own share
  (its 120 ms playout cushion, sim/audio.py) is reported apart and kept out of the box's;
- duty presses 1 -> voice heard: from the duty phone's key (RFC 4733) to the onset of its
  1 kHz tone where the box writes it to the line (the box's figure) and at the caller's ear;
  the bare pair's is the same key to the onset at the far port;
- several lines: 1, 2, 4 (`--lines`) calls bridged at once, one per line, on a box with that
  many [[line]] tables: CPU per call and the slips the hearing check counts (clicks that do
  not come exactly a second apart, probe/hearing.py) each way.
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

from . import bare
from .probe import clicks, hearing
from .probe.rig import Rig, async_wait_until
from .probe.scenarios import CALLER_TONE, DUTY_TONE

TICK = os.sysconf("SC_CLK_TCK")
PERIOD_S = clicks.ClickTrain().period_frames * 0.02
PERIOD_SAMPLES = clicks.ClickTrain().period_frames * clicks.FRAME_SAMPLES


def compile_ahead():
    """Compile the box's and the rig's modules to .pyc first, as the image does
    (image/build-image.sh runs compileall). A process that compiles its imports from source
    keeps the compiler's leftovers: about 2.5 MB more RSS for the box here, which a box never
    pays. A shell with PYTHONDONTWRITEBYTECODE set would otherwise measure that."""
    import compileall

    import lawline

    for package in (lawline, sys.modules[__package__]):
        compileall.compile_dir(os.path.dirname(package.__file__), quiet=1)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def thread_cpu(pid):
    """{thread name: CPU seconds} of a process (names repeat: summed)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                text = f.read()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text.rsplit(")", 1)[1].split()
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / TICK
    return out


memory = bare.memory_mb


async def first_prompt(rig, calls):
    caller = rig.caller
    out = []
    for _ in range(calls):
        before = rig.last_id()
        await caller.call(rig.box_number)
        start = caller.dialled_at
        # polled every 5 ms: the figure is this wait; a box that never speaks (its prompts
        # not rendered: make prompts) ends the bench with the box's log named
        await async_wait_until(lambda: caller.audio.first_audio_at is not None, 20,
                               "the caller to hear the box's first prompt", interval=0.005,
                               detail=lambda: f"the box's log: {rig.dir / 'box.log'}")
        out.append(caller.audio.first_audio_at - start)
        await caller.hang_up()
        await caller.wait_ended(10)
        # the box is done with this call (its record is in) before the next one rings: a
        # RING while it was still closing the last call was answered a ring later, 1 s
        await rig.next_record("call", before)
    return out


def duty_calls(rig):
    return [e["call"] for e in rig.duty_events_list() if e.get("event") == "incoming"]


def duty_clicks(path, call):
    """The duty phone's clicks file for call `call`: (sent [(n, t)], heard [t], positions)."""
    sent, heard, positions = [], [], []
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return sent, heard, positions
    for line in lines:
        entry = json.loads(line)
        if entry.get("call") != call:
            continue
        if "sent" in entry:
            sent.append((entry["sent"], entry["mono"]))
        else:
            heard.append(entry["mono"])
            positions.append(entry["heard"])
    return sent, heard, positions


class Line:
    """One bridged call with clicks on line k, and what each party noted."""

    def __init__(self, rig, k, caller):
        self.rig, self.k, self.caller = rig, k, caller
        self.duty_call = None
        self.pressed = None
        self.window_sample = 0      # where the measuring window starts in what the caller heard

    async def bridge(self):
        rig, caller = self.rig, self.caller
        rig.sim_request({"markers": "on", "side": "box",
                         "tones": {"out_of_host": DUTY_TONE}}, line=self.k)
        before = set(duty_calls(rig))
        await caller.call(rig.box_number_of(self.k))
        await caller.hear("greeting", 20)
        caller.audio.tone_heard = clicks.ToneLog(DUTY_TONE)
        await caller.press("1")
        caller.audio.speak_clicks(clicks.ClickTrain(tone_hz=CALLER_TONE))
        new = await async_wait_until(lambda: set(duty_calls(rig)) - before, 30,
                                     f"line {self.k}'s duty call")
        self.duty_call = min(new)
        pressed = await async_wait_until(lambda: self._pressed(), 30,
                                         f"line {self.k}'s duty phone to press 1")
        self.pressed = pressed
        await async_wait_until(lambda: len(caller.audio.clicks_heard.times) >= 2, 30,
                               f"line {self.k}'s caller to hear the duty phone's clicks")

    def _pressed(self):
        for e in self.rig.duty_events_list():
            if e.get("call") == self.duty_call and e.get("event") == "dtmf_sent" \
                    and e.get("digit") == "1":
                return e["mono"]
        return None

    def collect(self, since):
        """What the parties noted; slips are counted from `since` (monotonic: the window
        after every line was bridged), delays over the whole call."""
        rig, audio = self.rig, self.caller.audio
        tap = rig.sim_request({"markers": "read", "side": "box"}, line=self.k)
        d_sent, d_heard, d_positions = duty_clicks(rig.dir / "duty-clicks.jsonl",
                                                   self.duty_call)
        c_sent = list(audio.train.sent) if audio.train else []
        c_heard = list(audio.clicks_heard.times)
        into, out = tap["into_host"]["times"], tap["out_of_host"]["times"]
        # caller -> duty: total, the loopback line's part (caller's port to the box's
        # port), the box's part (box's port to the duty phone's media port)
        up_total = clicks.delays(c_sent, d_heard, PERIOD_S)
        up_rig = clicks.delays(c_sent, into, PERIOD_S)
        up_box = clicks.delays(into, d_heard, PERIOD_S)
        # duty -> caller
        down_total = clicks.delays(d_sent, c_heard, PERIOD_S)
        down_box = clicks.delays(d_sent, out, PERIOD_S)
        down_rig = clicks.delays(out, c_heard, PERIOD_S)
        box_onset = next((t for t in tap.get("tone_onsets", {}).get("out_of_host", [])
                          if t >= self.pressed), None)
        ear = audio.tone_heard.first_after(self.pressed) if audio.tone_heard else None
        heard_slips = hearing.click_slips(audio.listener.recording(), PERIOD_SAMPLES,
                                          after=self.window_sample)
        duty_slips = clicks.slips([p for p, t in zip(d_positions, d_heard) if t >= since],
                                  PERIOD_SAMPLES)
        return {
            "line": self.k,
            "caller_to_duty_ms": {"box": ms(up_box), "loopback_line": ms(up_rig),
                                  "total": ms(up_total)},
            "duty_to_caller_ms": {"box": ms(down_box), "loopback_line": ms(down_rig),
                                  "total": ms(down_total)},
            "duty_1_to_voice_ms": {
                "box": round(1000 * (box_onset - self.pressed), 1) if box_onset else None,
                "caller_ear": round(1000 * (ear - self.pressed), 1) if ear else None},
            "slips": {"duty_hears": duty_slips, "caller_hears": heard_slips},
            "loopback_line": {k: tap[k] for k in ("playout_underruns", "uplink_dropped_bytes",
                                                  "skipped_frames", "port_dropped_bytes")},
            "series": {"caller_to_duty_box": [(round(t, 3), round(d * 1000, 1))
                                              for t, d in up_box],
                       "duty_to_caller_box": [(round(t, 3), round(d * 1000, 1))
                                              for t, d in down_box]},
        }


def ms(pairs):
    return bare.summary([d for _, d in pairs])


async def bridged(rig, callers, seconds, box):
    """Every caller bridged at once, one per line, with clicks; CPU per second over the
    window, the box's memory in it, and what each line noted."""
    lines = [Line(rig, k, caller) for k, caller in enumerate(callers, start=1)]
    for line in lines:          # one after the other: each line knows its duty call
        await line.bridge()
    await asyncio.sleep(1.0)
    since = time.monotonic()
    for line in lines:
        line.window_sample = len(line.caller.audio.listener)
    threads0 = thread_cpu(box)
    c0, t0 = cpu_seconds(box), time.monotonic()
    await asyncio.sleep(seconds / 2)
    mem = memory(box)
    await asyncio.sleep(seconds / 2)
    span = time.monotonic() - t0
    per_second = (cpu_seconds(box) - c0) / span
    threads = {name: round((cpu - threads0.get(name, 0.0)) / span, 4)
               for name, cpu in thread_cpu(box).items()}
    measured = [line.collect(since) for line in lines]
    for caller in callers:
        await caller.hang_up()
        caller.audio.quiet()
    for caller in callers:
        await caller.wait_ended(10)
    return per_second, mem, threads, measured


def box_rig(state, lines):
    rig = Rig(state, duty_behaviour="accept", lines=lines if lines > 1 else None)
    rig.duty_args = ["--clicks", str(state / "duty-clicks.jsonl")]
    rig.start(box=False)
    if lines > 1:
        rig.box_options["duty"] = {"numbers": [f"1390000000{k}" for k in range(1, lines + 1)]}
    rig.start_box()
    return rig


def measure_box(state, calls, seconds):
    """The one-line box: first prompt, idle CPU, one bridged call."""
    rig = box_rig(state, 1)

    async def run():
        caller = await rig.start_caller(1)
        try:
            firsts = await first_prompt(rig, calls)
            box = rig.procs["box"].pid
            idle0, t0 = cpu_seconds(box), time.monotonic()
            await asyncio.sleep(5)
            idle = (cpu_seconds(box) - idle0) / (time.monotonic() - t0)
            idle_mem = memory(box)
            per_second, mem, threads, lines = await bridged(rig, [caller], seconds, box)
            return firsts, idle, idle_mem, per_second, mem, threads, lines[0]
        finally:
            await caller.close()
    try:
        return asyncio.run(run())
    finally:
        rig.stop()


def measure_lines(state, counts, seconds):
    """A box with max(counts) lines: N calls bridged at once for each N in counts."""
    most = max(counts)
    rig = box_rig(state, most)

    async def run():
        callers = [await rig.start_caller(k) for k in range(1, most + 1)]
        out = {}
        try:
            for n in counts:
                box = rig.procs["box"].pid
                per_second, mem, _, lines = await bridged(rig, callers[:n], seconds, box)
                out[n] = {"cpu_s_per_s": round(per_second, 4),
                          "cpu_s_per_s_per_call": round(per_second / n, 4),
                          "rss_mb": mem.get("rss"), "lines": lines}
                await asyncio.sleep(2)
        finally:
            for caller in callers:
                await caller.close()
        return out
    try:
        return asyncio.run(run())
    finally:
        rig.stop()


def ratio(value, base):
    if value is None or not base:
        return None
    return round(value / base, 2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--bridged-seconds", type=float, default=20.0)
    parser.add_argument("--lines", default="1,2,4",
                        help="calls bridged at once, one per line, on a box with that many "
                             "lines (comma-separated; 1 alone skips the several-lines part)")
    parser.add_argument("--state-dir")
    parser.add_argument("--no-bare", action="store_true",
                        help="leave out the bare pjsua2 pair (no ratios)")
    args = parser.parse_args(argv)
    counts = sorted({int(n) for n in args.lines.split(",")})
    state = Path(args.state_dir or tempfile.mkdtemp(prefix="lawline-bench-"))
    state.mkdir(parents=True, exist_ok=True)
    compile_ahead()
    load = os.getloadavg()
    base = None if args.no_bare else bare.measure(str(state), args.bridged_seconds)
    firsts, idle, idle_mem, per_second, mem, threads, line = measure_box(
        state / "one", args.calls, args.bridged_seconds)
    several = measure_lines(state / "lines", counts, args.bridged_seconds) \
        if counts != [1] else {}
    figures = {
        "load_average_at_start": [round(x, 2) for x in load],
        "bare_pjsua2": base,
        "first_prompt_audio_after_ring_s": {
            "median": round(statistics.median(firsts), 3), "min": round(min(firsts), 3),
            "max": round(max(firsts), 3), "calls": len(firsts)},
        "box_cpu_s_per_s_idle": round(idle, 4),
        "box_cpu_s_per_s_bridged": round(per_second, 4),
        "box_cpu_by_thread_bridged": threads,
        "box_memory_mb_idle": idle_mem,
        "box_memory_mb_bridged": mem,
        "one_call": line,
        "several_lines": several,
        "bridged_window_s": args.bridged_seconds,
    }
    if base:
        figures["ratios_to_bare"] = {
            "cpu_idle": ratio(idle, base["cpu_s_per_s_idle"]),
            "cpu_bridged": ratio(per_second, base["cpu_s_per_s_call"]),
            "rss_bridged": ratio(mem.get("rss"), base["rss_mb"]),
            "pss_bridged": ratio(mem.get("pss"), base["pss_mb"]),
            "caller_to_duty_delay_box": ratio((line["caller_to_duty_ms"]["box"] or {})
                                              .get("median"), base["delay_ms"]["median"]),
            "duty_to_caller_delay_box": ratio((line["duty_to_caller_ms"]["box"] or {})
                                              .get("median"), base["delay_ms"]["median"]),
            "duty_1_to_voice_box": ratio(line["duty_1_to_voice_ms"]["box"],
                                         (base["press_1_to_voice_heard_ms"] or {})
                                         .get("median")),
            **{f"cpu_per_call_{n}_lines": ratio(v["cpu_s_per_s_per_call"],
                                                base["cpu_s_per_s_call"])
               for n, v in several.items()},
        }
    text = json.dumps(figures, indent=2)
    (state / "bench.json").write_text(text)
    print(text)
    print(f"bench: results in {state / 'bench.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
