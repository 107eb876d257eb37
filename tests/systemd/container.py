"""A booted Debian with systemd as PID 1 (systemd-nspawn), running systemd/lawline.service as
shipped, with the host's venv and repo bind-mounted read-only and the loopback line's box
ports passed in as /dev/lawline-at and /dev/lawline-audio (the names board/ udev rules give
real modems). The test talks to the container's systemd with `nsenter` + `systemctl`: no
D-Bus or machined is needed on the host (shared reference/test-servers.md).
"""

import errno
import fcntl
import os
import signal
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lawline_rig.wait import wait_until

from .hostcheck import host_cannot_run_containers

REPO = Path(__file__).resolve().parents[2]
ROOTFS_SCRIPT = Path(__file__).with_name("rootfs.sh")
DATA = "/var/lib/lawline"          # StateDirectory=lawline in the unit
TURN_LOCK = "/run/lawline-nspawn-container.lock"
# How long a booting container may take for its systemd to answer, and how long a test waits
# for another test's container to be powered off (the box's module runs a few minutes).
BOOT_SECONDS = 45
TURN_SECONDS = 900
ROOTFS_SECONDS = 900


def skip_where_containers_cannot_run():
    """pytest.skip, naming why, on a host that cannot run containers at all (a chroot, an
    unprivileged container: hostcheck.py); anywhere else the tests must boot or fail."""
    why = host_cannot_run_containers()
    if why:
        pytest.skip(f"systemd container tests not run: {why}")


def build_rootfs():
    """The cached root (built by rootfs.sh on the first run: mmdebstrap, about a minute)."""
    skip_where_containers_cannot_run()
    try:
        out = subprocess.run([str(ROOTFS_SCRIPT)], check=True, capture_output=True, text=True,
                             timeout=ROOTFS_SECONDS)
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"{ROOTFS_SCRIPT.name} failed (exit {exc.returncode}):\n"
                           f"{exc.stderr[-3000:]}") from None
    return Path(out.stdout.strip().splitlines()[-1])


def _nspawn_runtime_dir():
    """systemd-nspawn keeps per-container state under /run/systemd/nspawn and fails tidying
    it up unless that is a tmpfs of its own (shared reference/test-servers.md). Checked and
    mounted under a lock: two test workers mounting it at once stack two tmpfs, and the
    first container's state vanishes under the second."""
    path = Path("/run/systemd/nspawn")
    path.mkdir(parents=True, exist_ok=True)
    with open("/run/lawline-nspawn-mount.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if subprocess.run(["mountpoint", "-q", str(path)], timeout=30).returncode != 0:
            subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(path)], check=True, timeout=30)


_turn_held = None      # this process's turn (an open, locked file), while it has one


def one_container_at_a_time(timeout=TURN_SECONDS):
    """An open, locked file: the booted container's turn on this machine. The box's unit
    test and the page's unit test run in different xdist workers; one systemd at a time
    keeps them from meeting (and the 2 cores from booting two at once).

    Never waits for ever: a turn this process still holds (a container that was not powered
    off) would never come back, so that is an error at once; another process's turn is
    waited for `timeout` seconds at most."""
    global _turn_held
    if _turn_held is not None and not _turn_held.closed:
        raise RuntimeError("this test process still holds the container turn: a container "
                           "it booted was not powered off (Container.poweroff)")
    lock = open(TURN_LOCK, "w")
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                lock.close()
                raise
        if time.monotonic() > deadline:
            lock.close()
            raise TimeoutError(f"another test's container kept {TURN_LOCK} for {timeout:g} s")
        time.sleep(0.2)
    _turn_held = lock
    return lock


def _give_turn_back(lock):
    global _turn_held
    if lock is not None and not lock.closed:
        lock.close()                   # closing the file releases the flock
    if _turn_held is lock:
        _turn_held = None


def _python_home():
    """Where the venv's interpreter lives; bound into the container when it is not the
    container's own /usr/bin/python3 (a pyenv build, for instance)."""
    base = Path(sys.base_prefix).resolve()
    return None if base == Path("/usr") else base


