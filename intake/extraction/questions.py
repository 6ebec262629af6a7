"""What to ask next by SMS when a referral lacks essentials, and how to read the reply.

Essentials, in the order asked: what help is needed (``need``), who it is for
(``referral_for``), whether the person agreed (``consent``; only for third-party referrals -
someone asking for themselves has consented by asking), and a safe way to contact
(``contact``: satisfied once a preferred channel is known or the text says contact is safe).
Question wording lives in ``templates/questions/<key>.txt`` so that services can change it
without touching code. Nothing is asked when ``safe_to_contact`` is false.

After the essentials, what the advocacy type still needs (``missing_for_type``; which questions,
what answers them and how a reply is read are in ``data/type_questions.toml``): for an IMHA which
section and since when (the section 2 tribunal clock), and which hospital; for an IMCA the
decision and its date, and who assessed capacity and when (MCA Code of Practice 10.51: the
decision maker's capacity assessment precedes the instruction); the Care Act stage; when a
complained-of event happened (the 12-month limit).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from intake.extraction import advocacy, eligibility, identity, linear, preferences
from intake.extraction.contacts import find_emails, find_phones
from intake.extraction.vocab import compiled, load

ESSENTIALS = ("need", "referral_for", "consent", "contact")
TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "questions"


def missing_essentials(fields: dict[str, Any]) -> list[str]:
    """The essentials ``fields`` does not yet answer, in the order they should be asked."""
    missing: list[str] = []
    if not any(fields.get(k) for k in ("need", "advocacy_type", "setting")):
        missing.append("need")
    if fields.get("referral_for") not in ("self", "other"):
        missing.append("referral_for")
    if fields.get("referral_for") != "self" and not isinstance(fields.get("consent"), bool):
        missing.append("consent")
    if not fields.get("preferred_contact") and fields.get("safe_to_contact") is not True:
        missing.append("contact")
    return missing


def _has(fields: dict[str, Any], path: str) -> bool:
    value: Any = fields
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value not in (None, "", [], {})


def missing_for_type(fields: dict[str, Any]) -> list[str]:
    """The questions of the referral's advocacy type that ``fields`` does not yet answer, in the
    order they should be asked (``data/type_questions.toml``); none while the type is unknown."""
    data = load("type_questions")
    keys: list[str] = data["types"].get(str(fields.get("advocacy_type")), [])
    return [
        key
        for key in keys
        if not any(_has(fields, path) for path in data["questions"][key]["satisfied_by"])
    ]


def question_text(key: str, templates_dir: Path | None = None) -> str:
    """The wording of one question, read from its template file."""
    path = (templates_dir or TEMPLATES) / f"{key}.txt"
    return path.read_text(encoding="utf-8").strip()


def next_question(
    fields: dict[str, Any],
    asked: list[str],
    max_questions: int,
    templates_dir: Path | None = None,
) -> tuple[str, str] | None:
    """(key, text) of the next question, or None when none should be sent.

    None when nothing is missing, ``max_questions`` have been asked, every missing question has
    already been asked once, or the person must not be contacted.
    """
    if fields.get("safe_to_contact") is False or len(asked) >= max_questions:
        return None
    for key in missing_essentials(fields) + missing_for_type(fields):
        if key not in asked:
            return key, question_text(key, templates_dir)
    return None


def type_question_keys(fields: dict[str, Any], limit: int) -> list[str]:
    """The keys (``questions/<key>.txt``) of what the advocacy type still needs, at most
    ``limit``, for an email follow-up (a letter asks them together); none when it is not safe
    to contact."""
    if fields.get("safe_to_contact") is False or limit <= 0:
        return []
    return missing_for_type(fields)[:limit]


def _matches(patterns: list[str], text: str) -> bool:
    return any(compiled(p, linear.IGNORECASE | linear.MULTILINE).search(text) for p in patterns)


def _yes_no(text: str) -> bool | None:
    data = load("answers")["yes_no"]
    if _matches(data["yes_first"], text):
        return True
    if _matches(data["no"], text):
        return False
    if _matches(data["yes"], text):
        return True
    return None


def interpret_answer(key: str, text: str) -> dict[str, Any]:
    """Fields a reply to question ``key`` gives; empty when the reply does not answer it."""
    answers = load("answers")
    if key == "consent":
        value = _yes_no(text)
        return {} if value is None else {"consent": value}
    if key == "referral_for":
        return _referral_answer(text, answers["referral_for"])
    if key == "need":
        out: dict[str, Any] = {}
        kind = advocacy.advocacy_type(text)
        place = advocacy.setting(text)
        if kind:
            out["advocacy_type"] = kind[0]
        if place:
            out["setting"] = place[0]
        if text.strip():
            out["need"] = text.strip()
        return out
    if key == "contact":
        return _contact_answer(text, answers["contact"])
    if key == "language":  # "Welsh or English?" (Welsh Language Standards; channels/sms)
        code = preferences.language_preference(text, answer=True)
        return {"language_preference": code} if code else {}
    question = load("type_questions")["questions"].get(key)
    if question is not None:
        return _type_answer(question, text)
    return {}


MAX_TEXT_ANSWER = 300


def _type_answer(question: dict[str, Any], text: str, today: date | None = None) -> dict[str, Any]:
    """A reply to a type question: card keys read from it, or the reply itself as a field."""
    if question["answer"] == "text":
        said = " ".join(text.split())[:MAX_TEXT_ANSWER]
        return {question["field"]: said} if said else {}
    found = eligibility.card(
        text, today or eligibility.received_day(None), frozenset(question.get("assume", []))
    )
    kept = {k: v for k, v in found.values.items() if k in question["keys"]}
    return {"eligibility": kept} if kept else {}


def _referral_answer(text: str, vocab: dict[str, list[str]]) -> dict[str, Any]:
    relationship = identity.self_relationship(text) or identity.subject_relationship(text)
    if relationship or (
        _matches(vocab["other"], text) and not _matches(["^\\s*(?:for )?me\\b"], text)
    ):
        out: dict[str, Any] = {"referral_for": "other"}
        if relationship:
            out["relationship"] = relationship
        name = identity.subject_name(text)
        if name:
            out["name"] = out["subject_name"] = name
        return out
    if _matches(vocab["self"], text):
        return {"referral_for": "self"}
    return {}


def _contact_answer(text: str, vocab: dict[str, list[str]]) -> dict[str, Any]:
    if _matches(vocab["unsafe"], text):
        return {"safe_to_contact": False}
    out: dict[str, Any] = {}
    for channel in ("email", "sms", "phone", "post"):
        if _matches(vocab[channel], text):
            out["preferred_contact"] = channel
            out["safe_to_contact"] = True
            break
    emails = find_emails(text)
    phones = find_phones(text)
    if emails:
        out["email"] = emails[0].value
    if phones:
        out["phone"] = phones[0].value
    if not out and preferences.safe_to_contact(text):
        out["safe_to_contact"] = True
    return out
