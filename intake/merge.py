"""One person, one referral: merging messages across channels, linking possible duplicates.

A message joins an existing referral automatically only when that is certain:
- it quotes the referral's reference (REF-XXXXXX), or
- it comes on another channel (a text, then an email) and shares a phone number or an email
  address with the referral (sender, or a contact in either one's fields), and the two do not
  name different people (a social worker refers many clients from one address).

Anything weaker (same name and postcode, same NHS number, the same contact on the same channel
outside the conversation window) is only *linked* in `referral_links` for a person to confirm:
merging two people's referrals would be worse than showing one person twice.

Which channels take part is each channel's `merges_across_channels` (voice does not: a call's
referral is rebuilt from its call record on every event). What a message does to the referral it
joins is `intake.absorb`'s one policy.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from intake.models import SYSTEM_ACTOR, InboundMessage, Referral, most_urgent, utcnow
from intake.reference import find_reference
from intake.store import Candidate

if TYPE_CHECKING:
    from intake.runtime import Runtime

log = logging.getLogger(__name__)

_META_KEYS = ("confidence", "provenance")
_EMPTY: tuple[Any, ...] = (None, "", [], {})


# -- pure helpers -----------------------------------------------------------------------------


def _norm_contact(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    if "@" in value:
        return value.lower()
    digits = re.sub(r"[\s()-]", "", value)
    return digits if len(digits) >= 7 else None


def contacts(sender: str, fields: dict[str, Any]) -> set[str]:
    """Phone numbers and email addresses that identify whoever sent or is named as the contact."""
    found = {_norm_contact(sender)}
    for holder in (fields, fields.get("referrer") or {}):
        if isinstance(holder, dict):
            found.add(_norm_contact(holder.get("phone")))
            found.add(_norm_contact(holder.get("email")))
    return {c for c in found if c}


def _norm_name(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    words = re.findall(r"[a-z]+", value.lower())
    return " ".join(words) or None


def subject(fields: dict[str, Any]) -> dict[str, str]:
    """Who the referral is about: name, date of birth, NHS number, postcode (when stated)."""
    name = fields.get("subject_name") or fields.get("name")
    out = {
        "name": _norm_name(name),
        "dob": str(fields["dob"]) if fields.get("dob") else None,
        "nhs_number": re.sub(r"\D", "", str(fields.get("nhs_number") or "")) or None,
        "postcode": re.sub(r"\s", "", str(fields.get("postcode") or "")).upper() or None,
    }
    return {k: v for k, v in out.items() if v}


def different_people(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two referrals' fields name different people (stated name, DOB or NHS no. differ)."""
    sa_, sb = subject(a), subject(b)
    return any(k in sa_ and k in sb and sa_[k] != sb[k] for k in ("name", "dob", "nhs_number"))


