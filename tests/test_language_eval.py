"""`intake eval language`: the report's figures, and clear errors on a bad file."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from intake import communication
from intake.language_eval import BadRecord, evaluate, read, run_eval

DEV = Path(__file__).resolve().parent / "data" / "language_dev.jsonl"


def line(**record: object) -> str:
    return json.dumps(record, ensure_ascii=False)


def test_scores_count_what_was_right_and_wrong() -> None:
    records = read(
        [
            line(id="1", channel="sms", text="Dzień dobry, moja mama jest w szpitalu i chcą ją "
                 "przenieść do domu opieki.", language="pl", needs=[]),
            line(id="2", channel="sms", text="I'm deaf so text only please, no calls.",
                 language="en", needs=["text_only_deaf"]),
            line(id="3", channel="email", text="My father needs a Polish interpreter for the "
                 "meeting about his care.", language="en", needs=["interpreter"],
                 interpreter_language="Polish"),
            # Gold says large print; the text does not: a miss, counted.
            line(id="4", channel="sms", text="Please help my mum with her care assessment.",
                 language="en", needs=["large_print"]),
        ]
    )
    scores = evaluate(records)
    assert scores["languages"]["pl"] == {"n": 1, "identify": 1, "answer": 1}
    assert scores["languages"]["en"]["n"] == 3
    assert scores["needs"]["text_only_deaf"]["recall"] == 1.0
    assert scores["needs"]["interpreter"]["recall"] == 1.0
    assert scores["needs"]["large_print"]["recall"] == 0.0
    assert scores["needs"]["large_print"]["support"] == 1
    assert scores["interpreter_language"] == {"n": 1, "right": 1, "none": 3, "false_alarm": 0}


def test_a_bad_line_is_named() -> None:
    out = io.StringIO()
    bad = Path(__file__).resolve().parent / "data" / "language_dev.jsonl"
    assert run_eval(str(bad), out) == 0
    for text, message in (
        ("{not json", "line 1: not JSON"),
        ('{"text": "hi"}', "line 1: needs 'language'"),
        ('{"text": "hi", "language": "en", "needs": ["telepathy"]}', "unknown needs"),
    ):
        try:
            read([text])
        except BadRecord as exc:
            assert message in str(exc)
        else:
            raise AssertionError(text)


def test_every_scored_need_has_a_vocabulary_entry() -> None:
    from intake.language_eval import NEED_LABELS

    labels = {entry["eval"] for entry in communication.table()["needs"].values()}
    assert set(NEED_LABELS) - {"interpreter"} <= labels


def test_the_command_runs_on_the_dev_file() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "intake.cli", "eval", "language", str(DEV)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "language   n   identify" in done.stdout and "interpreter_language:" in done.stdout


def test_an_interpreter_language_labelled_by_code_scores_like_one_labelled_by_name() -> None:
    text = "My father needs a Polish interpreter for the meeting about his care."
    by_name = read([line(id="1", channel="email", text=text, language="en",
                         needs=["interpreter"], interpreter_language="Polish")])
    by_code = read([line(id="1", channel="email", text=text, language="en",
                         needs=["interpreter"], interpreter_language="pl")])
    wrong = read([line(id="1", channel="email", text=text, language="en",
                       needs=["interpreter"], interpreter_language="ur")])
    assert evaluate(by_name)["interpreter_language"]["right"] == 1
    assert evaluate(by_code)["interpreter_language"]["right"] == 1
    assert evaluate(wrong)["interpreter_language"]["right"] == 0


def test_a_name_the_detector_spells_otherwise_scores_by_its_code() -> None:
    # Extraction says "Farsi" and "Sylheti"; the labels say "fa" and "bn".
    for text, code in [
        ("My husband needs a Farsi interpreter for the review.", "fa"),
        ("Mum only speaks Sylheti, please book an interpreter.", "bn"),
    ]:
        records = read([line(id="1", channel="sms", text=text, language="en",
                             needs=["interpreter"], interpreter_language=code)])
        assert evaluate(records)["interpreter_language"]["right"] == 1


def test_an_interpreter_need_without_a_language_is_the_need_only() -> None:
    text = "My dad doesn't speak English and needs help with his care review."
    records = read([line(id="1", channel="sms", text=text, language="en",
                         needs=["interpreter"], interpreter_language=None)])
    scores = evaluate(records)
    assert scores["needs"]["interpreter"]["recall"] == 1.0
    assert scores["interpreter_language"]["false_alarm"] == 0
