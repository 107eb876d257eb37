"""Small shared pieces of the sync tests: a voicemail committed the way call/driver.py does."""

import os
import time

from lawline.sync import Outbox
from lawline.sync.recovery import recording_name
from lawline.sync.wavfile import header

AUDIO = os.urandom(16000)  # one second that any truncation or reorder would change


def wav_bytes(audio=AUDIO):
    return header(len(audio)) + audio


def commit_voicemail(outbox: Outbox, key: str, caller="13800138000", box="complaint",
                     audio=AUDIO, **extra):
    incoming = outbox.spool_dir / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    call_id = time.strftime("%y%m%d-%H%M%S") + "-" + key[-4:].rjust(4, "0")
    path = incoming / recording_name(call_id, box, caller)
    path.write_bytes(wav_bytes(audio))
    record = {"case_number": key, "box": box, "caller": caller, "line": "07730148",
              "office": "county-0148", "call_id": call_id,
              "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "duration_s": round(len(audio) / 16000, 2), "ended_by": "# pressed",
              "short": False, **extra}
    outbox.commit(key, "voicemail", record, {"voicemail.wav": path})
    return path, record


def due(outbox, target, key):
    return next(d for d in outbox.due(target, now=time.time() + 10 ** 6, limit=1000)
                if d.key == key)
