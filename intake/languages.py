"""Answering every sender in their language: which language, and the texts in it.

The languages and their translations are data: `templates/lang/languages.toml` lists them (name,
direction, BCP 47 tag, Twilio voice, who must check the translation, and one line "write to us
in your language, we will find an interpreter" in each), and `templates/lang/<code>/<path>`
translates the English template `templates/<path>`. Any template name works: one a language
lacks (a question added later, say) is sent in English with that language's one line after it,
so nobody gets a text they cannot read without being told they may answer in their own language.

Which language (`choose`, pure):
1. the person's stated preference (`Referral.language_preference`: they said "Cymraeg", "in
   Polish please", or answered the first acknowledgement's question), else
2. the language they need an interpreter for (`fields.interpreter_language`), unless someone
   else is writing for them (`referral_for` "other": a daughter writing in English that "Mum only
   speaks Urdu" reads English, and is answered in the language she wrote in), else
3. the language their messages are in (`Referral.language`, from screening's `identify`), else
   English. English with "easy read" among the person's needs is easy-read English.
With the Welsh Language Standards on (`WELSH_LANGUAGE_STANDARDS`; Welsh Language (Wales) Measure
2011, standards 1-7 on correspondence and 22-23 on calls): Welsh is answered in Welsh; English or
unknown senders with no preference get Welsh first, then English, and are asked which they prefer.

SMS length (`sms_segments`): a text in GSM 03.38 characters only is sent 7-bit, 160 characters in
one segment or 153 each in a concatenated message; one character outside it makes Twilio send
the whole text as UCS-2, 70 UTF-16 code units in one segment or 67 each (3GPP TS 23.038, 23.040;
Twilio's "What the heck is a segment?").
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)

from intake.screening.language import identify
from intake.templating import render_text

ENGLISH = "en"
EASY_READ = "easy-read"
WELSH = "cy"
CATALOGUE = "lang/languages.toml"
# Templates people receive only once per referral that may carry the language question.
ASK_TEMPLATE = "ack/ask_language.txt"
# The statistical detector's confidence below which a message is not answered in the language
# it guessed: a short English text can read as Welsh to it ("Her son said we can't cope": cy,
# 0.84), and answering an English speaker in Welsh is worse than answering in English.
DETECTOR_CONFIDENT = 0.9


@dataclass(frozen=True)
class Language:
    """One language intake knows: `templated` when `templates/lang/<code>/` translates templates
    (else only `interpreter_line` is in it); `voice`, `voice_language` None without a Twilio
    voice for it."""

    code: str
    name: str
    native: str
    dir: str
    bcp47: str
    check: str
    status: str
    interpreter_line: str
    templated: bool
    voice: str | None = None
    voice_language: str | None = None


@dataclass(frozen=True)
class Choice:
    """How to answer: in `code` (a templated language or "en"), then `then` (bilingual, e.g.
    Welsh first then English), adding `line`'s interpreter line to an English text; `ask` adds
    the "which language would you like?" question to a first acknowledgement."""

    code: str = ENGLISH
    then: str | None = None
    line: str | None = None
    ask: bool = False
    reason: str = "default"

    def languages(self) -> list[str]:
        return [c for c in (self.code, self.then) if c]


@dataclass(frozen=True)
class Rendered:
    """A rendered text: `languages` it is written in (first is the main one; BCP 47 `lang` and
    `dir` "ltr"/"rtl" of that one), `fallback` True when English stood in for a missing one."""

    text: str
    languages: tuple[str, ...]
    lang: str
    dir: str
    fallback: bool = False
    parts: tuple[tuple[str, str, str], ...] = field(default=())  # (text, lang, dir) per language


@lru_cache(maxsize=8)
def _load(path: Path, mtime: float) -> dict[str, Language]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    found: dict[str, Language] = {}
    for section, templated in (("languages", True), ("lines", False)):
        for code, entry in (data.get(section) or {}).items():
            found[code] = Language(
                code=code,
                name=entry["name"],
                native=entry.get("native", entry["name"]),
                dir=entry.get("dir", "ltr"),
                bcp47=entry.get("bcp47", code),
                check=entry.get("check", ""),
                status=entry.get("status", "draft"),
                interpreter_line=entry["interpreter_line"],
                templated=templated and (code == ENGLISH or (path.parent / code).is_dir()),
                voice=entry.get("voice"),
                voice_language=entry.get("voice_language"),
            )
    return found


def catalogue(templates_dir: Path) -> dict[str, Language]:
    """Every language in `templates/lang/languages.toml`, by code (re-read when it changes).

    Raises FileNotFoundError / tomllib.TOMLDecodeError / KeyError on a missing or malformed
    file (the start-up check reports these as configuration errors)."""
    path = Path(templates_dir) / CATALOGUE
    return _load(path, path.stat().st_mtime)


def detect(text: str) -> str | None:
    """The language to answer `text` in (ISO 639-1), from screening's `identify`, or None when
    it is too short or the detector is not sure enough (`DETECTOR_CONFIDENT`)."""
    guess = identify(text)
    if guess.code is None:
        return None
    if guess.method == "detector" and guess.confidence < DETECTOR_CONFIDENT:
        return None
    return guess.code


def language(templates_dir: Path, code: str | None) -> Language | None:
    return catalogue(templates_dir).get(code or "")


def code_for_name(templates_dir: Path, name: Any) -> str | None:
    """The code of a language given by its English or own name ("Polish", "Cymraeg"), or None."""
    wanted = str(name or "").strip().casefold()
    if not wanted:
        return None
    for lang in catalogue(templates_dir).values():
        if wanted in (lang.name.casefold(), lang.native.casefold(), lang.code):
            return lang.code if lang.code != EASY_READ else None
    return None


def _needs(fields: Mapping[str, Any]) -> set[str]:
    needs = fields.get("accessibility_needs") or []
    return {str(n).lower() for n in ([needs] if isinstance(needs, str) else needs)}


def choose(
    templates_dir: Path,
    *,
    preference: str | None,
    detected: str | None,
    fields: Mapping[str, Any],
    welsh_standards: bool = False,
) -> Choice:
    """The language(s) to answer in (pure; see the module docstring for the order)."""
    known = catalogue(templates_dir)
    reason = "preference"
    code = preference if preference in known else None
    for_someone_else = fields.get("referral_for") == "other"
    if code is None and for_someone_else and detected in known:
        # the acknowledgement goes to the writer, who reads what they wrote in
        code, reason = detected, "detected"
    if code is None:
        code = code_for_name(templates_dir, fields.get("interpreter_language"))
        reason = "interpreter"
    if code is None and detected in known:
        code, reason = detected, "detected"
    if code is None:
        code, reason = ENGLISH, "default"
    if code == ENGLISH and "easy read" in _needs(fields):
        code = EASY_READ
    if welsh_standards and not preference:
        if code == WELSH:
            return Choice(WELSH, ask=True, reason=reason)
        if code in (ENGLISH, EASY_READ):
            return Choice(WELSH, then=code, ask=True, reason="welsh standards")
    lang = known[code]
    if lang.templated:
        return Choice(code, reason=reason)
    return Choice(ENGLISH, line=code, reason=reason)


def template_path(templates_dir: Path, name: str, code: str) -> str | None:
    """The template `name` in language `code` (a path under templates/), or None if it has none."""
    if code == ENGLISH:
        return name if (Path(templates_dir) / name).is_file() else None
    candidate = f"lang/{code}/{name}"
    return candidate if (Path(templates_dir) / candidate).is_file() else None


def render(
    templates_dir: Path, name: str, choice: Choice, *, lines: bool = True, **context: Any
) -> Rendered:
    """Template `name` (a path under templates/, e.g. "ack/sms.txt") as `choice` says.

    Each language in the choice is rendered from its own translation, or from the English
    template followed by that language's interpreter line when it has none. Bilingual texts put
    the languages one after another, separated by a blank line, the first language first.
    Raises jinja2.TemplateNotFound when not even the English template exists.
    """
    known = catalogue(templates_dir)
    parts: list[tuple[str, str, str]] = []
    fallback = False
    wanted = choice.languages()
    for code in wanted:
        lang = known.get(code) or known[ENGLISH]
        path = template_path(templates_dir, name, code)
        if path is None and ENGLISH in wanted and code != ENGLISH:
            # Bilingual, and this language lacks the template: the English part says it once.
            fallback = True
            continue
        if path is None:
            text = render_text(templates_dir, name, **context)
            if lines and code not in (ENGLISH, EASY_READ):
                text = f"{text}\n\n{lang.interpreter_line}"
            fallback = fallback or code != ENGLISH
            parts.append((text, known[ENGLISH].bcp47 if code != EASY_READ else lang.bcp47, "ltr"))
            continue
        parts.append((render_text(templates_dir, path, **context), lang.bcp47, lang.dir))
    if lines and choice.line and choice.line in known:
        extra = known[choice.line]
        parts[0] = (f"{parts[0][0]}\n\n{extra.interpreter_line}", parts[0][1], parts[0][2])
        fallback = True
    first = parts[0]
    return Rendered(
        text="\n\n".join(p[0] for p in parts),
        languages=tuple(choice.languages()),
        lang=first[1],
        dir=first[2],
        fallback=fallback,
        parts=tuple(parts),
    )


def render_single(templates_dir: Path, name: str, choice: Choice, **context: Any) -> Rendered:
    """Like `render`, in the choice's first language only and without the interpreter line
    (an email subject): English when that language has no such template."""
    return render(templates_dir, name, Choice(choice.code), lines=False, **context)


# -- SMS length ---------------------------------------------------------------------------------

GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True)
class SmsLength:
    """`encoding` "GSM-7" or "UCS-2"; `units` septets (GSM-7, extension characters count two)
    or UTF-16 code units (UCS-2); `segments` how many SMS the text is sent as."""

    encoding: str
    units: int
    segments: int


def sms_segments(text: str) -> SmsLength:
    """How an SMS of `text` is encoded and how many segments it costs (3GPP TS 23.038/23.040)."""
    try:
        units = len(text.encode("gsm03.38"))
        encoding, single, part = "GSM-7", GSM_SINGLE, GSM_PART
    except UnicodeEncodeError:
        units = len(text.encode("utf-16-le")) // 2
        encoding, single, part = "UCS-2", UCS2_SINGLE, UCS2_PART
    segments = 1 if units <= single else -(-units // part)
    return SmsLength(encoding, units, segments)
