"""The job that reads a stored message's files and revises the message with what they say.

Queued by the pipeline (`intake.pipeline`) once a message with unread files is stored, as
`intake.tasks.read_attachments(channel, provider_id)`. Each file is read in the sandbox
(`intake.documents.sandbox`); its text is stored on its row (`""` when it had none, so a re-run
never reads it twice), and the files inside a winmail.dat are added as attachments of the same
message. Then the message goes back to the pipeline as a revision (`pipeline.revise`): its text
now ends with the files' text, so the referral is screened and extracted again (urgency only
rises), and what waited for the files (an email's acknowledgement, the forward) goes out.
Idempotent: a message whose files were read (`reading` gone from its meta) is left alone.
"""

from __future__ import annotations

import logging
from typing import Any

from intake import pipeline
from intake.documents import readers, sandbox
from intake.models import Attachment
from intake.runtime import Runtime

log = logging.getLogger(__name__)


def read_attachments(
    runtime: Runtime, channel_name: str, provider_id: str, limits: sandbox.Limits | None = None
) -> dict[str, Any]:
    store = runtime.store
    stored = store.get_message(channel_name, provider_id)
    if stored is None or not (stored["meta"] or {}).get(pipeline.READING):
        return {"read": 0, "revised": False}
    read = 0
    for row in store.attachments.to_read(stored["id"]):
        if not readers.needs_sandbox(row["filename"], row["content_type"], row["data"]):
            continue
        item = Attachment(row["filename"], row["content_type"], row["size"], row["data"])
        reading = sandbox.read_file(item, limits or sandbox.DEFAULT_LIMITS)
        with store.transaction():
            for part in reading.parts:
                store.attachments.add(stored["referral_id"], stored["id"], part)
            store.attachments.set_text(row["id"], reading.text or "")
        read += 1
        for note in reading.notes:
            log.info("message %s: %s", stored["id"], note)
    texts = store.attachments.texts(stored["id"])
    result = pipeline.revise_with_files(runtime, channel_name, stored, texts)
    return {"read": read, "revised": True, **result.to_dict()}
