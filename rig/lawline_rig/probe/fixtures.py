"""The pytest fixtures of the one rig factory (probe/rig.py `Rigs`), for every tier that starts
rigs: tests/conftest.py and rig/tests/conftest.py import them.

    def test_x(rigs):                       # stopped after this test
        line = rigs.line("quectel-ec25")   # the loopback line alone

    @pytest.fixture(scope="module")
    def rig(module_rigs):                  # stopped after the module
        return module_rigs.rig("storage", box_options={...})

Both check at the end that every box they started exited cleanly (and a loopback line started
alone, too). With `make hil` options (tests/conftest.py `hil_ports`) `rig(..., hil=True)` and
`line(..., hil=True)` use the real modems instead of the loopback line."""

import pytest

from .rig import Rigs


def _hil(request):
    try:
        return request.getfixturevalue("hil_ports")
    except pytest.FixtureLookupError:       # rig/tests: no hardware-in-loop options
        return None


@pytest.fixture
def rigs(request, tmp_path):
    with Rigs(tmp_path, hil=_hil(request)) as made:
        yield made


@pytest.fixture(scope="module")
def module_rigs(request, tmp_path_factory):
    with Rigs(tmp_path_factory.mktemp("rigs"), hil=_hil(request)) as made:
        yield made
