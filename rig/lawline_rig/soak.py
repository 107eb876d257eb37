"""`make soak`: the box for an hour, on a loopback line of four lines (figures and a verdict).

    python -m lawline_rig.soak [--seconds 3600] [--calls 1000] [--lines 4] [--ppm 100]
                               [--state-dir DIR]

At once, on one box:

- line 1: one bridged call for `--seconds`, the loopback line's clocks (both modems of the
  line, and the caller's phone with them) running `--ppm` fast for the first half and as
  much slow for the second, against the box's bridge. Every minute: the one-way delay
  through the box both ways (clicks, probe/clicks.py: the box's part, from its audio port
  to the duty phone's media port and back), the slips the box's jitter buffer logged (with
  the drift it works out), the slips each listener heard (clicks not a second apart), the
  loopback line's own underruns, and the box's memory, descriptors and threads.
- lines 2-4: `--calls` calls back to back, every branch of the menu in turn (bridged to a
  duty phone, voicemail ended by # or by hanging up, complaint, urgent ring-all, referral,
  case status, invalid key, repeat, hanging up in the greeting). Every 50 calls: the box's
  RSS, open file descriptors, threads and what its media core holds (state.json's census:
  bridge ports, pjsua2 objects kept, recorder ports).

At the end: the delay's range over the hour, the slips, each resource's slope per 1000
calls and per hour (least squares after the first 100 calls, the warm-up), every call's
record (none may carry an error), and the verdict. JSON in DIR/soak.json.
"""

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from . import bare
from . import bench
from .bench import Line, PERIOD_S, PERIOD_SAMPLES, cpu_seconds, duty_clicks
from .probe import clicks, hearing
from .probe.rig import Rig
from .probe.scenarios import CALLER_TONE, DUTY_TONE
from .wait import async_wait_until

SAMPLE_EVERY_CALLS = 50
WARM_UP_CALLS = 100


