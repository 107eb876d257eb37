"""Getting committed voicemails, cases and call records upstream.

`Outbox` keeps what is owed durably (SQLite, WAL); `UploadWorker` delivers it from the event
loop to targets such as `HttpPutTarget`; `lawline_rig.receiver` is a local upstream for the
demo and the tests.
"""

from lawline.sync.http import HttpPutTarget, UploadError
from lawline.sync.outbox import DueItem, Outbox, OutboxError, PendingDelivery, Retry, StoredItem
from lawline.sync.worker import UploadWorker

__all__ = ["DueItem", "HttpPutTarget", "Outbox", "OutboxError", "PendingDelivery", "Retry",
           "StoredItem", "UploadError", "UploadWorker"]
