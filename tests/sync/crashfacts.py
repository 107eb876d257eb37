"""What the real servers received, as (key, record, wav bytes) per copy, for crashbox.verify."""

import email
import email.policy
import json
from pathlib import Path


def from_tree(root: Path) -> list:
    """Objects stored as <root>/<day>/<key>/{voicemail.wav, record.json} (nginx, S3 dir)."""
    out = []
    if not root.is_dir():
        return out
    for record_path in sorted(root.glob("*/*/record.json")):
        record = json.loads(record_path.read_text(encoding="utf-8"))
        wav = record_path.parent / "voicemail.wav"
        out.append((record_path.parent.name, record,
                    wav.read_bytes() if wav.exists() else None))
    return out


def from_mail(messages: list, office: str) -> list:
    """Mails of `office` (by Message-ID): key, the attached record and the attached WAV."""
    out = []
    for _, _, raw in messages:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        if f".{office}@" not in (msg["Message-ID"] or ""):
            continue
        wav = record = None
        for part in msg.iter_attachments():
            if part.get_content_type() == "audio/wav":
                wav = part.get_content()
            elif part.get_content_type() == "application/json":
                record = json.loads(part.get_content())
        out.append((msg["X-Lawline-Key"], record or {}, wav))
    return out
