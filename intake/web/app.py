"""Assemble the Starlette app from the routes each part of intake contributes.

The channels' doors (Twilio webhooks, the missed-call API) come from the channels the runtime was
composed with (`Runtime.channels`), so this module never names one.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware

from intake.runtime import Runtime
from intake.screening import warm_up
from intake.web import api, failed, health, openapi
from intake.web.access_log import AccessLog
from intake.web.dashboard import install as install_dashboard
from intake.web.limits import BodySizeLimit

log = logging.getLogger(__name__)


def create_app(runtime: Runtime) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # The webhook's quick screen must not pay for it.
        await run_in_threadpool(warm_up, runtime.settings.data_dir / "cache")
        yield
        runtime.close()

    app = Starlette(
        routes=[
            *health.routes,
            *api.routes,
            *failed.routes,
            *runtime.channels.routes(),
            *openapi.routes,
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(AccessLog),
            Middleware(api.NoStore),
            Middleware(BodySizeLimit, max_bytes=runtime.settings.max_request_body),
        ],
    )
    app.state.runtime = runtime
    install_dashboard(app, runtime)
    return app