def sampling(calls):
    """(sample every, warm-up) in calls: 50 and 100 for the thousand; a short soak samples
    ten times and leaves out its first fifth."""
    if calls >= 10 * SAMPLE_EVERY_CALLS:
        return SAMPLE_EVERY_CALLS, WARM_UP_CALLS
    return max(1, calls // 10), calls // 5
DUTY = [f"1390000000{k}" for k in range(1, 5)]
MEDIATORS = ["13900000011", "13900000012"]


class _Discard:
    """A listener that keeps nothing: an hour of what the caller heard is not needed (the
    clicks are noted as they come)."""

    def feed(self, pcm):
        pass

    def __len__(self):
        return 0

    def recording(self):
        import numpy as np
        return np.zeros(0, dtype=np.int16)


def resources(pid, state):
    out = {"t": time.monotonic(), "rss_mb": bare.memory_mb(pid).get("rss"),
           "fds": len(os.listdir(f"/proc/{pid}/fd")),
           "threads": len(os.listdir(f"/proc/{pid}/task")), "cpu_s": cpu_seconds(pid)}
    try:
        facts = json.loads((state / "spool" / "state.json").read_text()).get("facts", {})
        out.update({k: v for k, v in facts.get("media", {}).items()})
    except (OSError, ValueError):
        pass
    return out


def slope(xs, ys):
    """Least-squares slope of ys over xs (None for fewer than 3 points)."""
    points = [(x, y) for x, y in zip(xs, ys) if y is not None]
    if len(points) < 3:
        return None
    mx = statistics.mean(x for x, _ in points)
    my = statistics.mean(y for _, y in points)
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else None


# -- the calls of lines 2.. ---------------------------------------------------------------

async def _dial(rig, caller, line):
    await caller.call(rig.box_number_of(line))
    await caller.hear("greeting", 20)


async def _end(caller, timeout=30):
    try:
        await asyncio.wait_for(caller.ended.wait(), timeout)
    except asyncio.TimeoutError:
        await caller.hang_up()
        await caller.wait_ended(10)


async def bridged(rig, caller, line, key="1"):
    await _dial(rig, caller, line)
    await caller.press(key)
    caller.audio.speak(hearing.make_tone(CALLER_TONE, 1.0))
    try:        # every duty phone may be in another line's call: then the queue, or voicemail
        await caller.hear_tone(DUTY_TONE, 40, window=0.1)
        await asyncio.sleep(1.0)
    except AssertionError:
        pass
    caller.audio.quiet()
    await caller.hang_up()
    await caller.wait_ended(10)


async def urgent(rig, caller, line):
    await bridged(rig, caller, line, "3")


async def request_hash(rig, caller, line):
    await _dial(rig, caller, line)
    await caller.press("2")
    await caller.hear("record_request", 40)
    await caller.hear("beep", 20)
    caller.audio.speak(hearing.make_tone(CALLER_TONE, 1.0))
    await asyncio.sleep(1.5)
    caller.audio.quiet()
    await caller.press("#")
    await caller.hear("recorded", 20)
    await caller.hang_up()
    await caller.wait_ended(10)


async def complaint_hang_up(rig, caller, line):
    await _dial(rig, caller, line)
    await caller.press("5")
    await caller.hear("record_complaint", 40)
    await caller.hear("beep", 20)
    caller.audio.speak(hearing.make_tone(CALLER_TONE, 1.0))
    await asyncio.sleep(1.5)
    caller.audio.quiet()
    await caller.hang_up()
    await caller.wait_ended(10)


async def referral(rig, caller, line):
    await _dial(rig, caller, line)
    await caller.press("4")
    await caller.hear("referral_intro", 30)
    await caller.press("1")
    await caller.hear("referral_sent", 30)
    await _end(caller)


async def case_status(rig, caller, line):
    await _dial(rig, caller, line)
    await caller.press("9")
    await caller.hear("enter_case", 30)
    await caller.press("2601010001#")
    await asyncio.sleep(2.0)
    await caller.hang_up()
    await caller.wait_ended(10)


async def invalid_key(rig, caller, line):
    await _dial(rig, caller, line)
    await caller.press("8")
    await caller.hear("invalid_key", 20)
    await caller.hang_up()
    await caller.wait_ended(10)


async def repeat(rig, caller, line):
    await _dial(rig, caller, line)
    await caller.press("0")
    await asyncio.sleep(2.0)
    await caller.hang_up()
    await caller.wait_ended(10)


async def hang_up_in_greeting(rig, caller, line):
    await _dial(rig, caller, line)
    await caller.hang_up()
    await caller.wait_ended(10)


BRANCHES = [bridged, request_hash, hang_up_in_greeting, referral, complaint_hang_up,
            invalid_key, urgent, case_status, repeat]


async def call_record(rig, line, after, timeout=30):
    """The box's record of line `line`'s call (an outbox item after id `after`): once it is
    in, the box is done with the call and the line's next RING is a new call's. A caller who
    redials the instant it hangs up rings while the box still closes the call."""
    number = rig.box_number_of(line)

    def find():
        for item in rig.items("call", after=after):
            if item["record"].get("line") == number:
                return item
        return None
    return await async_wait_until(find, timeout, f"line {line}'s call record", interval=0.1)


async def calls_back_to_back(rig, callers, total, samples, box_pid, failures, done,
                             after=None):
    """`total` calls over the callers (lines 2..), each line taking the next branch in
    turn, each call after the box's record of the line's last one (as the bench's calls
    do); a resource sample every sampling(total)[0] calls. `after`: an asyncio.Event to
    wait for first (the long call bridged: its duty call is told by being the newest one
    the duty phone took, which another line's call ringing at the same moment would
    confuse)."""
    if after is not None:
        await after.wait()
    every = sampling(total)[0]
    counter = {"n": 0}
    rng = random.Random(19)

    async def line_loop(line, caller):
        k = rng.randrange(len(BRANCHES))
        while counter["n"] < total:
            counter["n"] += 1
            n = counter["n"]
            branch = BRANCHES[k % len(BRANCHES)]
            k += 1
            before = rig.last_id()
            try:
                await branch(rig, caller, line)
                await call_record(rig, line, before)
            except Exception as exc:  # noqa: BLE001 - counted, and the soak goes on
                failures.append({"call": n, "line": line, "branch": branch.__name__,
                                 "error": repr(exc)[:300]})
                try:
                    await caller.hang_up()
                    await caller.wait_ended(15)
                except Exception:  # noqa: BLE001
                    pass
            if n % every == 0:
                samples.append({"calls": n, **resources(box_pid, rig.dir)})
    await asyncio.gather(*(line_loop(line, caller) for line, caller in callers))
    done.set()


# -- the long call of line 1 --------------------------------------------------------------

def minute_figures(line, tap, since, until):
    """The box's part of the delay both ways over one minute, and the slips heard in it."""
    d_sent, d_heard, d_pos = duty_clicks(line.rig.dir / "duty-clicks.jsonl", line.duty_call)
    audio = line.caller.audio
    c_sent = list(audio.train.sent)
    into, out = tap["into_host"]["times"], tap["out_of_host"]["times"]

    def within(pairs):
        return [d for t, d in pairs if since <= t < until]
    up = within(clicks.delays(into, d_heard, PERIOD_S))
    down = within(clicks.delays(d_sent, out, PERIOD_S))
    up_total = within(clicks.delays(c_sent, d_heard, PERIOD_S))
    down_total = within(clicks.delays(d_sent, list(audio.clicks_heard.times), PERIOD_S))
    heard_c = [p for p, t in zip(audio.clicks_heard.positions, audio.clicks_heard.times)
               if since <= t < until]
    heard_d = [p for p, t in zip(d_pos, d_heard) if since <= t < until]
    return {"caller_to_duty_box_ms": bare.summary(up),
            "duty_to_caller_box_ms": bare.summary(down),
            "caller_to_duty_total_ms": bare.summary(up_total),
            "duty_to_caller_total_ms": bare.summary(down_total),
            "slips_caller_heard": len(clicks.slips(heard_c, PERIOD_SAMPLES)["slips"]),
            "slips_duty_heard": len(clicks.slips(heard_d, PERIOD_SAMPLES)["slips"])}


JB_LINE = re.compile(r"audio (\S+): jitter buffer (.*?); (\d+) dropped, (\d+) put in over "
                     r"(\d+) s(?:: the modem's clock ([+-]\d+) ppm)?")


LONG_CALL_LINE = "box-at"       # line 1's modem, as the box names its audio in the log


def box_slips(rig):
    """The box's jitter-buffer log lines: (device, what, dropped, put in, seconds, ppm or
    None)."""
    return [m.groups() for m in JB_LINE.finditer(rig.box_log())]


def on_line(slips, line=LONG_CALL_LINE):
    """Of box_slips, line `line`'s (its modem's link name)."""
    return [s for s in slips if Path(s[0]).name == line]


async def long_call(rig, caller, seconds, ppm, minutes, box_pid, calls_done, bridged=None):
    caller.audio.paced_by_reads = True
    for side in ("box", "caller"):
        rig.sim_request({"fault": "clock_skew", "side": side, "ppm": ppm}, line=1)
    line = Line(rig, 1, caller)
    await line.bridge()
    if bridged is not None:
        bridged.set()           # the other lines' calls may start now
    caller.audio.listener = _Discard()
    started = time.monotonic()
    flipped = False
    t = started
    while time.monotonic() - started < seconds:
        await asyncio.sleep(max(0.0, t + 60 - time.monotonic()))
        now = time.monotonic()
        if not flipped and now - started >= seconds / 2:
            for side in ("box", "caller"):
                rig.sim_request({"fault": "clock_skew", "side": side, "ppm": -ppm}, line=1)
            flipped = True
        tap = rig.sim_request({"markers": "read", "side": "box"}, line=1)
        figures = minute_figures(line, tap, t, now)
        figures.update({"minute": len(minutes) + 1, "skew_ppm": ppm if not flipped or
                        now - started < seconds / 2 + 1 else -ppm,
                        "long_call_jitter_slips_so_far": len(on_line(box_slips(rig))),
                        "loopback_line_underruns": tap["playout_underruns"],
                        "calls_done_on_other_lines": calls_done(),
                        **resources(box_pid, rig.dir)})
        minutes.append(figures)
        t = now
    tap = rig.sim_request({"markers": "off", "side": "box"}, line=1)
    caller.audio.quiet()
    await caller.hang_up()
    await caller.wait_ended(10)
    for side in ("box", "caller"):
        rig.sim_request({"fault": "clock_skew", "side": side, "ppm": 0}, line=1)
    return line, tap


def summarise(minutes, samples, failures, records, slips, seconds, ppm, calls_wanted):
    def spread(key):
        values = [m[key]["median"] for m in minutes if m.get(key)]
        return {"min": min(values), "max": max(values), "minutes": len(values)} \
            if values else None
    warm = [s for s in samples if s["calls"] > sampling(calls_wanted)[1]]
    per_1000 = {key: (lambda v: None if v is None else round(v * 1000, 3))(
        slope([s["calls"] for s in warm], [s.get(key) for s in warm]))
        for key in ("rss_mb", "fds", "threads", "bridge_ports", "objects", "record_ports")}
    per_hour = {key: (lambda v: None if v is None else round(v * 3600, 3))(
        slope([m["t"] for m in minutes[5:]], [m.get(key) for m in minutes[5:]]))
        for key in ("rss_mb", "fds", "threads")}
    errors = [r for r in records if r.get("error") or r.get("error_at")]
    long = on_line(slips)
    # the box logs the drift over the call so far: after the skew turns at half time it
    # heads back toward 0, so the figure at the turn and at the end
    drift = [(int(s[4]), int(s[5])) for s in long if s[5] is not None]
    at_turn = [d for t, d in drift if t <= seconds / 2 + 60]
    return {
        "hour_call": {
            "seconds": seconds, "skew_ppm": [ppm, -ppm],
            "box_part_delay_range_ms": {"caller_to_duty": spread("caller_to_duty_box_ms"),
                                        "duty_to_caller": spread("duty_to_caller_box_ms")},
            "total_delay_range_ms": {"caller_to_duty": spread("caller_to_duty_total_ms"),
                                     "duty_to_caller": spread("duty_to_caller_total_ms")},
            "box_jitter_buffer_slips": {"long_call": len(long),
                                        "other_lines": len(slips) - len(long)},
            "long_call_frames_dropped_put_in": [int(long[-1][2]), int(long[-1][3])]
            if long else None,
            "box_drift_ppm_logged": {"at_the_turn": at_turn[-1] if at_turn else None,
                                     "at_the_end": drift[-1][1] if drift else None},
            "slips_heard": {"caller": sum(m["slips_caller_heard"] for m in minutes),
                            "duty": sum(m["slips_duty_heard"] for m in minutes)},
            "rss_mb_range": [min(m["rss_mb"] for m in minutes), max(m["rss_mb"] for m in
                                                                   minutes)] if minutes else None,
            "per_hour_slope": per_hour},
        "calls": {"wanted": calls_wanted, "made": samples[-1]["calls"] if samples else 0,
                  "records": len(records), "records_with_error": len(errors),
                  "failed": len(failures), "per_1000_calls_slope": per_1000,
                  "first_sample": samples[0] if samples else None,
                  "last_sample": samples[-1] if samples else None},
    }


def call_records(rig):
    """Every call record the upstream received (the receiver's files)."""
    out = []
    for path in rig.upstream_dir.rglob("record.json"):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if record.get("kind", "call") == "call" and "menu_path" in record:
            out.append(record)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=4)
    parser.add_argument("--ppm", type=float, default=100.0)
    parser.add_argument("--state-dir")
    args = parser.parse_args(argv)
    state = Path(args.state_dir or tempfile.mkdtemp(prefix="lawline-soak-"))
    state.mkdir(parents=True, exist_ok=True)
    bench.compile_ahead()
    load = os.getloadavg()
    rig = Rig(state, duty_behaviour="accept", lines=args.lines)
    rig.duty_args = ["--clicks", str(state / "duty-clicks.jsonl")]
    rig.box_options.update({
        "duty": {"numbers": DUTY, "mediators": MEDIATORS},
        "limits": {"max_call_seconds": args.seconds + 600, "cases_per_number_per_day": 100000,
                   "sms_per_number_per_day": 100000, "ring_alls_per_number_per_day": 100000,
                   "sms_per_hour": 100000, "status_tries_per_number_per_day": 100000},
        "referral": [{"name": "县劳动保障监察大队", "phone": "07731234567",
                      "address": "县府路1号", "hours": "周一至周五 9:00-17:00"}],
    })
    minutes, samples, failures = [], [], []

    async def run():
        callers = [await rig.start_caller(k) for k in range(1, args.lines + 1)]
        box = rig.procs["box"].pid
        samples.append({"calls": 0, **resources(box, rig.dir)})
        done, bridged = asyncio.Event(), asyncio.Event()
        try:
            calls = asyncio.ensure_future(calls_back_to_back(
                rig, list(enumerate(callers, 1))[1:], args.calls, samples, box, failures,
                done, after=bridged))
            line, tap = await long_call(rig, callers[0], args.seconds, args.ppm, minutes, box,
                                        lambda: samples[-1]["calls"], bridged)
            await calls
        finally:
            for caller in callers:
                await caller.close()
        return tap

    try:
        rig.start()
        tap = asyncio.run(run())
        slips = box_slips(rig)
        alive = rig.procs["box"].alive()
        time.sleep(5)   # the last records reach the receiver
        records = call_records(rig)
    finally:
        codes = rig.stop()
    result = summarise(minutes, samples, failures, records, slips, args.seconds, args.ppm,
                       args.calls)
    result.update({"load_average_at_start": [round(x, 2) for x in load],
                   "box_alive_to_the_end": alive, "box_exit": codes.get("box"),
                   "loopback_line": {k: tap[k] for k in ("playout_underruns",
                                                         "uplink_dropped_bytes",
                                                         "skipped_frames")},
                   "failures": failures, "minutes": minutes, "samples": samples})
    text = json.dumps(result, indent=2)
    (state / "soak.json").write_text(text)
    hour, calls = result["hour_call"], result["calls"]
    print(f"soak: {hour['seconds']:.0f} s bridged call at {args.ppm:+g} then {-args.ppm:+g} "
          f"ppm: the box's part of the delay caller->duty "
          f"{hour['box_part_delay_range_ms']['caller_to_duty']} ms, duty->caller "
          f"{hour['box_part_delay_range_ms']['duty_to_caller']} ms (per-minute medians); "
          f"jitter-buffer slips logged {hour['box_jitter_buffer_slips']} (the long call's "
          f"drift over the call so far, ppm: {hour['box_drift_ppm_logged']}), heard "
          f"{hour['slips_heard']}")
    print(f"soak: {calls['made']} calls, {calls['records']} records, "
          f"{calls['records_with_error']} with an error, {calls['failed']} failed; slope per "
          f"1000 calls {calls['per_1000_calls_slope']}")
    print(f"soak: everything in {state / 'soak.json'}")
    ok = alive and not failures and not calls["records_with_error"] and \
        calls["made"] >= args.calls
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
