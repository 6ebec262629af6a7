"""Sending through the real Twilio client to the stand-in: refused vs unreachable providers."""

from __future__ import annotations

import pytest

from intake import outbound
from intake.runtime import Runtime
from tests.support.twilio_standin import TwilioStandIn


def send(runtime: Runtime, key: str) -> outbound.Outcome:
    return outbound.send(
        runtime,
        channel="sms",
        to="+447700900123",
        body="Thank you",
        kind="ack",
        referral_id=None,
        dedupe_key=key,
    )


def test_sent_once(runtime: Runtime, twilio: TwilioStandIn) -> None:
    assert send(runtime, "k1").status == "sent"
    assert send(runtime, "k1").status == "duplicate"
    assert len(twilio.messages) == 1


def test_opted_out_number_is_recorded_not_retried(runtime: Runtime, twilio: TwilioStandIn) -> None:
    twilio.fail_next(1, status=400, code=21610)
    outcome = send(runtime, "k2")
    assert outcome.status == "rejected"
    assert "21610" in outcome.detail
    assert send(runtime, "k2").status == "duplicate"  # the refusal is remembered


def test_twilio_down_releases_the_claim_for_a_retry(
    runtime: Runtime, twilio: TwilioStandIn
) -> None:
    twilio.fail_next(1, status=503)
    with pytest.raises(outbound.Unreachable):
        send(runtime, "k3")
    assert send(runtime, "k3").status == "sent"
    assert len(twilio.messages) == 2


def test_twilio_unreachable_raises_unreachable(runtime: Runtime) -> None:
    from tests.support.servers import free_port

    runtime.settings = runtime.settings.with_(twilio_api_base_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(outbound.Unreachable):
        send(runtime, "k4")


def test_no_answer_from_twilio_is_uncertain_and_never_resent(
    runtime: Runtime, twilio: TwilioStandIn
) -> None:
    """A read timeout may mean Twilio sent the text: record it, don't send it again."""
    runtime.settings = runtime.settings.with_(outbound_timeout=0.5)
    twilio.delay_next(1, seconds=2.0)
    outcome = send(runtime, "k5")
    assert outcome.status == "uncertain"
    assert send(runtime, "k5").status == "duplicate"  # a retried job does not send it again
    assert len(twilio.messages) == 1
