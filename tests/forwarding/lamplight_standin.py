"""Lamplight's publishing API as its documentation describes it, on loopback.

From Lamplight's API documentation (github.com/mattparker/lamplight-phpclient, docs/ and its
client's tests):

- credentials `key`, `lampid`, `project` and `format=json` on every request;
- `GET /people/some/role/{role}?q=...` lists published profiles whose fields contain `q`:
  `{"data": [...], "meta": {...}}`; error 1002 when people are not publishable;
- `POST /people/add/role/{role}` makes a profile and answers `{"data": <id>}`; data that fails
  validation (postcode, UK mobile and international phone patterns) is error 1055;
- `POST /referral/add` needs an existing attendee (and referrer) profile, answers
  `{"data": {"id": <id>, "attend": true}, "meta": ""}`; invalid referral data is error 1040;
- POSTed text containing an HTML tag is refused at once: error 9999;
- errors are `{"error": <code>, "msg": "..."}` with HTTP 400 (as in the client's tests).

Lamplight documents no answer for wrong credentials: this stand-in answers 401 with an error.
"""

from __future__ import annotations

import re
from typing import Any

from intake.forwarding.lamplight import INTERNATIONAL, POSTCODE, UK_MOBILE
from tests.forwarding.standin import Answer, Request, StandIn

CREDENTIALS = {"key": "lamplight-api-key", "lampid": "144", "project": "2"}
_TAG = re.compile(r"<\s*/?\s*[A-Za-z!]")


def _error(code: int, message: str) -> Answer:
    return Answer(400, {"error": code, "msg": message})


class Lamplight(StandIn):
    def __init__(self, *, people_published: bool = True) -> None:
        self.people_published = people_published
        self.profiles: dict[int, dict[str, str]] = {}
        self.referrals: list[dict[str, str]] = []
        self.workareas = {"22"}  # GET /workarea/all would list them
        self.next_id = 653
        super().__init__()

    def seed(self, role: str, **fields: str) -> int:
        """A profile that already exists (published), as a provider's would."""
        self.next_id += 1
        self.profiles[self.next_id] = {"role": role, "publishable": "1", **fields}
        return self.next_id

    def answer(self, request: Request) -> Answer:
        for key, value in CREDENTIALS.items():
            if request.query.get(key) != value:
                return Answer(401, {"error": 401, "msg": "invalid API credentials"})
        if request.query.get("format") != "json":
            return _error(1004, "format must be json")
        path = request.path.rstrip("/")
        form = dict(request.form())
        if request.method == "POST" and any(_TAG.search(v) for v in form.values()):
            return _error(9999, "Data provided may have been a malicious attack")
        if request.method == "GET" and (match := re.fullmatch(r"/people/some/role/(\w+)", path)):
            return self._search(match.group(1), request.query.get("q", ""))
        if request.method == "POST" and (match := re.fullmatch(r"/people/add/role/(\w+)", path)):
            return self._add_profile(match.group(1), form)
        if request.method == "POST" and path == "/referral/add":
            return self._add_referral(form)
        return _error(1004, "Method not recognised")

    def _search(self, role: str, q: str) -> Answer:
        if role not in ("user", "contact", "staff", "funder"):
            return _error(1001, "Role of person not recognised")
        if not self.people_published:
            return _error(1002, "Person of type requested is not publishable")
        found = [
            {"id": ident, **{k: v for k, v in fields.items() if k != "publishable"}}
            for ident, fields in self.profiles.items()
            if fields.get("role") == role
            and fields.get("publishable") == "1"
            and q
            and any(q.lower() in str(v).lower() for v in fields.values())
        ]
        return Answer(200, {"data": found, "meta": {"numRecords": len(found)}})

    def _add_profile(self, role: str, form: dict[str, str]) -> Answer:
        if role not in ("user", "contact", "staff", "funder"):
            return _error(1001, "Role of person not recognised")
        if "postcode" in form and not POSTCODE.match(form["postcode"]):
            return _error(1055, "Data provided to add/update profile was not valid")
        if "mobile" in form and not UK_MOBILE.match(form["mobile"]):
            return _error(1055, "Data provided to add/update profile was not valid")
        if "phone" in form and not INTERNATIONAL.match(form["phone"]):
            return _error(1055, "Data provided to add/update profile was not valid")
        if not (form.get("first_name") or form.get("surname")):
            return _error(1056, "No valid data found to add/update")
        self.next_id += 1
        self.profiles[self.next_id] = {**form, "role": role}
        return Answer(200, {"data": self.next_id})

    def _add_referral(self, form: dict[str, str]) -> Answer:
        for field in ("attendee", "referral_reason", "workareaid"):
            if not form.get(field):
                return _error(1040, f"Referral data provided was not valid: {field}")
        if form["workareaid"] not in self.workareas:
            return _error(1040, "Referral data provided was not valid: workareaid")
        for who in ("attendee", "referrer"):
            if form.get(who) and int(form[who]) not in self.profiles:
                return _error(1040, f"Referral data provided was not valid: {who}")
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", form.get("date_from", "")):
            return _error(1040, "Referral data provided was not valid: date_from")
        self.referrals.append(form)
        return Answer(
            200, {"data": {"id": 30935 + len(self.referrals), "attend": True}, "meta": ""}
        )

    def profile(self, ident: int) -> dict[str, Any]:
        return self.profiles[ident]
