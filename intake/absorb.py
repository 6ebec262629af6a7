"""The one policy for a later message that joins a referral (pure: state in, change out).

Every channel's later messages come through here: a text in an open conversation, an email reply,
a message merged from another channel, a voicemail whose transcript has come. The rules, once:

- **Screening scope.** The whole conversation is screened again: every message of the referral,
  oldest first, as one text (risk spread over several texts, "I've taken them" then "32
  paracetamol", is seen together). The new screening is what the referral shows.
- **Fields.** Extracted from the whole conversation; a value already known is never replaced by a
  guess from text. Answers to a question we asked replace guesses; facts a channel is sure of
  (`InboundMessage.facts`) replace earlier facts. A later "don't contact me" always wins.
- **Urgency** never falls automatically, and rises race-safely (a conditional update, see
  `Store.raise_urgency`). A channel's floor (the emergency key on a call) counts as screening.
  A calmer conversation is flagged for review instead of lowered.
- **A person's decision stands.** When an advocate has set the urgency by hand, a message that
  screens higher does not overwrite it: the referral is marked "new message since triage" with
  the new screening visible and flagged for review, and on-call is alerted if it screens as an
  emergency. Their decision and its reason stay in the audit trail.
- **New message since triage.** A message joining a referral a person has triaged, closed or
  decided marks it, so the queue brings it back up. A closed referral is reopened: a message to
  it must not sit unread.
- Safeguarding categories are only added; "safe to contact" is only ever withdrawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from intake import deadlines
from intake.extraction.eligibility import received_day
from intake.merge import apply_answer, fill_fields
from intake.models import InboundMessage, Referral, more_urgent, most_urgent
from intake.screening import ScreeningResult

REOPENED = "open"


@dataclass(frozen=True)
class Change:
    """What absorbing one message does to its referral.

    `raise_to`: the urgency to raise to (applied only if still higher when written), or None.
    `alert`: why on-call must hear now (`escalated`, `screened`), or None.
    """

    raise_to: str | None
    safeguarding: list[str]
    screening: dict[str, Any]
    fields: dict[str, Any]
    safe_to_contact: bool
    mark_new_message: bool
    reopen: bool
    alert: str | None
    audit: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def screening_with_floor(screening: ScreeningResult, message: InboundMessage) -> dict[str, Any]:
    """The stored screening: the text's, with the channel's floor and review reason on it."""
    out = screening.to_dict()
    floor = message.urgency_floor
    if floor and more_urgent(floor, screening.urgency):
        out["urgency"] = floor
        out["urgency_floor"] = floor
    if message.review_reason:
        out["needs_review"] = out.get("needs_review") or True
        out["review_reason"] = message.review_reason
    return out


def decide(
    referral: Referral,
    message: InboundMessage,
    screening: ScreeningResult,
    extracted: dict[str, Any],
    *,
    how: str,
    answer: dict[str, Any] | None = None,
    answered: dict[str, Any] | None = None,
    new_text: bool = True,
    deadline_urgent_days: int = deadlines.DEFAULT_URGENT_DAYS,
) -> Change:
    """The change absorbing `message` makes to `referral` (see the module docstring).

    `screening` is of the whole conversation including `message`; `extracted` the extraction of
    the same text (`ExtractionResult.to_dict()`); `answer` fields the message gives in answer to
    a question we asked, and `answered` where they came from (their provenance). `new_text` is
    False when the message revises only facts (nothing new was said: no marker). A statutory
    deadline on the eligibility card within `deadline_urgent_days` of the message's arrival
    screens the conversation at least urgent (`intake.deadlines.apply`).
    """
    at = message.received_at.isoformat()
    provenance = {"source": how, "channel": message.channel, "message": message.provider_id}
    fields = fill_fields(referral.fields, extracted, {**provenance, "at": at})
    if answer:
        source = {**provenance, "source": f"{how}:answer", **(answered or {}), "at": at}
        fields = apply_answer(fields, answer, source)
    fields.update(message.facts)

    stored = screening_with_floor(screening, message)
    stored = deadlines.apply(
        stored, fields, received_day(message.received_at), deadline_urgent_days
    )
    screened = str(stored["urgency"])
    current = referral.urgency
    decided_by = referral.urgency_decided_by
    raise_to: str | None = None
    alert: str | None = None
    audit: list[tuple[str, dict[str, Any]]] = []
    mark = new_text and (referral.status != "open" or decided_by is not None)
    if decided_by is None:
        if more_urgent(screened, current):
            raise_to = screened
            alert = "escalated" if screened == "emergency" else None
        elif more_urgent(current, screened):
            stored["needs_review"] = stored.get("needs_review") or True
            stored["review_reason"] = stored.get("review_reason") or (
                f"the conversation now reads {screened}; urgency kept at {current}"
            )
        stored["urgency"] = most_urgent(current, screened)
    else:
        if more_urgent(screened, current):
            mark = new_text
            stored["needs_review"] = stored.get("needs_review") or True
            stored["review_reason"] = (
                f"a new message screens {screened}; the urgency a person set ({current}) stands "
                "until someone looks"
            )
            alert = "screened" if screened == "emergency" else None
            audit.append(
                ("referral.screened_above_decision", {"screened": screened, "kept": current})
            )
        stored["urgency"] = current
    safe = (
        referral.safe_to_contact
        and screening.safe_to_contact
        and fields.get("safe_to_contact") is not False
    )
    return Change(
        raise_to=raise_to,
        safeguarding=sorted(set(referral.safeguarding) | set(screening.safeguarding)),
        screening=stored,
        fields=fields,
        safe_to_contact=safe,
        mark_new_message=mark,
        reopen=new_text and referral.status == "closed",
        alert=alert,
        audit=audit,
    )
