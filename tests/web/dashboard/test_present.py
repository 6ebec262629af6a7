"""Pure presentation helpers: highlighting, field flattening, replies' contactability."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from markupsafe import escape

from intake.models import Referral
from intake.web.dashboard import present, replies


def test_highlight_merges_overlaps_and_escapes() -> None:
    text = "took <all> my pills & more"
    html = present.highlight(
        text, [{"start": 5, "end": 10, "category": "a"}, {"start": 8, "end": 19, "category": "b"}]
    )
    assert html == 'took <mark class="match" title="a, b">&lt;all&gt; my pills</mark> &amp; more'


def test_highlight_ignores_bad_offsets() -> None:
    text = "hello"
    assert present.highlight(
        text, [{"start": 3, "end": 99}, {"start": "x"}, "junk", {"start": 4, "end": 2}]
    ) == ('hel<mark class="match">lo</mark>')


@given(
    st.text(max_size=60), st.lists(st.tuples(st.integers(-5, 70), st.integers(-5, 70)), max_size=5)
)
def test_highlight_never_changes_the_text(text: str, spans: list[tuple[int, int]]) -> None:
    html = present.highlight(text, [{"start": s, "end": e} for s, e in spans])
    stripped = str(html)
    for tag in ('<mark class="match">', "</mark>"):
        stripped = stripped.replace(tag, "")
    assert stripped == str(escape(text))


def test_flat_fields_reads_both_shapes() -> None:
    flat = {"name": "Jo", "confidence": {"name": 0.7}}
    nested = {"fields": {"name": "Jo", "languages": ["en", "cy"]}, "confidence": {}}
    assert present.flat_fields(flat) == {"name": "Jo"}
    assert present.flat_fields(nested) == {"name": "Jo", "languages": ["en", "cy"]}
    assert present.ordered_fields({"zeta": 1, "phone": "+44", "name": "Jo"}) == [
        ("name", "Jo"),
        ("phone", "+44"),
        ("zeta", "1"),
    ]


def _referral(**changes: object) -> Referral:
    base = dict(
        reference="AB12CD34",
        channel="sms",
        sender="+447700900123",
        received_at=datetime(2026, 3, 2, tzinfo=UTC),
        raw_text="hi",
    )
    return Referral(**(base | changes))  # type: ignore[arg-type]


def test_contactability() -> None:
    sms = {"reply_channel": "sms", "to": "+447700900123"}
    ok = replies.contactability(_referral(), [], **sms)
    assert ok.possible and ok.channel == "sms" and ok.to == "+447700900123"
    assert not replies.contactability(_referral(safe_to_contact=False), [], **sms).possible
    opted = replies.contactability(_referral(), [{"meta": {"OptOutType": "STOP"}}], **sms)
    assert not opted.possible and "opted out" in opted.reason
    stopped = replies.contactability(_referral(), [], **sms, suppressed="opted out")
    assert not stopped.possible and "opted out" in stopped.reason
    withheld = replies.contactability(
        _referral(channel="voice"), [{"meta": {"withheld": True}}], **sms
    )
    assert not withheld.possible and "withheld" in withheld.reason
    nowhere = replies.contactability(_referral(channel="fax"), [], reply_channel=None, to="")
    assert not nowhere.possible and "fax" in nowhere.reason
    assert not replies.contactability(_referral(), [], reply_channel="sms", to="").possible


def test_reply_templates_have_titles() -> None:
    templates_dir = Path(__file__).resolve().parents[3] / "templates"
    found = dict(replies.reply_templates(templates_dir))
    assert found["call_back"] == "Offer a call back"
    assert len(found) >= 3
