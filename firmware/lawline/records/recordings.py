"""Bridged calls recorded with the caller's consent (issue 17.10): what a cut left behind.

The driver records a bridged call both ways into `spool/recordings/<call id>-bridged-
<caller>.wav` (call/driver.py) and the call commits it at its end as an item like a
voicemail's (records/outcomes.CallRecording, through the ledger). A power cut or a kill
during the bridge, or between its end and that commit, leaves the WAV without its item: at
start-up (records/recovery.start_up) each such file is repaired to the audio on disk and
committed then, flagged interrupted when its header had to be repaired, so no recording is
lost and none is sent twice (its item's key is the call's). The recordings folder is apart
from `incoming/` on purpose: the voicemail re-scan would take a bridged call for a message
and open a case for it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..sync import recovery as spool_scan
from . import outcomes

log = logging.getLogger("lawline.recovery")

FOLDER = "recordings"


def recover(office: Any, outbox: Any, spool: Path, line_number: str = "") -> list[str]:
    """Commit every recording under spool/recordings that no item or pending ledger entry
    refers to; returns the keys committed."""
    found = spool_scan.scan(outbox, spool / FOLDER, office.ledger.pending_files())
    if found is None:
        return []
    done = []
    for wav in found.recordings:
        facts = spool_scan.recording(wav, found)
        if facts is None:
            continue            # set aside in damaged/: it could not be repaired
        call = outcomes.Call(facts.call_id, facts.caller, line_number)
        office.commit([outcomes.CallRecording(call, outbox.relative(wav), facts.seconds,
                                              spool_scan.started_at(facts.call_id),
                                              interrupted=facts.repaired)], kick=False)
        log.warning("recovery: the recording of call %s (%.1f s%s) was on the spool but not "
                    "in the outbox; committed", facts.call_id, facts.seconds,
                    ", cut short: header repaired" if facts.repaired else "")
        done.append(f"recording-{facts.call_id}")
    return done
