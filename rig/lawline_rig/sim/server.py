"""Run the loopback line: per line a box modem and a caller modem on ptys (`--lines N`), the
control socket, and sim.json.

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
from .sms import national
from .wire import WireLog

log = logging.getLogger("lawline_rig.sim")

AT_OUT_LIMIT = 64 * 1024
# sockaddr_un.sun_path is 108 bytes on Linux, including the final NUL.
MAX_SOCKET_PATH = 107


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

    def drop(self, side, kinds):
        """The side's `kinds` ports went away: their links go with them, as udev removes
        /dev/lawline-at when the modem leaves the bus. A link left pointing at a closed
        /dev/pts/N would lead the box to whatever the kernel hands that number to next
        (another program's pty)."""
        for kind in kinds:
            _remove(self.path(side, kind))

    def remove(self):
        for side, kinds in self.ports.items():
            self.drop(side, kinds)


def _ports_changed(ready, state, ports, links, entries):
    """A port came back under a new name: move the links, rewrite sim.json."""
    links.update()
    for side, kinds in ports.items():
        for kind, port in kinds.items():
            entries[side][kind] = port.path
    _write_atomically(ready, state)


def side_name(role, line_no):
    """The modem's name in logs, the wire log and the links: box and caller on line 1, box2 and
    caller2 on line 2..."""
    return role if line_no == 1 else f"{role}{line_no}"


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


async def serve(state_dir, plan, ring_interval):
    """Run the loopback line. `plan`: one (profile, box number, caller number) per line."""
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
    ports, modems, side_profiles = {}, {}, {}   # by side name: box, caller, box2, caller2...
    line_modems = []                            # per line: {"box": modem, "caller": modem}
    cards = []
    for line_no, (profile, box_number, caller_number) in enumerate(plan, 1):
        pair = {}
        for role, p, number in (("box", profile, box_number),
                                ("caller", profiles.get(profile.caller_profile or profile.name),
                                 caller_number)):
            side = side_name(role, line_no)
            side_profiles[side] = p
            at = PtyPort(side, "AT", AT_OUT_LIMIT)
            if p.family == "v253":
                # One serial port for AT and audio (modems.md 4.3): the samples flow on the AT port.
                ports[side] = {"at": at, "audio": at}
            else:
                # Two frames of room: a frame is delivered whole or not at all.
                ports[side] = {"at": at, "audio": PtyPort(side, "audio", 2 * p.frame_bytes)}
            modem = modems[side] = modem_class(p)(side, number, p, at, wire, role=role,
                                                  line_no=line_no)
            modem.pcm = modem.make_pcm(ports[side]["audio"])
            pair[role] = modem
        if profile.uac:
            from .uac import UacCard
            card = UacCard(pair["box"], state_dir, profile)
            card.create()
            pair["box"].uac = card
            cards.append(card)
        line_modems.append(pair)
    if len(cards) > 1:
        from .uac import write_config
        write_config(cards)

    gone = {}

    def renew_ports(side, phase, kinds=("at", "audio")):
        """USB re-enumeration: the side's ptys vanish ("close"), then come back under new
        names ("open"); the links and sim.json follow. `kinds` ("audio" alone): only the
        audio port goes and comes back (a GSM side: its AT port stays as it is)."""
        if phase == "close":
            going = {ports[side][kind] for kind in kinds}
            gone[side] = gone.get(side, set()) | {port.path for port in going}
            if links is not None:
                links.drop(side, kinds)
            for port in going:
                port.close()
            return
        p, modem = side_profiles[side], modems[side]
        if tuple(kinds) == ("audio",) and ports[side]["audio"] is not ports[side]["at"]:
            spare, audio = [], PtyPort(side, "audio", 2 * p.frame_bytes)
            while audio.path in gone.get(side, ()):
                spare.append(audio)
                audio = PtyPort(side, "audio", 2 * p.frame_bytes)
            for extra in spare:
                extra.close()
            ports[side]["audio"] = audio
            modem.pcm.port = audio
            audio.start(loop, modem.pcm._from_host)
            if links is not None:
                _ports_changed(ready, state, ports, links, entries)
            log.info("sim %s: audio port back as %s", side, audio.path)
            return

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
            _ports_changed(ready, state, ports, links, entries)
        log.info("sim %s: ports back as AT %s, audio %s", side, at.path, audio.path)

    for side, modem in modems.items():
        modem.renew_ports = lambda phase, kinds=("at", "audio"), side=side: \
            renew_ports(side, phase, kinds)
    # The network's timings are line 1's box profile's (the profiles share them today).
    line = Line(loop, plan[0][0], modems.values(), ring_interval)
    for pair in line_modems:
        line.join_audio(pair["box"], pair["caller"])  # until someone dials someone else
    control = ControlServer(sock, line_modems, line)
    links = state = None
    entries = {}  # side -> its dict in sim.json (line 1's is both "box" and lines[0]["box"])
    tasks = []
    stop = asyncio.Event()
    try:
        for card in cards:
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
        described = []
        for line_no, pair in enumerate(line_modems, 1):
            one = {"line": line_no, "profile": pair["box"].profile.name}
            for role, modem in pair.items():
                side = modem.side
                entries[side] = one[role] = {
                    "at": ports[side]["at"].path, "audio": ports[side]["audio"].path,
                    "at_link": links.path(side, "at"), "audio_link": links.path(side, "audio"),
                    "number": modem.number, "profile": modem.profile.name,
                    "driver_profile": modem.profile.driver_profile}
                card = getattr(modem, "uac", None)
                if card is not None:
                    one[role].update({"sound_device": card.name, "alsa_config": card.config})
            described.append(one)
        state = {
            "profile": plan[0][0].name,
            "pid": os.getpid(),
            "box": described[0]["box"],
            "caller": described[0]["caller"],
            "control": sock,
            "lines": described,
        }
        control.on_ports_changed = lambda: _ports_changed(ready, state, ports, links, entries)
        _write_atomically(ready, state)
        for side, modem in modems.items():
            log.info("sim %s: line %d %s ready as %s; AT %s, audio %s", side, modem.line_no,
                     modem.profile.name, modem.number, ports[side]["at"].path,
                     ports[side]["audio"].path)
        log.info("sim: %s loopback line ready (%d line%s); control socket %s",
                 ",".join(p.name for p, _b, _c in plan), len(plan), "" if len(plan) == 1 else "s",
                 sock)
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
        for card in cards:
            card.close()
        for kinds in ports.values():
            for port in set(kinds.values()):
                port.close()
        wire.close()
        _remove(sock)
        if links is not None:
            links.remove()
    return 0


MAX_LINES = 8


def _numbers(given, count, what):
    """`count` numbers from `given`: a comma-separated list of exactly `count`, or one number
    that the further lines count up from (07730148, 07730149...)."""
    listed = [n.strip() for n in str(given).split(",")]
    if len(listed) == count:
        return listed
    if len(listed) != 1:
        raise ValueError(f"{what}: {len(listed)} numbers for {count} lines; give one (the "
                         f"others count up from it) or one per line")
    base = listed[0]
    plus, digits = ("+", base[1:]) if base.startswith("+") else ("", base)
    if not digits.isdigit():
        raise ValueError(f"{what}: {base!r} is not a phone number")
    return [plus + str(int(digits) + k).zfill(len(digits)) for k in range(count)]


def line_plan(profile="simcom-sim7600", lines=None, box_number="07730148",
              caller_number="13800138000"):
    """One (Profile, box number, caller number) per line. `profile`: one name for every line
    or "a,b,..." (one per line); `lines`: how many (default: as many as profiles named).
    ValueError or KeyError (naming the known profiles) if it does not add up."""
    names = [n.strip() for n in profile.split(",")] if isinstance(profile, str) else list(profile)
    chosen = [profiles.get(n) for n in names]
    count = len(chosen) if lines is None else lines
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_LINES:
        raise ValueError(f"--lines must be a whole number from 1 to {MAX_LINES}, not {lines!r}")
    if len(chosen) == 1:
        chosen *= count
    elif len(chosen) != count:
        raise ValueError(f"--profile names {len(chosen)} profiles for --lines {count}; name one "
                         f"(every line) or one per line")
    boxes = _numbers(box_number, count, "--box-number")
    callers = _numbers(caller_number, count, "--caller-number")
    seen = {}
    for number, who in [(n, f"line {k + 1}'s box") for k, n in enumerate(boxes)] + \
                       [(n, f"line {k + 1}'s caller") for k, n in enumerate(callers)]:
        key = national(number)
        if key in seen:
            raise ValueError(f"{seen[key]} and {who} need different numbers, both are {number!r}")
        seen[key] = who
    return list(zip(chosen, boxes, callers))


def run(state_dir, profile="simcom-sim7600", box_number="07730148", caller_number="13800138000",
        ring_interval=2.0, lines=None):
    """Run the loopback line until SIGTERM or SIGINT; return the exit code. `profile` may
    name one profile per line ("simcom-sim7600,v253"); see line_plan."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        plan = line_plan(profile, lines, box_number, caller_number)
    except KeyError as exc:
        log.error("sim: %s", exc.args[0])
        return 2
    except ValueError as exc:
        log.error("sim: %s", exc)
        return 2
    if not ring_interval > 0:
        log.error("sim: ring interval must be above 0 seconds, not %r", ring_interval)
        return 2
    return asyncio.run(serve(state_dir, plan, float(ring_interval)))
