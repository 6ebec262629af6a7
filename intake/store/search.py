"""Search over what people wrote: one index of words per referral, looked up, never scanned.

Every referral's searchable text (its reference, sender, extracted fields and every message with
its subject) is cut into **terms** (`terms`): words folded to lower case without accents, each
email address whole, each phone number in E.164 digits (`07700 900123`, `+44 7700 900123` and
`447700900123` are one term) and each reference in its canonical form. The terms go into
`search_terms` (term, referral_id), whose primary key makes a lookup an index seek. A search
(`matching`) turns the query into terms the same way and finds the referrals that have all of
them: "Willow Lodge" finds a referral whose message says "she is at willow lodge".

Words are matched whole (no prefixes, no substrings): that is what lets the index keep a keyed
hash (HMAC-SHA256) of each term instead of the term, a blind index. The column's type does it
(`intake.store.crypto.BlindTerm`, with the store's search key), for what is written and what is
looked up alike, so no word, name, number or address is stored; callers
(`Worklist.queue(search=...)`) do not change.

The index is kept up to date by the store itself: `refresh` runs in the same transaction as every
write that changes what a referral says (its creation, a message added, revised or moved, its
fields edited). `intake db upgrade` (revision 0003) builds it for referrals stored before.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

import phonenumbers
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from intake.reference import PATTERN as REFERENCE
from intake.store.database import Queries
from intake.store.schema import messages, referrals, search_terms

MAX_TERM = 64
MAX_QUERY_TERMS = 8
# Bodies are indexed up to this many characters each (a 25 MB email is not a search document).
MAX_TEXT = 20_000
_WORD = re.compile(r"\w+")
_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
# A query typed as a phone number: digits and the punctuation people put between them. Letters
# are excluded because phonenumbers reads them as a keypad's ("REF-425JEC" would be 425532).
_PHONE_QUERY = re.compile(r"^\+?[\d\s().-]{7,}$")


def _fold(text: str) -> str:
    """Lower case without accents: "Siân" and "SIAN" are one word."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def terms(text: str) -> set[str]:
    """The terms of a text (see the module docstring); pure, linear in the text's length."""
    text = text[:MAX_TEXT]
    folded = _fold(text)
    found = {w for w in _WORD.findall(folded) if len(w) >= 2}
    found.update(m.group(0).strip(".") for m in _EMAIL.finditer(folded))
    for match in REFERENCE.finditer(text):
        found.add("ref-" + (match.group("hyphened") or match.group("bare")).lower())
    try:
        lenient = phonenumbers.Leniency.POSSIBLE
        # references blanked first: the digits of "REF-5739GZ" are not a phone number
        numbers = REFERENCE.sub(" ", text)
        for match in phonenumbers.PhoneNumberMatcher(numbers, "GB", leniency=lenient):
            found.add(_phone(match.number))
    except Exception:  # a number library edge case must never stop a message being stored
        pass
    return {t[:MAX_TERM] for t in found if t}


def _phone(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")


def query_terms(query: str) -> list[str]:
    """The terms a search asks for: a whole phone number or email address is one term."""
    query = query.strip()[:200]
    if _PHONE_QUERY.match(query):
        try:
            number = phonenumbers.parse(query, "GB")
            if phonenumbers.is_possible_number(number):
                return [_phone(number)]
        except phonenumbers.NumberParseException:
            pass
    found = terms(query)
    # a reference's bare code and "ref" are implied by its canonical term
    for term in [t for t in found if t.startswith("ref-")]:
        found.discard(term[4:])
        found.discard("ref" + term[4:])  # typed bare: "REF7K2Q9D"
        found.discard("ref")
    if any("@" in t for t in found):
        found = {t for t in found if "@" in t}
    return sorted(found, key=lambda t: (-len(t), t))[:MAX_QUERY_TERMS]


def stored(term: str) -> str:
    """The value to bind for a term: the term itself; the column's type (`BlindTerm`) replaces
    it with its keyed hash when the store has keys."""
    return term


def referral_text(referral: Mapping[str, Any], bodies: Iterable[Mapping[str, Any]]) -> str:
    """Everything searchable about one referral, as one text."""
    parts = [str(referral["reference"]), str(referral["sender"] or ""), str(referral["raw_text"])]
    parts += _values(referral.get("fields") or {})
    for message in bodies:
        parts.append(str(message.get("sender") or ""))
        meta = message.get("meta") or {}
        if isinstance(meta, Mapping) and meta.get("subject"):
            parts.append(str(meta["subject"]))
        parts.append(str(message.get("body") or "")[:MAX_TEXT])
    return "\n".join(parts)


def _values(document: Any) -> list[str]:
    """The string values of an extracted-fields document, however nested (not its keys)."""
    if isinstance(document, Mapping):
        return [v for key, value in document.items() if key != "confidence" for v in _values(value)]
    if isinstance(document, list):
        return [v for item in document for v in _values(item)]
    if isinstance(document, str | int) and not isinstance(document, bool):
        return [str(document)]
    return []


def refresh(conn: Connection, referral_ids: Iterable[int]) -> None:
    """Rebuild the index rows of these referrals from what is stored now, on `conn` (the
    caller's transaction)."""
    for referral_id in set(referral_ids):
        row = conn.execute(
            sa.select(
                referrals.c.reference, referrals.c.sender, referrals.c.raw_text, referrals.c.fields
            ).where(referrals.c.id == referral_id)
        ).first()
        conn.execute(search_terms.delete().where(search_terms.c.referral_id == referral_id))
        if row is None:
            continue
        bodies = conn.execute(
            sa.select(messages.c.sender, messages.c.body, messages.c.meta).where(
                messages.c.referral_id == referral_id
            )
        )
        text = referral_text(dict(row._mapping), [dict(m._mapping) for m in bodies])
        rows = [{"term": stored(t), "referral_id": referral_id} for t in sorted(terms(text))]
        if rows:
            conn.execute(search_terms.insert(), rows)


def matching(query: str) -> sa.ColumnElement[bool] | None:
    """A condition on `referrals` for a search: every query term in the referral's index (an
    exact reference as well). None when the query has no terms (nothing to look for)."""
    wanted = query_terms(query)
    if not wanted:
        return None
    clauses = [
        referrals.c.id.in_(
            sa.select(search_terms.c.referral_id).where(search_terms.c.term == stored(term))
        )
        for term in wanted
    ]
    return sa.and_(*clauses)


class SearchIndex(Queries):
    """`store.search`: rebuilding the index (the store keeps it current on its own)."""

    def refresh(self, referral_ids: Iterable[int]) -> None:
        with self.db.transaction() as conn:
            refresh(conn, referral_ids)

    def rebuild(self, batch: int = 500) -> int:
        """Index every referral again (after changing `terms`); the number indexed."""
        with self.db.read() as conn:
            ids = list(conn.execute(sa.select(referrals.c.id).order_by(referrals.c.id)).scalars())
        for start in range(0, len(ids), batch):
            self.refresh(ids[start : start + batch])
        return len(ids)
