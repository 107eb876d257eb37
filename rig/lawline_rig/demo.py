"""`lawline demo`: the box end to end on the loopback line, with embedded defaults.

Starts the loopback line, a local upstream, a duty phone and the box, each in its own
process, then places the scripted calls (SCRIPTED below) through the caller's
side and prints what happened. `--serve` starts the same parts and keeps them running so
anyone can dial in by hand on the ports written to STATE_DIR/sim.json.
"""

import asyncio
import logging
import signal
import tempfile
import time
import traceback
from pathlib import Path

from .probe import duties, hotline, scenarios
from .probe.rig import Rig

# The calls the demo places, in order: (tag, title, the duty phone's behaviour, scenario).
SCRIPTED = [
    ("a", "consultation: the duty phone accepts", "accept", scenarios.consultation_bridged),
    ("b", "consultation: nobody answers, voicemail", "no-answer",
     scenarios.consultation_voicemail),
    ("c", "complaint voicemail", "accept", scenarios.complaint),
    ("d", "service request: case number by SMS to the caller and the duty lawyer", "accept",
     hotline.service_request_with_sms),
    ("e", "two lines at once: line 1 bridged while line 2 leaves a voicemail", "accept",
     scenarios.two_lines_at_once),
]
# issue 17: the office head (who gets complaints and records their outcome by SMS)
DEMO_HEAD = "13900000009"
SCRIPTED += [
    ("f", "complaint whose complainant is told the outcome by SMS", "accept",
     lambda rig: duties.complaint_told(rig, DEMO_HEAD, "经核实，您反映的接待态度问题属实，"
                                       "已对该工作人员批评教育。")),
]
# issue 17.2: the urgent ladder
SCRIPTED += [
    ("g", "an urgent dispute that climbs the ladder: no mediator, nor the office head, "
     "accepts; the prefecture's duty takes it (SMS: who took it)",
     "no-answer,07732345678=accept", hotline.urgent_ladder),
]
# The office the demo runs (issue 17): mediators for key 3, the head and the prefecture's
# number on the urgent ladder, short rings so the ladder climbs in seconds.
DEMO_OPTIONS = {
    "office": {"head_mobile": DEMO_HEAD},
    "duty": {"mediators": ["13900000002", "13900000003"]},
    "ladder": {"steps": ["head", "prefecture"], "prefecture_number": "07732345678",
               "ring_timeout": 6.0},
    # one simulated caller places every call of the demo: its seventh case of the day (the
    # urgent dispute) met the per-number daily cap of 6 and was sent away
    "limits": {"cases_per_number_per_day": 50, "sms_per_number_per_day": 100},
}

log = logging.getLogger("lawline_rig.demo")


def add_arguments(parser):
    parser.add_argument("--state-dir", help="where logs, spool and upstream go "
                        "(default: a new temporary directory)")
    from .sim import PROFILES, lines_argument, profiles_argument
    parser.add_argument("--profile", default="simcom-sim7600", type=profiles_argument,
                        help="simulated modem, or one per line comma-separated (known: "
                             f"{', '.join(sorted(PROFILES))}; default: %(default)s)")
    parser.add_argument("--lines", type=lines_argument, default=None,
                        help="lines on the loopback line, each a box modem with its own caller "
                             "(`lawline sim --lines`; default: 1, or one per profile named)")
    parser.add_argument("--serve", action="store_true",
                        help="start the parts and keep them running for calls by hand")


def _transcript(caller, since):
    lines = []
    for t, text in caller.transcript:
        if t >= since:
            lines.append(f"    {t - since:6.1f} s  {text}")
    return lines


