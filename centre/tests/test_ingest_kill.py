"""SIGKILL the ingest at every step of a batch, and at random moments, then let it finish:
every record is in the store exactly once (no record lost, none counted twice)."""

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from lawline_centre.store import Store

HERE = Path(__file__).resolve().parent
KINDS = {"call": "calls", "case": "cases_log", "voicemail": "voicemails", "health": "health"}


def child(db, folder, step="none", nth=1):
    return subprocess.run([sys.executable, str(HERE / "killchild.py"), str(db), str(folder),
                           step, str(nth)], capture_output=True, text=True, timeout=300)


def check_once(db, truth):
    store = Store.duckdb(db)
    try:
        c = store.counts()
        got = {k: c[t] for k, t in KINDS.items()}
        dupes = {t: store.con.execute(f"SELECT count(*) - count(DISTINCT office || '/' || item)"
                                      f" FROM {t}").fetchone()[0] for t in KINDS.values()}
        objects = store.con.execute("SELECT count(*) - count(DISTINCT key) FROM objects")
        return got, dupes, objects.fetchone()[0]
    finally:
        store.close()


def test_killed_at_every_step_loses_nothing_and_doubles_nothing(generated, tmp_path):
    db = tmp_path / "centre.duckdb"
    folder = generated["root"]
    kills = 0
    # the n-th time a step is reached: batches before it are committed, then the cut
    for step, nth in (("listed", 1), ("fetched", 1), ("fetched", 3), ("before commit", 1),
                      ("before commit", 3), ("committed", 1), ("committed", 3)):
        done = child(db, folder, step, nth)
        assert done.returncode == -signal.SIGKILL, done.stdout + done.stderr[-2000:]
        kills += 1
    final = child(db, folder)
    assert final.returncode == 0, final.stderr[-2000:]
    got, dupes, object_dupes = check_once(db, generated)
    expected = {k: generated["totals"][k] for k in KINDS}
    print(f"\nkill test (steps): {kills} kills; expected {expected}; got {got}; "
          f"duplicates {dupes}, duplicate objects {object_dupes}")
    assert got == expected and set(dupes.values()) == {0} and object_dupes == 0


def test_killed_at_random_moments(generated, tmp_path):
    db = tmp_path / "centre.duckdb"
    folder = generated["root"]
    rng = random.Random(7)
    kills = 0
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, str(HERE / "killchild.py"), str(db),
                                 str(folder), "none", "1", "150"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # wait until it has the database open (its lock), then cut it at a random moment
        deadline = time.monotonic() + 60
        while not db.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 1.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.communicate(timeout=60)
    final = child(db, folder)
    assert final.returncode == 0, final.stderr[-2000:]
    got, dupes, object_dupes = check_once(db, generated)
    expected = {k: generated["totals"][k] for k in KINDS}
    print(f"\nkill test (random): {kills} kills; expected {expected}; got {got}; "
          f"duplicates {dupes}")
    assert got == expected and set(dupes.values()) == {0} and object_dupes == 0
