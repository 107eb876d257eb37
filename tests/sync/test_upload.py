"""Uploads to a real HTTP receiver on 127.0.0.1: what arrives, what is refused, what waits."""

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from lawline.sync import HttpPutTarget, Outbox, UploadError, UploadWorker
from lawline_rig.receiver import serve

KEY = "260112001"
AUDIO = os.urandom(41_000)
GOOD_TOKEN = "right-token-7c1f9a"
BAD_TOKEN = "wrong-token-e3b0c4"


@pytest.fixture
def outbox(tmp_path):
    box = Outbox(tmp_path / "outbox.sqlite", tmp_path / "spool", ["prefecture"])
    yield box
    box.close()


@pytest.fixture
def receiver(tmp_path):
    started = []

    def start(token=None):
        server, thread, url = serve(tmp_path / f"upstream{len(started)}", token=token)
        started.append((server, thread))
        return server, url

    yield start
    for server, thread in started:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def commit_voicemail(outbox, key=KEY, data=AUDIO):
    folder = outbox.spool_dir / "incoming" / key
    folder.mkdir(parents=True)
    (folder / "voicemail.wav").write_bytes(data)
    outbox.commit(key, "voicemail", {"case": key, "topic": "婚姻家庭"},
                  {"voicemail": folder / "voicemail.wav"})
    return outbox.get(key)


def due_item(outbox, key=KEY):
    return next(d for d in outbox.due("prefecture") if d.key == key)


def test_worker_uploads_a_committed_item_as_soon_as_kicked(outbox, receiver, caplog):
    caplog.set_level(logging.INFO, logger="lawline.sync")
    server, url = receiver()
    worker = UploadWorker(outbox, {"prefecture": HttpPutTarget("prefecture", url + "/up")})

    async def scenario():
        stop = asyncio.Event()
        running = asyncio.ensure_future(worker.run(stop))
        # The worker is idle with nothing due; the commit and kick wake it.
        item = await asyncio.to_thread(commit_voicemail, outbox)
        worker.kick()
        drained = await worker.drain(timeout=5)
        stop.set()
        await asyncio.wait_for(running, 5)
        return item, drained

    item, drained = asyncio.run(scenario())
    assert drained
    stored = server.root / "up" / KEY
    assert sorted(p.name for p in stored.iterdir()) == ["record.json", "voicemail.wav"]
    assert (stored / "voicemail.wav").read_bytes() == item.files["voicemail"].read_bytes()
    assert (stored / "record.json").read_bytes() == item.files["record"].read_bytes()

    headers = server.put_headers[f"up/{KEY}/voicemail.wav"]
    assert headers["Content-Type"] == "audio/wav"
    assert headers["Idempotency-Key"] == f"{KEY}/voicemail.wav"
    record_headers = server.put_headers[f"up/{KEY}/record.json"]
    assert record_headers["Content-Type"] == "application/json; charset=utf-8"
    assert record_headers["Idempotency-Key"] == f"{KEY}/record.json"

    assert outbox.get(KEY).deliveries["prefecture"]["state"] == "done"
    size = sum(p.stat().st_size for p in item.files.values())
    assert f"upload {KEY} to prefecture: done (2 files, {size / 1000:.0f} kB)" in caplog.text


def test_uploading_twice_leaves_one_object(outbox, receiver):
    server, url = receiver()
    target = HttpPutTarget("prefecture", url)
    commit_voicemail(outbox)
    item = due_item(outbox)
    target.put_item(item)
    target.put_item(item)  # as after a power cut between the upload and mark_done
    assert server.put_counts == {f"{KEY}/voicemail.wav": 2, f"{KEY}/record.json": 2}
    assert sorted(os.listdir(server.root / KEY)) == ["record.json", "voicemail.wav"]
    assert (server.root / KEY / "voicemail.wav").read_bytes() == AUDIO
    with urllib.request.urlopen(f"{url}/{KEY}/voicemail.wav", timeout=5) as answer:
        assert answer.read() == AUDIO


