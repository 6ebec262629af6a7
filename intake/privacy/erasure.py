"""Erasing a person everywhere (UK GDPR Article 17): the store, Redis and the case systems.

A request names a person by phone number, email address or reference (`Person.parse`). A
reference stands for everyone that referral is from or about: its sender, the senders of its
messages, and the contact details extracted for the person referred and the referrer.

`plan` finds what the request reaches, without changing anything:

- **erased**: every referral the person sent (the referral's sender or one of its messages'),
  or is the subject or referrer of (their phone or email among its extracted contact fields),
  and every referral merged with one of those (confirmed merges, followed to the end). A
  suggested link is a possible duplicate, maybe someone else: it is not followed.
- **mentioned**: referrals about someone else whose text names the person's number or address
  ("ring my neighbour on 07700 900123"): only those mentions are replaced with "[erased]".

`erase` carries a plan out: one database transaction (`store.privacy.erase`), then RQ jobs and
other Redis keys holding the person's number or address are deleted (`scrub_redis`), then a
`referral.erased` event is queued for every erased referral the case systems were sent, and the
audit trail records that an erasure happened, who asked, who confirmed and why, never whom.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from redis import Redis
from redis.exceptions import RedisError
from rq.job import Job

from intake.forwarding.payload import details_of
from intake.models import Referral
from intake.runtime import Runtime
from intake.store import ErasureCounts, Store

log = logging.getLogger(__name__)

KINDS = ("phone", "email", "reference")


class NotFound(LookupError):
    """A reference that names no referral."""


@dataclass(frozen=True)
class Person:
    """Who a request is about: E.164 phone numbers and lower-case email addresses."""

    phones: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()

    @staticmethod
    def phone(value: str) -> str:
        """E.164 (`+447700900123`) for a number as people type it; ValueError if it is not one.

        Numbers without a country code are read as UK numbers (Ofcom's numbering plan)."""
        text = value.strip()
        if text.lower().startswith("whatsapp:"):
            text = text.split(":", 1)[1]
        try:
            number = phonenumbers.parse(text, "GB")
        except phonenumbers.NumberParseException as exc:
            raise ValueError(f"{value!r} is not a phone number") from exc
        if not phonenumbers.is_possible_number(number):
            raise ValueError(f"{value!r} is not a phone number")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    @staticmethod
    def email(value: str) -> str:
        text = value.strip().lower()
        if text.count("@") != 1 or text.startswith("@") or text.endswith("@") or " " in text:
            raise ValueError(f"{value!r} is not an email address")
        return text

    @classmethod
    def of(cls, addresses: Iterable[str]) -> Person:
        """The phones and emails among `addresses` (anything else is skipped)."""
        phones, emails = set(), set()
        for address in addresses:
            if not address:
                continue
            if "@" in address:
                try:
                    emails.add(cls.email(address))
                except ValueError:
                    continue
            else:
                try:
                    phones.add(cls.phone(address))
                except ValueError:
                    continue
        return cls(frozenset(phones), frozenset(emails))

    def __or__(self, other: Person) -> Person:
        return Person(self.phones | other.phones, self.emails | other.emails)

    @property
    def addresses(self) -> set[str]:
        """How the store may hold them as a sender (SMS senders can be `whatsapp:+44...`)."""
        found = set(self.emails) | set(self.phones)
        found |= {f"whatsapp:{p}" for p in self.phones}
        return found

    @property
    def terms(self) -> set[str]:
        """Their search-index terms (`intake.store.search.terms`)."""
        return {p.lstrip("+") for p in self.phones} | set(self.emails)

    @property
    def needles(self) -> list[str]:
        """Every way the number or address is likely written, longest first."""
        found = set(self.emails)
        for phone in self.phones:
            number = phonenumbers.parse(phone)
            national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
            spaced = phonenumbers.format_number(
                number, phonenumbers.PhoneNumberFormat.INTERNATIONAL
            )
            found |= {phone, phone.lstrip("+"), national, national.replace(" ", ""), spaced}
        return sorted((n for n in found if len(n) >= 6), key=lambda n: (-len(n), n))

    def __bool__(self) -> bool:
        return bool(self.phones or self.emails)


def contacts(fields: dict[str, Any]) -> Person:
    """The phone numbers and email addresses extracted for the person and the referrer."""
    found = details_of(fields)
    values = [str(found.get("phone") or ""), str(found.get("email") or "")]
    referrer = found.get("referrer")
    if isinstance(referrer, dict):
        values += [str(referrer.get("phone") or ""), str(referrer.get("email") or "")]
    return Person.of(values)


@dataclass
class Plan:
    """What an erasure reaches: referral ids to erase and to redact mentions in."""

    person: Person
    erased: set[int] = field(default_factory=set)
    mentioned: set[int] = field(default_factory=set)
    references: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)


def resolve(store: Store, kind: str, value: str) -> tuple[Person, set[int]]:
    """The person a request names, and the referral it named (for `reference`)."""
    if kind == "phone":
        return Person(phones=frozenset({Person.phone(value)})), set()
    if kind == "email":
        return Person(emails=frozenset({Person.email(value)})), set()
    if kind != "reference":
        raise ValueError(f"kind must be one of {KINDS}")
    referral_id = store.privacy.id_for_reference(value)
    if referral_id is None:
        raise NotFound(f"no referral {value.strip().upper()}")
    rows = store.privacy.summaries([referral_id])
    person = Person.of([rows[0]["sender"], *store.privacy.message_senders([referral_id])])
    return person | contacts(rows[0]["fields"] or {}), {referral_id}


