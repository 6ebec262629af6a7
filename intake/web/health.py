"""`GET /healthz`: can this process reach Redis and the database right now?

Load balancers and `make run`'s smoke check read the status code; people read the JSON.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from intake.runtime import Runtime


def _check(runtime: Runtime) -> dict[str, str]:
    checks: dict[str, str] = {}
    try:
        runtime.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"unreachable: {type(exc).__name__}"
    try:
        runtime.store.ping()
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    return checks


async def healthz(request: Request) -> JSONResponse:
    checks = await run_in_threadpool(_check, request.app.state.runtime)
    ok = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ok" if ok else "degraded", **checks}, status_code=200 if ok else 503
    )


routes = [Route("/healthz", healthz, methods=["GET"])]
