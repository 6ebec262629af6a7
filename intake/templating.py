"""Jinja2 over the top-level `templates/` folder: acknowledgement texts, prompts, pages.

Texts people receive live in templates so that an advocacy service can reword them without
touching code. Plain-text templates are rendered without HTML escaping; `.html` ones with it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape


@lru_cache(maxsize=8)
def environment(templates_dir: Path) -> Environment:
    return Environment(
        loader=FileSystemLoader(str(templates_dir)),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def render_text(templates_dir: Path, name: str, **context: Any) -> str:
    """Render a plain-text template and tidy its whitespace for an SMS or an email body."""
    text = environment(templates_dir).get_template(name).render(**context)
    return "\n".join(line.rstrip() for line in text.strip().splitlines())
