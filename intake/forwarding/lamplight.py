"""`lamplight`: each new referral as a Lamplight referral record, with its people's profiles.

Lamplight's publishing API (documentation: github.com/mattparker/lamplight-phpclient, docs/,
by Lamplight Database Systems) takes a referral as an activity record naming profiles that must
already exist ("Lamplight will not create profiles for the attendee or referrer"), so, as its
hints recommend, intake:

1. finds the person's profile (`GET {api}/people/some/role/{role}?q=<email or mobile>`, an exact
   match among the published profiles it returns) or creates one
   (`POST {api}/people/add/role/{role}`: first_name, surname, postcode, mobile or phone, email,
   publishable);
2. does the same for the referrer of a third-party referral (role `LAMPLIGHT_REFERRER_ROLE`);
3. adds the referral (`POST {api}/referral/add`: attendee, referrer, referral_reason, date_from,
   workareaid, and the reference in the custom field `LAMPLIGHT_REFERENCE_FIELD` when set).

Every request carries the credentials from Lamplight's publishing settings as query parameters:
`key`, `lampid`, `project`, with `format=json`. Lamplight answers `{"data": ...}`, or an error
`{"error": <code>, "msg": "..."}` (HTTP 400 in its client's tests): a refusal, never retried.

Data must pass Lamplight's validation or the profile is refused (error 1055): postcodes and
phone numbers are sent only in the forms its documentation gives, otherwise they stay in the
referral reason; and POSTed text holding an HTML tag is refused outright (error 9999), so angle
brackets are sent as single guillemets.

Lamplight's API cannot change or delete a referral record: an `updated` event is not sent, and
an `erased` event is refused with the manual step it needs.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from intake.config import Settings
from intake.failures import Rejected
from intake.forwarding import form
from intake.forwarding.base import Delivered, ForwardEvent, Setting, request

EVENTS = ("created", "erased")
REQUIRES = (
    Setting("LAMPLIGHT_API_URL", "lamplight_api_url"),
    Setting("LAMPLIGHT_KEY", "lamplight_key"),
    Setting("LAMPLIGHT_LAMPID", "lamplight_lampid"),
    Setting("LAMPLIGHT_PROJECT", "lamplight_project"),
    Setting("LAMPLIGHT_WORKAREA_ID", "lamplight_workarea_id"),
)
# Roles a person's profile may have (Lamplight's untranslated defaults; `org` is for orgs).
PEOPLE_ROLES = ("user", "contact", "staff", "funder")
# Lamplight's validation, from its profiles documentation.
POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9R][0-9A-Z]? [0-9][ABD-HJLNP-UW-Z]{2}$")
UK_MOBILE = re.compile(r"^(0|\+44 |\+44)7[0-9]{1}[\d]{2}[\s]{0,1}[\d]{6}$")
INTERNATIONAL = re.compile(
    r"^\+(9[976]\d|8[987530]\d|6[987]\d|5[90]\d|42\d|3[875]\d|2[98654321]\d|9[8543210]|"
    r"8[6421]|6[6543210]|5[87654321]|4[987654310]|3[9643210]|2[70]|7|1)\d{1,14}$"
)
_DIGITS = re.compile(r"^\d+$")


def destination(settings: Settings) -> str:
    return settings.lamplight_api_url + "/referral/add"


def check(settings: Settings) -> list[str]:
    if "lamplight" not in settings.case_system:
        return []
    found = []
    for env, value in (
        ("LAMPLIGHT_LAMPID", settings.lamplight_lampid),
        ("LAMPLIGHT_PROJECT", settings.lamplight_project),
        ("LAMPLIGHT_WORKAREA_ID", settings.lamplight_workarea_id),
    ):
        if value and not _DIGITS.match(value):
            found.append(f"{env} must be a Lamplight id (digits), not {value!r}")
    for env, role in (
        ("LAMPLIGHT_ROLE", settings.lamplight_role),
        ("LAMPLIGHT_REFERRER_ROLE", settings.lamplight_referrer_role),
    ):
        if role not in PEOPLE_ROLES:
            found.append(f"{env} must be one of {', '.join(PEOPLE_ROLES)}, not {role!r}")
    return found


def _credentials(settings: Settings) -> dict[str, str]:
    return {
        "format": "json",
        "key": settings.lamplight_key,
        "lampid": settings.lamplight_lampid,
        "project": settings.lamplight_project,
    }


def plain(value: Any) -> str:
    """POSTed text without anything Lamplight would take for an HTML tag (its error 9999)."""
    return str(value).replace("<", "\u2039").replace(">", "\u203a")


def postcode(value: Any) -> str | None:
    """A UK postcode as Lamplight accepts it ("SW1A 1AA"), or None."""
    squashed = re.sub(r"\s+", "", str(value or "")).upper()
    if len(squashed) < 5:
        return None
    spaced = f"{squashed[:-3]} {squashed[-3:]}"
    return spaced if POSTCODE.match(spaced) else None


def phone_fields(value: Any) -> dict[str, str]:
    """`mobile` for a UK mobile, `phone` for another number in international form, else {}."""
    number = re.sub(r"[\s()-]", "", str(value or ""))
    if not number:
        return {}
    if UK_MOBILE.match(number):
        return {"mobile": number}
    if INTERNATIONAL.match(number):
        return {"phone": number}
    return {}


def profile(name: Any, reference: str, phone: Any, email: Any, place: Any = None) -> dict[str, str]:
    """A person's profile fields, each only in a form Lamplight accepts."""
    first, surname = form.split_name(name, reference)
    fields = {"first_name": plain(first), "surname": plain(surname)}
    fields.update(phone_fields(phone))
    if email and "@" in str(email):
        fields["email"] = plain(str(email).strip())
    if postcode(place):
        fields["postcode"] = str(postcode(place))
    return fields


