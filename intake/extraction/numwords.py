"""Spoken numbers and addresses in voicemail transcripts, turned back into digits.

Transcription writes what the caller said: "oh seven seven double oh nine hundred one two three",
"triple five", "raj dot mehta at example dot com". Phone, NHS number and postcode finders only
understand digits, so transcripts are normalised first. Only runs of two or more number words
are rewritten, so "no one", "one of the nurses" and "oh, I see" are left alone.
"""

from __future__ import annotations

from intake.extraction import linear
from intake.extraction.vocab import load

_WORD = linear.compile(r"[A-Za-z]+|\d+|[^\sA-Za-z\d]+|\s+")
_DOT = linear.compile(r"\s+dot\s+", linear.IGNORECASE)


def _tables() -> tuple[dict[str, str], dict[str, str], dict[str, str], dict[str, int]]:
    data = load("numbers")
    return data["digits"], data["teens"], data["tens"], data["repeaters"]


def _is_number_word(token: str) -> bool:
    digits, teens, tens, repeaters = _tables()
    low = token.lower()
    return low in digits or low in teens or low in tens or low in repeaters or low == "hundred"


def _convert(words: list[str]) -> str:
    """Digits for one run of number words (e.g. ["nine", "hundred", "one"] -> "9001")."""
    digits, teens, tens, repeaters = _tables()
    out: list[str] = []
    i = 0
    while i < len(words):
        low = words[i].lower()
        nxt = words[i + 1].lower() if i + 1 < len(words) else ""
        if low in repeaters and nxt in digits:
            out.append(digits[nxt] * repeaters[low])
            i += 2
            continue
        if low in tens:
            if nxt in digits and digits[nxt] != "0" and nxt not in ("oh", "o"):
                out.append(tens[low] + digits[nxt])
                i += 2
                continue
            out.append(tens[low] + "0")
        elif low in teens:
            out.append(teens[low])
        elif low in digits:
            out.append(digits[low])
        elif low == "hundred":
            out.append("00")
        i += 1
    return "".join(out)


def spoken_numbers_to_digits(text: str, min_words: int = 2) -> str:
    """Rewrite runs of at least ``min_words`` number words as digit strings.

    A comma or hyphen between two number words does not end a run (callers pause mid-number).
    A lone "o" or a leading repeater without a digit after it is not treated as a number.
    """
    tokens = _WORD.findall(text)
    result: list[str] = []
    i = 0
    while i < len(tokens):
        if not _is_number_word(tokens[i]) or tokens[i].lower() == "o":
            result.append(tokens[i])
            i += 1
            continue
        run = [tokens[i]]
        j = i + 1
        end = i + 1
        while j < len(tokens):
            tok = tokens[j]
            if _is_number_word(tok):
                run.append(tok)
                end = j + 1
                j += 1
            elif tok.isspace() or tok in {",", "-", ", "}:
                j += 1
            else:
                break
        if len(run) >= min_words:
            converted = _convert(run)
            result.append(converted if converted else "".join(tokens[i:end]))
            i = end
        else:
            result.append(tokens[i])
            i += 1
    return "".join(result)


def spoken_emails(text: str) -> str:
    """Rewrite "name dot surname at example dot com" as ``name.surname@example.com``."""
    tlds = "|".join(load("numbers")["email"]["tlds"])
    part = r"[a-z0-9][a-z0-9_-]*"
    pattern = linear.compile(
        rf"\b({part}(?:\s+dot\s+{part})*)\s+at\s+({part}(?:\s+dot\s+{part})*\s+dot\s+(?:{tlds}))\b",
        linear.IGNORECASE,
    )

    def repl(match: linear.Match) -> str:
        local = _DOT.sub(".", match.group(1))
        domain = _DOT.sub(".", match.group(2))
        return f"{local}@{domain}".lower()

    return pattern.sub(repl, text)


def normalise(text: str, channel: str) -> str:
    """Digits and addresses as written, whatever the channel.

    Voicemail gets the full treatment; typed channels only have long spelled-out runs rewritten
    (someone texting a number in words), so ordinary prose is untouched.
    """
    if channel == "voice":
        return spoken_emails(spoken_numbers_to_digits(text, min_words=2))
    return spoken_numbers_to_digits(text, min_words=6)
