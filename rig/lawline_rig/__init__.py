"""The loopback line and the test rig around the box: simulated modems on pseudo-terminals
(sim/), the other end of the line (probe/: caller, duty phone, hearing checks, crash harness,
upstream servers), the local upstream receiver, the demo and the benches.

None of this is on the box: the image installs the `lawline` package only. `make demo` and
`make test` install this package beside it (tools/bootstrap.sh).
"""
