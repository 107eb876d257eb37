"""SIGKILL at random instants while recording, committing and uploading, then restart:
every outcome of every kind (voicemail, bridged call with its rating, referral, callback,
urgent escalation, a case resolved) has its case, its items and its SMS exactly once, every
message recorded up to the kill reaches every target exactly once (by key), none corrupt,
and every other item (case journal items, call records) reaches the targets that take it.

The fast harness (lawline_rig.probe.crashbox) forks the real recovery + Outbox + UploadWorker
with the real targets and kills it; the servers are real (nginx over TLS with
basic auth, aiosmtpd with STARTTLS and AUTH, rclone serve s3). One kill in five lands while
the restarted child may still be recovering; the others 0-150 ms after recovery finished.
LAWLINE_CRASH_TRIALS raises the count for a soak.
"""

import json
import os
import subprocess
import sys
import time

from lawline_rig.probe import crashbox

from .conftest import DAV_PASSWORD, DAV_USER, MAIL_PASSWORD, MAIL_USER, S3_KEY, S3_SECRET
from .crashfacts import from_mail, from_tree

TRIALS = int(os.environ.get("LAWLINE_CRASH_TRIALS", "200"))


def test_kills_while_recording_and_uploading_lose_and_duplicate_nothing(
        tmp_path, nginx, smtp, s3, test_ca):
    # a folder, a bucket and mail of this try's own: a second try (tests/conftest.py) must not
    # count its first try's uploads as doubled
    name, bucket = s3.fresh_bucket("crash")
    mail_from = len(smtp.messages)
    spec = {
        "upstream": {"url": f"{nginx.url}/dav/{name}", "username": DAV_USER,
                     "password": DAV_PASSWORD, "cafile": str(test_ca.ca)},
        "email": {"port": smtp.port, "username": MAIL_USER, "password": MAIL_PASSWORD,
                  "cafile": str(test_ca.ca)},
        "s3": {"endpoint": s3.url, "bucket": name, "access_key": S3_KEY,
               "secret": S3_SECRET},
    }
    (tmp_path / "targets.json").write_text(json.dumps(spec))
    out = tmp_path / "facts.json"
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "lawline_rig.probe.crashbox", "--dir",
                           str(tmp_path / "box"), "--targets", str(tmp_path / "targets.json"),
                           "--trials", str(TRIALS), "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-3000:]
    facts = json.loads(out.read_text())
    assert facts["final_exit"] == 0, "the last, unkilled run did not drain the outbox"
    kills = facts["kills"]
    assert kills["recording"] >= 10 and kills["uploading"] >= 10, kills

    office = crashbox.OFFICE
    results = {
        "upstream": crashbox.verify(facts, "upstream",
                                    from_tree(nginx.root / "dav" / name / office)),
        "email": crashbox.verify(facts, "email", from_mail(smtp.messages[mail_from:], office)),
        "s3": crashbox.verify(facts, "s3", from_tree(bucket / office)),
    }
    puts = sum(1 for method, uri, status in nginx.requests()
               if method == "PUT" and uri.startswith(f"/dav/{name}/") and uri.endswith(".wav"))
    summary = {target: {k: v for k, v in r.items() if k != "problems"}
               for target, r in results.items()}
    print(f"\ncrash harness: {TRIALS} kills in {facts['seconds_killing']} s "
          f"({elapsed:.0f} s with the final drain), where: {kills}; "
          f"nginx voicemail PUTs {puts}; per target {summary}")
    problems = [p for r in results.values() for p in r["problems"]]
    assert not problems, "\n".join(problems[:20])
    # every outcome of every kind has its case, its journal items and its SMS, exactly once
    kinds = {}
    for told in facts["outcomes"].values():
        kinds[told["kind"]] = kinds.get(told["kind"], 0) + 1
    print(f"outcomes told by kind: {kinds}; cases {len(facts['cases']['cases'])}, items "
          f"{len(facts['cases']['items'])}")
    assert set(kinds) == set(crashbox.KINDS), kinds
    problems = crashbox.verify_outcomes(facts)
    assert not problems, "\n".join(problems[:20])
    for target, r in results.items():
        assert r["lost"] == 0 and r["duplicated"] == 0, (target, r)
        assert r["messages"] >= r["told"] >= TRIALS // 60, (target, r)
    # every other item (case journal items, call records) reached the targets that take
    # them, each under its own key: none lost, none under a key the box never committed
    for target, tree in (("upstream", nginx.root / "dav" / name / office),
                         ("s3", bucket / office)):
        items = crashbox.verify_items(facts, target, [k for k, _, _ in from_tree(tree)])
        print(f"{target}: {items['items']} other items, lost {items['lost']}, "
              f"stray {items['stray']}")
        assert not items["problems"], "\n".join(items["problems"])
    assert len(facts["calls"]) >= TRIALS // 20