def plan(store: Store, kind: str, value: str) -> Plan:
    """What erasing the person named would reach (nothing is changed)."""
    person, named = resolve(store, kind, value)
    erased = set(named) | store.privacy.referrals_from(person.addresses)
    mentioned = store.privacy.referrals_mentioning(person.terms) - erased
    for row in store.privacy.summaries(mentioned):
        found = contacts(row["fields"] or {})
        if found.phones & person.phones or found.emails & person.emails:
            erased.add(row["id"])
    erased = store.privacy.merged_with(erased)
    rows = store.privacy.summaries(erased)
    return Plan(
        person=person,
        erased=erased,
        mentioned=mentioned - erased,
        references=[r["reference"] for r in rows],
        held=[r["reference"] for r in rows if r["legal_hold"]],
    )


def erase(
    runtime: Runtime,
    planned: Plan,
    *,
    actor: str,
    reason: str,
    confirmed_by: str | None = None,
) -> ErasureCounts:
    """Carry out `planned` (see the module docstring); the counts of what was erased.

    A legal hold does not stop an erasure the controller has decided on (Article 17(3)(e) is
    for the controller to weigh before asking), but the audit entry names how many were held.
    Raises `ValueError` without a reason: Article 17 erasure is always for a stated ground.
    """
    if not reason.strip():
        raise ValueError("an erasure needs a reason")
    store = runtime.store
    person = planned.person
    jobs = store.privacy.open_forward_jobs(planned.erased)
    counts = store.privacy.erase(
        planned.erased,
        phones=person.phones | {f"whatsapp:{p}" for p in person.phones},
        emails=person.emails,
        mentions=planned.mentioned,
        needles=person.needles,
    )
    counts.redis_keys = scrub_redis(runtime, person.needles, jobs)
    forwarded = 0
    for referral_id in sorted(planned.erased):
        store.audit(actor, "referral.erased", referral_id=referral_id, detail={})
        if store.forwards.events_for(referral_id):
            referral = store.get_referral_by_id(referral_id)
            if referral is not None:
                forwarded += _tell_case_systems(runtime, referral)
    counts.extra["erased_events"] = forwarded
    store.audit(
        actor,
        "privacy.erased",
        detail={
            "reason": reason.strip()[:500],
            "confirmed_by": confirmed_by,
            "held": len(planned.held),
            "counts": counts.as_dict(),
        },
    )
    store.seal()
    store.privacy.flush()
    log.info("erasure by %s: %d referrals", actor, counts.referrals)
    return counts


def _tell_case_systems(runtime: Runtime, referral: Referral) -> int:
    from intake.forwarding import schedule

    try:
        return 1 if schedule(runtime, referral, "erased") else 0
    except Exception:
        # The store is erased already; the clock's sweep queues an event whose job is missing.
        log.exception("could not queue the erasure event of %s", referral.reference)
        return 0


def _text(value: Any) -> str:
    """Every string inside a job's arguments, lower case (bytes read as Latin-1)."""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("latin-1").lower()
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, dict):
        return "\n".join(_text(k) + "\n" + _text(v) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return "\n".join(_text(v) for v in value)
    return str(value).lower() if value is not None else ""


def _mentions(text: str, needles: list[str]) -> bool:
    return any(n.lower() in text for n in needles)


def scrub_redis(runtime: Runtime, needles: list[str], job_ids: Iterable[str] = ()) -> int:
    """Delete the RQ jobs (queued, scheduled, failed, finished) whose arguments, result or
    error name the person, the given jobs (the erased referrals' undelivered forwards), and
    every other key of this installation naming them; how many were deleted.

    Only keys of this installation (`QUEUE_PREFIX`) are read: jobs are `rq:job:<prefix>-...`.
    """
    redis: Redis = runtime.redis
    prefix = runtime.settings.queue_prefix
    deleted = 0
    try:
        for job_id in set(job_ids):
            deleted += _delete_job(redis, job_id)
        for key in redis.scan_iter(match=f"rq:job:{prefix}*", count=500):
            job_id = key.decode()[len("rq:job:") :]
            try:
                job = Job.fetch(job_id, connection=redis)
                text = _text([job.args, job.kwargs, job.meta])
                result = job.latest_result()
                if result is not None:
                    text += _text([result.return_value, result.exc_string or ""])
            except Exception:  # an unreadable job: look at its raw fields
                text = _text(redis.hgetall(key))
            if _mentions(text, needles):
                deleted += _delete_job(redis, job_id)
        for key in redis.scan_iter(match=f"{prefix}*", count=500):
            if _mentions(key.decode("latin-1").lower(), needles) or _mentions(
                _value(redis, key), needles
            ):
                deleted += int(redis.delete(key))
    except RedisError:
        # The database is erased; Redis jobs expire (FAILURE_TTL). Say so rather than fail.
        log.error("Redis unavailable during erasure: queued jobs were not checked")
    return deleted


def _delete_job(redis: Redis, job_id: str) -> int:
    try:
        job = Job.fetch(job_id, connection=redis)
    except Exception:
        return int(redis.delete(f"rq:job:{job_id}"))
    job.delete(remove_from_queue=True)
    return 1


def _value(redis: Redis, key: bytes) -> str:
    kind = redis.type(key).decode()
    if kind == "string":
        return _text(redis.get(key))
    if kind == "hash":
        return _text(redis.hgetall(key))
    if kind == "set":
        return _text(list(redis.smembers(key)))
    if kind == "zset":
        return _text(redis.zrange(key, 0, -1))
    if kind == "list":
        return _text(redis.lrange(key, 0, -1))
    return ""
