"""Charitylog's external-referral API as Dizions documents it, on loopback.

From Dizions' API wiki ("API external referrals", "API Authentication", "API clients"):

- `PUT /v2/external_referral`, body `application/x-www-form-urlencoded` holding a list of people
  (PHP bracket form, as a PHP client posts the wiki's arrays);
- authentication by three headers, `Source`, `Org` and `User`;
- each person needs `first_name`, `surname` and `org_type_id`; a `source` needs a
  `referral_role`; `relationships` point at other people by their 0-based position.

The wiki does not document the answer's body or error statuses: this stand-in answers 401 for
a missing or wrong key and 422 for a missing field, each with a JSON `error`, and 200 with the
number of people staged. `required` lets a test play a system that needs more (a `project`).
"""

from __future__ import annotations

import re
from typing import Any

from tests.forwarding.standin import Answer, Request, StandIn

KEYS = {"Source": "source-key-123", "Org": "org-key-456", "User": "user-key-789"}
_PART = re.compile(r"\[([^\]]*)\]")


def parse_people(pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """PHP's reading of `0[first_name]=A&0[relationships][1]=5`: a list of nested dicts."""
    people: dict[int, dict[str, Any]] = {}
    for key, value in pairs:
        head, _, rest = key.partition("[")
        parts = _PART.findall("[" + rest) if rest else []
        if not head.isdigit() or not parts:
            raise ValueError(f"not a person's field: {key}")
        node = people.setdefault(int(head), {})
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return [people[i] for i in sorted(people)]


class Charitylog(StandIn):
    def __init__(self, required: tuple[str, ...] = ()) -> None:
        self.staged: list[list[dict[str, Any]]] = []
        self.required = ("first_name", "surname", "org_type_id", *required)
        super().__init__()

    def answer(self, request: Request) -> Answer:
        if request.path != "/v2/external_referral":
            return Answer(404, {"error": "not found"})
        if request.method != "PUT":
            return Answer(405, {"error": "method not allowed"})
        for header, key in KEYS.items():
            if request.headers.get(header) != key:
                return Answer(401, {"error": f"invalid {header} key"})
        if not request.headers.get("Content-Type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return Answer(415, {"error": "body must be x-www-form-urlencoded"})
        try:
            people = parse_people(request.form())
        except ValueError as exc:
            return Answer(400, {"error": str(exc)})
        if not people:
            return Answer(422, {"error": "no people"})
        for index, person in enumerate(people):
            for field in self.required if index == 0 else self.required[:3]:
                if not person.get(field):
                    return Answer(422, {"error": f"person {index}: {field} is required"})
            if person.get("source") and not person.get("referral_role"):
                return Answer(422, {"error": f"person {index}: referral_role is required"})
            for other in person.get("relationships", {}):
                if not other.isdigit() or int(other) >= len(people) or int(other) == index:
                    return Answer(422, {"error": f"person {index}: no person {other}"})
        self.staged.append(people)
        return Answer(200, {"staged": len(people)})
