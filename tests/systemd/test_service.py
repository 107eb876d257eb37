"""systemd/lawline.service under a real systemd (252, PID 1 in a systemd-nspawn container) at
native speed, against the loopback line on the host: the unit reaches READY once the modem
answers, a call from the host's caller port hears the greeting, a stopped box (SIGSTOP) is
killed by the watchdog and restarted, and a box killed with SIGKILL is restarted and delivers
the voicemail it had committed exactly once.

Needs root (systemd-nspawn, nsenter) and Debian's systemd-container and mmdebstrap
(tools/bootstrap.sh installs them); the container's root is built once into build/.
"""

import asyncio
import grp
import os
import socket

import pytest

from lawline_rig.probe import hearing, scenarios
from lawline_rig.probe.rig import Process, Rig, free_port, lawline_argv, wait_until
from lawline import config as configuration

from ..conftest import run_call
from .container import DATA, Container, build_rootfs, tools_missing

pytestmark = pytest.mark.scenario

WATCHDOG_SEC = 4


class ServiceRig(Rig):
    """The loopback line and the upstream receiver on the host; the box in the container.
    The receiver listens on one fixed port so it can be stopped and started again."""

    def __init__(self, state_dir):
        super().__init__(state_dir)
        self.receiver_port = free_port(kind=socket.SOCK_STREAM)
        self.container = None

    def start_receiver(self):
        ready = self.dir / "receiver.url"
        ready.unlink(missing_ok=True)
        self.procs["receiver"] = Process("receiver", lawline_argv(
            "receiver", "--dir", str(self.upstream_dir), "--port", str(self.receiver_port),
            "--ready-file", str(ready)), self.dir)
        wait_until(lambda: ready.exists() or not self.procs["receiver"].alive(), 15,
                   "the upstream receiver to start")
        self.upstream_url = ready.read_text().strip()

    def stop_receiver(self):
        self.procs.pop("receiver").stop()

    def box_config(self):
        values = super().box_config()
        values["line"].update(at_port="/dev/lawline-at", audio_port="/dev/lawline-audio")
        values["spool"]["dir"] = f"{DATA}/spool"
        return values

    def box_log(self):
        return self.container.journal() if self.container else ""


@pytest.fixture(scope="module")
def rig(module_rigs):
    if os.geteuid() != 0:
        pytest.fail("the systemd test boots a container: run it as root (as CI does)")
    missing = tools_missing()
    assert not missing, f"missing {missing}: tools/bootstrap.sh installs systemd-container, " \
                        "mmdebstrap"
    root = build_rootfs()
    rig = module_rigs.rig("systemd", cls=ServiceRig, start=False)
    try:
        rig.start_sim()
        rig.start_receiver()
        box = rig.sim["box"]
        dialout = grp.getgrnam("dialout").gr_gid
        for port in (box["at"], box["audio"]):    # what board/ udev rules do for a real modem
            os.chown(port, -1, dialout)
            os.chmod(port, 0o660)
        rig.container = Container(rig.dir / "container", root, box["at"], box["audio"],
                                  configuration.dump(rig.box_config()), WATCHDOG_SEC)
        rig.spool_dir = rig.container.data / "spool"
        rig.container.boot()       # fails within a minute, saying why, having cleaned up
    except BaseException:
        module_rigs.stop(rig)      # the simulator and the receiver go too
        raise
    yield rig
    code = rig.container.poweroff()
    module_rigs.stop(rig)
    assert code == 0, f"the container did not power off cleanly:\n{rig.container.log_text()[-3000:]}"


def ready(state):
    return (state.get("ActiveState") == "active" and state.get("SubState") == "running"
            and state.get("StatusText", "").startswith("waiting for calls"))


def test_the_unit_reaches_ready_once_the_modem_answers(rig):
    state = rig.container.wait_for(ready, 60, "lawline.service to report READY")
    assert "modem: " in state["StatusText"], state
    journal = rig.container.journal()
    assert "systemd: ready" in journal
    assert "systemd: watchdog every 2 s" in journal
    # the box runs as its own user, created by systemd-sysusers from systemd/lawline.sysusers
    pid = state["MainPID"]
    ids = rig.container.run("sh", "-c", f"id lawline; grep -E '^(Uid|Groups)' /proc/{pid}/status")
    assert "dialout" in ids and "audio" in ids and "gpio" in ids, ids
    uid = rig.container.run("id", "-u", "lawline").strip()
    assert f"Uid:\t{uid}\t" in ids, ids


async def greeting(rig):
    await rig.caller.call(rig.box_number)
    await rig.caller.hear("greeting", 20)
    await rig.caller.hang_up()
    await rig.caller.wait_ended(15)


def test_a_call_from_the_host_hears_the_greeting(rig):
    rig.container.wait_for(ready, 60, "READY")
    run_call(rig, greeting)


def test_a_stopped_box_is_restarted_by_the_watchdog(rig):
    before = rig.container.wait_for(ready, 60, "READY")
    rig.container.run("systemctl", "kill", "--signal=SIGSTOP", "--kill-who=main",
                      "lawline.service")
    after = rig.container.wait_for(
        lambda s: int(s.get("NRestarts", 0)) > int(before["NRestarts"]) and ready(s),
        WATCHDOG_SEC * 3 + 60, "the watchdog to restart the stopped box")
    assert after["MainPID"] != before["MainPID"]
    # PID 1 logs to the console (container.log): "lawline.service: Watchdog timeout"
    assert "lawline.service: Watchdog timeout" in rig.container.log_text()


async def voicemail_committed(rig):
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    await caller.press("5")
    await caller.hear("beep", 30)
    caller.audio.speak(hearing.make_tone(scenarios.CALLER_TONE, 1.5))
    await asyncio.sleep(1.5)       # the caller speaks for 1.5 s
    caller.audio.quiet()
    await caller.press("#")
    item = await rig.next_record("voicemail", after, timeout=20)
    await caller.hang_up()
    await caller.wait_ended(15)
    return item


def test_a_killed_box_is_restarted_and_its_voicemail_arrives_once(rig):
    before = rig.container.wait_for(ready, 60, "READY")
    rig.stop_receiver()     # upstream down: the voicemail waits in the outbox
    item = run_call(rig, voicemail_committed)
    rig.container.run("systemctl", "kill", "--signal=SIGKILL", "--kill-who=main",
                      "lawline.service")
    rig.container.wait_for(
        lambda s: int(s.get("NRestarts", 0)) > int(before["NRestarts"]) and ready(s),
        60, "systemd to restart the killed box")
    rig.start_receiver()    # same port: the restarted box delivers what it owed
    asyncio.run(scenarios.assert_upstream_has(rig, item, timeout=60))
    office = rig.upstream_dir / rig.box_config()["office"]["id"]
    assert len(sorted(office.glob(f"*/{item['key']}"))) == 1
    voicemails = [i for i in rig.items("voicemail") if i["key"] == item["key"]]
    assert len(voicemails) == 1, "the committed message was stored twice"
