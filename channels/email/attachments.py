"""Attachment text for the email channel: the readers live in the core (`intake.documents`),
where MMS media and the sandbox that runs them share them; this name stays for the parser."""

from __future__ import annotations

from intake.documents.readers import (
    MAX_PDF_PAGES,
    decode_text,
    extract_text,
    kind_of,
    needs_sandbox,
)

__all__ = ["MAX_PDF_PAGES", "decode_text", "extract_text", "kind_of", "needs_sandbox"]
