"""Serve intake's real app, a bare Starlette form endpoint, or a bare endpoint that also puts a
no-op job on RQ, under uvicorn, one process, for the webhook benchmark:
`python bench/serve.py app|bare|bare_queue PORT` (settings from the environment).

`bare` is the floor of Starlette itself; `bare_queue` adds only what any queued design pays (one
RQ enqueue, in the thread pool as intake does it), so app/bare_queue is intake's own overhead:
the signature check, the screen that picks the queue, and the message's shape."""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


async def bare(request: Request) -> Response:
    await request.form()
    return Response(EMPTY_TWIML, media_type="application/xml")


def bare_queue_app() -> Starlette:
    from rq import Queue
    from starlette.concurrency import run_in_threadpool

    from intake.config import load_settings
    from intake.queue import connect, queue_name

    settings = load_settings(dotenv=False)
    queue = Queue(queue_name(settings, "default"), connection=connect(settings.redis_url or ""))

    async def bare_queue(request: Request) -> Response:
        form = await request.form()
        await run_in_threadpool(queue.enqueue, "bench.noop.noop", dict(form))
        return Response(EMPTY_TWIML, media_type="application/xml")

    return Starlette(routes=[Route("/twilio/sms", bare_queue, methods=["POST"])])


def main() -> None:
    kind, port = sys.argv[1], int(sys.argv[2])
    if kind == "bare":
        app = Starlette(routes=[Route("/twilio/sms", bare, methods=["POST"])])
    elif kind == "bare_queue":
        app = bare_queue_app()
    else:
        import channels
        from intake import runtime
        from intake.config import load_settings
        from intake.runtime import Runtime
        from intake.web.app import create_app

        rt = Runtime.build(load_settings(dotenv=False), channels.registry())
        runtime.install(rt)
        app = create_app(rt)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
