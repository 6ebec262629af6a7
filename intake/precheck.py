"""Eligibility pre-check: is the person, by the referral's own words, outside a service's criteria?

Rules are data (``intake/data/eligibility_rules.toml``, or the file ``ELIGIBILITY_RULES`` names);
``findings(fields, rules)`` is pure. A finding never refuses a referral: the advocate sees why on
the referral page and decides; the acknowledgement says what happens next
(``templates/ack/next_steps.txt``); the case system receives the findings with the referral.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

DEFAULT_RULES = "eligibility_rules.toml"
_TESTS = ("in", "is", "present")


@dataclass(frozen=True)
class Rule:
    id: str
    when: tuple[dict[str, Any], ...]
    why: str
    next: str
    source: str


@dataclass(frozen=True)
class Finding:
    """A rule a referral meets: ``why`` (for the advocate), ``next`` (for the person)."""

    id: str
    why: str
    next: str
    source: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "why": self.why, "next": self.next, "source": self.source}


class RulesError(ValueError):
    """The rules file cannot be used; the message says where and why."""


def parse(text: str, origin: str = DEFAULT_RULES) -> tuple[Rule, ...]:
    """The enabled rules of a rules file's text. Raises `RulesError` naming what is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{origin}: not TOML ({exc})") from exc
    rules: list[Rule] = []
    for n, raw in enumerate(data.get("rule", []), 1):
        where = f"{origin}: rule {n} ({raw.get('id', 'no id')})"
        for key in ("id", "when", "why", "next"):
            if key not in raw:
                raise RulesError(f"{where}: `{key}` is missing")
        when = raw["when"]
        if not isinstance(when, list) or not when:
            raise RulesError(f"{where}: `when` must be a list of conditions")
        for condition in when:
            tests = [t for t in _TESTS if t in condition]
            if not isinstance(condition.get("field"), str) or len(tests) != 1:
                raise RulesError(
                    f"{where}: each condition needs a `field` and one of in/is/present"
                )
            if "in" in condition and not isinstance(condition["in"], list):
                raise RulesError(f"{where}: `in` must be a list")
        if raw.get("enabled", True) is not True:
            continue
        rules.append(
            Rule(str(raw["id"]), tuple(when), str(raw["why"]), str(raw["next"]),
                 str(raw.get("source", "")))
        )
    return tuple(rules)


@cache
def load(path: Path | None = None) -> tuple[Rule, ...]:
    """The rules from ``path``, or the packaged defaults. Raises `RulesError`."""
    if path is None:
        text = resources.files("intake").joinpath("data", DEFAULT_RULES).read_text("utf-8")
        return parse(text)
    try:
        text = Path(path).read_text("utf-8")
    except OSError as exc:
        raise RulesError(f"{path}: cannot be read ({exc.strerror})") from exc
    return parse(text, str(path))


def _value(fields: dict[str, Any], path: str) -> Any:
    value: Any = fields
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _holds(fields: dict[str, Any], condition: dict[str, Any]) -> bool:
    value = _value(fields, condition["field"])
    if "present" in condition:
        return (value not in (None, "", [], {})) is bool(condition["present"])
    if "is" in condition:
        return type(value) is type(condition["is"]) and value == condition["is"]
    return value in condition["in"] and not isinstance(value, bool)


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


def findings(fields: dict[str, Any], rules: tuple[Rule, ...]) -> list[Finding]:
    """The rules ``fields`` (a referral's stored fields) meet, in the rules' order."""
    inner = fields.get("fields") if isinstance(fields.get("fields"), dict) else fields
    found: list[Finding] = []
    for rule in rules:
        if all(_holds(inner, c) for c in rule.when):
            values = _Blank(
                {c["field"].rsplit(".", 1)[-1]: str(_value(inner, c["field"])) for c in rule.when}
            )
            found.append(Finding(rule.id, rule.why.format_map(values), rule.next, rule.source))
    return found
