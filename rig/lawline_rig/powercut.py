"""How much of a voicemail a power cut loses: figures, not pass/fail (`make bench`).

    python -m lawline_rig.powercut [--trials N] [--state-dir DIR]

1. Buffers (one process, pjsua2 alone): a Python port sends numbered frames into the bridge,
   recorded at once by pjsua2's `AudioMediaRecorder` and by the box's `RecordPort`
   (sip/endpoint.py); every 2 ms a sampler compares what the bridge has handed over with
   what each file holds on disk. The largest difference is what a kill at the worst instant
   loses from that recorder's own buffering.
2. The kill harness, on the box: the caller leaves a voicemail (key 2) speaking a click
   train (probe/clicks.py); at a random instant 1.5-5 s into it the box is SIGKILLed (a
   power cut, as the process sees it; the page cache survives a kill, and what RecordPort
   wrote it has also fdatasync()ed). The speech on the line before the kill is what the
   loopback line wrote to the box's audio port until then (its click times); the audio on
   disk is the recording, its header mended as the box's start-up mends it
   (sync/wavfile.repair_wav). The loss is the line time the kill came at less the line time
   of the recording's last sample (found through its last click). The box's jitter buffer
   (two frames) is in it: it is the box's.
"""

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .bare import summary
from .probe import clicks, hearing
from .probe.rig import Rig
from .probe.scenarios import CALLER_TONE

FRAME = 320


# -- 1. the recorders' own buffers --------------------------------------------------------

def buffers_child(out_dir, seconds):
    import pjsua2 as pj
    from lawline.sip.endpoint import MediaCore, RecordPort, stdout_to_stderr

    core = MediaCore(port=0)
    stdout_to_stderr(core.start)
    handed = [0]

    class Source(pj.AudioMediaPort):
        def onFrameRequested(self, frame):
            try:
                n = handed[0]
                frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
                frame.buf = pj.ByteVector((n & 0x7FFF).to_bytes(2, "little") * 160)
                frame.size = FRAME
                handed[0] = n + 1
            except Exception:       # noqa: BLE001
                pass

    source = Source()
    source.createPort("source", MediaCore.FORMAT())
    pj_path = os.path.join(out_dir, "pjsua2.wav")
    py_path = os.path.join(out_dir, "recordport.wav")
    recorder = pj.AudioMediaRecorder()
    recorder.createRecorder(pj_path)
    port = RecordPort("bench")
    port.open(py_path)
    held = {"pjsua2": [], "recordport": []}
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            sent = handed[0]
            for name, path in (("pjsua2", pj_path), ("recordport", py_path)):
                on_disk = max(0, os.path.getsize(path) - 44) // FRAME
                held[name].append(sent - on_disk)
            time.sleep(0.002)
    source.startTransmit(recorder)
    source.startTransmit(port)
    first = handed[0]
    sampler = threading.Thread(target=sample, daemon=True)
    deadline = time.monotonic() + seconds
    sampler.start()
    while time.monotonic() < deadline:
        core.handle_events()
        time.sleep(0.02)
    stop.set()
    sampler.join()
    source.stopTransmit(recorder)
    source.stopTransmit(port)
    port.close()
    del recorder
    core.ep.audDevManager().setNoDev()
    del source
    core._record_ports.clear()
    del port
    result = {name: {"max_s": round(max(v) * 0.02, 3),
                     "median_s": round(statistics.median(v) * 0.02, 3),
                     "samples": len(v)} for name, v in held.items()}
    result["frames"] = handed[0] - first
    # flushed here: os._exit skips it, and a pipe without PYTHONUNBUFFERED holds the line
    print(json.dumps(result), flush=True)
    os._exit(0)     # the bench is done; the endpoint's teardown is not what it measures


def buffers(out_dir, seconds=5.0):
    out = subprocess.run([sys.executable, "-m", "lawline_rig.powercut", "--buffers-child",
                          out_dir, "--seconds", str(seconds)], capture_output=True,
                         text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"powercut buffers failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- 2. the kill harness ------------------------------------------------------------------

async def one_kill(rig, rng):
    caller = rig.caller
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    await caller.press("2")
    await caller.hear("record_request", 40)
    rig.sim_request({"markers": "on", "side": "box"})
    await caller.hear("beep", 20)
    caller.audio.speak_clicks(clicks.ClickTrain(tone_hz=CALLER_TONE))
    await asyncio.sleep(rng.uniform(1.5, 5.0))
    box = rig.procs["box"]
    os.kill(box.pid, signal.SIGKILL)
    killed = time.monotonic()
    box.proc.wait(10)
    caller.audio.quiet()
    tap = rig.sim_request({"markers": "off", "side": "box"})
    wavs = sorted((rig.spool_dir / "incoming").glob("*.wav"), key=lambda p: p.stat().st_mtime)
    if not wavs:
        return {"error": "no recording on disk"}
    wav = wavs[-1]
    from lawline.sync.wavfile import repair_wav
    repair_wav(wav)         # as the box's start-up does
    pcm = hearing.load_wav(wav)
    on_disk = _click_positions(pcm)
    line = [t for t in tap["into_host"]["times"] if t <= killed]
    result = {"wav": wav.name, "seconds_on_disk": round(len(pcm) / 8000, 3),
              "clicks_on_disk": len(on_disk), "killed_after_last_line_click_s":
              round(killed - line[-1], 3) if line else None}
    if not on_disk or not line:
        result["error"] = "no click on disk or on the line"
        return result
    # What is on disk after its last click, as line time after that click. The click is the
    # line's last before the kill, unless that gives audio on disk from after the kill: then
    # the one a period earlier (the loss is under half a period, 0.5 s, or this misreads).
    tail = (len(pcm) - on_disk[-1]) / 8000
    lost = killed - line[-1] - tail
    if lost < 0 and len(line) > 1:
        lost = killed - line[-2] - tail
    result["lost_s"] = round(lost, 3)
    return result


def _click_positions(pcm):
    import numpy as np
    x = np.abs(hearing.samples(pcm).astype(np.int32))
    loud = np.flatnonzero(x >= clicks.CLICK_THRESHOLD)
    if len(loud) == 0:
        return []
    return [int(p) for p in loud[np.concatenate(([True], np.diff(loud) > 16))]]


def kill_harness(state, trials, seed=None):
    rng = random.Random(seed)
    rig = Rig(state, duty_behaviour="accept")
    rig.box_options["voicemail"] = {"max_seconds": 30.0}
    results = []

    async def run():
        await rig.start_caller(1)
        try:
            for n in range(trials):
                if n:
                    rig.start_box()
                results.append(await one_kill(rig, rng))
                await rig.caller.hang_up()
                await rig.caller.wait_ended(10)
        finally:
            await rig.caller.close()
    try:
        rig.start()
        asyncio.run(run())
    finally:
        rig.stop()
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--state-dir")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--buffers-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.buffers_child:
        buffers_child(args.buffers_child, args.seconds)
        return 0
    state = Path(args.state_dir or tempfile.mkdtemp(prefix="lawline-powercut-"))
    state.mkdir(parents=True, exist_ok=True)
    held = buffers(str(state), args.seconds)
    kills = kill_harness(state / "kills", args.trials, args.seed)
    lost = [k["lost_s"] for k in kills if "lost_s" in k]
    figures = {"recorder_buffer_s": held,
               "kills": kills,
               "lost_s": summary(lost, 1.0, 3),
               "failed_trials": sum("lost_s" not in k for k in kills)}
    text = json.dumps(figures, indent=2)
    (state / "powercut.json").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
