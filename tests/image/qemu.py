"""The SD-card image in qemu-system-aarch64 (-M virt, TCG), booted the way a Pi boots it from
U-Boot on: Debian's u-boot-qemu as the firmware (-bios), which runs the image's boot.scr (the
bootchooser, image/boot.cmd) from the FAT partition and loads the chosen slot's own kernel and
initrd. Used by run_image_test.py (`make image-test`) and run_update_test.py (`make
update-test`).

- the loopback line's box AT and audio ptys (`lawline-rig sim` on the host) are the guest's
  virtio consoles hvc0 and hvc1 (the image's test-only udev rule names them /dev/lawline-at and
  /dev/lawline-audio when the kernel command line has lawline.imagetest, which the test puts in
  U-Boot's environment: lawline_cmdline in uboot.env);
- SSH on a host port (the image runs sshd with the key the test put on the FAT partition);
- an i6300esb watchdog (systemd's RuntimeWatchdogSec), an xhci USB controller (a stick can be
  plugged in through the monitor), and extra read-only disks;
- a power cut is `kill()`: SIGKILL to QEMU, nothing written after.
"""

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

UBOOT = Path("/usr/lib/u-boot/qemu_arm64/u-boot.bin")
FAT_OFFSET = 4 * 1024 * 1024          # image/build-image.sh FAT_START
ENV_SIZE = 0x4000                     # image/boot.cmd, image/rootfs/fw_env.config
SSH_OPTS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", "-o", "BatchMode=yes"]


