"""The referral form as a PDF: the form's HTML template rendered by WeasyPrint.

WeasyPrint lays out HTML and CSS (paged media: A4, page numbers) and shapes every script through
Pango and HarfBuzz, so Welsh, Polish and Urdu messages print as written. It needs the Pango
library (Debian: libpango-1.0-0, libpangoft2-1.0-0) and fonts covering the scripts received
(DejaVu covers Latin, Greek, Cyrillic and Arabic; Noto covers the rest).

Nothing the template names is fetched from the network: only files under the templates folder
(a provider's logo, a stylesheet) and `data:` URLs are read, so a referral can never make the
worker fetch a URL.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname


@lru_cache(maxsize=1)
def unavailable() -> str | None:
    """Why the PDF cannot be made on this machine (one line), or None when it can."""
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as exc:  # OSError: the Pango library is missing
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"WeasyPrint cannot load ({first})"
    return None


def _fetcher(templates_dir: Path) -> Any:
    from weasyprint.urls import URLFetcher

    root = templates_dir.resolve()

    class TemplatesOnly(URLFetcher):  # type: ignore[misc]
        """Files under the templates folder and `data:` URLs; nothing else."""

        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("file:"):
                path = Path(url2pathname(urlsplit(url).path)).resolve()
                if not path.is_relative_to(root):
                    raise ValueError("not fetched: a file outside the templates folder")
            return super().fetch(url, headers)

    return TemplatesOnly(allowed_protocols={"file", "data"}, allow_redirects=False)


def render(html: str, templates_dir: Path) -> bytes:
    """The PDF of one rendered form (bytes); raises RuntimeError when WeasyPrint cannot load."""
    reason = unavailable()
    if reason:
        raise RuntimeError(reason)
    import weasyprint

    document = weasyprint.HTML(
        string=html,
        base_url=str(templates_dir.resolve()) + "/",
        url_fetcher=_fetcher(templates_dir),
    )
    return bytes(document.write_pdf())
