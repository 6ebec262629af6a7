"""HTML body to readable plain text.

HTML-only mail (web forms, Outlook on the web, newsletters) must still be screenable and readable on
the dashboard, so markup is turned into text that keeps paragraphs, line breaks, list items and
quoted blocks ("> ") rather than one long run of words. Scripts, styles and comments never carry
referral content and are removed before conversion.
"""

from __future__ import annotations

import html as html_lib
import re

# Very large HTML (mostly newsletters with inline CSS) is cut before conversion: html2text is a
# pure-Python parser and the tail of such messages is never referral content.
MAX_HTML_CHARS = 2_000_000

_DROP_BLOCKS = re.compile(
    r"<(script|style|head|title|noscript|template|xml)\b[^>]*>.*?</\1\s*>", re.I | re.S
)
_COMMENTS = re.compile(r"<!--.*?-->", re.S)
_CONDITIONAL = re.compile(r"<!\[(?:if|endif)[^\]]*\]>", re.I)
# Newsletter "preheader" text hidden from view; not something a human wrote to us.
_HIDDEN = re.compile(
    r"<(span|div|p)\b[^>]*style\s*=\s*[\"'][^\"']*display\s*:\s*none[^\"']*[\"'][^>]*>.*?</\1\s*>",
    re.I | re.S,
)
_HEADING_MARK = re.compile(r"^#{1,6}\s+", re.M)
_ESCAPED = re.compile(r"\\([-\\`*_{}\[\]()#+.!>])")
_TRAILING_WS = re.compile(r"[ \t\u00a0]+$", re.M)
_MANY_BLANKS = re.compile(r"\n{3,}")
_TAG = re.compile(r"<[^>]+>")
_RULE = re.compile(r"<hr\b[^>]*>", re.I)  # html2text draws "* * *"; a blank line reads better
# html2text with ignore_tables glues adjacent cells together ("NameJohn"); an em space marks the
# cell boundary and is turned into two ordinary spaces afterwards.
_CELL_END = re.compile(r"</t[dh]\s*>", re.I)
_CELL_GAP = "\u2003"
_BLOCK_END = re.compile(r"</(p|div|li|tr|h[1-6]|blockquote|table)\s*>|<br\s*/?>", re.I)


def _strip_noise(markup: str) -> str:
    markup = _COMMENTS.sub("", markup)
    markup = _CONDITIONAL.sub("", markup)
    markup = _DROP_BLOCKS.sub("", markup)
    markup = _HIDDEN.sub("", markup)
    markup = _RULE.sub("<br>", markup)
    return _CELL_END.sub(lambda m: _CELL_GAP + m.group(0), markup)


def _tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _HEADING_MARK.sub("", text)
    text = text.replace(_CELL_GAP, "  ")
    text = _ESCAPED.sub(r"\1", text)
    text = _TRAILING_WS.sub("", text)
    text = _MANY_BLANKS.sub("\n\n", text)
    return text.strip("\n")


def _fallback(markup: str) -> str:
    """Crude tag stripping for when html2text fails: better rough text than none."""
    text = _BLOCK_END.sub("\n", markup)
    text = _TAG.sub("", text)
    return html_lib.unescape(text)


def html_to_text(markup: str) -> str:
    """Convert an HTML body to readable text; never raises."""
    if not markup:
        return ""
    markup = _strip_noise(markup[:MAX_HTML_CHARS])
    try:
        import html2text

        converter = html2text.HTML2Text()
        converter.body_width = 0
        converter.ignore_images = True
        converter.ignore_links = True
        converter.ignore_emphasis = True
        converter.ignore_tables = True
        converter.unicode_snob = True
        converter.single_line_break = False
        text = converter.handle(markup)
    except Exception:
        text = _fallback(markup)
    return _tidy(text)
