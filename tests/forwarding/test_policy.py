"""Signing, backoff policy, configuration, and the pipeline's single forward per referral."""

from __future__ import annotations

import time
from collections.abc import Callable

import jsonschema
import pytest
from rq import Queue

from intake import forwarding, pipeline
from intake.config import Settings, load_settings
from intake.forwarding import payload, signing
from intake.forwarding.targets import configured
from intake.models import InboundMessage
from intake.queue import queue_name
from intake.runtime import Runtime
from tests.forwarding.case_system import verify as receiver_verify

BODY = b'{"referral":{"reference":"R7K2QX"}}'


def test_signature_round_trip_and_tampering() -> None:
    header = signing.header_value("s3cret", BODY)
    assert signing.verify("s3cret", header, BODY)
    assert receiver_verify("s3cret", header, BODY)  # the documented receiver agrees
    assert not signing.verify("other", header, BODY)
    assert not signing.verify("s3cret", header, BODY.replace(b"R7K2QX", b"R7K2QY"))
    assert not signing.verify("s3cret", "v1=abc", BODY)


def test_a_stale_signature_is_refused() -> None:
    old = int(time.time()) - 3600
    header = signing.header_value("s3cret", BODY, timestamp=old)
    assert not signing.verify("s3cret", header, BODY)
    assert not receiver_verify("s3cret", header, BODY)
    assert signing.verify("s3cret", header, BODY, now=old + 10)


def test_signature_is_hmac_sha256_over_timestamp_and_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"k", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert signing.header_value("k", BODY, timestamp=1700000000) == f"t=1700000000,v1={expected}"


def test_backoff_doubles_and_explicit_intervals_win() -> None:
    assert forwarding.intervals(Settings(forward_attempts=5, forward_backoff=30)) == [
        30,
        60,
        120,
        240,
    ]
    assert forwarding.intervals(Settings(forward_attempts=1)) == []
    assert forwarding.retry_policy(Settings(forward_attempts=1)) is None
    explicit = Settings(forward_attempts=5, forward_intervals=(10, 300))
    assert forwarding.intervals(explicit) == [10, 300, 300, 300]
    retry = forwarding.retry_policy(explicit)
    assert retry is not None and (retry.max, retry.intervals) == (4, [10, 300, 300, 300])
    capped = forwarding.intervals(Settings(forward_attempts=12, forward_backoff=60))
    assert max(capped) == forwarding.policy.MAX_INTERVAL


def test_settings_from_the_environment() -> None:
    settings = load_settings(
        {
            "CASE_SYSTEM": "store, webhook,fhir",
            "CASE_WEBHOOK_URL": "https://cases.example.org/intake",
            "CASE_WEBHOOK_SECRET": "abc",
            "FHIR_BASE_URL": "https://fhir.example.org/R4/",
            "CASE_EMAIL_TO": "a@example.org, b@example.org",
            "FORWARD_ATTEMPTS": "3",
            "FORWARD_INTERVALS": "5,50",
        },
        dotenv=False,
    )
    assert [f.name for f in configured(settings)] == ["store", "webhook", "fhir"]
    assert settings.fhir_base_url == "https://fhir.example.org/R4"
    assert settings.case_email_to == ("a@example.org", "b@example.org")
    assert forwarding.intervals(settings) == [5, 50]
    with pytest.raises(ValueError, match="unknown CASE_SYSTEM"):
        configured(Settings(case_system=("sharepoint",)))


def test_the_schema_refuses_what_it_does_not_describe() -> None:
    schema = payload.schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"schema": "referral-event.v1", "id": "created"}, schema)


def test_store_only_needs_no_job(make_runtime: Callable[..., Runtime]) -> None:
    from tests.forwarding.conftest import add_referral

    rt = make_runtime(case_system=("store",))
    referral = add_referral(rt)
    forwarding.schedule(rt, referral)
    assert rt.store.get_referral(referral.reference).forward_status == "delivered"
    assert rt.store.forwards.events_for(referral.id) == []


def test_a_rerun_of_the_pipeline_queues_one_forward(
    make_runtime: Callable[..., Runtime], twilio: object
) -> None:
    rt = make_runtime(case_system=("store", "webhook"), case_webhook_url="http://127.0.0.1:9/")
    message = InboundMessage(
        "sms",
        "SM" + "c" * 32,
        "+447700900131",
        "+447700900001",
        "I'm in hospital and they want to discharge me to a care home, I need an advocate",
    )
    first = pipeline.receive(rt, message.channel, message.to_payload())
    second = pipeline.receive(rt, message.channel, message.to_payload())
    assert first.reference == second.reference and second.created is False
    referral = rt.store.get_referral(first.reference)
    [event] = rt.store.forwards.events_for(referral.id)
    priority = forwarding.priority_for(referral)
    assert event["priority"] == priority
    assert Queue(queue_name(rt.settings, priority), connection=rt.redis).job_ids == [
        event["job_id"]
    ]