def test_wrong_token_is_refused_and_never_shown(outbox, receiver, caplog):
    caplog.set_level(logging.DEBUG)
    server, url = receiver(token=GOOD_TOKEN)
    commit_voicemail(outbox)
    wrong = HttpPutTarget("prefecture", url, token=BAD_TOKEN)

    with pytest.raises(UploadError) as refused:
        wrong.put_item(due_item(outbox))
    message = str(refused.value)
    assert refused.value.status == 401
    assert "prefecture" in message and "401" in message and url in message
    assert BAD_TOKEN not in message and BAD_TOKEN not in repr(wrong)
    assert server.put_counts == {}

    worker = UploadWorker(outbox, {"prefecture": wrong})
    asyncio.run(worker.run_once())
    row = outbox.pending("prefecture")[0]
    assert row.attempts == 1 and "HTTP 401" in row.last_error
    assert BAD_TOKEN not in row.last_error and BAD_TOKEN not in caplog.text
    assert "upload 260112001 to prefecture failed (attempt 1, next try in" in caplog.text

    retry = outbox.due("prefecture", now=row.next_attempt)[0]
    HttpPutTarget("prefecture", url, token=GOOD_TOKEN).put_item(retry)
    assert (server.root / KEY / "voicemail.wav").read_bytes() == AUDIO
    assert GOOD_TOKEN not in caplog.text


def test_receiver_with_token_refuses_reads_without_it(receiver):
    server, url = receiver(token=GOOD_TOKEN)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{url}/{KEY}/voicemail.wav", timeout=5)
    assert refused.value.code == 401
    refused.value.close()
    asked = urllib.request.Request(f"{url}/{KEY}/voicemail.wav",
                                   headers={"Authorization": f"Bearer {GOOD_TOKEN}"})
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(asked, timeout=5)
    assert missing.value.code == 404
    missing.value.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dead_upstream_leaves_the_delivery_pending(outbox):
    url = f"http://127.0.0.1:{free_port()}/up"
    commit_voicemail(outbox)
    commit_voicemail(outbox, key="260112002")
    worker = UploadWorker(outbox, {"prefecture": HttpPutTarget("prefecture", url)})

    before = time.time()
    next_time = asyncio.run(worker.run_once())
    first, second = outbox.pending("prefecture")
    assert first.attempts == 1 and first.next_attempt > before
    assert first.last_error == f"connection refused by {url}/{KEY}/voicemail.wav"
    # The upstream as a whole is down: the oldest item probes it, the next one waits its turn
    # with no attempt spent, and the worker sleeps until the probe's retry time.
    assert second.attempts == 0
    assert next_time == pytest.approx(first.next_attempt, abs=0.001)
    assert second.next_attempt < before < next_time


def test_hanging_upstream_times_out_and_stays_pending(outbox):
    commit_voicemail(outbox)
    with socket.socket() as silent:  # accepts connections (via the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        worker = UploadWorker(outbox, {"prefecture": HttpPutTarget("prefecture", url,
                                                                   timeout=0.3)})
        started = time.monotonic()
        asyncio.run(worker.run_once())
        elapsed = time.monotonic() - started
    row = outbox.pending("prefecture")[0]
    assert row.attempts == 1 and row.next_attempt > time.time()
    assert row.last_error == f"no answer from {url}/{KEY}/voicemail.wav within 0.3 s"
    assert elapsed < 5


def test_missing_spool_file_holds_back_only_its_own_item(outbox, receiver, caplog):
    server, url = receiver()
    lost = commit_voicemail(outbox)
    commit_voicemail(outbox, key="260112002")
    lost.files["voicemail"].unlink()
    worker = UploadWorker(outbox, {"prefecture": HttpPutTarget("prefecture", url)})

    asyncio.run(worker.run_once())
    assert [(p.key, p.attempts) for p in outbox.pending()] == [(KEY, 1)]
    assert "FileNotFoundError" in outbox.pending()[0].last_error
    assert any(r.levelno == logging.ERROR and KEY in r.getMessage() for r in caplog.records)
    assert (server.root / "260112002" / "voicemail.wav").read_bytes() == AUDIO


def test_receiver_command_serves_until_sigterm(tmp_path):
    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-m", "lawline_rig.receiver",
                             "--dir", str(tmp_path / "upstream"), "--ready-file", str(ready)],
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while not ready.exists():  # bounded: the process exiting or the deadline ends it
            assert time.monotonic() < deadline, "receiver never became ready"
            with pytest.raises(subprocess.TimeoutExpired):
                proc.wait(timeout=0.05)
        url = ready.read_text().strip()
        put = urllib.request.Request(f"{url}/{KEY}/record.json", data=b"{}", method="PUT")
        with urllib.request.urlopen(put, timeout=5) as answer:
            assert answer.status == 201
        assert (tmp_path / "upstream" / KEY / "record.json").read_bytes() == b"{}"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
