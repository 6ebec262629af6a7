"""`charitylog`: each new referral into Charitylog's External Referral Manager (Dizions' API).

`PUT {CHARITYLOG_API_URL}/v2/external_referral` puts referrals in a staging area where a
Charitylog administrator imports or rejects them, searching for an existing client first, so
intake never has to match people itself. Source: Dizions' API wiki, "API external referrals"
(wiki.dizions.co.uk/index.php/API_external_referrals), "API Authentication" and "API clients".

What Dizions documents, and what is sent:

- Authentication: three request headers, `Source` (the software supplier's key), `Org` (the
  charity's system) and `User` (the API user, whose rights apply): `CHARITYLOG_SOURCE`,
  `CHARITYLOG_ORG`, `CHARITYLOG_USER`.
- The body is `application/x-www-form-urlencoded` and holds a list of people, each at least
  `first_name`, `surname` and `org_type_id` (the type of person in the provider's dictionary).
  The wiki's examples are the PHP array a PHP client posts as form parameters, so the list is
  sent in PHP's bracket form: `0[first_name]=...&0[relationships][1]=8`.
- `description` on the person referred makes the import start a referral whose contact details
  begin with it: the whole referral form as text (`form.text`). `project` (optional) fixes the
  project; `source` (optional) names the form the referrals come from and then needs a
  `referral_role` for each person.
- Several people go in one PUT, linked by `relationships`: person i's `relationships[j] = r`
  says person i is `r` (a relationship id from the dictionary) of person j, people numbered
  from 0 in the order sent. intake sends the person referred (0) and, for a referral made by
  someone else, the referrer (1), with the ids `CHARITYLOG_RELATIONSHIPS` maps from intake's
  relationship words.
- Any other field of the /clients endpoint may be added: `telephone`, `email`, `postcode`,
  `nhs_number`, `external_id` (intake's reference) are sent when known. The wiki names no date
  of birth field: the date of birth is in the description.

Dizions documents neither the answer's body nor its error statuses: any 2xx is delivered, 408,
429 and 5xx are retried, any other status is a refusal (RFC 9110), recorded with its body.

The staging API takes new referrals only. An `updated` event is not sent (a second PUT would
make a second staging entry); an `erased` event is refused with the manual step it needs, so it
is listed with the failed forwards until a person has done it.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from intake.config import Settings
from intake.failures import Rejected
from intake.forwarding import form
from intake.forwarding.base import Delivered, ForwardEvent, Setting, request

PATH = "/v2/external_referral"
EVENTS = ("created", "erased")
REQUIRES = (
    Setting("CHARITYLOG_API_URL", "charitylog_api_url"),
    Setting("CHARITYLOG_SOURCE", "charitylog_source"),
    Setting("CHARITYLOG_ORG", "charitylog_org"),
    Setting("CHARITYLOG_USER", "charitylog_user"),
    Setting("CHARITYLOG_ORG_TYPE_ID", "charitylog_org_type_id"),
    Setting("CHARITYLOG_REFERRER_ORG_TYPE_ID", "charitylog_referrer_org_type_id"),
)
# Header name -> Settings field: one CHARITYLOG_* setting per header, named after it.
HEADERS = {"Source": "charitylog_source", "Org": "charitylog_org", "User": "charitylog_user"}
_ID = re.compile(r"^\d+$")
_MAPPING = re.compile(r"^\s*([^=]+?)\s*=\s*(\d+)\s*:\s*(\d+)\s*$")


def destination(settings: Settings) -> str:
    return settings.charitylog_api_url + PATH


def relationships(settings: Settings) -> dict[str, tuple[str, str]]:
    """`CHARITYLOG_RELATIONSHIPS` parsed: intake's relationship word -> (the referrer's id to
    the person, the person's id to the referrer). `*` is used for any other word.

    `child=8:5` says: when the referrer is the person's child, the referrer is relationship 8
    of the person and the person is relationship 5 of the referrer (ids from the provider's
    relationship dictionary, GET /v2/dictionary). Raises ValueError for an entry not so written.
    """
    found: dict[str, tuple[str, str]] = {}
    for entry in settings.charitylog_relationships:
        match = _MAPPING.match(entry)
        if not match:
            raise ValueError(
                f"CHARITYLOG_RELATIONSHIPS entry {entry!r} is not word=referrer_id:person_id"
            )
        found[match.group(1).lower()] = (match.group(2), match.group(3))
    return found


def check(settings: Settings) -> list[str]:
    """What a list of required settings cannot say about Charitylog's settings."""
    if "charitylog" not in settings.case_system:
        return []
    found = []
    for env, value in (
        ("CHARITYLOG_ORG_TYPE_ID", settings.charitylog_org_type_id),
        ("CHARITYLOG_REFERRER_ORG_TYPE_ID", settings.charitylog_referrer_org_type_id),
        ("CHARITYLOG_PROJECT", settings.charitylog_project),
        ("CHARITYLOG_SUBJECT_ROLE", settings.charitylog_subject_role),
        ("CHARITYLOG_REFERRER_ROLE", settings.charitylog_referrer_role),
    ):
        if value and not _ID.match(value):
            found.append(f"{env} must be a Charitylog id (digits), not {value!r}")
    if settings.charitylog_referral_source and not (
        settings.charitylog_subject_role and settings.charitylog_referrer_role
    ):
        # Dizions: "If specifying a source, you must also specify a referral_role".
        found.append(
            "CHARITYLOG_REFERRAL_SOURCE needs CHARITYLOG_SUBJECT_ROLE and CHARITYLOG_REFERRER_ROLE"
        )
    try:
        relationships(settings)
    except ValueError as exc:
        found.append(str(exc))
    return found


