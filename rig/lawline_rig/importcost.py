"""What each import costs the box's process: memory (RSS, its anonymous part, and what
tracemalloc sees Python allocate) and time, each module measured in a fresh interpreter on
top of a floor that every pjsua2 program pays (`pjsua2` and, for the box, asyncio).

    python -m lawline_rig.importcost [--floor pjsua2,asyncio] [--all] [--json] [TARGET]

It imports the floor, then every module of the box's package that `import TARGET`
(default lawline.app) loads, in the order it loads them (python -X importtime), each on
top of the last: each module's own cost, with the standard or third-party modules it was
the first to bring in. `make bench` keeps its table. Figures, not pass/fail.
"""

import argparse
import json
import subprocess
import sys

PROBE = r"""
import importlib, json, sys, time, tracemalloc
def mem():
    out = {}
    with open('/proc/self/status') as f:
        for line in f:
            k, _, v = line.partition(':')
            if k in ('VmRSS', 'RssAnon', 'RssFile'):
                out[k] = int(v.split()[0]) / 1024
    return out
for name in FLOOR:
    importlib.import_module(name)
if 'pjsua2' in FLOOR:
    import pjsua2
    pjsua2.Endpoint      # the SWIG module's classes are looked up on first use
if TRACE:
    tracemalloc.start()
rows = []
for name in STEPS:
    if name in sys.modules:
        continue
    before, mods, traced = mem(), set(sys.modules), (tracemalloc.get_traced_memory()[0] if TRACE else 0)
    t = time.perf_counter()
    try:
        importlib.import_module(name)
    except Exception as exc:
        rows.append({'module': name, 'error': repr(exc)})
        continue
    spent = time.perf_counter() - t
    after = mem()
    new = sorted(set(sys.modules) - mods - {name})
    rows.append({'module': name, 'rss_mb': after['VmRSS'] - before['VmRSS'],
                 'anon_mb': after['RssAnon'] - before['RssAnon'],
                 'python_mb': ((tracemalloc.get_traced_memory()[0] if TRACE else 0) - traced)
                 / 1048576,
                 'modules': len(new) + 1,
                 'ms': 1000 * spent,
                 'brings': sorted({m.split('.')[0] for m in new
                                   if not m.startswith('lawline')})})
print(json.dumps(rows))
"""


def load_order(target="lawline.app"):
    """The modules `import target` loads, dependencies first (python -X importtime lists a
    module once its own imports are done)."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {target}"],
                         capture_output=True, text=True, timeout=120, check=True)
    order = []
    for line in out.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "self [us]" not in line:
            order.append(line.rsplit("|", 1)[1].strip())
    return order


def measure(target="lawline.app", floor=("pjsua2", "asyncio"), only_box=True):
    """Each module's own cost, in the order `import target` loads them, on top of the
    floor: what importing it added, with whatever it was first to bring in."""
    order = load_order(target)
    steps = [m for m in order if m.startswith("lawline")] if only_box else order
    def probe(trace):
        code = PROBE.replace("FLOOR", repr(list(floor))).replace("STEPS", repr(steps)) \
            .replace("TRACE", repr(trace))
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=300)
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-2000:])
        return json.loads(out.stdout.strip().splitlines()[-1])
    # RSS and time without tracemalloc (its own bookkeeping would be most of the RSS); the
    # Python objects from a second, traced run
    rows = probe(False)
    traced = {r["module"]: r["python_mb"] for r in probe(True) if "python_mb" in r}
    for r in rows:
        r["python_mb"] = traced.get(r["module"], 0.0)
    rows = [{k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()}
            for r in rows]
    total = {key: round(sum(r.get(key) or 0 for r in rows), 2)
             for key in ("rss_mb", "anon_mb", "python_mb", "ms")}
    rows.sort(key=lambda r: -r.get("rss_mb", 0))
    return {"target": target, "floor": list(floor), "total": total, "modules": rows}


def table(result, top=25):
    total = result["total"]
    lines = [f"import {result['target']} on top of {' + '.join(result['floor'])}: "
             f"RSS +{total['rss_mb']:.1f} MB (anonymous +{total['anon_mb']:.1f}, Python "
             f"objects +{total['python_mb']:.1f}), {total['ms']:.0f} ms; the costliest "
             "modules, each with what it was first to bring in:",
             f"  {'module':30} {'RSS MB':>7} {'anon MB':>8} {'Python MB':>10} {'ms':>7}  brings"]
    for r in result["modules"][:top]:
        if "error" in r:
            lines.append(f"  {r['module']:30} failed: {r['error']}")
            continue
        brings = ", ".join(r["brings"])
        lines.append(f"  {r['module']:30} {r['rss_mb']:7.2f} {r['anon_mb']:8.2f} "
                     f"{r['python_mb']:10.2f} {r['ms']:7.1f}  "
                     f"{brings[:60] + '...' if len(brings) > 60 else brings}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", nargs="?", default="lawline.app")
    parser.add_argument("--floor", default="pjsua2,asyncio")
    parser.add_argument("--all", action="store_true",
                        help="every module in the load order, not only the box's own")
    parser.add_argument("--json", action="store_true", help="JSON instead of a table")
    args = parser.parse_args(argv)
    result = measure(args.target, tuple(filter(None, args.floor.split(","))),
                     only_box=not args.all)
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
