"""A county's own menu from the TOML ([menu.keys], [menu.submenu.NAME]), heard by a caller on
the loopback line: a key moved, a sub-menu added."""

import pytest

from lawline_rig.probe.rig import Rig

from ..conftest import run_call

pytestmark = pytest.mark.scenario

COUNTY_MENU = {
    "keys": {"1": "service_request",                        # moved: key 2 is today's
             "6": {"branch": "submenu", "menu": "more"},    # a sub-menu added
             "0": "repeat"},
    "submenu": {"more": {"prompt": "referral_intro",
                         "keys": {"5": "complaint", "0": "repeat"}}},
}


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    rig = Rig(tmp_path_factory.mktemp("county-menu"), box_options={"menu": COUNTY_MENU})
    rig.start()
    yield rig
    codes = rig.stop()
    assert codes.get("box") == 0, f"the box exited with {codes.get('box')}:\n{rig.box_log()[-3000:]}"


async def moved_key(rig):
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    await caller.press("2")                 # today's service request key: not this menu's
    await caller.hear("invalid_key", 20)
    await caller.press("1")
    await caller.hear("record_request", 20)
    await caller.hang_up()
    await caller.wait_ended(10)
    return (await rig.next_record("call", after))["record"]


async def into_the_sub_menu(rig):
    caller, after = rig.caller, rig.last_id()
    await caller.call(rig.box_number)
    await caller.hear("greeting", 20)
    await caller.press("6")
    await caller.hear("referral_intro", 20)  # the sub-menu's prompt
    await caller.press("5")
    await caller.hear("complaint_staff", 20)
    await caller.hang_up()
    await caller.wait_ended(10)
    return (await rig.next_record("call", after))["record"]


def test_a_moved_key_is_heard(rig):
    record = run_call(rig, moved_key)
    assert record["menu_path"] == ["invalid:2", "1"], record
    assert record["branch"] == "service_request"


def test_a_sub_menu_added_in_toml_is_heard(rig):
    record = run_call(rig, into_the_sub_menu)
    assert record["menu_path"] == ["6", "5"] and record["branch"] == "complaint", record
    assert "sub-menu more (key 6)" in rig.box_log()