def log(msg, tag="image-test"):
    print(f"[{tag} {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fat(img, *args, check=True):
    """mtools on the image's FAT partition (`fat(img, "mcopy", "-o", src, "::dst")`)."""
    tool, rest = args[0], list(args[1:])
    return subprocess.run([tool, "-i", f"{img}@@{FAT_OFFSET}", *rest], check=check,
                          capture_output=True, text=True)


def read_env(img, work):
    """U-Boot's environment on the image's FAT partition, as fw_printenv reads it."""
    got = Path(work) / "uboot.env.read"
    fat(img, "mcopy", "-o", "::uboot.env", str(got))
    cfg = Path(work) / "fw_env.read.config"
    cfg.write_text(f"{got} 0x0000 {ENV_SIZE:#x}\n")
    out = subprocess.run(["fw_printenv", "-c", str(cfg)], capture_output=True, text=True,
                         check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def set_env(img, work, **values):
    """Change variables of U-Boot's environment on the FAT partition (fw_setenv on a copy)."""
    got = Path(work) / "uboot.env.edit"
    fat(img, "mcopy", "-o", "::uboot.env", str(got))
    cfg = Path(work) / "fw_env.edit.config"
    cfg.write_text(f"{got} 0x0000 {ENV_SIZE:#x}\n")
    for name, value in values.items():
        subprocess.run(["fw_setenv", "-c", str(cfg), name, value], check=True)
    fat(img, "mcopy", "-o", str(got), "::uboot.env")


class Guest:
    def __init__(self, work, disk, sim, extra_disks=(), memory=1024, tag="image-test"):
        self.work = Path(work)
        self.disk = Path(disk)
        self.sim = sim
        self.extra = [Path(d) for d in extra_disks]
        self.memory = memory
        self.tag = tag
        self.ssh_port = free_port()
        self.key = self.work / "key"
        self.monitor = self.work / "monitor.sock"
        self.proc = None
        self.console = None
        self.starts = 0

    # -- the machine --------------------------------------------------------------------

    def command(self):
        cmd = ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a72", "-smp", "2",
               "-m", str(self.memory), "-nographic", "-serial", f"file:{self.console}",
               "-monitor", f"unix:{self.monitor},server=on,wait=off",
               "-bios", str(UBOOT),
               "-drive", f"if=none,file={self.disk},format=raw,id=hd0",
               "-device", "virtio-blk-pci,drive=hd0"]
        for k, extra in enumerate(self.extra, start=1):
            cmd += ["-drive", f"if=none,file={extra},format=raw,id=hd{k},readonly=on",
                    "-device", f"virtio-blk-pci,drive=hd{k}"]
        box = self.sim["box"]
        cmd += ["-device", "virtio-serial-pci",
                "-chardev", f"serial,id=at,path={os.path.realpath(box['at'])}",
                "-device", "virtconsole,chardev=at,name=lawline-at",
                "-chardev", f"serial,id=audio,path={os.path.realpath(box['audio'])}",
                "-device", "virtconsole,chardev=audio,name=lawline-audio",
                "-nic", f"user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:{self.ssh_port}-:22",
                "-device", "i6300esb", "-device", "qemu-xhci,id=xhci"]
        return cmd

    def start(self):
        """Power on (a new console log per power-on; a guest reboot stays in the same one)."""
        self.starts += 1
        self.console = self.work / f"console-{self.starts}.log"
        self.monitor.unlink(missing_ok=True)
        cmd = self.command()
        if self.starts == 1:
            log("qemu: " + " ".join(cmd), self.tag)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=open(self.work / f"qemu-{self.starts}.log", "w"),
                                     stderr=subprocess.STDOUT)
        return self

    def kill(self):
        """A power cut: SIGKILL, the disk keeps what QEMU had written (no cache: raw file)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    # -- the serial console ---------------------------------------------------------------

    def text(self):
        try:
            return self.console.read_text(errors="replace")
        except (OSError, AttributeError):
            return ""

    def mark(self):
        return len(self.text())

    def wait(self, pattern, timeout, after=0, what=None):
        """The first match of `pattern` in the console after offset `after`; raises on
        timeout or when QEMU exits."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        while True:
            m = rx.search(self.text(), after)
            if m:
                return m
            if not self.running():
                raise AssertionError(f"QEMU exited ({self.proc.returncode}) waiting for "
                                     f"{what or pattern}")
            if time.monotonic() > end:
                raise TimeoutError(f"no {what or pattern!r} on the console after {timeout:g} s")
            time.sleep(0.5)

    def boots(self, after=0):
        """The slots U-Boot started since `after`, in order (image/boot.cmd's line)."""
        return re.findall(r"lawline: booting slot ([AB])", self.text()[after:])

    # -- ssh and the monitor --------------------------------------------------------------

    def ssh_argv(self, command):
        return ["ssh", *SSH_OPTS, "-i", str(self.key), "-p", str(self.ssh_port),
                "root@127.0.0.1", command]

    def ssh(self, command, timeout=300, check=True):
        out = subprocess.run(self.ssh_argv(command), capture_output=True, text=True,
                             timeout=timeout)
        if check and out.returncode != 0:
            raise AssertionError(f"ssh {command!r}: exit {out.returncode}\n{out.stdout}"
                                 f"\n{out.stderr}")
        return out

    def ssh_up(self, timeout=300):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self.running():
                raise AssertionError("QEMU exited waiting for ssh")
            try:
                if self.ssh("true", timeout=30, check=False).returncode == 0:
                    return
            except subprocess.TimeoutExpired:
                pass
            time.sleep(2)
        raise TimeoutError(f"no ssh after {timeout:g} s")

    def hmp(self, command, timeout=10):
        """One human monitor command (device_add, drive_add...); returns its answer."""
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        s.connect(str(self.monitor))
        try:
            time.sleep(0.3)
            s.recv(65536)                       # the banner and prompt
            s.sendall(command.encode() + b"\n")
            time.sleep(1.0)
            return s.recv(65536).decode(errors="replace")
        finally:
            s.close()


def prepare(src, work, toml, secrets=None, size=None, cmdline="lawline.imagetest"):
    """A copy of the image with the office's files on its FAT partition (lawline.toml, the
    secret files in lawline/, an ssh key), the test's kernel arguments in U-Boot's
    environment, and optionally a larger disk (LAWDATA grows over it at first boot)."""
    work = Path(work)
    img = work / "test.img"
    subprocess.run(["cp", "--sparse=always", str(src), str(img)], check=True)
    if size:
        os.truncate(img, size)
    (work / "lawline.toml").write_text(toml)
    (work / "lawline").mkdir(exist_ok=True)
    for name, text in (secrets or {}).items():
        (work / "lawline" / name).write_text(text)
    key = work / "key"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                       check=True)
    shutil.copy(work / "key.pub", work / "ssh_authorized_keys")
    for name in ("lawline.toml", "lawline", "ssh_authorized_keys"):
        fat(img, "mcopy", "-s", "-o", str(work / name), "::" + name)
    set_env(img, work, lawline_cmdline=cmdline)
    return img
