"""The line tier: the box's own line drivers against the loopback line (a real simulator
process on pseudo-terminals, started with the `rigs` factory: `rigs.line("quectel-ec25")`),
with threads and real-time audio. Run under the shared lock."""
