"""One person, one referral: the one policy for which earlier referral a message may join.

A message joins an earlier referral automatically only on evidence a stranger cannot make up
(`may_join`):

- **a reply to a message we sent** about it (an email whose In-Reply-To or References names our
  acknowledgement or reply: its Message-ID went only to its recipient), or
- **the sender's own verified identity** (`BaseChannel.identity`: the From number of a signed
  Twilio webhook; the From address of mail we can trust, see `channels/email/trust.py`), when that
  identity already wrote to the referral or was written to about it. The channel's evidence (an
  SMS conversation with this number, a reply naming their earlier email) or a quoted reference
  (`REF-XXXXXX`) says *which* referral; the identity says the sender may join it.

Everything else a message says about someone is a content mention: a phone number or an email
address in the text or a signature, a reference quoted by somebody else, a reply naming a message
someone else sent. A mention never joins, never changes the other referral (its fields, its urgency,
its "safe to contact", its status) and never shows up in what the sender is sent back: the message
becomes a referral of its own, with its own reference, and is *linked* in `referral_links` for a
person to confirm on the referral page (`intake.triage.decide_link`; `confirm` below merges).
So the genuine "I texted, then emailed from my own address" is one confirmation away, and a
stranger who knows someone's number or reference learns nothing and silences nobody.

Anything else that may be the same person (same name and postcode, same NHS number, the same
contact) is linked the same way: merging two people's referrals would be worse than showing one
person twice. What a message that does join does to its referral is `intake.absorb`'s one policy.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from intake.channel import OUR_MESSAGE, SENDER, THEIR_MESSAGE, BaseChannel, Thread
from intake.models import SYSTEM_ACTOR, InboundMessage, Referral, most_urgent, utcnow
from intake.reference import find_reference
from intake.store import Candidate

if TYPE_CHECKING:
    from intake.runtime import Runtime

log = logging.getLogger(__name__)

_META_KEYS = ("confidence", "provenance", "evidence")
# The field a referral closed by a confirmed merge names the one it was merged into with.
MERGED_INTO = "merged_into"
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

    A nested group (the `referrer`'s name, phone and email; the eligibility card) is filled the
    same way, key by key: a referrer's phone found in a later message joins the email already
    known, a detention date joins the section already known. `evidence` spans index the
    conversation's text (its messages' bodies joined by newlines), to which later messages only
    append. The one exception
    is safety: a later "don't contact me" always wins.
    """
    out = dict(existing)
    confidence = dict(existing.get("confidence") or {})
    sources = dict(existing.get("provenance") or {})
    evidence = dict(existing.get("evidence") or {})
    new_conf = new.get("confidence") or {}
    new_evidence = new.get("evidence") or {}
    for key, value in new.items():
        if key in _META_KEYS or value in _EMPTY:
            continue
        known = out.get(key)
        if isinstance(known, dict) and isinstance(value, dict):
            gaps = {k: v for k, v in value.items() if v not in _EMPTY and known.get(k) in _EMPTY}
            if gaps:
                out[key] = {**known, **gaps}
                sources[key] = provenance
                # a nested key's confidence and evidence ("eligibility.detained_on") come with it
                for inner in gaps:
                    dotted = f"{key}.{inner}"
                    if dotted in new_conf:
                        confidence[dotted] = new_conf[dotted]
                    if dotted in new_evidence:
                        evidence[dotted] = new_evidence[dotted]
            continue
        unsafe = key == "safe_to_contact" and value is False and known is not False
        if known not in _EMPTY and not unsafe:
            continue
        out[key] = value
        if key in new_conf:
            confidence[key] = new_conf[key]
        for dotted in (k for k in new_conf if k.startswith(f"{key}.")):
            confidence[dotted] = new_conf[dotted]
        for dotted in (k for k in new_evidence if k.startswith(f"{key}.")):
            evidence[dotted] = new_evidence[dotted]
        sources[key] = provenance
    if confidence:
        out["confidence"] = confidence
    if evidence:
        out["evidence"] = evidence
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
    evidence = dict(existing.get("evidence") or {})
    for key, value in answer.items():
        if key in _META_KEYS or value in _EMPTY:
            continue
        known = out.get(key)
        if isinstance(known, dict) and isinstance(value, dict):
            # an answer about part of a group (the eligibility card) leaves the rest of it
            out[key] = {**known, **value}
            for inner in value:
                conf[f"{key}.{inner}"] = confidence
                # the value now comes from the answer, not from the words once marked
                evidence.pop(f"{key}.{inner}", None)
        else:
            out[key] = value
            conf[key] = confidence
        sources[key] = provenance
    out["confidence"], out["provenance"] = conf, sources
    if evidence or "evidence" in existing:
        out["evidence"] = evidence
    return out


