"""Every email in the fixture corpus through the real SMTP server, a real worker and the relay.

`expected.json` (written by hand with the corpus) says what each message is; here we check that the
whole service does the right thing with it: a referral or a recorded mail event, and an
acknowledgement exactly when one is allowed.
"""

from __future__ import annotations

from typing import Any

import pytest

from intake.runtime import Runtime
from tests.channels.email.conftest import FIXTURES, fixture_bytes, load_expected
from tests.channels.email.smtp_support import (
    INTAKE_ADDRESS,
    RecordingRelay,
    deliver,
    email_settings,
    intake_smtp,
)
from worker import build_worker

EXPECTED = load_expected()
NAMES = sorted(name for name in EXPECTED if (FIXTURES / name).exists())


def test_corpus_is_large_enough() -> None:
    assert len(NAMES) >= 30


@pytest.mark.parametrize("name", NAMES)
def test_fixture_through_the_service(runtime: Runtime, relay: RecordingRelay, name: str) -> None:
    expected: dict[str, Any] = EXPECTED[name]
    raw = fixture_bytes(name)
    envelope_from = expected.get("envelope_from") or "<>"
    with intake_smtp(runtime, email_settings(runtime, relay.url)) as settings:
        refused = deliver(settings, raw, mail_from=envelope_from, rcpt_tos=[INTAKE_ADDRESS])
        assert refused == {}
        build_worker(runtime, simple=True).work(burst=True)

    referrals = runtime.store.list_referrals(limit=5)
    events = runtime.store.mail_events.recorded()
    if expected["creates_referral"]:
        assert len(referrals) == 1 and events == []
        assert referrals[0].channel == "email"
        # what the files say was read (in the sandbox, by its own job) and is in the referral
        for phrase in expected.get("full_text_contains", []):
            assert phrase in referrals[0].raw_text, phrase
        for phrase in expected.get("full_text_excludes", []):
            assert phrase not in referrals[0].raw_text, phrase
        stored = runtime.store.attachments.for_referral(referrals[0].id or 0)
        files = expected.get("attachments", []) + expected.get("inner_files", [])
        assert [[f["filename"], f["content_type"]] for f in stored] == files
        if expected["kind"] == "spam":
            assert referrals[0].screening["needs_review"]
    else:
        assert referrals == []
        assert [e["kind"] for e in events] == [expected["kind"]]
    acknowledged = len(relay.received) == 1
    # `trusted_from: false`: the From differs from the envelope sender and no relay vouches for
    # it, so it is not acknowledged (backscatter; README "Security"), though it is no auto-reply.
    should = (
        expected["may_acknowledge"]
        and expected.get("trusted_from", True)
        and referrals
        and referrals[0].safe_to_contact
    )
    assert acknowledged == bool(should), relay.received
    for ack in relay.received:
        assert len(ack.rcpt_tos) == 1
        assert ack.message["Auto-Submitted"] == "auto-replied"
        assert referrals[0].reference in ack.message["Subject"]