async def _scripted(rig):
    failures = 0
    skipped = 0
    caller = await rig.start_caller()
    try:
        from .sim import profiles as sim_profiles
        simulated = sim_profiles.get(rig.profile.split(",")[0])  # the scripted calls use line 1
        half_duplex = simulated.family == "v253" and not simulated.vtr
        for tag, title, behaviour, scenario in SCRIPTED:
            if half_duplex and tag in ("a", "b"):
                # Calls (a) and (b) ring duty phones; a V.253 modem without AT+VTR cannot
                # carry both directions at once, so the box sends key 1 to voicemail.
                print(f"\n== call ({tag}): {title}\n  skipped: bridging unavailable on this "
                      f"modem: no AT+VTR (the simulated {rig.profile} has no full duplex)",
                      flush=True)
                skipped += 1
                continue
            if tag == "e" and (rig.line_count() < 2 or half_duplex):
                print(f"\n== call ({tag}): {title}\n  skipped: " +
                      ("the loopback line has one line (lawline demo --lines 2)"
                       if rig.line_count() < 2 else "bridging unavailable on this modem"),
                      flush=True)
                skipped += 1
                continue
            if simulated.family == "v253" and "SMS" in title:
                print(f"\n== call ({tag}): {title}\n  skipped: SMS unavailable: a V.253 "
                      "modem on an analog line cannot send SMS", flush=True)
                skipped += 1
                continue
            if behaviour != rig.duty_behaviour:
                rig.start_dutyphone(behaviour)
            print(f"\n== call ({tag}): {title}", flush=True)
            since = time.monotonic()
            try:
                result = await scenario(rig)
                ok = True
            except Exception as exc:  # noqa: BLE001 - the demo reports every failure
                ok = False
                failures += 1
                result = None
                detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            print("\n".join(_transcript(caller, since)))
            if ok:
                print("  result: OK")
                for line in _where(rig, result):
                    print(f"  {line}")
            else:
                print(f"  result: FAILED: {detail}")
                if caller.modem.in_call:
                    await caller.hang_up()
                    try:
                        await caller.wait_ended(10)
                    except asyncio.TimeoutError:
                        pass
    finally:
        await caller.close()
    if skipped:
        print(f"\n{skipped} call(s) skipped: this modem cannot do what they need (see above)")
    rig.demo_skipped = skipped
    return failures


def _where(rig, result):
    if not result:
        return []
    out = []
    if "voicemail" in result:
        vm = result["voicemail"]
        out.append(f"voicemail: case {vm['record']['case_number']}, "
                   f"{vm['record']['duration_s']} s, box {vm['record']['box']}")
        for name, path in vm["files"].items():
            out.append(f"  spool:    {path}")
        for path in result["upstream"]:
            out.append(f"  upstream: {path}")
    if "duty_recording" in result:
        out.append(f"duty phone recording: {result['duty_recording']}")
    if "record" in result:
        out.append(f"call record: outcome {result['record']['outcome']}, "
                   f"legs {[l['outcome'] for l in result['record']['duty_legs']]}")
    for who, text in result.get("sms", []):
        out.append(f"SMS to {who}: {text}")
    return out


def main(args):
    state = Path(args.state_dir) if args.state_dir else Path(tempfile.mkdtemp(prefix="lawline-demo-"))
    rig = Rig(state, profile=args.profile, lines=getattr(args, "lines", None),
              box_options=DEMO_OPTIONS)
    page = None
    print(f"lawline demo: state in {state}", flush=True)
    try:
        rig.start()
        print(f"loopback line: box AT {rig.sim['box']['at']}, caller AT {rig.sim['caller']['at']}"
              f", box number {rig.box_number}")
        for k in range(2, rig.line_count() + 1):
            info = rig.line_info(k)
            print(f"loopback line {k} ({info['profile']}): box AT {info['box']['at']}, caller AT "
                  f"{info['caller']['at']}, box number {info['box']['number']}")
        print(f"upstream: {rig.upstream_url} -> {rig.upstream_dir}")
        print(f"box log: {rig.procs['box'].log_path}")
        from .webpage import start_for_demo
        page = start_for_demo(rig)
        if args.serve:
            print("serving; dial the box from the caller port in sim.json. Ctrl-C stops.")
            stop = []
            signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
            try:
                while not stop and all(p.alive() for p in rig.procs.values()):
                    time.sleep(0.5)
            except KeyboardInterrupt:
                pass
            return 0
        failures = asyncio.run(_scripted(rig))
    finally:
        if page is not None:
            page.stop()
        codes = rig.stop()
    bad = {name: code for name, code in codes.items() if code not in (0, None, -15)}
    if bad:
        print(f"\nprocesses that did not exit cleanly: {bad}")
        failures += 1
    total = len(SCRIPTED)
    skipped = getattr(rig, "demo_skipped", 0)
    total -= skipped
    print(f"\ndemo: {total - min(failures, total)} of {total} calls OK"
          + (f" ({skipped} skipped)" if skipped else "") + f"; logs and files in {state}")
    return 1 if failures else 0
