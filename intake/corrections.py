"""Advocates' corrections of screening, as labelled examples for retraining.

`intake export corrections --out FILE` writes one JSON object per corrected referral, in exactly
the shape of the labelled sets in `tests/data/screening_eval.jsonl`, so `intake eval screening
FILE` scores today's screening on them and `scripts/train_risk_model.py` can learn from them:

- `text`: what screening read (the referral's text; for a conversation, every message in order);
- `channel`: `sms`, `email` or `voice`;
- `urgency`, `safeguarding`: the labels as the advocates left them (their last correction of
  each; the screened value where only the other was corrected);
- `safe_to_contact`: as stored;
- `needs_review`: whether screening asked a person to review the message (not corrected: no
  advocate action sets it);
- `note`: what was corrected and why, in the advocates' words.

Erasing a person reaches these rows (`store.corrections.erase`): an export made afterwards no
longer contains them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import IO, Any

from intake.models import Referral
from intake.store import Store


def example(
    referral: Referral, corrections: Sequence[Mapping[str, Any]], text: str | None = None
) -> dict[str, Any]:
    """One labelled example from a referral and its corrections (oldest first); `text` is the
    conversation as screening read it (the referral's text when None); pure."""
    urgency = referral.urgency
    safeguarding = sorted(referral.safeguarding)
    notes = []
    for correction in corrections:
        if correction["kind"] == "urgency":
            urgency = str(correction["after"])
            notes.append(f"urgency {correction['before']} -> {correction['after']}")
        else:
            safeguarding = sorted(correction["after"] or [])
            before = ", ".join(correction["before"] or []) or "none"
            notes.append(f"categories {before} -> {', '.join(safeguarding) or 'none'}")
        reason = " ".join(str(correction["reason"] or "").split())
        if reason:
            notes[-1] += f" ({reason})"
    return {
        "text": text if text is not None else referral.raw_text,
        "channel": referral.channel,
        "urgency": urgency,
        "safeguarding": safeguarding,
        "safe_to_contact": bool(referral.safe_to_contact),
        "needs_review": bool((referral.screening or {}).get("needs_review")),
        "note": "advocate correction: " + "; ".join(notes),
    }


def write_corrections(store: Store, out: IO[str]) -> int:
    """Write every corrected referral as one JSON line; the number written."""
    count = 0
    for referral, corrections in store.corrections.corrected():
        assert referral.id is not None
        bodies = [str(m["body"]) for m in store.messages_for(referral.id) if m["body"]]
        text = "\n".join(bodies) if len(bodies) > 1 else referral.raw_text
        line = example(referral, corrections, text)
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
        count += 1
    return count
