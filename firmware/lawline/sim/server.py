"""Run the loopback line: four ptys, two simulated modems, the control socket, and sim.json.

sim.json is written last and atomically, so its existence means every port is ready; it is
removed first on the way out.
"""

import asyncio
import json
import logging
import os
import signal

from . import profiles
from .audio import PcmStream
from .control import ControlServer
from .line import Line
from .modem import SimModem
from .ports import PtyPort
from .wire import WireLog

log = logging.getLogger("lawline.sim")

SIDES = ("box", "caller")
AT_OUT_LIMIT = 64 * 1024
# sockaddr_un.sun_path is 108 bytes on Linux, including the final NUL.
MAX_SOCKET_PATH = 107


def _write_atomically(path, data):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


async def serve(state_dir, profile, numbers, ring_interval):
    loop = asyncio.get_running_loop()
    os.makedirs(state_dir, exist_ok=True)
    ready = os.path.join(state_dir, "sim.json")
    sock = os.path.join(os.path.abspath(state_dir), "control.sock")
    if len(sock.encode()) > MAX_SOCKET_PATH:
        log.error("sim: state dir %s is too long for a unix socket path (%s); choose a shorter one",
                  state_dir, sock)
        return 2
    _remove(ready)  # a client waiting for readiness must not see a previous run's file
    _remove(sock)

    wire = WireLog(os.path.join(state_dir, "wire.log"))
    ports = {side: {"at": PtyPort(side, "AT", AT_OUT_LIMIT),
                    # Two frames of room: a frame is delivered whole or not at all.
                    "audio": PtyPort(side, "audio", 2 * profile.frame_bytes)}
             for side in SIDES}
    modems = {side: SimModem(side, numbers[side], profile, ports[side]["at"], wire) for side in SIDES}
    for side in SIDES:
        modems[side].pcm = PcmStream(side, ports[side]["audio"], profile)
    modems["box"].pcm.far = modems["caller"].pcm
    modems["caller"].pcm.far = modems["box"].pcm
    line = Line(loop, profile, modems.values(), ring_interval)
    control = ControlServer(sock, modems, line)
    tasks = []
    stop = asyncio.Event()
    try:
        for modem in modems.values():
            modem.attach(loop)
            modem.pcm.attach(loop)
            tasks.append(loop.create_task(modem.serve()))
        await control.start()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (ValueError, RuntimeError):  # not the main thread: the caller stops us
                pass
        _write_atomically(ready, {
            "profile": profile.name,
            "pid": os.getpid(),
            **{side: {"at": ports[side]["at"].path, "audio": ports[side]["audio"].path,
                      "number": numbers[side]} for side in SIDES},
            "control": sock,
        })
        for side in SIDES:
            log.info("sim %s: ready as %s; AT %s, audio %s", side, numbers[side],
                     ports[side]["at"].path, ports[side]["audio"].path)
        log.info("sim: %s loopback line ready; control socket %s", profile.name, sock)
        await stop.wait()
        log.info("sim: stopping")
    finally:
        _remove(ready)
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.remove_signal_handler(sig)
            except (ValueError, RuntimeError):
                pass
        await control.close()
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        for modem in modems.values():
            modem.pcm.stop()
        for kinds in ports.values():
            for port in kinds.values():
                port.close()
        wire.close()
        _remove(sock)
    return 0


def run(state_dir, profile="simcom-sim7600", box_number="07730148", caller_number="13800138000",
        ring_interval=2.0):
    """Run the loopback line until SIGTERM or SIGINT; return the exit code."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        chosen = profiles.get(profile)
    except KeyError as exc:
        log.error("sim: %s", exc.args[0])
        return 2
    if not ring_interval > 0:
        log.error("sim: ring interval must be above 0 seconds, not %r", ring_interval)
        return 2
    if box_number == caller_number:
        log.error("sim: box and caller need different numbers, both are %r", box_number)
        return 2
    numbers = {"box": box_number, "caller": caller_number}
    return asyncio.run(serve(state_dir, chosen, numbers, float(ring_interval)))
