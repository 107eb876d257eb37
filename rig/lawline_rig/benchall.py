"""`make bench`: every bench of the rig in one run, beside the bare pjsua2 pair measured in
the same run (bare.py), each figure absolute and, where the pair has the same figure, as a
ratio to it. JSON for machines (DIR/bench-all.json), a table for people (stdout).

    python -m lawline_rig.benchall [--state-dir DIR] [--quick] [--skip PART,...]
                                   [--lines 1,2,4,6,8]

Parts: bare (the baseline), calls (bench.py: CPU, memory, delays, several lines),
powercut (powercut.py), imports (importcost.py), sync (syncbench.py), trunk (sipbench.py),
web (webbench.py). `--quick` shortens every window (for trying the bench, not for figures).
On a shared machine run it under the real-time lock: it measures CPU and time.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import bare, bench, importcost, powercut

PARTS = ("bare", "calls", "powercut", "imports", "sync", "trunk", "web")


def _sub(module, args, state, name, timeout=1800):
    """Run another bench as its own process; its JSON (the last JSON object it prints, or
    the file it names) and its exit status."""
    log = state / f"{name}.log"
    with open(log, "w") as out:
        proc = subprocess.run([sys.executable, "-m", module, *args], stdout=subprocess.PIPE,
                              stderr=out, text=True, timeout=timeout)
    text = proc.stdout
    start = text.find("{")
    try:
        figures = json.loads(text[start:]) if start >= 0 else {"output": text.strip()}
    except ValueError:
        figures = {"output": text.strip()}
    if proc.returncode:
        figures["failed"] = f"exit status {proc.returncode}, see {log}"
    return figures


def run(state, quick=False, skip=(), kills=None, lines=None):
    bench.compile_ahead()
    seconds = 8.0 if quick else 20.0
    out = {"started": time.strftime("%Y-%m-%d %H:%M:%S"),
           "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
           "machine": {"cpus": os.cpu_count(), "uname": " ".join(os.uname())},
           "failed": {}}

    def part(name, measure):
        """One part; a part that fails is reported and the others still run."""
        if name in skip:
            return
        try:
            measure()
        except Exception as exc:  # noqa: BLE001 - reported in the figures and the table
            out["failed"][name] = repr(exc)[:500]
            print(f"bench: {name} failed: {exc!r}", file=sys.stderr)

    def calls():
        firsts, idle, idle_mem, per_second, mem, threads, line = bench.measure_box(
            state / "one", 2 if quick else 5, seconds)
        several = bench.measure_lines(state / "lines",
                                      lines or ([1, 2] if quick else [1, 2, 4]), seconds)
        out["calls"] = {"first_prompt_audio_after_ring_s": firsts,
                        "cpu_s_per_s_idle": round(idle, 4),
                        "cpu_s_per_s_bridged": round(per_second, 4),
                        "cpu_by_thread_bridged": threads,
                        "memory_mb_idle": idle_mem, "memory_mb_bridged": mem,
                        "one_call": line, "several_lines": several}

    def cut():
        held = powercut.buffers(str(state), 3.0 if quick else 5.0)
        trials = kills or (3 if quick else 10)
        killed = powercut.kill_harness(state / "kills", trials)
        out["powercut"] = {"recorder_buffer_s": held, "kills": killed,
                           "lost_s": bare.summary([k["lost_s"] for k in killed
                                                   if "lost_s" in k], 1.0, 3),
                           "failed_trials": sum("lost_s" not in k for k in killed)}

    def sync():
        from . import syncbench
        drain = state / "drain"
        drain.mkdir(exist_ok=True)
        out["sync"] = syncbench.run_drain(drain, 100 if quick else 500, 3.0)

    part("bare", lambda: out.update(bare_pjsua2=bare.measure(str(state), seconds)))
    part("calls", calls)
    part("powercut", cut)
    part("imports", lambda: out.update(imports=importcost.measure()))
    part("sync", sync)
    part("trunk", lambda: out.update(trunk=_sub(
        "lawline_rig.sipbench", ["--calls", "2" if quick else "5", "--state-dir",
                                 str(state / "trunk")], state, "sipbench")))
    part("web", lambda: out.update(web=_sub(
        "lawline_rig.webbench", ["--cases", "10000" if quick else "100000", "--clerks", "10",
                                 "--json"], state, "webbench")))
    return out


def _ratio(value, base):
    if value is None or base in (None, 0):
        return None
    return value / base


def rows(out):
    """(figure, box, bare pjsua2, ratio) for the table and the JSON's "table"."""
    base = out.get("bare_pjsua2") or {}
    table = []

    def add(name, value, unit, base_value=None, digits=1):
        fmt = (lambda v: None if v is None else f"{v:.{digits}f} {unit}")
        r = _ratio(value, base_value)
        table.append({"figure": name, "box": fmt(value), "bare_pjsua2": fmt(base_value),
                      "ratio": None if r is None else round(r, 2)})

    def med(summary):
        return (summary or {}).get("median")

    calls = out.get("calls")
    if calls:
        line = calls["one_call"]
        mem, b_mem = calls["memory_mb_bridged"], base.get("memory_mb", {})
        b_rss = base.get("rss_mb")
        add("CPU, idle", calls["cpu_s_per_s_idle"], "s/s", base.get("cpu_s_per_s_idle"), 4)
        add("CPU per second, one bridged call", calls["cpu_s_per_s_bridged"], "s/s",
            base.get("cpu_s_per_s_call"), 4)
        for n, v in sorted(calls["several_lines"].items(), key=lambda kv: int(kv[0])):
            add(f"CPU per call, {n} calls at once", v["cpu_s_per_s_per_call"], "s/s",
                base.get("cpu_s_per_s_call"), 4)
        clean = clean_lines(calls["several_lines"])
        if clean is not None:
            add(f"lines at once with clean audio, of {clean[1]} tried (none slipped or lost "
                "a click, either way)", clean[0], "lines", digits=0)
        add("RSS during a bridged call", mem.get("rss"), "MB", b_rss)
        add("  of it anonymous", mem.get("anon"), "MB",
            max((m.get("anon", 0) for m in b_mem.values()), default=None))
        add("PSS during a bridged call", mem.get("pss"), "MB", base.get("pss_mb"))
        add("one-way delay caller->duty, the box's part", med(line["caller_to_duty_ms"]["box"]),
            "ms", med(base.get("delay_ms")))
        add("one-way delay duty->caller, the box's part", med(line["duty_to_caller_ms"]["box"]),
            "ms", med(base.get("delay_ms")))
        add("  the loopback line's own part, caller->box",
            med(line["caller_to_duty_ms"]["loopback_line"]), "ms")
        add("  the loopback line's own part, box->caller",
            med(line["duty_to_caller_ms"]["loopback_line"]), "ms")
        for way in ("caller_to_duty_ms", "duty_to_caller_ms"):
            box, b = med(line[way]["box"]), med(base.get("delay_ms"))
            add(f"  added by the box, {way[:-3].replace('_to_', '->')} (goal <= 40 ms)",
                None if box is None or b is None else box - b, "ms")
        press, b_press = line["duty_1_to_voice_ms"]["box"], \
            med(base.get("press_1_to_voice_heard_ms"))
        add("duty presses 1 -> box sends the duty's voice to the line", press, "ms", b_press)
        add("  added by the box (goal <= 100 ms; the rest is the phone's RFC 4733 key)",
            None if press is None or b_press is None else press - b_press, "ms")
        add("duty presses 1 -> the caller's ear (with the loopback line)",
            line["duty_1_to_voice_ms"]["caller_ear"], "ms")
        firsts = sorted(calls["first_prompt_audio_after_ring_s"])
        add("RING -> first prompt audio (120 ms of it the loopback line's cushion)",
            1000 * firsts[len(firsts) // 2], "ms")
    pc = out.get("powercut")
    if pc:
        add("speech lost at a kill, median", med(pc["lost_s"]) and 1000 * med(pc["lost_s"]),
            "ms")
        add("speech lost at a kill, worst", (pc["lost_s"] or {}).get("max") and
            1000 * pc["lost_s"]["max"], "ms")
        add("pjsua2 AudioMediaRecorder holds at most", 1000 * pc["recorder_buffer_s"]["pjsua2"]
            ["max_s"], "ms")
        add("the box's RecordPort holds at most", 1000 * pc["recorder_buffer_s"]["recordport"]
            ["max_s"], "ms")
    web = out.get("web")
    if web and "pages" in web:
        for page in web["pages"]:
            add(f"office page: {page['label']}, median", page["median_ms"], "ms")
            add(f"office page: {page['label']}, p95", page["p95_ms"], "ms")
        add("office page RSS after the load", web.get("rss_mb_after"), "MB",
            base.get("rss_mb"))
    sync = out.get("sync")
    if sync and "items_per_s" in sync:
        add("outbox drain after an outage", sync["items_per_s"], "items/s")
    trunk = out.get("trunk")
    if trunk and trunk.get("callee_1_to_two_way_audio_ms"):
        add("through Kamailio: callee's 1 -> two-way audio",
            med(trunk["callee_1_to_two_way_audio_ms"]), "ms")
        add("through Kamailio: INVITE -> CONFIRMED",
            med(trunk["trunk_call_setup_invite_to_confirmed_ms"]), "ms")
    return table


def clean_lines(several):
    """(the most calls at once in which no line's either party heard a slip or lost a
    click, the most tried), or None when none were tried."""
    if not several:
        return None
    clean = [int(n) for n, v in several.items()
             if all(not heard["slips"] and not heard["gaps"]
                    for line in v["lines"] for heard in line["slips"].values())]
    return max(clean, default=0), max(int(n) for n in several)


def print_table(out, table):
    print(f"lawline bench, {out['started']}, load average at start "
          f"{' '.join(map(str, out['load_average_at_start']))}, {out['machine']['cpus']} CPUs")
    width = max(len(r["figure"]) for r in table) if table else 10
    print(f"{'figure':{width}}  {'box':>14}  {'bare pjsua2':>14}  {'ratio':>6}")
    for r in table:
        print(f"{r['figure']:{width}}  {r['box'] or '-':>14}  {r['bare_pjsua2'] or '':>14}  "
              f"{'' if r['ratio'] is None else format(r['ratio'], '.2f') + 'x':>6}")
    imports = out.get("imports")
    if imports:
        print()
        print(importcost.table(imports, top=12))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip", default="", help=f"parts to leave out: {', '.join(PARTS)}")
    parser.add_argument("--kills", type=int, help="power-cut trials (default 10; 3 quick)")
    parser.add_argument("--lines", help="calls bridged at once, one per line, comma-separated "
                                        "(default 1,2,4; 1,2 quick; at most 8)")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    unknown = skip - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {', '.join(sorted(unknown))}; known: {', '.join(PARTS)}")
    state = Path(args.state_dir or tempfile.mkdtemp(prefix="lawline-bench-"))
    state.mkdir(parents=True, exist_ok=True)
    try:
        lines = sorted({int(n) for n in args.lines.split(",")}) if args.lines else None
    except ValueError:
        lines = [0]
    if lines and not 1 <= lines[0] <= lines[-1] <= 8:
        parser.error(f"--lines {args.lines!r}: numbers of lines from 1 to 8, comma-separated "
                     "(the loopback line has at most 8)")
    out = run(state, args.quick, skip, args.kills, lines)
    out["table"] = rows(out)
    (state / "bench-all.json").write_text(json.dumps(out, indent=2))
    print_table(out, out["table"])
    for name, why in out["failed"].items():
        print(f"bench: {name} FAILED: {why}")
    print(f"\nbench: everything in {state / 'bench-all.json'}")
    return 1 if out["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
