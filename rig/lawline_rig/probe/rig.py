"""The test rig: the loopback line (or real modems), the box, duty phones and an upstream,
each in its own process, as they run in the field. Used by `lawline demo`, the scenario
tests and the benchmarks, so all three exercise the same parts in the same way.

`Rigs` is the one factory the tests start rigs with (tests/conftest.py's `rigs` fixtures):
a whole box with its options, or the loopback line alone; it stops every rig it started and
says which box did not exit cleanly.
"""

import atexit
import json
import logging
import os
import signal
import socket
import sqlite3
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from lawline import config as configuration
from lawline.clock import Clock
from lawline.prompts import Prompts
from ..wait import async_wait_until, wait_until  # noqa: F401  (the rig's users import them here too)
from .caller import Caller

log = logging.getLogger("lawline.rig")


def free_port(kind=socket.SOCK_DGRAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_LIVE = set()


@atexit.register
def _stop_leftovers():
    """A test run or demo that ends without stopping its rig leaves no simulated line, box or
    duty phone behind. (PR_SET_PDEATHSIG is not used: it follows the thread that started the
    child, and rigs restart the box from worker threads.)"""
    for proc in list(_LIVE):
        if proc.poll() is None:
            proc.terminate()


class Process:
    def __init__(self, name, argv, state_dir, env=None):
        self.name = name
        self.log_path = Path(state_dir) / f"{name}.log"
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True, env=env)
        _LIVE.add(self.proc)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout=8):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("rig: %s did not stop on SIGTERM; killing it", self.name)
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode


def lawline_argv(*args):
    return [sys.executable, "-m", "lawline", *args]


