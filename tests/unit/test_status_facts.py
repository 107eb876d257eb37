"""The box's figures beside its states (issue 19.6): the media core's census after each call
goes to state.json for a soak test to watch, without a log line per call, and `lawline
check`'s parts stay as they were."""

import json
import logging

from lawline.status import OK, Status


def test_a_noted_figure_is_saved_beside_the_parts_and_not_logged(tmp_path, caplog):
    status = Status(tmp_path / "state.json")
    status.set("modem", OK, "ready")
    with caplog.at_level(logging.DEBUG):
        status.note("media", {"calls": 3, "bridge_ports": 2, "objects": 0})
        status.note("media", {"calls": 4, "bridge_ports": 2, "objects": 0})
    saved = json.loads((tmp_path / "state.json").read_text())
    assert saved["facts"] == {"media": {"calls": 4, "bridge_ports": 2, "objects": 0}}
    assert saved["parts"]["modem"]["message"] == "ready"
    assert not [r for r in caplog.records if "media" in r.getMessage()]


def test_without_figures_state_json_is_as_before(tmp_path):
    status = Status(tmp_path / "state.json")
    status.set("modem", OK, "ready")
    assert "facts" not in json.loads((tmp_path / "state.json").read_text())
