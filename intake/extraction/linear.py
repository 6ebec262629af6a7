"""Regular expressions that run in time linear in the text, whatever the text: RE2.

Every pattern extraction uses is compiled here, on Google's RE2 (the `google-re2` package), which
never backtracks: a search costs time proportional to the text, so a hostile message (100 KB of
newlines, of digit-and-hyphen runs, of reference-like tokens) cannot hold a worker. Python's `re`
backtracks and took minutes on such input (issue 15). `tests/extraction/test_linear.py` checks
that every pattern of the vocabularies and the code compiles here, and that no module of
`intake/extraction/` calls `re` to match.

RE2 has no look-around. What the patterns needed it for is said another way:

- a named group `unless` marks an occurrence that does not count: `\\bin care\\b(?P<unless> home)?`
  finds "in care" but not "in care home" (where Python wrote `(?! home)`); `search`, `finditer`
  and friends skip such occurrences and go on looking after them;
- a look-behind of one character is a consumed character before a group, and the caller searches
  again from the group's end (`contacts.find_phones`).

RE2's `\\w`, `\\d`, `\\s` and `\\b` are ASCII; patterns that must see letters outside ASCII
(names such as Siân, Zoë, Łukasz) say so with `\\p{L}`, `\\p{Lu}`, `\\p{Ll}` and `\\p{M}`.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import Any

import re2

IGNORECASE = 2  # the same values as `re`'s flags, so callers read the same
MULTILINE = 8
DOTALL = 16
_FLAGS = {IGNORECASE: "i", MULTILINE: "m", DOTALL: "s"}
UNLESS = "unless"
MAX_MEM = 64 << 20

error = re2.error


def _options() -> re2.Options:
    options = re2.Options()
    # Name patterns spell out Unicode's upper- and lower-case letters, which make RE2's program
    # large; with the default 8 MiB its DFA gives up and it falls back to its (still linear,
    # slower) NFA. The memory is a ceiling, taken only as a search needs it.
    options.max_mem = MAX_MEM
    options.log_errors = False  # a pattern RE2 refuses raises `error`; nothing goes to stderr
    return options


class _Subject:
    """A text as RE2 reads it (UTF-8 bytes), and the way back from byte to character offsets.

    The `re2` package's own `str` interface converts offsets by counting from the start of the
    text on every search, which is quadratic over many searches; here the text is encoded once,
    and a byte offset becomes a character offset by subtracting the UTF-8 continuation bytes
    before it (a binary search over their positions; none for ASCII text).
    """

    __slots__ = ("continuations", "data", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.data = text.encode("utf-8", "surrogatepass")
        self.continuations: list[int] = (
            []
            if len(self.data) == len(text)
            else [i for i, byte in enumerate(self.data) if 0x80 <= byte < 0xC0]
        )

    def char(self, offset: int) -> int:
        if offset < 0 or not self.continuations:
            return offset
        return offset - bisect_left(self.continuations, offset)

    def byte(self, char: int) -> int:
        if not self.continuations or char <= 0:
            return char
        return len(self.text[:char].encode("utf-8", "surrogatepass"))


class Match:
    """One occurrence, with `re.Match`'s reading methods (groups by number or by name)."""

    __slots__ = ("_index", "_raw", "_spans", "_subject")

    def __init__(self, match: Any, index: dict[str, int], subject: _Subject, groups: int) -> None:
        self._index = index
        self._subject = subject
        self._raw = match  # byte offsets, for searching on from this occurrence
        self._spans = [
            tuple(subject.char(offset) for offset in match.span(number))
            for number in range(groups + 1)
        ]

    def _number(self, group: int | str) -> int:
        return self._index[group] if isinstance(group, str) else group

    def span(self, group: int | str = 0) -> tuple[int, int]:
        start, end = self._spans[self._number(group)]
        return start, end

    def start(self, group: int | str = 0) -> int:
        return self.span(group)[0]

    def end(self, group: int | str = 0) -> int:
        return self.span(group)[1]

    def __getitem__(self, group: int | str) -> str | None:
        start, end = self.span(group)
        return None if start < 0 else self._subject.text[start:end]

    def group(self, *groups: int | str) -> Any:
        if len(groups) <= 1:
            return self[groups[0] if groups else 0]
        return tuple(self[g] for g in groups)

    def groups(self, default: Any = None) -> tuple[Any, ...]:
        found = (self[number] for number in range(1, len(self._spans)))
        return tuple(default if item is None else item for item in found)

    def groupdict(self, default: Any = None) -> dict[str, Any]:
        return {name: self[name] if self[name] is not None else default for name in self._index}

    @property
    def string(self) -> str:
        return self._subject.text


