"""`intake eval language FILE`: language identification and communication needs, scored.

Input: JSON lines, each
    {"id": str, "channel": "sms"|"email"|"voice", "text": str,
     "language": ISO 639-1 code as `intake.screening.language.identify` returns ("pa" Punjabi,
                 "ur" Urdu, in Latin or native script), or null when no language can be told,
     "script": ISO 15924 ("Latn", "Arab", ...), optional,
     "needs": [any of NEED_LABELS], "interpreter_language": ISO 639-1 code or English name, or
     null}

Printed:
- language identification accuracy per gold language, with n: `identify` (what screening sees)
  and `answer` (`intake.languages.detect`, the language a reply is written in: it abstains
  when unsure, and an abstention is counted right only for English, which it then uses);
- accuracy per script;
- per-need precision / recall / F1 with support (needs from extraction's `interpreter_language`
  and `accessibility_needs`, mapped by intake/data/communication_needs.toml);
- interpreter_language accuracy over the lines that name one, and false alarms on those that do
  not.
A line that is not a JSON object with `text` and `language` stops the run with its line number
(exit status 2).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from lingua import IsoCode639_1, Language

from intake import communication, languages
from intake.extraction import extract
from intake.extraction.vocab import load
from intake.screening.language import identify

NEED_LABELS = (
    "interpreter",
    "bsl",
    "easy_read",
    "large_print",
    "text_only_deaf",
    "relay_uk",
    "hearing_loop",
    "braille",
    "audio",
    "advocate_present",
)


class BadRecord(ValueError):
    """A line of the labelled file is not in the documented shape."""


@dataclass(frozen=True)
class Prediction:
    identified: str | None
    answered: str | None
    script: str | None
    needs: frozenset[str]
    interpreter_language: str | None


def predict(text: str, channel: str) -> Prediction:
    """What intake makes of one message (pure)."""
    guess = identify(text)
    fields = extract(text, channel).fields
    found: set[str] = set()
    for need in communication.accessibility(fields):
        label = communication.eval_label(need)
        if label in NEED_LABELS:
            found.add(label)
    interpreter = fields.get("interpreter_language")
    if interpreter and interpreter != communication.BSL_NAME:
        found.add("interpreter")
    elif interpreter == communication.BSL_NAME:
        found.add("bsl")
    return Prediction(
        identified=guess.code,
        answered=languages.detect(text),
        script=guess.script,
        needs=frozenset(found),
        # "Language not stated" is a need without a language: scored as the need only.
        interpreter_language=(
            str(interpreter)
            if interpreter and interpreter != communication.unstated_language()
            else None
        ),
    )


def read(lines: Iterable[str]) -> list[dict[str, Any]]:
    """The records of a labelled file; raises `BadRecord` naming the first bad line."""
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadRecord(f"line {number}: not JSON ({exc.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise BadRecord(f"line {number}: needs an object with a string 'text'")
        if "language" not in record:
            raise BadRecord(f"line {number}: needs 'language' (an ISO 639-1 code or null)")
        unknown = set(record.get("needs") or []) - set(NEED_LABELS)
        if unknown:
            raise BadRecord(f"line {number}: unknown needs {sorted(unknown)}")
        records.append(record)
    return records


def evaluate(records: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Scores for `records` (see the module docstring); plain dicts for printing or JSON."""
    by_language: dict[str, Counter[str]] = defaultdict(Counter)
    by_script: dict[str, Counter[str]] = defaultdict(Counter)
    needs: dict[str, Counter[str]] = {label: Counter() for label in NEED_LABELS}
    interp: Counter[str] = Counter()
    for record in records:
        guess = predict(record["text"], str(record.get("channel") or "sms"))
        gold = record["language"]
        row = by_language[str(gold)]
        row["n"] += 1
        row["identify"] += guess.identified == gold
        row["answer"] += guess.answered == gold or (guess.answered is None and gold == "en")
        script = str(record.get("script") or guess.script)
        by_script[script]["n"] += 1
        by_script[script]["identify"] += guess.identified == gold
        wanted = set(record.get("needs") or [])
        for label in NEED_LABELS:
            said, found = label in wanted, label in guess.needs
            needs[label]["tp"] += said and found
            needs[label]["fp"] += found and not said
            needs[label]["fn"] += said and not found
        gold_interp = record.get("interpreter_language")
        if gold_interp:
            interp["n"] += 1
            interp["right"] += _language_name(guess.interpreter_language) == _language_name(
                gold_interp
            )
        else:
            interp["none"] += 1
            interp["false_alarm"] += guess.interpreter_language is not None
    return {
        "n": len(records),
        "languages": {k: dict(v) for k, v in sorted(by_language.items())},
        "scripts": {k: dict(v) for k, v in sorted(by_script.items())},
        "needs": {k: _prf(v) for k, v in needs.items()},
        "interpreter_language": dict(interp),
    }