def _contact(person: dict[str, Any], phone: Any, email: Any) -> None:
    if phone:
        person["telephone"] = str(phone)
    if email:
        person["email"] = str(email)


def people(settings: Settings, event: ForwardEvent) -> list[dict[str, Any]]:
    """The people of one referral, in the order Dizions numbers them (0: the person referred,
    1: the referrer of a third-party referral)."""
    model = form.for_event(settings, event)
    details: dict[str, Any] = dict(model["details"])
    reference = event.referral.reference
    first, surname = form.split_name(details.get("name") or details.get("subject_name"), reference)
    subject: dict[str, Any] = {
        "first_name": first,
        "surname": surname,
        "org_type_id": settings.charitylog_org_type_id,
        "description": form.text(model),
        "external_id": reference,
    }
    _contact(subject, details.get("phone"), details.get("email"))
    if details.get("postcode"):
        subject["postcode"] = str(details["postcode"])
    if details.get("nhs_number"):
        subject["nhs_number"] = str(details["nhs_number"]).replace(" ", "")
    if settings.charitylog_project:
        subject["project"] = settings.charitylog_project
    if settings.charitylog_referral_source:
        subject["source"] = settings.charitylog_referral_source
        subject["referral_role"] = settings.charitylog_subject_role
    found = [subject]
    if details.get("referral_for") == "other":
        about = details.get("referrer") if isinstance(details.get("referrer"), dict) else {}
        r_first, r_surname = form.split_name(about.get("name"), reference)
        referrer: dict[str, Any] = {
            "first_name": r_first,
            "surname": r_surname,
            "org_type_id": settings.charitylog_referrer_org_type_id,
        }
        sender = event.referral.sender
        _contact(
            referrer,
            about.get("phone") or ("" if "@" in sender else sender),
            about.get("email") or (sender if "@" in sender else ""),
        )
        if settings.charitylog_referral_source:
            referrer["source"] = settings.charitylog_referral_source
            referrer["referral_role"] = settings.charitylog_referrer_role
        mapping = relationships(settings)
        word = str(details.get("relationship") or about.get("role") or "").lower()
        ids = mapping.get(word) or mapping.get("*")
        if ids:
            referrer["relationships"] = {0: ids[0]}
            subject["relationships"] = {1: ids[1]}
        found.append(referrer)
    return found


def encode(people_list: list[dict[str, Any]]) -> bytes:
    """The list as form fields in PHP's bracket form (what PHP's http_build_query makes of the
    arrays in Dizions' examples), UTF-8 and percent-encoded."""
    pairs: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}[{key}]", inner)
        else:
            pairs.append((prefix, str(value)))

    for index, person in enumerate(people_list):
        for key, value in person.items():
            walk(f"{index}[{key}]", value)
    return urlencode(pairs).encode("ascii")


def headers(settings: Settings) -> dict[str, str]:
    found = {header: getattr(settings, field) for header, field in HEADERS.items()}
    found["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    found["Accept"] = "application/json"
    return found


def send(settings: Settings, event: ForwardEvent) -> Delivered:
    reference = event.referral.reference
    if event.event == "erased":
        raise Rejected(
            f"Charitylog's external-referral API cannot erase: delete {reference} by hand in "
            "Charitylog (the External Referral Manager entry, or the client and referral it was "
            "imported as, found by external ID)"
        )
    if event.event != "created":
        return Delivered(detail="Charitylog's staging API takes new referrals only")
    response = request(
        settings,
        "PUT",
        destination(settings),
        content=encode(people(settings, event)),
        headers=headers(settings),
    )
    return Delivered(response.status_code)
