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
from .control import ControlServer
from .line import Line
from .modem import SimModem
from .ports import PtyPort
from .wire import WireLog

log = logging.getLogger("lawline_rig.sim")

SIDES = ("box", "caller")
AT_OUT_LIMIT = 64 * 1024
# sockaddr_un.sun_path is 108 bytes on Linux, including the final NUL.
MAX_SOCKET_PATH = 107


class FarSide:
    """What the far end hears of a side that has two audio paths (serial PCM and USB sound
    card): whichever is on."""

    def __init__(self, pcm, card):
        self.pcm, self.card = pcm, card

    @property
    def on(self):
        return self.card.on or self.pcm.on

    @property
    def uplink(self):
        return self.card.uplink if self.card.on else self.pcm.uplink


def modem_class(profile):
    """The simulator class that speaks `profile`'s model."""
    if profile.family == "quectel":
        from .quectel import QuectelModem
        return QuectelModem
    if profile.family == "v253":
        from .v253 import V253SimModem
        return V253SimModem
    return SimModem


class PortLinks:
    """Stable names for the ptys, DIR/box-at -> /dev/pts/N: what udev's /dev/lawline-at is on
    the box (board/99-lawline-modem.rules). A re-enumerated port gets a new pts; the link
    follows it."""

    def __init__(self, state_dir, ports):
        self.dir = os.path.abspath(state_dir)
        self.ports = ports

    def path(self, side, kind):
        return os.path.join(self.dir, f"{side}-{kind}")

    def update(self):
        for side, kinds in self.ports.items():
            for kind, port in kinds.items():
                link = self.path(side, kind)
                tmp = f"{link}.tmp{os.getpid()}"
                _remove(tmp)
                os.symlink(port.path, tmp)
                os.replace(tmp, link)

    def remove(self):
        for side, kinds in self.ports.items():
            for kind in kinds:
                _remove(self.path(side, kind))


def _ports_changed(ready, state, ports, links):
    """A port came back under a new name: move the links, rewrite sim.json."""
    links.update()
    for side, kinds in ports.items():
        for kind, port in kinds.items():
            state[side][kind] = port.path
    _write_atomically(ready, state)


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
    side_profiles = {"box": profile,
                     "caller": profiles.get(profile.caller_profile or profile.name)}
    ports, modems = {}, {}
    for side in SIDES:
        p = side_profiles[side]
        at = PtyPort(side, "AT", AT_OUT_LIMIT)
        if p.family == "v253":
            # One serial port for AT and audio (modems.md 4.3): the samples flow on the AT port.
            ports[side] = {"at": at, "audio": at}
        else:
            # Two frames of room: a frame is delivered whole or not at all.
            ports[side] = {"at": at, "audio": PtyPort(side, "audio", 2 * p.frame_bytes)}
        modems[side] = modem_class(p)(side, numbers[side], p, at, wire)
        modems[side].pcm = modems[side].make_pcm(ports[side]["audio"])
    modems["box"].pcm.far = modems["caller"].pcm
    modems["caller"].pcm.far = modems["box"].pcm
    card = None
    if profile.uac:
        from .uac import UacCard, PCM_NAME
        card = UacCard(modems["box"], state_dir, profile)
        card.create()
        card.far = modems["caller"].pcm
        modems["box"].uac = card
        modems["caller"].pcm.far = FarSide(modems["box"].pcm, card)

    gone = {}

    def renew_ports(side, phase):
        """USB re-enumeration: the side's ptys vanish ("close"), then come back under new
        names ("open"); the links and sim.json follow."""
        if phase == "close":
            gone[side] = {port.path for port in ports[side].values()}
            for port in set(ports[side].values()):
                port.close()
            return
        p, modem = side_profiles[side], modems[side]

        def fresh(kind, limit):
            # The kernel would not hand out the old name again (the box may still hold it):
            # never reuse a gone pty's name.
            spare, port = [], PtyPort(side, kind, limit)
            while port.path in gone.get(side, ()):
                spare.append(port)
                port = PtyPort(side, kind, limit)
            for extra in spare:
                extra.close()
            return port
        at = fresh("AT", AT_OUT_LIMIT)
        audio = at if p.family == "v253" else fresh("audio", 2 * p.frame_bytes)
        ports[side] = {"at": at, "audio": audio}
        modem.port = at
        at.start(loop, modem.feed)
        modem.pcm.port = audio
        if audio is not at:
            audio.start(loop, modem.pcm._from_host)
        if links is not None:
            _ports_changed(ready, state, ports, links)
        log.info("sim %s: ports back as AT %s, audio %s", side, at.path, audio.path)

    for side, modem in modems.items():
        modem.renew_ports = lambda phase, side=side: renew_ports(side, phase)
    line = Line(loop, profile, modems.values(), ring_interval)
    control = ControlServer(sock, modems, line)
    links = state = None
    tasks = []
    stop = asyncio.Event()
    try:
        if card is not None:
            card.start(loop)
        for modem in modems.values():
            modem.attach(loop)
            if modem.pcm.port is not modem.port:
                modem.pcm.attach(loop)
            tasks.append(loop.create_task(modem.serve()))
        await control.start()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (ValueError, RuntimeError):  # not the main thread: the caller stops us
                pass
        links = PortLinks(state_dir, ports)
        links.update()
        state = {
            "profile": profile.name,
            "pid": os.getpid(),
            **{side: {"at": ports[side]["at"].path, "audio": ports[side]["audio"].path,
                      "at_link": links.path(side, "at"), "audio_link": links.path(side, "audio"),
                      "number": numbers[side], "profile": side_profiles[side].name,
                      "driver_profile": side_profiles[side].driver_profile}
               for side in SIDES},
            "control": sock,
        }
        if card is not None:
            state["box"].update({"sound_device": PCM_NAME, "alsa_config": card.config})
        control.on_ports_changed = lambda: _ports_changed(ready, state, ports, links)
        _write_atomically(ready, state)
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
        if card is not None:
            card.close()
        for kinds in ports.values():
            for port in set(kinds.values()):
                port.close()
        wire.close()
        _remove(sock)
        if links is not None:
            links.remove()
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