class Pattern:
    """A compiled pattern with the parts of `re.Pattern`'s interface extraction uses."""

    __slots__ = ("_index", "_regexp", "flags", "groups", "pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        unknown = flags & ~(IGNORECASE | MULTILINE | DOTALL)
        if unknown:
            raise ValueError(f"flags {unknown} have no RE2 equivalent")
        inline = "".join(letter for bit, letter in _FLAGS.items() if flags & bit)
        self.pattern = pattern
        self.flags = flags
        self._regexp = re2.compile(f"(?{inline}){pattern}" if inline else pattern, _options())
        self._index: dict[str, int] = dict(self._regexp.groupindex)
        self.groups = int(self._regexp.groups)

    def _iter(self, subject: _Subject, byte_pos: int) -> Iterator[Match]:
        unless = self._index.get(UNLESS)
        for found in self._regexp.finditer(subject.data, byte_pos):
            if unless is None or found.group(unless) is None:
                yield Match(found, self._index, subject, self.groups)

    def finditer(self, text: str, pos: int = 0) -> Iterator[Match]:
        """Every occurrence that counts, left to right, not overlapping."""
        subject = _Subject(text)
        return self._iter(subject, subject.byte(pos))

    def search(self, text: str, pos: int = 0) -> Match | None:
        return next(self.finditer(text, pos), None)

    def _anchored(self, found: Any, subject: _Subject) -> Match | None:
        unless = self._index.get(UNLESS)
        if found is None or (unless is not None and found.group(unless) is not None):
            return None
        return Match(found, self._index, subject, self.groups)

    def match(self, text: str, pos: int = 0) -> Match | None:
        subject = _Subject(text)
        return self._anchored(self._regexp.match(subject.data, subject.byte(pos)), subject)

    def fullmatch(self, text: str) -> Match | None:
        subject = _Subject(text)
        return self._anchored(self._regexp.fullmatch(subject.data), subject)

    def findall(self, text: str) -> list[Any]:
        """As `re.findall`: the whole occurrence, or its one group, or a tuple of its groups."""
        found: list[Any] = []
        for match in self.finditer(text):
            if self.groups == 0:
                found.append(match.group())
            elif self.groups == 1:
                found.append(match.groups("")[0])
            else:
                found.append(match.groups(""))
        return found

    def sub(self, repl: str | Callable[[Match], str], text: str, count: int = 0) -> str:
        """As `re.sub` (a string `repl` is taken literally: no group references)."""
        pieces: list[str] = []
        end = 0
        for number, match in enumerate(self.finditer(text), start=1):
            pieces.append(text[end : match.start()])
            pieces.append(repl(match) if callable(repl) else repl)
            end = match.end()
            if count and number >= count:
                break
        pieces.append(text[end:])
        return "".join(pieces)

    def split(self, text: str, maxsplit: int = 0) -> list[str]:
        """As `re.split` for a pattern without groups."""
        pieces: list[str] = []
        end = 0
        for number, match in enumerate(self.finditer(text), start=1):
            pieces.append(text[end : match.start()])
            end = match.end()
            if maxsplit and number >= maxsplit:
                break
        pieces.append(text[end:])
        return pieces


_compiled: dict[tuple[str, int], Pattern] = {}


def compile(pattern: str, flags: int = 0) -> Pattern:
    """`pattern` on RE2, compiled once; raises `error` for syntax RE2 does not have."""
    key = (pattern, flags)
    found = _compiled.get(key)
    if found is None:
        found = _compiled[key] = Pattern(pattern, flags)
    return found


def compiled_patterns() -> list[Pattern]:
    """Every pattern compiled in this process so far (for the tests that read them all)."""
    return list(_compiled.values())


def spans(pattern: Pattern, group: str, text: str) -> list[tuple[int, int]]:
    """Where `group` occurs in `text`, searching again from the end of each occurrence of the
    group: the characters around it that the pattern consumed (in place of a look-behind or a
    look-ahead of one character) may border the next occurrence."""
    subject = _Subject(text)
    found: list[tuple[int, int]] = []
    pos = 0
    while (match := next(pattern._iter(subject, pos), None)) is not None:
        found.append(match.span(group))
        raw = match._raw
        number = group if isinstance(group, int) else match._index[group]
        pos = max(raw.end(number), raw.start() + 1)
    return found


def escape(text: str) -> str:
    """`text` as a pattern that matches it literally."""
    return "".join(ch if ch.isalnum() or ch == "_" or ch == " " else "\\" + ch for ch in text)


def search(pattern: str, text: str, flags: int = 0) -> Match | None:
    return compile(pattern, flags).search(text)


def fullmatch(pattern: str, text: str, flags: int = 0) -> Match | None:
    return compile(pattern, flags).fullmatch(text)


def sub(pattern: str, repl: str | Callable[[Match], str], text: str, flags: int = 0) -> str:
    return compile(pattern, flags).sub(repl, text)


def split(pattern: str, text: str, maxsplit: int = 0, flags: int = 0) -> list[str]:
    return compile(pattern, flags).split(text, maxsplit)