class Rig:
    def __init__(self, state_dir, profile="simcom-sim7600", ports=None, box_options=None,
                 duty_behaviour="accept", ring_interval=1.0, lines=None, sim_args=()):
        """`profile`: one simulated model, or one per line ("simcom-sim7600,v253"); `lines`:
        how many lines the loopback line has (`lawline sim --lines`; default one, or one per
        profile named); `sim_args`: more options of `lawline sim` (--caller-number ...)."""
        self.dir = Path(state_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.profile = profile
        self.ports = ports              # real modems (hardware in loop): skip the simulator
        self.box_options = box_options or {}
        self.duty_behaviour = duty_behaviour
        self.ring_interval = ring_interval
        self.lines = lines
        self.sim_args = tuple(sim_args)
        self.procs = {}
        self.sim = None
        self.upstream_dir = self.dir / "upstream"
        self.spool_dir = self.dir / "spool"
        self.duty_port = free_port()
        self.box_sip_port = free_port()
        self.upstream_url = None
        self.config_path = self.dir / "lawline.toml"
        self.prompts = Prompts(configuration.REPO_PROMPTS / "zh-CN")
        self.caller = None
        self.callers = {}       # line number -> its Caller (line 1's is also self.caller)
        self.duty_calls = 0
        self.box_clock = None   # ISO local time the box's office clock starts at, or None
        self.duty_args = []     # more `lawline dutyphone` options (the benches: --clicks)
        self.box_env = {}       # more environment for the box's process (the benches)

    # -- parts ---------------------------------------------------------------------------

    def start_sim(self):
        if self.ports:
            self.sim = self.ports
            return
        self.procs["sim"] = Process("sim", lawline_argv(
            "sim", "--profile", self.profile, "--state-dir", str(self.dir),
            "--ring-interval", str(self.ring_interval),
            *(["--lines", str(self.lines)] if self.lines else []), *self.sim_args), self.dir)
        path = self.dir / "sim.json"
        wait_until(lambda: path.exists() or not self.procs["sim"].alive(), 15,
                   "the loopback line to start")
        if not path.exists():
            raise RuntimeError("the loopback line failed to start:\n" +
                               self.procs["sim"].log_text()[-2000:])
        self.sim = json.loads(path.read_text())

    def start_receiver(self):
        ready = self.dir / "receiver.url"
        ready.unlink(missing_ok=True)
        self.procs["receiver"] = Process("receiver", lawline_argv(
            "receiver", "--dir", str(self.upstream_dir), "--ready-file", str(ready)), self.dir)
        wait_until(lambda: ready.exists() or not self.procs["receiver"].alive(), 15,
                   "the upstream receiver to start")
        self.upstream_url = ready.read_text().strip()

    def start_dutyphone(self, behaviour=None):
        if "duty" in self.procs:
            self.procs.pop("duty").stop()
        behaviour = behaviour or self.duty_behaviour
        self.duty_behaviour = behaviour
        self.duty_generation = getattr(self, "duty_generation", 0) + 1
        gen = self.duty_generation
        ready = self.dir / f"duty-{gen}.ready"
        self.duty_record = self.dir / f"duty-{gen}.wav"
        self.duty_events = self.dir / f"duty-{gen}.events"
        # "no-answer,13900000009=accept": one phone, a person per number (the urgent ladder)
        default, *per_number = behaviour.split(",")
        self.procs["duty"] = Process(f"duty-{gen}", lawline_argv(
            "dutyphone", "--port", str(self.duty_port), "--behaviour", default,
            *[arg for spec in per_number for arg in ("--behaviour-of", spec)],
            "--record", str(self.duty_record), "--events", str(self.duty_events),
            "--ready-file", str(ready), *self.duty_args), self.dir)
        wait_until(lambda: ready.exists() or not self.procs["duty"].alive(), 15,
                   "the duty phone to start")
        if not ready.exists():
            raise RuntimeError("the duty phone failed to start:\n" +
                               self.procs["duty"].log_text()[-2000:])

    def box_config(self):
        box = self.sim["box"]
        values = {
            "office": {"id": "demo-county", "name": "演示县法律服务专线",
                       "number": box["number"]},
            # sim.json names the driver profile per side (a V.253 box is rung by a SIM7600);
            # the stable link (DIR/box-at) survives the simulated USB re-enumeration.
            "line": {"profile": box.get("driver_profile", self.profile),
                     "at_port": box.get("at_link", box["at"]),
                     "audio_port": box.get("audio_link", box["audio"]),
                     "audio_retry_delay": 0.3,
                     **({"audio_backend": "soundcard", "sound_device": box["sound_device"]}
                        if box.get("sound_device") else {})},
            "menu": {"key_timeout": 4.0, "max_tries": 3},
            # the menu at any hour; after-hours calls have their own tests (test_hotline.py)
            "hours": {"always_open": True},
            "duty": {"numbers": ["13900000001"], "ring_timeout": 8.0, "confirm_timeout": 6.0},
            "sip": {"bind": "127.0.0.1", "port": self.box_sip_port,
                    "uri_template": f"sip:{{number}}@127.0.0.1:{self.duty_port}"},
            "voicemail": {"max_seconds": 30.0},
            "spool": {"dir": str(self.spool_dir)},
            "upstream": {"url": self.upstream_url or ""},
        }
        if self.sim.get("lines") and len(self.sim["lines"]) > 1:
            # several lines: one [[line]] table per box modem (config.py), line 1's number
            # is [office] number
            values["line"] = [values["line"]] + [
                {**self.line_ports(k), "audio_retry_delay": 0.3, "number": self.box_number_of(k)}
                for k in range(2, len(self.sim["lines"]) + 1)]
        for section, options in self.box_options.items():
            if section == "line" and isinstance(options, list):
                # several lines: options per [[line]] table, line 1 first
                for table, extra in zip(values["line"], options):
                    table.update(extra)
            elif isinstance(options, list):   # [[referral]] tables
                values[section] = options
            else:
                values.setdefault(section, {}).update(options)
        return values

    def start_box(self):
        text = configuration.dump(self.box_config())
        self.config_path.write_text(text, encoding="utf-8")
        env = None
        alsa = next((self.line_info(k)["box"]["alsa_config"]
                     for k in range(1, self.line_count() + 1)
                     if self.line_info(k)["box"].get("alsa_config")), None)
        if alsa:
            # The simulated EC25 sound card is an ALSA PCM defined in the simulator's
            # asoundrc (sim/uac.py, one file for every line): the box's PortAudio must read it.
            env = dict(os.environ, ALSA_CONFIG_PATH="/usr/share/alsa/alsa.conf:" + alsa)
        if self.box_env:
            env = dict(env or os.environ, **self.box_env)
        argv = lawline_argv("-v", "run", "--config", str(self.config_path))
        if self.box_clock:   # office hours and rota on another day (probe/boxclock.py)
            argv[1:3] = ["-m", "lawline_rig.probe.boxclock", self.box_clock]
        log = Path(self.dir) / "box.log"
        before = len(log.read_text(errors="replace")) if log.exists() else 0
        self.procs["box"] = Process("box", argv, self.dir, env)
        # a restarted box appends to the same log: its own "ready on", not the last run's
        wait_until(lambda: "ready on" in self.procs["box"].log_text()[before:] or
                   not self.procs["box"].alive(), 30, "the box to start")
        if not self.procs["box"].alive():
            raise RuntimeError("the box failed to start:\n" +
                               self.procs["box"].log_text()[-3000:])

    def start(self, box=True, duty=True):
        self.start_sim()
        self.start_receiver()
        if duty:
            self.start_dutyphone()
        if box:
            self.start_box()
        return self

    def line_info(self, line=1):
        """sim.json's entry for line `line`: {"line", "profile", "box": {...}, "caller": {...}}
        (a sim.json from before several lines, or real modems: line 1 only)."""
        listed = self.sim.get("lines") or [{"line": 1, "profile": self.sim.get("profile"),
                                            "box": self.sim["box"], "caller": self.sim["caller"]}]
        if not 1 <= line <= len(listed):
            raise ValueError(f"the loopback line has {len(listed)} line(s), no line {line}")
        return listed[line - 1]

    def line_count(self):
        return len(self.sim.get("lines") or [None])

    def line_ports(self, line=1):
        """The box's [line] options for line `line`'s modem (profile, stable port links)."""
        box = self.line_info(line)["box"]
        return {"profile": box.get("driver_profile", self.profile.split(",")[0]),
                "at_port": box.get("at_link", box["at"]),
                "audio_port": box.get("audio_link", box["audio"]),
                **({"audio_backend": "soundcard", "sound_device": box["sound_device"]}
                   if box.get("sound_device") else {})}

    def sim_request(self, message, line=1):
        """One control request to the loopback line (sim/control.py); its reply, or
        RuntimeError with the simulator's reason."""
        from ..sim import control_request
        reply = control_request(self.dir, message, line=line)
        if not reply.get("ok"):
            raise RuntimeError(f"loopback line refused {message!r}: {reply.get('error')}")
        return reply

    def box_number_of(self, line=1):
        return self.line_info(line)["box"]["number"]

    async def start_caller(self, line=1):
        """Start the Caller on line `line`'s caller modem (each line has its own, so callers
        on different lines can call at once)."""
        caller = self.line_info(line)["caller"]
        started = Caller(caller["at"], caller["audio"], self.prompts,
                         caller.get("driver_profile", self.profile.split(",")[0]))
        await started.start()
        if not self.ports:          # the loopback line can tell when the box's line is free
            started.before_dial = lambda: self.box_line_free(line)
        self.callers[line] = started
        if line == 1:
            self.caller = started
        return started

    async def box_line_free(self, line=1, timeout=20):
        """Wait until line `line` has no call and its box modem is on-hook: a caller who
        redials at once must not ring into the box's hang-up of the last call (a V.253 box
        sends ATH after the caller is gone; an ATH that meets the next RING refuses it), and
        its module is not booting (a restarted box resets it: a dial meanwhile goes nowhere)."""
        from .. import sim

        def free():
            state = sim.status(self.dir, line=line)
            return state["call"] is None and not state["box"].get("off_hook") and \
                not state["box"].get("booting")
        await async_wait_until(free, timeout, f"line {line}'s box to hang up the last call")

    def stop(self):
        codes = {}
        for name in ("box", "duty", "receiver", "sim"):
            proc = self.procs.pop(name, None)
            if proc:
                codes[name] = proc.stop()
        return codes

    # -- the loopback line as the line tier reads it --------------------------------------

    def __getitem__(self, side):
        """sim.json's entry: `rig["box"]["at"]`, `rig["caller"]["number"]`."""
        return self.sim[side]

    @property
    def info(self):
        return self.sim

    def wire(self):
        """The simulator's wire log (`>>>`/`<<<` lines), or "" before it has one."""
        try:
            return (self.dir / "wire.log").read_text(errors="replace")
        except OSError:
            return ""

    def sim_log(self):
        return self.procs["sim"].log_text() if "sim" in self.procs else \
            (self.dir / "sim.log").read_text(errors="replace")

    # -- what happened -------------------------------------------------------------------

    @property
    def box_number(self):
        return self.sim["box"]["number"]

    def box_log(self):
        return self.procs["box"].log_text() if "box" in self.procs else \
            (self.dir / "box.log").read_text(errors="replace")

    def items(self, kind=None, after=0):
        """The outbox's items (of `kind`, with id > `after`), oldest first."""
        db = self.spool_dir / "outbox.db"
        if not db.exists():
            return []
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            rows = con.execute("SELECT id, key, kind, record_json, files_json FROM items "
                               "WHERE id > ? ORDER BY id", (after,)).fetchall()
        except sqlite3.OperationalError:
            return []
        finally:
            con.close()
        out = []
        for item_id, key, k, record, files in rows:
            if kind is None or k == kind:
                out.append({"id": item_id, "key": key, "kind": k,
                            "record": json.loads(record), "files": json.loads(files)})
        return out

    def deliveries(self):
        db = self.spool_dir / "outbox.db"
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT item_id, target, state, attempts, last_error "
                               "FROM deliveries").fetchall()
        finally:
            con.close()

    async def next_record(self, kind, after=0, timeout=30):
        """The first outbox item of `kind` with id > after, once the box commits it."""
        def find():
            for item in self.items(kind):
                if item["id"] > after:
                    return item
            return None
        return await async_wait_until(find, timeout, f"a {kind} record from the box")

    def last_id(self):
        items = self.items()
        return items[-1]["id"] if items else 0

    def upstream_path(self, key, name):
        # Upstream folders are by day: {office}/{YYYY-MM-DD}/{key}/{file} (sync/settings.py)
        # (the box's day is its office's, not this machine's: from 16:00 UTC it is the next
        # day in Asia/Shanghai)
        settings = self.box_config()["office"]
        office = self.upstream_dir / settings["id"]
        found = sorted(office.glob(f"*/{key}/{name}"))
        if found:
            return found[-1]
        return office / Clock(settings.get("timezone") or "Asia/Shanghai").day() / key / name

    def duty_events_list(self):
        try:
            return [json.loads(line) for line in self.duty_events.read_text().splitlines()
                    if line.strip()]
        except (OSError, ValueError):
            return []


