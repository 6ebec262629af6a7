"""The SMS door: Twilio's inbound-message webhook (`POST /twilio/sms`).

It does four things and nothing else: check the signature, turn the form into an
`InboundMessage`, put it on the queue, answer with empty TwiML. Everything slow happens in the
worker. If Redis cannot take the message the answer is 503, so Twilio tries the fallback URL or
the request is retried; nothing is half-written because nothing is written here at all.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from channels.twilio import signature_is_valid
from intake.config import Settings
from intake.models import InboundMessage
from intake.priority import priority_for
from intake.queue import QueueUnavailable, enqueue_message

log = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
# Fields worth keeping with the message; the body and the numbers have their own columns.
KEPT_FIELDS = (
    "AccountSid",
    "MessagingServiceSid",
    "NumMedia",
    "NumSegments",
    "OptOutType",
    "FromCity",
    "FromState",
    "FromZip",
    "FromCountry",
    "SmsStatus",
)


def message_from_form(
    form: Mapping[str, Any], received_at: datetime | None = None
) -> InboundMessage:
    """Twilio's inbound SMS form → `InboundMessage` (pure; unknown fields are ignored)."""
    meta: dict[str, Any] = {key: str(form[key]) for key in KEPT_FIELDS if form.get(key)}
    try:
        num_media = min(int(form.get("NumMedia") or 0), 10)
    except ValueError:
        num_media = 0
    media = [
        {
            "url": str(form.get(f"MediaUrl{i}", "")),
            "content_type": str(form.get(f"MediaContentType{i}", "")),
        }
        for i in range(num_media)
        if form.get(f"MediaUrl{i}")
    ]
    if media:
        meta["media"] = media
    return InboundMessage(
        channel="sms",
        provider_id=str(form.get("MessageSid") or form.get("SmsSid") or ""),
        sender=str(form.get("From") or ""),
        recipient=str(form.get("To") or ""),
        body=str(form.get("Body") or ""),
        received_at=received_at or datetime.now(UTC),
        meta=meta,
    )


async def sms_webhook(request: Request) -> Response:
    runtime = request.app.state.runtime
    settings: Settings = runtime.settings
    form = await request.form()
    if not signature_is_valid(settings, request, form):
        log.warning("refused SMS webhook with a missing or invalid signature")
        return PlainTextResponse("invalid signature", status_code=403)
    message = message_from_form(form)
    if not message.provider_id or not message.sender:
        return PlainTextResponse("MessageSid and From are required", status_code=400)
    priority = priority_for(message.body, "sms")
    try:
        await run_in_threadpool(
            enqueue_message, settings, runtime.redis, message, priority=priority
        )
    except QueueUnavailable:
        log.error(
            "queue unavailable: refused SMS %s with 503 so Twilio retries", message.provider_id
        )
        return PlainTextResponse("queue unavailable, try again", status_code=503)
    return Response(EMPTY_TWIML, media_type="application/xml")


routes = [Route("/twilio/sms", sms_webhook, methods=["POST"])]
