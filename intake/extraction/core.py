"""``extract``: one message in, the fields it states out.

Whose details are ``phone``, ``email`` and ``name``? Always **the person who needs help**:

* Self-referral: they are the sender's. A number or address in the text wins; otherwise the
  channel's From (SMS/voice number, email address) is used, unless the text says that number is
  someone else's ("it's my husband's phone").
* Referral for someone else (``referral_for == "other"``): they are the subject's, taken only
  from details the text gives for the subject ("his number is ...", "Tel 0161 ..." in a
  professional's referral). The sender's own details - the channel's From, "call me on ...",
  and everything in a signature block - go in ``referrer`` (``name``, ``role``,
  ``organisation``, ``phone``, ``email``) and never in ``phone``/``email``/``name``.
  ``subject_name`` repeats ``name`` so that a reader need not know this rule.
* ``relationship`` is the sender's relationship to the subject. Gender is not guessed: "my mum"
  gives ``child`` and "my husband" ``spouse`` unless the sender says "I'm her daughter" /
  "I'm his wife"; a professional's role ("Social Worker" in a signature) gives that role.
* ``consent`` is reported for third-party referrals only: someone who contacts us about
  themselves has, by doing so, asked for help.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any

from intake.extraction import (
    advocacy,
    eligibility,
    identity,
    linear,
    numwords,
    preferences,
    signature,
)
from intake.extraction.attribution import owner
from intake.extraction.contacts import Hit, find_emails, find_phones, find_postcodes, to_e164
from intake.extraction.result import ExtractionResult

# Twilio's channel addresses carry the phone number after a prefix: `whatsapp:+447700900458`,
# `rcs:+447700900458`; the number is the person's phone.
_CHANNEL_PREFIX = linear.compile(r"^(?:whatsapp|rcs|sms|mms):")
_ADDRESS = linear.compile(r"[\w.%+-]+@[\w.-]+\.\w+")
# Spaces other than the ASCII ones (no-break space from HTML mail, thin and ideographic spaces),
# and line separators, as RE2's ASCII `\s` and the vocabularies expect them.
_SPACES = dict.fromkeys(
    [0x00A0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000, 0x0B, 0x0C], " "
) | {0x2028: "\n", 0x2029: "\n", 0x85: "\n"}
CHANNELS = {"sms": "sms", "email": "email", "voice": "voice", "voicemail": "voice", "call": "voice"}


def normalise_text(text: str) -> str:
    """Composed letters (NFC: "Zoë" as one character, as names are matched), Unicode spaces as
    ASCII ones, and one kind of line end."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    return text.translate(_SPACES)


def _sender_contacts(sender: str | None) -> tuple[str | None, str | None]:
    if not sender:
        return None, None
    if "@" in sender:
        match = _ADDRESS.search(sender)
        return None, match.group(0).lower() if match else None
    return to_e164(_CHANNEL_PREFIX.sub("", sender.strip())), None


def _pick(
    body: str, hits: list[Hit], sender_values: set[str], for_other: bool
) -> tuple[Hit | None, list[Hit]]:
    """(the person's own detail, details that are the sender's)."""
    chosen: Hit | None = None
    senders: list[Hit] = []
    wanted = {"subject", "kin", "unknown"} if for_other else {"sender", "subject", "unknown"}
    for hit in hits:
        who = owner(body, hit, sender_values)
        if who == "sender":
            senders.append(hit)
        if chosen is None and who in wanted:
            chosen = hit
    return chosen, senders


def _referral_for(
    body: str, sig: signature.Signature | None, intro_role: str | None
) -> tuple[str, float]:
    self_score, other_score = identity.referral_scores(body)
    if (sig and sig.role) or intro_role:
        other_score += 2
    if other_score > self_score:
        return "other", round(min(0.95, 0.55 + 0.05 * (other_score - self_score)), 2)
    if self_score == 0 and other_score == 0:
        return "self", 0.5
    return "self", round(min(0.95, 0.55 + 0.05 * (self_score - other_score + 1)), 2)


def same_length_text(text: str) -> str:
    """Unicode spaces as ASCII ones and CR as a line end, one character for one: spans found in
    the result index the original text (the eligibility card's evidence)."""
    return text.translate(_SPACES).replace("\r", "\n")