class Rigs:
    """The one rig factory of the tests: `rig(...)` starts a whole box (loopback line, upstream
    receiver, duty phone, box) with the options given, `line(profile)` the loopback line alone
    (or the real modems of a hardware-in-loop rig). `close()` stops all of them, last started
    first, and fails naming each box (or line alone) that did not exit cleanly."""

    def __init__(self, root, hil=None):
        self.root = Path(root)
        self.hil = hil              # tests/conftest.py hil_ports: real modems, or None
        self.started = []

    def _dir(self, name):
        n = sum(1 for rig, _ in self.started if rig.dir.name.startswith(name))
        return self.root / (name if n == 0 else f"{name}-{n}")

    def rig(self, name="rig", *, cls=Rig, start=True, box=True, duty=True, hil=False, **options):
        """A rig named `name` (its folder under the factory's); `options` go to `cls` (Rig's
        profile, box_options, duty_behaviour, ring_interval, lines, or a subclass's). With
        `hil=True` it uses the hardware-in-loop modems when the run was given them. With
        `start=False` the test starts the parts itself (after preparing the spool, say)."""
        if hil and self.hil:
            options.setdefault("ports", self.hil)
        rig = cls(self._dir(name), **options)
        self.started.append((rig, False))
        if start:
            rig.start(box=box, duty=duty)
        return rig

    def line(self, profile="simcom-sim7600", ring_interval=0.3, lines=None, hil=False):
        """The loopback line alone (`lawline sim`), its sim.json read: `line["box"]["at"]`,
        `line.dir` for its control socket, `line.wire()`. A short folder: the control
        socket's path must fit in sockaddr_un (108 bytes)."""
        state = Path(tempfile.mkdtemp(prefix="lawline-sim-"))
        ports = self.hil if hil else None
        rig = Rig(state, profile=profile, ring_interval=ring_interval, lines=lines, ports=ports)
        self.started.append((rig, True))
        rig.start_sim()
        return rig

    def stop(self, rig):
        """Stop one rig now (a module's rig of one profile, before the next profile's starts)
        and fail if its box, or a loopback line started alone, did not exit cleanly."""
        problems = self._stop(rig)
        if problems:
            raise AssertionError("\n".join(problems))

    def _stop(self, rig):
        alone = next((a for r, a in self.started if r is rig), False)
        self.started = [(r, a) for r, a in self.started if r is not rig]
        codes = rig.stop()
        problems = []
        if codes.get("box") not in (None, 0):
            problems.append(f"{rig.dir.name}: the box exited with {codes['box']}:\n"
                            f"{rig.box_log()[-3000:]}")
        if alone and codes.get("sim") not in (None, 0):
            problems.append(f"{rig.dir.name}: the loopback line exited with "
                            f"{codes['sim']}:\n{rig.sim_log()[-3000:]}")
        elif alone and "sim" in codes and (rig.dir / "sim.json").exists():
            problems.append(f"{rig.dir.name}: sim.json stayed after the loopback line stopped")
        elif alone:
            shutil.rmtree(rig.dir, ignore_errors=True)
        return problems

    def close(self):
        problems = []
        for rig, _ in reversed(list(self.started)):
            problems += self._stop(rig)
        if problems:
            raise AssertionError("\n".join(problems))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
