"""A long outage with hundreds of queued items, then the upstream (nginx, TLS) comes back:
everything drains, oldest first. The same code is `python -m lawline_rig.syncbench`."""

from lawline_rig.syncbench import run_drain


def test_backlog_drains_in_order_of_age_after_an_outage(tmp_path):
    result = run_drain(tmp_path, 300, outage=2.0, timeout=120)
    print(f"\ndrain: {result}")
    assert result["failed_probes"] >= 2       # it really was down while items queued
    assert result["drained"] and result["delivered"] == 300
    assert result["in_order"]
