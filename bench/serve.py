"""Serve either intake's real app or a bare Starlette form endpoint under uvicorn, one process,
for the webhook benchmark: `python bench/serve.py app|bare PORT` (settings from the environment)."""

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


def main() -> None:
    kind, port = sys.argv[1], int(sys.argv[2])
    if kind == "bare":
        app = Starlette(routes=[Route("/twilio/sms", bare, methods=["POST"])])
    else:
        from intake import runtime
        from intake.config import load_settings
        from intake.runtime import Runtime
        from intake.web.app import create_app

        rt = Runtime.build(load_settings(dotenv=False))
        runtime.install(rt)
        app = create_app(rt)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