def _answer(response: Any, what: str) -> Any:
    """The `data` of a Lamplight answer; an `error` in it is a refusal."""
    try:
        body = response.json()
    except ValueError as exc:
        raise Rejected(f"{what}: Lamplight's answer is not JSON", response.status_code) from exc
    if isinstance(body, dict) and body.get("error"):
        raise Rejected(
            f"{what}: Lamplight error {body.get('error')}: {str(body.get('msg', ''))[:160]}",
            response.status_code,
        )
    return body.get("data") if isinstance(body, dict) else None


def _same_phone(a: Any, b: Any) -> bool:
    digits_a, digits_b = re.sub(r"\D", "", str(a or "")), re.sub(r"\D", "", str(b or ""))
    return len(digits_a) >= 10 and digits_a[-10:] == digits_b[-10:]


def find_profile(settings: Settings, role: str, fields: dict[str, str]) -> int | None:
    """The id of the one published profile with this email or phone, else None (none, several,
    or people not published: then a new profile is made and Lamplight's users merge by hand)."""
    wanted = fields.get("email") or fields.get("mobile") or fields.get("phone")
    if not wanted:
        return None
    try:
        response = request(
            settings,
            "GET",
            f"{settings.lamplight_api_url}/people/some/role/{role}",
            params={**_credentials(settings), "q": wanted, "return": "full"},
        )
        records = _answer(response, "profile search")
    except Rejected:
        # e.g. 1002, people are not published: no search, so a new profile (a refusal for
        # wrong credentials comes again, and is final, when the profile is made).
        return None
    email = fields.get("email", "").lower()
    number = fields.get("mobile") or fields.get("phone")
    matches = {
        int(record["id"])
        for record in records or []
        if isinstance(record, dict)
        and "id" in record
        and (
            (email and str(record.get("email", "")).lower() == email)
            or (number and any(_same_phone(record.get(k), number) for k in ("mobile", "phone")))
        )
    }
    return matches.pop() if len(matches) == 1 else None


def create_profile(settings: Settings, role: str, fields: dict[str, str]) -> int:
    """A new person profile; returns its id."""
    response = request(
        settings,
        "POST",
        f"{settings.lamplight_api_url}/people/add/role/{role}",
        params=_credentials(settings),
        data={
            "role": role,
            **fields,
            "publishable": "1" if settings.lamplight_publishable else "0",
            "publish_update": "0",
        },
    )
    data = _answer(response, "profile")
    ident = data.get("id") if isinstance(data, dict) else data
    try:
        return int(ident)
    except (TypeError, ValueError):
        raise Rejected(
            "profile: Lamplight's answer has no profile id", response.status_code
        ) from None


def profile_id(settings: Settings, role: str, fields: dict[str, str]) -> int:
    return find_profile(settings, role, fields) or create_profile(settings, role, fields)


def referral_date(received_at: datetime) -> str:
    """The referral's date as Lamplight's `date_from` wants it: YYYY-mm-dd, UK date."""
    local = received_at.astimezone(form.UK) if received_at.tzinfo else received_at
    return local.strftime("%Y-%m-%d")


def send(settings: Settings, event: ForwardEvent) -> Delivered:
    referral = event.referral
    if event.event == "erased":
        where = (
            f" (its {settings.lamplight_reference_field} field holds {referral.reference})"
            if settings.lamplight_reference_field
            else ""
        )
        raise Rejected(
            f"Lamplight's API cannot delete: delete the referral record{where} and the profiles "
            f"made for {referral.reference} by hand in Lamplight"
        )
    if event.event != "created":
        return Delivered(detail="Lamplight's API cannot change a referral record")
    model = form.for_event(settings, event)
    details: dict[str, Any] = model["details"]
    subject = profile(
        details.get("name") or details.get("subject_name"),
        referral.reference,
        details.get("phone"),
        details.get("email"),
        details.get("postcode"),
    )
    subject_id = profile_id(settings, settings.lamplight_role, subject)
    referrer_id = subject_id
    if details.get("referral_for") == "other":
        about = details.get("referrer") if isinstance(details.get("referrer"), dict) else {}
        sender = referral.sender
        referrer = profile(
            about.get("name"),
            referral.reference,
            about.get("phone") or ("" if "@" in sender else sender),
            about.get("email") or (sender if "@" in sender else ""),
        )
        referrer_id = profile_id(settings, settings.lamplight_referrer_role, referrer)
    fields = {
        "attendee": str(subject_id),
        "referrer": str(referrer_id),
        "referral_reason": plain(form.text(model)),
        "date_from": referral_date(referral.received_at),
        "workareaid": settings.lamplight_workarea_id,
    }
    if settings.lamplight_reference_field:
        fields[settings.lamplight_reference_field.replace(" ", "_")] = referral.reference
    response = request(
        settings,
        "POST",
        f"{settings.lamplight_api_url}/referral/add",
        params=_credentials(settings),
        data=fields,
    )
    data = _answer(response, "referral")
    ident = data.get("id") if isinstance(data, dict) else data
    return Delivered(response.status_code, detail=f"Lamplight referral {ident}")