def extract(
    text: str,
    channel: str = "sms",
    sender: str | None = None,
    received_at: datetime | str | None = None,
) -> ExtractionResult:
    """The fields a message states about the person who needs help (see the module docstring).

    ``received_at`` (aware datetime or ISO string; now when absent) anchors relative dates
    ("detained last Saturday") in the ``eligibility`` card; raises ValueError when it is a
    string that is not an ISO datetime.
    """
    today = eligibility.received_day(received_at)
    original = text
    channel = CHANNELS.get(channel.lower(), channel.lower())
    text = numwords.normalise(normalise_text(text), channel)
    body, sig_text = signature.split(text)
    sig = signature.parse(sig_text) if sig_text else None
    sender_phone, sender_email = _sender_contacts(sender)
    sender_values = {v for v in (sender_phone, sender_email) if v}

    fields: dict[str, Any] = {}
    conf: dict[str, float] = {}

    def put(key: str, value: Any, confidence: float) -> None:
        if value is not None and value != []:
            fields[key] = value
            conf[key] = confidence

    intro = identity.sender_intro(body)
    intro_role = signature.role_of(intro) if intro else None
    referral_for, referral_conf = _referral_for(body, sig, intro_role)
    put("referral_for", referral_for, referral_conf)
    for_other = referral_for == "other"

    phone, sender_phones = _pick(body, find_phones(body), sender_values, for_other)
    email, sender_emails = _pick(body, find_emails(body), sender_values, for_other)
    if phone:
        put("phone", phone.value, 0.9)
    elif not for_other and sender_phone and not preferences.sender_number_not_own(body):
        put("phone", sender_phone, 0.85)
    if email:
        put("email", email.value, 0.9)
    elif not for_other and sender_email:
        put("email", sender_email, 0.85)

    postcodes = find_postcodes(body)
    if postcodes:
        put("postcode", postcodes[0].value, 0.9)
    put("dob", identity.find_dob(body), 0.9)
    put("nhs_number", identity.find_nhs_number(body), 0.98)

    signed = (sig.name, identity.FAIR) if sig and sig.name else None
    own = identity.sender_name_found(body) or signed
    own_name = own[0] if own else None
    if for_other:
        found = identity.subject_name_found(body)
        if found and found[0] != own_name:
            put("name", found[0], found[1])
            put("subject_name", found[0], found[1])
        relationship = (
            identity.self_relationship(
                body + "\n" + (f"({sig.bracket_note})" if sig and sig.bracket_note else "")
            )
            or (sig.role if sig else None)
            or intro_role
            or identity.subject_relationship(body)
        )
        put("relationship", relationship, 0.8)
        put("consent", preferences.consent(body), 0.8)
        referrer = _referrer(
            own_name, sig, intro_role, sender_phones, sender_emails, sender_phone, sender_email
        )
        if referrer:
            put("referrer", referrer, 0.8)
    elif own:
        put("name", own[0], own[1])

    kind = advocacy.advocacy_type(body)
    if kind:
        put("advocacy_type", kind[0], kind[1])
    place = advocacy.setting(body)
    if place:
        put("setting", place[0], place[1])
    put("safe_to_contact", preferences.safe_to_contact(body), 0.85)
    put("preferred_contact", preferences.preferred_contact(body), 0.75)
    put("interpreter_language", preferences.interpreter_language(body), 0.85)
    put("accessibility_needs", preferences.accessibility_needs(body), 0.8)
    put("language_preference", preferences.language_preference(body, answer=True), 0.8)
    found = eligibility.card(same_length_text(original), today)
    evidence: dict[str, list[int]] = {}
    if found.values:
        fields["eligibility"] = dict(found.values)
        for key, value in found.confidence.items():
            conf[f"eligibility.{key}"] = value
        for key, span in found.evidence.items():
            evidence[f"eligibility.{key}"] = [span[0], span[1]]
    return ExtractionResult(fields=fields, confidence=conf, evidence=evidence)


def _referrer(
    name: str | None,
    sig: signature.Signature | None,
    intro_role: str | None,
    phones: list[Hit],
    emails: list[Hit],
    sender_phone: str | None,
    sender_email: str | None,
) -> dict[str, str]:
    """The person making a third-party referral, from their signature, introduction and channel."""
    candidates = {
        "name": name,
        "role": (sig.role if sig else None) or intro_role,
        "organisation": sig.organisation if sig else None,
        "phone": (sig.phones[0] if sig and sig.phones else None)
        or (phones[0].value if phones else None)
        or sender_phone,
        "email": (sig.emails[0] if sig and sig.emails else None)
        or (emails[0].value if emails else None)
        or sender_email,
    }
    return {k: v for k, v in candidates.items() if v}
