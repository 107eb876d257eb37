"""Can this host boot a container at all? systemd-nspawn needs a real root: the whole process
tree's file system (not a chroot: PID 1's root differs from ours, or ours is no mount), /proc,
full capabilities outside any user namespace, and a cgroup file system. Where one is missing
(`make test` in a chroot or an unprivileged container, which is how people try a project) the
container tests skip with the reason; everywhere else they must boot or fail with why.

Standard library only, and nothing at import: tests/systemd/test_container_boot.py runs this
file's text in a real chroot and a user namespace to check it."""

import os

CAP_SYS_ADMIN = 21
FULL_ID_MAP = ["0", "0", "4294967295"]


def _read(path):
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def host_cannot_run_containers(proc="/proc", root="/", cgroup="/sys/fs/cgroup"):
    """Why systemd-nspawn cannot run here (a sentence), or None when it can."""
    mountinfo = _read(os.path.join(proc, "self", "mountinfo"))
    if mountinfo is None:
        return f"no {proc} (a chroot without /proc?): containers cannot run here"
    try:
        ours, init = os.stat(root), os.stat(os.path.join(proc, "1", "root") + "/")
        if (ours.st_dev, ours.st_ino) != (init.st_dev, init.st_ino):
            return "this is a chroot (PID 1 has another root): containers cannot run here"
    except OSError:
        pass                        # PID 1's root is hidden from us (a container): look on
    if not any(line.split()[4:5] == ["/"] for line in mountinfo.splitlines()):
        return "this is a chroot (its / is no mount point): containers cannot run here"
    uid_map = (_read(os.path.join(proc, "self", "uid_map")) or "").split()
    if uid_map and uid_map != FULL_ID_MAP:
        return ("this is an unprivileged container (a user namespace maps uid "
                f"{' '.join(uid_map[:3])}): containers cannot run here")
    status = _read(os.path.join(proc, "self", "status")) or ""
    caps = next((line.split()[1] for line in status.splitlines()
                 if line.startswith("CapEff:")), None)
    if caps is not None and not int(caps, 16) >> CAP_SYS_ADMIN & 1:
        return "no CAP_SYS_ADMIN (an unprivileged container?): containers cannot run here"
    if not any(line.split()[4:5] == [cgroup] for line in mountinfo.splitlines()):
        return f"no cgroup file system at {cgroup}: containers cannot run here"
    return None
