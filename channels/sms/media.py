"""MMS and WhatsApp media: fetched from Twilio in the worker and kept with the message.

Twilio's webhook carries `NumMedia` and `MediaUrl{N}`/`MediaContentType{N}` (up to 10 files; 5 MB
in all for MMS, more for WhatsApp documents). The door keeps the URLs (`meta.media`); the
worker's side fetches each file with the account's credentials through `intake.media_fetch`
(Twilio's hosts only, size and time capped) and hands it to the pipeline as an attachment of the
message, stored with it in one transaction. A plain-text file or contact card is read at once; a
PDF or document is read later in the sandbox (`intake.documents`), and the message revised with
its text. A picture cannot be screened: the referral says so for a person to look. A file that
cannot be fetched is recorded with the reason in `meta.media` (the referral is not held up).
"""

from __future__ import annotations

import logging
import mimetypes
import time
from dataclasses import replace
from typing import Any

from intake.documents.readers import extract_text, needs_sandbox
from intake.media_fetch import FetchFailed, fetch
from intake.models import Attachment, InboundMessage
from intake.runtime import Runtime

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 16 * 1024 * 1024  # WhatsApp's largest media; MMS stays under 5 MB in all
MAX_TOTAL_BYTES = 32 * 1024 * 1024
DEADLINE_SECONDS = 45.0  # all of a message's media together
PICTURES_REVIEW = "sent a picture or other media that cannot be screened: look at it"


def _filename(item: dict[str, Any], index: int, content_type: str) -> str:
    sid = str(item.get("url") or "").rstrip("/").rsplit("/", 1)[-1]
    stem = sid if sid.startswith("ME") and sid.isalnum() else f"media-{index + 1}"
    extension = mimetypes.guess_extension(content_type) or ".bin"
    return f"{stem}{extension}"


def with_media(runtime: Runtime, message: InboundMessage) -> InboundMessage:
    """`message` with its media fetched as attachments (and `meta.media` saying how each went)."""
    media = [dict(item) for item in message.meta.get("media") or []]
    if not media or runtime.store.message_row_id(message.channel, message.provider_id):
        return message  # no media, or stored already (a re-run): the files are with it
    started = time.monotonic()
    files: list[Attachment] = []
    total = 0
    unreadable = False
    for index, item in enumerate(media):
        remaining = DEADLINE_SECONDS - (time.monotonic() - started)
        budget = min(MAX_FILE_BYTES, MAX_TOTAL_BYTES - total)
        if remaining <= 0 or budget <= 0:
            item["error"] = "not fetched: the message's time or size allowance was used up"
            continue
        try:
            got = fetch(
                runtime.settings, str(item.get("url") or ""), max_bytes=budget, deadline=remaining
            )
        except FetchFailed as exc:
            item["error"] = f"not fetched: {exc}"
            log.warning("sms %s: media %d %s", message.provider_id, index, exc)
            continue
        content_type = str(item.get("content_type") or got.content_type or "")
        name = _filename(item, index, content_type)
        total += len(got.data)
        item["filename"], item["size"] = name, len(got.data)
        if needs_sandbox(name, content_type, got.data):
            files.append(Attachment(name, content_type, len(got.data), got.data, unread=True))
            continue
        text, _notes = extract_text(name, content_type, got.data)
        unreadable = unreadable or text is None
        files.append(Attachment(name, content_type, len(got.data), got.data, text))
    meta = {**message.meta, "media": media}
    body = message.body
    texts = [f"[Attachment: {f.filename}]\n{f.text}" for f in files if f.text]
    if texts:
        body = "\n\n".join(piece for piece in (body, *texts) if piece)
    review = message.review_reason
    if unreadable or any("error" in item for item in media):
        review = review or PICTURES_REVIEW
    return replace(message, body=body, meta=meta, attachments=tuple(files), review_reason=review)
