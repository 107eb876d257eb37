"""One event type for every telephone part (lawline/events.py): a part may put out only
the kinds its source has. (A modem line's events on the loopback line:
tests/line/test_part_events.py; a SIP leg's and the trunk's: tests/sip/test_part_events_sip.py.)"""

import pytest

from lawline.events import PartEvent


def test_a_kind_its_source_does_not_have_is_refused():
    assert PartEvent("leg sip:1@h", "dtmf", digit="1").part == "leg"
    with pytest.raises(ValueError, match="no 'registration' event from a 'line'"):
        PartEvent("line 1", "registration")
    with pytest.raises(ValueError, match="no 'ring' event from a 'nowhere'"):
        PartEvent("nowhere", "ring")
    event = PartEvent("trunk", "ping", code=200)
    with pytest.raises(AttributeError):
        event.code = 503          # plain frozen data: nobody edits what a part reported