def host_paths_dropin():
    """Drop-in lines that let the service see the host's interpreter and repo, bound into the
    container at their own paths (the venv and its editable install name absolute paths).
    Only what hides them is relaxed: ProtectHome for paths under /root or /home (a pyenv
    Python); PrivateTmp stays on, and a repo under /tmp (a fresh clone there) is bound into
    the service's private /tmp, which systemd mounts before the binds below it."""
    binds = [str(p) for p in (_python_home(), REPO) if p is not None]
    lines = []
    if any(p.startswith(("/root", "/home")) for p in binds):
        lines.append("ProtectHome=tmpfs")
    hidden = [p for p in binds if p.startswith(("/root", "/home", "/tmp", "/var/tmp"))]
    if hidden:
        lines.append("BindReadOnlyPaths=" + " ".join(hidden))
    return lines


class Container:
    def __init__(self, workdir, root, box_at, box_audio, config_text, watchdog_sec=4):
        self.dir = Path(workdir)
        self.root = Path(root)
        self.data = self.dir / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.etc = self.dir / "etc"
        self.etc.mkdir(exist_ok=True)
        (self.etc / "lawline.toml").write_text(config_text, encoding="utf-8")
        self.box_at, self.box_audio = box_at, box_audio
        self.watchdog_sec = watchdog_sec
        self.proc = None
        self.leader = None
        self.log_path = self.dir / "container.log"
        self._log = None
        self._turn = None

    def _dropin(self):
        """What differs from the image: the venv is the host's (not /opt/lawline/venv), a
        short watchdog and restart delay so the test is quick, and the host's paths made
        visible (host_paths_dropin). Nothing else is relaxed."""
        venv_python = Path(sys.executable)
        lines = ["[Service]", "ExecStart=",
                 f"ExecStart={venv_python} -m lawline -v run --config /etc/lawline/lawline.toml",
                 f"WatchdogSec={self.watchdog_sec}", "RestartSec=1"]
        lines += host_paths_dropin()
        path = self.etc / "test.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    UNIT = "lawline.service"
    MACHINE = "lawline-test"
    INIT = ("/lib/systemd/systemd", "--log-target=console")   # PID 1 in the container

    def unit_binds(self):
        """What this container adds for its unit: the box's modem ports and its config."""
        return [f"--bind={self.box_at}:/dev/lawline-at",
                f"--bind={self.box_audio}:/dev/lawline-audio",
                f"--bind-ro={self.etc / 'lawline.toml'}:/etc/lawline/lawline.toml"]

    def boot(self, timeout=BOOT_SECONDS):
        """Boot the container and wait until its systemd answers; within `timeout` seconds,
        or an error that says why, with everything it took given back (the container's
        processes killed, the turn released): a test that cannot boot never hangs, and never
        leaves the next one waiting."""
        skip_where_containers_cannot_run()
        started = time.monotonic()
        self._turn = one_container_at_a_time()
        try:
            _nspawn_runtime_dir()
            self._start(timeout - (time.monotonic() - started))
            self._wait_for_systemd(started + timeout)
        except BaseException as exc:
            log = self.log_text()[-3000:]
            self.poweroff(timeout=5)
            if isinstance(exc, Exception) and not isinstance(exc, pytest.skip.Exception):
                raise RuntimeError(f"the container did not boot within {timeout:g} s: {exc}\n"
                                   f"--- its console ---\n{log}") from exc
            raise
        return self

    def _start(self, timeout):
        unit = self.UNIT
        binds = [*self.unit_binds(),
                 f"--bind={self.data}:{DATA}",
                 f"--bind-ro={REPO / 'systemd' / unit}:/etc/systemd/system/{unit}",
                 f"--bind-ro={self._dropin()}:/etc/systemd/system/{unit}.d/test.conf",
                 f"--bind-ro={REPO / 'systemd/lawline.sysusers'}:/etc/sysusers.d/lawline.conf",
                 f"--bind-ro={REPO}"]
        home = _python_home()
        if home is not None:
            binds.append(f"--bind-ro={home}")
        venv = Path(sys.prefix)
        if not str(venv).startswith(str(REPO)):
            binds.append(f"--bind-ro={venv}")
        argv = ["systemd-nspawn", "--quiet", "--directory", str(self.root), "--register=no",
                "--keep-unit", "--volatile=overlay", "--machine",
                f"{self.MACHINE}-{os.getpid()}", *binds, *self.INIT,
                # systemd as PID 1 in a container reads its "kernel command line" from argv
                f"systemd.wants={unit}"]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while self.leader is None:
            self.leader = self._find_leader()
            if self.proc.poll() is not None:
                raise RuntimeError(f"systemd-nspawn exited with {self.proc.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError("no PID 1 appeared in the container")
            time.sleep(0.05)

    def _wait_for_systemd(self, deadline):
        """Until the container's systemd answers `systemctl` (any state: initializing,
        starting, running, degraded); a PID 1 that never does is no booted container."""
        said = ""
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"systemd-nspawn exited with {self.proc.returncode}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"its systemd did not answer: {said.strip() or 'nothing'}")
            try:
                out = self.run("systemctl", "is-system-running", check=False,
                               timeout=max(1.0, min(left, 10.0)))
                said = out
            except subprocess.TimeoutExpired:
                continue
            state = out.strip().splitlines()[-1] if out.strip() else ""
            if state in ("initializing", "starting", "running", "degraded", "maintenance"):
                return
            time.sleep(0.2)

    def _find_leader(self):
        """PID (on the host) of the container's systemd: the process below systemd-nspawn
        that is PID 1 in its own PID namespace (its NSpid line ends in 1). Not merely nspawn's
        first child: nspawn forks helpers of its own first, and a helper taken for the leader
        made every later `nsenter` fail (state {}) and left the container running."""
        parents = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
        below = {self.proc.pid}
        for _ in range(4):                 # nspawn -> (outer child) -> the container's init
            below |= {pid for pid, ppid in parents.items() if ppid in below}
        for pid in sorted(below - {self.proc.pid}):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            nspid = next((line.split()[1:] for line in status.splitlines()
                          if line.startswith("NSpid:")), [])
            if len(nspid) > 1 and nspid[-1] == "1":
                return pid
        return None

    def run(self, *argv, check=True, timeout=30):
        """A command inside the container (its mounts, PID namespace and so its systemd)."""
        out = subprocess.run(["nsenter", "-t", str(self.leader), "-m", "-u", "-i", "-p", "-r",
                              "-w", *argv], capture_output=True, text=True, timeout=timeout)
        if check and out.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} in the container: exit {out.returncode}: "
                               f"{out.stdout}{out.stderr}")
        return out.stdout if check else out.stdout + out.stderr

    def show(self, unit="lawline.service"):
        """systemctl show as a dict (ActiveState, SubState, StatusText, NRestarts, MainPID)."""
        text = self.run("systemctl", "show", unit, "-p", "ActiveState,SubState,StatusText,"
                        "NRestarts,MainPID,Result,ExecMainStatus,ExecMainCode", check=False)
        return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)

    def wait_for(self, predicate, timeout, what, unit="lawline.service"):
        """The unit's state once `predicate(state)` holds (lawline_rig.wait: the one wait of
        every tier); on timeout the last state and the unit's journal are in the message."""
        last = {}

        def holds():
            last["state"] = state = self.show(unit)
            return state if predicate(state) else None
        return wait_until(holds, timeout, what, interval=0.1, detail=lambda: (
            f"last state {last.get('state')}\n--- journal ---\n{self.journal(unit)[-4000:]}"))

    def journal(self, unit="lawline.service"):
        return self.run("journalctl", "--no-pager", "-o", "short-monotonic", "-u", unit,
                        check=False)

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def poweroff(self, timeout=30):
        """Power the container off (its systemd, else kill it and nspawn); whatever happens,
        the log is closed and the turn given back. Returns nspawn's exit code, or None when
        it never started."""
        try:
            if self.proc is None:
                return None
            if self.proc.poll() is None:
                if self.leader:
                    try:
                        self.run("systemctl", "poweroff", check=False, timeout=10)
                    except (OSError, subprocess.TimeoutExpired):
                        pass
                try:
                    self.proc.wait(timeout if self.leader else 0.1)
                except subprocess.TimeoutExpired:
                    self._kill()
            elif self.leader:
                self._kill()                 # nspawn gone, its systemd may not be
            return self.proc.returncode
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None
            _give_turn_back(self._turn)      # the next container may boot
            self._turn = None

    def _kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)     # nspawn and its helpers
        except OSError:
            pass
        if self.leader:
            try:                        # killing nspawn alone leaves its systemd running
                os.kill(self.leader, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass


def tools_missing():
    return [t for t in ("systemd-nspawn", "mmdebstrap", "nsenter") if shutil.which(t) is None]
