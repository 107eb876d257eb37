"""Bounded disk: a real full file system (tmpfs of a few MB, mounted by the test as root),
the spool budget, retention that only removes what every target acknowledged."""

import asyncio
import logging
import os
import subprocess
import time

import pytest

from lawline.sync import Outbox, UploadWorker
from lawline.sync.http import HttpPutTarget
from lawline_rig.receiver import serve
from lawline.sync.retention import purge
from lawline.sync.spool import FULL, OK, WARN, SpoolGuard
from lawline.sync.wavfile import header

from .helpers import commit_voicemail

MB = 1000 * 1000


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB tmpfs: a partition that really fills up (ENOSPC), not a simulated one."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def receiver(tmp_path):
    server, thread, url = serve(tmp_path / "upstream")
    yield server, url
    server.shutdown()
    server.server_close()


def test_full_partition_stops_recording_loses_nothing_and_retention_makes_room(
        small_disk, receiver, caplog):
    caplog.set_level(logging.INFO)
    spool = small_disk / "spool"
    outbox = Outbox(spool / "outbox.db", spool, ["upstream"], reserve_bytes=256_000)
    guard = SpoolGuard(spool, max_mb=100, warn_percent=80, min_free_mb=0.3,
                       message_bytes=300_000)
    audio = os.urandom(200_000)
    committed = []
    while guard.can_record():
        commit_voicemail(outbox, f"2601120{len(committed):02d}", audio=audio)
        committed.append(f"2601120{len(committed):02d}")
        assert len(committed) < 20, "a 3 MB partition never filled up"
    state = guard.state()
    assert state.level == FULL and "free on its partition" in state.reason
    # Ignore the guard and write on: the disk itself refuses, and a commit fails cleanly
    # (an OSError, which the call flow turns into "cannot store your message").
    with pytest.raises(OSError):
        for i in range(20):
            commit_voicemail(outbox, f"2601129{i:02d}", audio=audio)
    assert outbox._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    for key in committed:
        item = outbox.get(key)
        assert item.files["voicemail.wav"].read_bytes() == header(len(audio)) + audio
    # Nothing undelivered is removed to make room, whatever its age:
    assert purge(outbox, 30, now=time.time() + 365 * 86400) == (0, 0)
    assert guard.state(fresh=True).level == FULL
    # Deliver, then retention (the items are "older than 30 days" a year from now) frees room.
    server, url = receiver
    worker = UploadWorker(outbox, {"upstream": HttpPutTarget("upstream", url)})

    async def drain():
        stop = asyncio.Event()
        task = asyncio.ensure_future(worker.run(stop))
        ok = await worker.drain(20)
        stop.set()
        await task
        return ok
    assert asyncio.run(drain())
    assert "is full; released the 256 kB reserve" in caplog.text
    assert purge(outbox, 30, now=time.time()) == (0, 0)  # acknowledged but young: kept
    removed, freed = purge(outbox, 30, now=time.time() + 31 * 86400)
    assert removed >= len(committed) and freed > len(committed) * 200_000
    assert guard.state(fresh=True).level == OK
    assert "retention: removed" in caplog.text
    assert outbox.reserve.ensure() and outbox.reserve.held
    for key in committed:
        assert (server.root / key / "voicemail.wav").exists()  # they are upstream
    outbox.close()


def test_budget_warns_then_refuses(tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    guard = SpoolGuard(spool, max_mb=1, warn_percent=50, min_free_mb=0, message_bytes=300_000)
    assert guard.state(fresh=True).level == OK
    (spool / "a.wav").write_bytes(b"\0" * 550_000)
    state = guard.state(fresh=True)
    assert state.level == WARN and "55% full" in state.reason
    (spool / "b.wav").write_bytes(b"\0" * 200_000)
    state = guard.state(fresh=True)
    assert state.level == FULL and "no longer fits" in state.reason
    assert not guard.can_record()


def test_retention_keeps_items_a_target_has_not_acknowledged(tmp_path):
    spool = tmp_path / "spool"
    outbox = Outbox(spool / "outbox.db", spool, ["upstream", "email"])
    path, _ = commit_voicemail(outbox, "260112001")
    item = outbox.get("260112001")
    outbox.mark_done(item.item_id, "upstream")
    later = time.time() + 60 * 86400
    assert purge(outbox, 30, now=later) == (0, 0) and path.exists()
    outbox.mark_done(item.item_id, "email")
    assert purge(outbox, 30, now=later)[0] == 1
    assert not path.exists() and outbox.get("260112001") is None
    # an item committed while no target was configured is never "delivered": kept
    lonely = Outbox(spool / "outbox2.db", spool, [])
    commit_voicemail(lonely, "260112002")
    assert purge(lonely, 30, now=later) == (0, 0)
    outbox.close()
    lonely.close()
