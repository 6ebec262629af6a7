"""Communication needs (the Accessible Information Standard, NHS England DAPB1605): flagged,
honoured by the reply channel, and shared with the case system.

The needs themselves are extracted into the referral's existing `interpreter_language` and
`accessibility_needs` fields; what each means for intake (its flag, whether a voice call-back
may be offered, its label in `intake eval language`) is data: intake/data/communication_needs.toml.
Pure functions over a referral's fields.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from intake.extraction.vocab import load

INTERPRETER = "interpreter"
BSL_NAME = "British Sign Language"


@dataclass(frozen=True, slots=True)
class Need:
    """One need: `key` canonical ("bsl", "interpreter"), `label` the flag's text, `advice` for
    the advocate, `no_voice` never offer a voice call-back."""

    key: str
    label: str
    advice: str
    no_voice: bool = False


@cache
def table() -> dict[str, Any]:
    """intake/data/communication_needs.toml, parsed once."""
    text = resources.files("intake").joinpath("data", "communication_needs.toml")
    return tomllib.loads(text.read_text("utf-8"))


def accessibility(fields: Mapping[str, Any]) -> list[str]:
    """The referral's `accessibility_needs`, lower-cased (a string is one need)."""
    found = fields.get("accessibility_needs") or []
    if isinstance(found, str):
        found = [found]
    return [str(n).strip().lower() for n in found if str(n).strip()]


def needs(fields: Mapping[str, Any], language_name: str | None = None) -> list[Need]:
    """Every communication need of a referral, interpreter first.

    `language_name`: the English name of the language the person writes in when it is not
    English (an interpreter is then needed though nobody said so).
    """
    known = table()["needs"]
    out: list[Need] = []
    spoken = str(fields.get("interpreter_language") or "").strip() or language_name
    bsl = "bsl" in accessibility(fields)
    if spoken and spoken == unstated_language():
        entry = table()["interpreter"]
        out.append(Need(INTERPRETER, entry["unstated_label"], entry["unstated_advice"]))
    elif spoken and spoken != BSL_NAME:
        said = "" if fields.get("interpreter_language") else " (writes in it; check)"
        out.append(
            Need(
                INTERPRETER,
                f"Interpreter: {spoken}",
                f"Book a {spoken} interpreter for calls and meetings{said}.",
            )
        )
    elif spoken == BSL_NAME:
        bsl = True
    for key in accessibility(fields) + (["bsl"] if bsl else []):
        entry = known.get(key)
        if entry is None:
            out.append(Need(key, key.capitalize(), key))
        elif key not in {n.key for n in out}:
            out.append(Need(key, entry["label"], entry["advice"], bool(entry["no_voice"])))
    return out


def unstated_language() -> str:
    """The `interpreter_language` extraction gives when an interpreter is needed but no language
    is named or can be told ("Dad doesn't speak English"): intake/extraction/data/languages.toml
    `[interpreter] unstated`."""
    return str(load("languages")["interpreter"]["unstated"])


def voice_call_back(fields: Mapping[str, Any]) -> bool:
    """False when the person must never be offered a voice call-back (BSL, deaf, Relay UK...)."""
    return not any(n.no_voice for n in needs(fields))


def voice_reply_templates() -> frozenset[str]:
    """Reply templates that offer a voice call (not offered when `voice_call_back` is False)."""
    return frozenset(table()["replies"]["voice"])


def eval_label(need: str) -> str | None:
    """The label `intake eval language` scores a canonical need under ("bsl", "easy_read")."""
    entry = table()["needs"].get(need)
    return str(entry["eval"]) if entry else None
