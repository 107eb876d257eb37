"""The shell commands on top of the box's parts: `lawline duty`, `lawline case`, `lawline
report`, `lawline outbox`, `lawline trunk`. They hold the whole configuration and build the
parts they need through build.py; no part imports them (cli.py dispatches to them)."""