# -- finding the referral a new message belongs to --------------------------------------------


def _since(runtime: Runtime) -> datetime:
    return utcnow() - timedelta(days=runtime.settings.merge_window_days)


@dataclass(frozen=True)
class Placement:
    """Where the one policy puts a message: `referral` to join (with `how` and the channel's
    `thread`), or nothing to join and `links` to suggest once it is a referral of its own:
    (other referral's id, reason)."""

    referral: Referral | None = None
    how: str | None = None
    thread: Thread | None = None
    links: tuple[tuple[int, str], ...] = ()


def surviving(runtime: Runtime, referral: Referral) -> Referral:
    """Follow confirmed merges: a message for a merged referral goes to the one that remains."""
    seen = {referral.reference}
    while isinstance(target := referral.fields.get(MERGED_INTO), str) and target not in seen:
        found = runtime.store.get_referral(target)
        if found is None:
            break
        seen.add(target)
        referral = found
    return referral


def owns(runtime: Runtime, referral: Referral, channel: str, identity: str) -> bool:
    """Whether `identity` on `channel` wrote to `referral` or was written to about it."""
    assert referral.id is not None
    mine = _norm_contact(identity)
    if mine is None:
        return False
    return any(
        c == channel and _norm_contact(address) == mine
        for c, address in runtime.store.links.correspondents(referral.id)
    )


def may_join(
    runtime: Runtime,
    referral: Referral,
    message: InboundMessage,
    identity: str | None,
    evidence: str,
) -> bool:
    """The one rule (see the module docstring): a reply to our own message, or the sender's
    verified identity that already belongs to the referral."""
    if evidence == OUR_MESSAGE:
        return True
    return identity is not None and owns(runtime, referral, message.channel, identity)


def place(runtime: Runtime, channel: BaseChannel, message: InboundMessage) -> Placement:
    """The referral `message` joins, or the links to make for it (reads only).

    The channel's `thread` is asked first, then a quoted reference; each candidate passes
    `may_join` or becomes a suggested link. Nothing here writes.
    """
    identity = channel.identity(runtime, message)
    links: list[tuple[int, str]] = []
    thread = channel.thread(runtime, message)
    if thread is not None:
        target = surviving(runtime, thread.referral)
        if may_join(runtime, target, message, identity, thread.evidence):
            return Placement(target, thread.how, thread)
        assert target.id is not None
        links.append((target.id, LINK_REASONS.get(thread.evidence, "same_thread")))
    quoted = find_reference(message.body)
    found = runtime.store.get_referral(quoted) if quoted else None
    if found is not None:
        target = surviving(runtime, found)
        if may_join(runtime, target, message, identity, "reference"):
            return Placement(target, "reference")
        assert target.id is not None
        links.append((target.id, "quoted_reference"))
    return Placement(links=tuple(dict.fromkeys(links)))


# Why a message that could not join is linked to the referral its channel's evidence named.
LINK_REASONS = {SENDER: "same_sender", THEIR_MESSAGE: "reply_to_another_sender"}


def link_possible(
    runtime: Runtime, referral: Referral, named: Sequence[tuple[int, str]] = ()
) -> list[tuple[int, str]]:
    """Link `referral` to earlier referrals that may be the same person; (other_id, reason).

    `named` are the links `place` found (a quoted reference, a reply naming another sender's
    message): made first, whatever the other referral's status. Then the open referrals in the
    merge window that share a contact or the person's details.
    """
    assert referral.id is not None
    store = runtime.store
    made: list[tuple[int, str]] = []
    for other_id, reason in named:
        if other_id != referral.id and store.links.suggest(referral.id, other_id, reason):
            made.append((other_id, reason))
    pool = link_pool(runtime, referral.id)
    mine = contacts(referral.sender, referral.fields)
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
        fields={**newer.fields, MERGED_INTO: older.reference},
    )
    return store.get_referral_by_id(older.id)


__all__ = [
    "Placement",
    "apply_answer",
    "confirm",
    "contacts",
    "different_people",
    "duplicate_reason",
    "fill_fields",
    "link_possible",
    "may_join",
    "owns",
    "place",
    "surviving",
]
