"""`GET /openapi.json`: the JSON API described in OpenAPI 3, for the systems that call it.

The description is a data file (`openapi.json` next to this module), written by hand and checked
against the live app by the tests (schemathesis), so it cannot quietly drift from the code.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SPEC_PATH = Path(__file__).with_name("openapi.json")


@cache
def spec() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return data


async def openapi_json(request: Request) -> JSONResponse:
    return JSONResponse(spec())


routes = [Route("/openapi.json", openapi_json, methods=["GET"], include_in_schema=False)]
