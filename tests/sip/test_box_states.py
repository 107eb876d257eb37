"""The box tells of parts that fail inside it: a SIP event poller that keeps failing and an
outbox the upload worker cannot read become states (spool/state.json, `lawline check`,
systemd's STATUS line), and clear when they work again."""

import pytest

from lawline import config as configuration

app = pytest.importorskip("lawline.app")   # needs pjsua2 (x86-64 wheel; built for the Pi)


def test_a_failing_sip_poller_and_outbox_are_states_that_clear(tmp_path):
    box = app.Box(configuration.from_dict({"spool": {"dir": str(tmp_path / "spool")}}))
    box._sip_lost("handling pjsua2's events fails for 2 s: boom")
    box._outbox_error("upstream", "DatabaseError: disk I/O error")
    parts = box.status.parts
    assert parts["sip"]["state"] == "fail" and "boom" in parts["sip"]["message"]
    assert parts["outbox"]["state"] == "fail" and "upstream" in parts["outbox"]["message"]
    assert "sip" in box.status_line() and "outbox" in box.status_line()
    box._sip_lost(None)
    box._outbox_error("upstream", None)
    assert box.status.parts["sip"]["state"] == "ok"
    assert box.status.parts["outbox"]["state"] == "ok"
