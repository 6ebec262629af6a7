"""A request body size limit, as ASGI middleware: anything larger gets `413`.

Twilio's webhooks are a few kilobytes (an SMS body is at most 1,600 characters) and the JSON API
takes no bodies at all, so a multi-megabyte POST is either a mistake or an attack. Starlette would
otherwise read the whole body into memory to parse the form before the signature can even be
checked. The limit is enforced twice: on the declared `Content-Length` before anything is read,
and on the bytes actually received, for chunked requests that declare no length.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

TOO_LARGE = b"request body too large"


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    """Refuse HTTP requests whose body is larger than `max_bytes` (0 or less: no limit)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.max_bytes <= 0:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            log.warning("refused a %d-byte request to %s with 413", declared, scope.get("path"))
            await _send_413(send)
            return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            log.warning("refused an over-long streamed request to %s with 413", scope.get("path"))
            if not started:
                await _send_413(send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_413(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(TOO_LARGE)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": TOO_LARGE})
