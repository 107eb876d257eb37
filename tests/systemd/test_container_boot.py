"""The container tests' own harness (tests/systemd/container.py) on the paths where a container
cannot boot (issue 15, point 8): `make test` in a clean Debian 12 chroot hung, because a
container test that errored kept its turn (a lock) and the next one in the same worker waited
for it for ever. Here a container whose systemd never answers, and a root that is no OS at
all, each fail within a minute saying why, with nothing left running and the turn free; a
turn the process still holds is an error at once, not a wait; and a host that cannot run
containers at all (a chroot, an unprivileged container) is told apart, so those tests skip
there with the reason instead.

Needs root, systemd-nspawn and nsenter (tools/bootstrap.sh installs them), like the rest of
tests/systemd; the chroot check runs hostcheck.py in the cached test root (rootfs.sh)."""

import errno
import fcntl
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from . import container as harness
from .container import Container, build_rootfs, one_container_at_a_time, tools_missing
from .hostcheck import host_cannot_run_containers

pytestmark = pytest.mark.scenario
HOSTCHECK = Path(__file__).with_name("hostcheck.py").read_text()


@pytest.fixture(scope="module", autouse=True)
def root_and_tools():
    if os.geteuid() != 0:
        pytest.fail("the systemd tests boot containers: run them as root (as CI does)")
    missing = tools_missing()
    assert not missing, f"missing {missing}: tools/bootstrap.sh installs them"


class NoModem(Container):
    """A container for the harness alone: no modem ports to pass in."""

    def unit_binds(self):
        return []


def bounded(action, seconds=60):
    """Run `action` in a thread: (what it raised or None, how long it took). A harness that
    hangs fails the test after `seconds` instead of hanging the suite."""
    outcome = {}

    def run():
        try:
            action()
        except BaseException as exc:  # noqa: BLE001 - the test looks at it
            outcome["raised"] = exc
    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still booting after {seconds} s: it hangs"
    return outcome.get("raised"), time.monotonic() - started


def turn_is_free():
    with open(harness.TURN_LOCK, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                return False
            raise
        return True


def wait_turn_free(seconds=900):
    """Another worker's container may have the turn now: wait for it as boot() would."""
    lock = one_container_at_a_time(seconds)
    harness._give_turn_back(lock)


def gone(pid, within=5.0):
    """The process has ended (a zombie left for its new parent to reap counts as ended)."""
    deadline = time.monotonic() + within
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state in ("Z", "X"):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def test_a_container_whose_systemd_never_answers_fails_within_a_minute_and_frees_its_turn(
        tmp_path):
    root = build_rootfs()

    class SleepsAsInit(NoModem):
        INIT = ("/bin/sh", "-c", "exec sleep infinity")   # a PID 1 that is no systemd

    box = SleepsAsInit(tmp_path / "c", root, None, None, "")
    raised, took = bounded(lambda: box.boot(timeout=15))
    assert isinstance(raised, RuntimeError), raised
    # a loaded host may not even have started the container's PID 1 in 15 s: either way the
    # boot fails in time, says why, and leaves nothing behind
    assert str(raised).startswith((
        "the container did not boot within 15 s: its systemd did not answer",
        "the container did not boot within 15 s: no PID 1 appeared")), raised
    assert took < 60, f"{took:.0f} s"
    assert box.proc.returncode is not None and (box.leader is None or gone(box.leader))
    assert box._turn is None and harness._turn_held is None
    wait_turn_free()     # (another worker may take the turn the moment it is given back)


def test_a_root_that_is_no_os_fails_at_once_saying_so(tmp_path):
    empty = tmp_path / "not-an-os"
    empty.mkdir()
    box = NoModem(tmp_path / "c", empty, None, None, "")
    raised, took = bounded(lambda: box.boot(timeout=15))
    assert isinstance(raised, RuntimeError), raised
    assert "systemd-nspawn exited with 1" in str(raised), raised
    assert "doesn't look like it has an OS tree" in str(raised), raised     # nspawn's why
    assert took < 15, f"{took:.0f} s"
    assert box.proc.returncode is not None and harness._turn_held is None


def test_a_turn_this_process_still_holds_is_an_error_at_once_not_a_wait(tmp_path):
    held = one_container_at_a_time()
    try:
        box = NoModem(tmp_path / "c", tmp_path, None, None, "")
        raised, took = bounded(lambda: box.boot(timeout=15), seconds=30)
        assert isinstance(raised, RuntimeError) and "still holds the container turn" in \
            str(raised), raised
        assert took < 5 and box.proc is None
        assert not turn_is_free()                 # ours, still
    finally:
        harness._give_turn_back(held)
    assert harness._turn_held is None


def sbin(name):
    """A tool root keeps in /usr/sbin (chroot), found whatever PATH the test runs with."""
    found = shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""),
                                                     "/usr/sbin", "/sbin"]))
    assert found, f"no {name}: Debian's coreutils has it"
    return found


def in_chroot(root, mount_proc):
    """hostcheck.py's answer inside a real chroot of `root` (with or without /proc), in a
    mount namespace of its own so nothing stays mounted."""
    script = HOSTCHECK + "\nprint(host_cannot_run_containers())\n"
    inner = (f"mount --bind /proc {root}/proc && " if mount_proc else "") + \
        f"exec {sbin('chroot')} {root} /usr/bin/python3 -"
    done = subprocess.run(["unshare", "--mount", "--fork", "sh", "-c", inner], input=script,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_host_that_cannot_run_containers_is_told_apart_with_the_reason():
    root = build_rootfs()          # skips, with the reason, where no container can run
    assert host_cannot_run_containers() is None     # this one can (the tests above booted)
    assert in_chroot(root, mount_proc=True) in (
        "this is a chroot (PID 1 has another root): containers cannot run here",
        "this is a chroot (its / is no mount point): containers cannot run here")
    assert in_chroot(root, mount_proc=False) == \
        "no /proc (a chroot without /proc?): containers cannot run here"
    done = subprocess.run(["unshare", "--user", "--map-root-user", "python3", "-"],
                          input=HOSTCHECK + "\nprint(host_cannot_run_containers())\n",
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == ("this is an unprivileged container (a user namespace maps "
                                   "uid 0 0 1): containers cannot run here"), done.stderr