def _language_name(value: str | None) -> str:
    """A language as a lower-case key, whether given as a name ("Polish", "Sylheti") or an ISO
    639-1 code ("pl"), so labelled files written either way score alike; "" for none.

    A name extraction gives is first turned into its code (intake/extraction/data/languages.toml
    `[codes]`: "Farsi" is "fa", "Mandarin" and "Cantonese" "zh", "Sylheti" "bn"), and a code
    into the detector's English name for it, else kept as the code ("ku", "ti")."""
    text = str(value or "").strip()
    codes: dict[str, str] = {k.lower(): v for k, v in load("languages")["codes"].items()}
    text = codes.get(text.lower(), text)
    if len(text) == 2:
        try:
            return Language.from_iso_code_639_1(IsoCode639_1.from_str(text.lower())).name.lower()
        except ValueError:
            return text.lower()
    return text.lower()


def _prf(counts: Counter[str]) -> dict[str, float | int]:
    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn, "fp": fp}


def _share(right: int, n: int) -> str:
    return f"{right / n:6.1%} ({right}/{n})" if n else "     -"


def format_report(scores: Mapping[str, Any]) -> str:
    lines = [f"{scores['n']} messages", "", "language   n   identify           answer"]
    total = Counter[str]()
    for code, row in scores["languages"].items():
        total.update(row)
        lines.append(
            f"{code:<8}{row['n']:>4}   {_share(row['identify'], row['n']):<18} "
            f"{_share(row['answer'], row['n'])}"
        )
    lines.append(
        f"{'all':<8}{total['n']:>4}   {_share(total['identify'], total['n']):<18} "
        f"{_share(total['answer'], total['n'])}"
    )
    lines += ["", "script     n   identify"]
    for script, row in scores["scripts"].items():
        lines.append(f"{script:<8}{row['n']:>4}   {_share(row['identify'], row['n'])}")
    lines += ["", "need               precision recall  f1     support  false+"]
    for label, prf in scores["needs"].items():
        lines.append(
            f"{label:<18} {prf['precision']:>8.2f} {prf['recall']:>6.2f} {prf['f1']:>6.2f} "
            f"{prf['support']:>8} {prf['fp']:>7}"
        )
    interp = scores["interpreter_language"]
    lines += [
        "",
        f"interpreter_language: {_share(interp.get('right', 0), interp.get('n', 0))} right "
        f"where one is named; false alarms {interp.get('false_alarm', 0)}"
        f"/{interp.get('none', 0)} where none is",
    ]
    return "\n".join(lines)


def run_eval(path: str, stdout: TextIO) -> int:
    """Print the report for a labelled file; 2 on a malformed file (its line named)."""
    try:
        with open(path, encoding="utf-8") as handle:
            records = read(handle)
    except (OSError, BadRecord) as exc:
        stdout.write(f"intake eval language: {exc}\n")
        return 2
    stdout.write(f"{path}: " + format_report(evaluate(records)) + "\n")
    return 0
