"""Extraction on hostile text grows linearly: seconds at 100 KB against 10 KB, same run.

Run: python bench/pathological.py   (best of 3; the machine is shared)
Each shape (issue 15: newlines, digit-and-hyphen runs, reference-like tokens, spaces, and more) is
extracted at 10 KB and at 100 KB; a linear extractor takes about 10x as long for 10x the text
(the "ratio" column), a quadratic one about 100x. The baseline row is an ordinary referral email
of about 1 KB, for scale. Writes bench/results/pathological.json.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from intake.extraction import extract  # noqa: E402

SHAPES = {
    "newlines": "\n",
    "digit-hyphen runs": "12-34-",
    "reference-like tokens": "REF-7K2Q9D ",
    "spaces": " ",
    "dotted letters": "a.",
    "accented names": "Siân ",
    "phone numbers": "07700 900123 ",
}
ORDINARY = (
    "Referral for Mrs Jane Example, DOB 01/02/1950, NHS number 943 476 5919, lives at 1 High "
    "Street, Leeds LS1 4AP, tel 07700 900123. She has dementia and needs an IMHA for a care "
    "review; please call her daughter, not after 5pm.\n\nKind regards,\nSam Jones, Social Worker"
)


def best(text: str) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        extract(text, "email", "referrer@example.org")
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    extract(ORDINARY, "email")  # load the vocabularies once
    rows = {"ordinary referral (~0.4 KB)": {"seconds": best(ORDINARY)}}
    print(f"{'shape':28} {'10 KB s':>9} {'100 KB s':>9} {'ratio':>6}")
    for name, unit in SHAPES.items():
        small = best((unit * 10_000)[:10_000])
        large = best((unit * 100_000)[:100_000])
        rows[name] = {"10kb_seconds": small, "100kb_seconds": large, "ratio": large / small}
        print(f"{name:28} {small:9.3f} {large:9.3f} {large / small:6.1f}")
    out = ROOT / "bench" / "results" / "pathological.json"
    out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
