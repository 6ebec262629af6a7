"""The screening CLI functions: single message, streaming JSON lines, evaluation report."""

from __future__ import annotations

import io
import json
from pathlib import Path

from intake.screening.cli import run_eval, run_screen


def test_single_message() -> None:
    out = io.StringIO()
    assert run_screen(io.StringIO("took 30 paracetamol"), out, jsonl=False) == 0
    result = json.loads(out.getvalue())
    assert result["urgency"] == "emergency"


def test_jsonl_keeps_order_and_reports_bad_lines() -> None:
    lines = [json.dumps({"text": "what are your opening hours", "channel": "sms"}),
             "not json",
             json.dumps({"text": "kms tonight"}),
             json.dumps({"text": "my mum has bruises", "channel": "voice"})]
    out = io.StringIO()
    status = run_screen(io.StringIO("\n".join(lines) + "\n"), out, jsonl=True)
    results = [json.loads(line) for line in out.getvalue().splitlines()]
    assert status == 1
    assert len(results) == 4
    assert results[0]["urgency"] == "routine"
    assert "error" in results[1]
    assert results[2]["urgency"] == "emergency"
    assert "physical" in results[3]["safeguarding"]


def test_run_eval_prints_report(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text(
        json.dumps({"text": "kms tonight", "urgency": "emergency",
                    "safeguarding": ["suicide_self_harm"]}) + "\n"
        + json.dumps({"text": "what time do you open", "urgency": "routine",
                      "safeguarding": []}) + "\n", "utf-8")
    out = io.StringIO()
    assert run_eval(str(path), out) == 0
    text = out.getvalue()
    assert "emergency" in text and "confusion" in text
    assert "any-safeguarding recall: 1.000" in text


def test_run_eval_missing_file(tmp_path: Path) -> None:
    out = io.StringIO()
    assert run_eval(str(tmp_path / "nope.jsonl"), out) == 2
