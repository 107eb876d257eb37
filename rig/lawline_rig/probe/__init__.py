"""Probes: instruments that stand outside the box and observe it the way people would.

- `hearing`: what a listener heard (find a prompt in a recording, detect a tone). Needs numpy,
  which is a test dependency only, so nothing here imports it at package import time.
- `dutyphone`: the on-duty lawyer's mobile, a pjsua2 user agent run as its own process
  (`lawline dutyphone ...` or `python -m lawline_rig.probe.dutyphone ...`).
"""
