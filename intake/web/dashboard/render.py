"""Rendering dashboard pages: one Jinja environment, the same security headers on every page."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from starlette.requests import Request
from starlette.responses import HTMLResponse

from intake import sla
from intake.models import utcnow
from intake.web.auth import csrf_token
from intake.web.dashboard import present

# Pages hold special-category data: never cached, never framed, scripts only from this site.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "media-src 'self' https:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
}


@pass_context
def _when(context: Context, value: datetime | None) -> str:
    """A stored time in the service's zone (`INTAKE_TIMEZONE`), with the zone's abbreviation."""
    return sla.full(value, context["timezone"]) if value else ""


@pass_context
def _short(context: Context, value: datetime | None) -> str:
    """A time as short as is unambiguous ("14:05", "Tue 09:30"), in the service's zone."""
    return sla.clock(value, context["timezone"], context["now"]) if value else ""


@pass_context
def _show(context: Context, value: Any) -> str:
    if isinstance(value, datetime):
        return _when(context, value)
    return "" if value is None else str(value)


@lru_cache(maxsize=4)
def environment(templates_dir: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(templates_dir)),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["short"] = _short
    env.filters["tel"] = present.tel
    env.filters["first_upper"] = lambda text: str(text)[:1].upper() + str(text)[1:]
    env.filters["show"] = _show
    env.filters["field_label"] = present.field_label
    env.globals["channel_label"] = present.channel_label
    return env


def page(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    settings = request.app.state.runtime.settings
    html = (
        environment(settings.templates_dir)
        .get_template(f"dashboard/{template}")
        .render(
            request=request,
            csrf_token=csrf_token(request),
            org_name=settings.org_name,
            timezone=settings.intake_timezone,
            now=utcnow(),
            demo=settings.demo,
            **context,
        )
    )
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
