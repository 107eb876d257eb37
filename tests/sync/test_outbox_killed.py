"""The outbox keeps what the box owes upstream when the process is killed right after a
commit: a child process commits a voicemail and SIGKILLs itself; reopened, the item is whole.
(The outbox's rules: tests/unit/test_outbox.py, whose names this uses.)"""

import json
import signal
import subprocess
import sys
import textwrap

import pytest

from lawline.sync.outbox import RECORD_FORMAT, Outbox

from ..unit.test_outbox import AUDIO, TARGETS


@pytest.fixture
def paths(tmp_path):
    return tmp_path / "outbox.sqlite", tmp_path / "spool"


CRASH_CHILD = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from lawline.sync.outbox import Outbox

    db, spool = Path(sys.argv[1]), Path(sys.argv[2])
    folder = spool / "incoming" / "260112001"
    folder.mkdir(parents=True)
    wav = folder / "voicemail.wav"
    wav.write_bytes(bytes(range(256)) * 160)
    box = Outbox(db, spool, ["prefecture", "county"])
    box.commit("260112001", "voicemail", {"caller": "13800000000", "note": "留言"},
               {"voicemail": wav})
    os.kill(os.getpid(), signal.SIGKILL)
""")


def test_killed_right_after_commit_loses_nothing(paths):
    db, spool = paths
    child = subprocess.run([sys.executable, "-c", CRASH_CHILD, str(db), str(spool)],
                           capture_output=True, timeout=60)
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()

    with Outbox(db, spool, TARGETS) as box:
        assert box._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        item = box.get("260112001")
        assert item is not None
        assert item.record == {"caller": "13800000000", "note": "留言",
                               "record_format": RECORD_FORMAT}
        assert item.files["voicemail"].read_bytes() == AUDIO
        assert json.loads(item.files["record"].read_text(encoding="utf-8")) == item.record
        assert {d.target for d in box.pending()} == set(TARGETS)