def duplicate_reason(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    """Why two referrals may be about the same person, or None (pure)."""
    sa_, sb = subject(a), subject(b)
    if sa_.get("nhs_number") and sa_.get("nhs_number") == sb.get("nhs_number"):
        return "same_nhs_number"
    if sa_.get("name") and sa_.get("name") == sb.get("name"):
        if sa_.get("postcode") and sa_.get("postcode") == sb.get("postcode"):
            return "same_name_and_postcode"
        if sa_.get("dob") and sa_.get("dob") == sb.get("dob"):
            return "same_name_and_dob"
    return None


def fill_fields(
    existing: dict[str, Any], new: dict[str, Any], provenance: dict[str, Any]
) -> dict[str, Any]:
    """`existing` plus what `new` adds; a known value is never replaced by a guess from text.

    A nested group (the `referrer`'s name, phone and email) is filled the same way, key by key:
    a referrer's phone found in a later message joins the email already known. The one exception
    is safety: a later "don't contact me" always wins.
    """
    out = dict(existing)
    confidence = dict(existing.get("confidence") or {})
    sources = dict(existing.get("provenance") or {})
    new_conf = new.get("confidence") or {}
    for key, value in new.items():
        if key in _META_KEYS or value in _EMPTY:
            continue
        known = out.get(key)
        if isinstance(known, dict) and isinstance(value, dict):
            gaps = {k: v for k, v in value.items() if v not in _EMPTY and known.get(k) in _EMPTY}
            if gaps:
                out[key] = {**known, **gaps}
                sources[key] = provenance
            continue
        unsafe = key == "safe_to_contact" and value is False and known is not False
        if known not in _EMPTY and not unsafe:
            continue
        out[key] = value
        if key in new_conf:
            confidence[key] = new_conf[key]
        sources[key] = provenance
    if confidence:
        out["confidence"] = confidence
    if sources:
        out["provenance"] = sources
    return out


def apply_answer(
    existing: dict[str, Any],
    answer: dict[str, Any],
    provenance: dict[str, Any],
    confidence: float = 0.9,
) -> dict[str, Any]:
    """Fields the person gave in reply to a question: they replace what was guessed before."""
    out = dict(existing)
    conf = dict(existing.get("confidence") or {})
    sources = dict(existing.get("provenance") or {})
    for key, value in answer.items():
        if key in _META_KEYS or value in _EMPTY:
            continue
        out[key] = value
        conf[key] = confidence
        sources[key] = provenance
    out["confidence"], out["provenance"] = conf, sources
    return out


# -- finding the referral a new message belongs to --------------------------------------------


def _since(runtime: Runtime) -> datetime:
    return utcnow() - timedelta(days=runtime.settings.merge_window_days)


def merging_channels(runtime: Runtime) -> tuple[str, ...]:
    return tuple(c.name for c in runtime.channels if c.merges_across_channels)


def find_certain(
    runtime: Runtime, message: InboundMessage, fresh: Referral
) -> tuple[Referral, str] | None:
    """The referral `message` certainly belongs to, and why (`reference` or `contact`)."""
    channels = merging_channels(runtime)
    if message.channel not in channels:
        return None
    store = runtime.store
    quoted = find_reference(message.body)
    if quoted:
        found = store.get_referral(quoted)
        if found is not None and found.status != "closed":
            return found, "reference"
    mine = contacts(message.sender, fresh.fields)
    if not mine:
        return None
    pool = store.links.candidates(
        since=_since(runtime), channels=channels, exclude_channel=message.channel
    )
    senders = store.links.message_senders([r.id for r in pool])
    for candidate in pool:
        theirs = contacts(candidate.sender, candidate.fields)
        theirs |= {
            value
            for channel, sender in senders.get(candidate.id, [])
            if channel != message.channel and (value := _norm_contact(sender))
        }
        if mine & theirs and not different_people(candidate.fields, fresh.fields):
            found = store.get_referral_by_id(candidate.id)  # the whole row, for the one match
            if found is not None:
                return found, "contact"
    return None


def link_possible(runtime: Runtime, referral: Referral) -> list[tuple[int, str]]:
    """Link `referral` to earlier open referrals that may be the same person; (other_id, reason)."""
    assert referral.id is not None
    store = runtime.store
    pool = link_pool(runtime, referral.id)
    mine = contacts(referral.sender, referral.fields)
    made: list[tuple[int, str]] = []
    for candidate in pool:
        reason = duplicate_reason(referral.fields, candidate.fields)
        if (
            reason is None
            and mine & contacts(candidate.sender, candidate.fields)
            and not different_people(referral.fields, candidate.fields)
        ):
            reason = "same_contact"
        if not reason:
            continue
        if store.links.suggest(referral.id, candidate.id, reason):
            made.append((candidate.id, reason))
    if made:
        store.audit(
            SYSTEM_ACTOR,
            "referral.possible_duplicate",
            referral_id=referral.id,
            detail={"links": [{"other_id": o, "reason": r} for o, r in made]},
        )
    return made


def link_pool(runtime: Runtime, referral_id: int) -> list[Candidate]:
    """The open referrals in the window that `referral_id` may be a duplicate of (read only)."""
    return runtime.store.links.candidates(since=_since(runtime), exclude_id=referral_id)


def confirm(runtime: Runtime, link: dict[str, Any], actor: str) -> Referral | None:
    """Merge a confirmed link's newer referral into the older; the one that remains.

    The newer referral's messages, files and what was sent about it move to the older one,
    which gains its missing fields, the higher urgency (unless a person decided the older one's:
    then it is marked "new message since triage" instead), every category and the stricter "safe
    to contact"; the newer is closed with `merged_into` in its fields, so nothing is lost. Call
    inside a transaction (`intake.triage.decide_link` does); None if the link was decided
    meanwhile.
    """
    store = runtime.store
    newer = store.get_referral_by_id(link["referral_id"])
    older = store.get_referral_by_id(link["other_id"])
    assert newer is not None and older is not None and older.id is not None
    if not store.links.decide(link["id"], "confirmed", actor):
        return None
    store.links.move_messages(link["referral_id"], older.id)
    provenance = {"source": "confirmed_merge", "by": actor, "from": newer.reference}
    values: dict[str, Any] = {
        "fields": fill_fields(older.fields, newer.fields, provenance),
        "safeguarding": sorted(set(older.safeguarding) | set(newer.safeguarding)),
        "safe_to_contact": older.safe_to_contact and newer.safe_to_contact,
    }
    if older.urgency_decided_by is None:
        values["urgency"] = most_urgent(older.urgency, newer.urgency)
    elif most_urgent(older.urgency, newer.urgency) != older.urgency:
        values["new_message_at"] = utcnow()  # more urgent than a person decided: they look again
    store.update_referral(older.id, **values)
    store.update_referral(
        link["referral_id"],
        status="closed",
        fields={**newer.fields, "merged_into": older.reference},
    )
    return store.get_referral_by_id(older.id)


__all__ = [
    "apply_answer",
    "confirm",
    "contacts",
    "different_people",
    "duplicate_reason",
    "fill_fields",
    "find_certain",
    "link_possible",
]
