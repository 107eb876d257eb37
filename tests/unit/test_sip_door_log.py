"""The SIP door's log under a scanner's flood: each source gets a bounded number of lines a
minute, then one line that counts what was not logged (pure: no SIP endpoint)."""

import logging

from lawline.sip.door import SipDoor


def _door():
    door = object.__new__(SipDoor)          # only the log limiter: no pjsip needed
    door._log_window = {}
    return door


def test_a_flood_from_one_source_is_counted_not_logged_line_by_line(caplog):
    door, limit = _door(), SipDoor.LOG_PER_SOURCE_PER_MINUTE
    logged = [door._should_log("203.0.113.9:5060", now=100 + i * 0.01) for i in range(limit + 500)]
    assert logged[:limit] == [True] * limit and not any(logged[limit:])
    # another source is not silenced by the first one's flood
    assert door._should_log("198.51.100.7:5060", now=101)
    with caplog.at_level(logging.WARNING, logger="lawline.sip"):
        assert door._should_log("203.0.113.9:5060", now=161)     # a new minute
    assert "500 more requests from '203.0.113.9:5060' refused with 403 in the last minute" \
        in caplog.text
