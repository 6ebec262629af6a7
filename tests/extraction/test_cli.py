import io
import json

from intake.extraction.cli import run_eval, run_extract


def test_single_message() -> None:
    out = io.StringIO()
    assert (
        run_extract(io.StringIO("I want to complain about my GP. LS6 2QT"), out, False, "sms") == 0
    )
    result = json.loads(out.getvalue())
    assert result["postcode"] == "LS6 2QT" and result["advocacy_type"] == "nhs_complaints"
    assert "confidence" in result


def test_jsonl_in_order_with_per_line_channel_and_sender() -> None:
    lines = [
        {"text": "I'm on a section 3 and want an IMHA", "sender": "+447700900101"},
        {"text": "", "channel": "email"},
        {
            "text": "call me on oh seven seven double oh nine hundred one two three",
            "channel": "voice",
        },
    ]
    stdin = io.StringIO("\n".join(json.dumps(x) for x in lines) + "\n")
    out = io.StringIO()
    assert run_extract(stdin, out, True, "sms") == 0
    results = [json.loads(x) for x in out.getvalue().splitlines()]
    assert len(results) == 3
    assert results[0]["phone"] == "+447700900101"
    assert results[2]["phone"] == "+447700900123"


def test_jsonl_bad_line_reported_in_place() -> None:
    out = io.StringIO()
    assert run_extract(io.StringIO('{"text": "hi"}\nnot json\n'), out, True, "sms") == 1
    results = [json.loads(x) for x in out.getvalue().splitlines()]
    assert "error" not in results[0] and "error" in results[1]


def test_run_eval_prints_table(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "set.jsonl"
    path.write_text(
        json.dumps(
            {
                "text": "postcode M14 5XY",
                "channel": "sms",
                "sender": None,
                "expected": {"postcode": "M14 5XY"},
            }
        )
        + "\n",
        encoding="utf-8",
    )
    out = io.StringIO()
    assert run_eval(str(path), out) == 0
    assert "postcode" in out.getvalue() and "1.00" in out.getvalue()
