"""The rig's own tests: the loopback line (simulator), the duty phone, the hearing check, the
crash harness's checker. Run by `make test` (and `make rig-test`); the simulator's tests start
it through the same rig factory as every tier (`rigs`, probe/fixtures.py)."""

from lawline_rig.probe.fixtures import module_rigs, rigs  # noqa: F401  (the rig factory)
