"""Jinja2 over the top-level `templates/` folder: acknowledgement texts, prompts, pages.

Texts people receive live in templates so that an advocacy service can reword them without
touching code. Plain-text templates are rendered without HTML escaping; `.html` ones with it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

_TITLE = re.compile(r"^\{#\s*(.*?)\s*#\}")


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


def titled(templates_dir: Path, folder: str) -> list[tuple[str, str]]:
    """(name, title) of every `.txt` template in `folder`, sorted by title.

    The title is the template's first line when it is a Jinja comment (`{# Offer a call back #}`),
    else the name with spaces: what a menu shows the person choosing one.
    """
    found = []
    for path in sorted((templates_dir / folder).glob("*.txt")):
        first = path.read_text(encoding="utf-8").splitlines()[:1]
        match = _TITLE.match(first[0]) if first else None
        found.append((path.stem, match.group(1) if match else path.stem.replace("_", " ")))
    return sorted(found, key=lambda item: item[1])
