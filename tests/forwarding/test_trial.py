"""`intake forward test` against the stand-ins, and every target's start-up check."""

from __future__ import annotations

import pytest

from intake import cli
from intake.config import Settings
from intake.forwarding import trial
from intake.forwarding.targets import ForwardingMisconfigured, check, problems
from tests.forwarding.charitylog_standin import KEYS, Charitylog
from tests.forwarding.lamplight_standin import CREDENTIALS, Lamplight


def charitylog_env(monkeypatch: pytest.MonkeyPatch, url: str, **changes: str) -> None:
    env = {
        "CASE_SYSTEM": "store,charitylog",
        "CHARITYLOG_API_URL": url,
        "CHARITYLOG_SOURCE": KEYS["Source"],
        "CHARITYLOG_ORG": KEYS["Org"],
        "CHARITYLOG_USER": KEYS["User"],
        "CHARITYLOG_ORG_TYPE_ID": "7",
        "CHARITYLOG_REFERRER_ORG_TYPE_ID": "9",
        **changes,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_forward_test_sends_a_sample_and_prints_the_answer(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    standin = Charitylog()
    try:
        charitylog_env(monkeypatch, standin.url)
        assert cli.main(["forward", "test", "--type", "imha"]) == 0
    finally:
        standin.close()
    out = capsys.readouterr().out
    assert f"charitylog -> {standin.url}/v2/external_referral: delivered (200)" in out
    [[person, referrer]] = standin.staged
    assert person["surname"] == "Testperson" and referrer["first_name"] == "Ellen"
    assert "TEST REFERRAL" in person["description"]
    assert "IMHA referral" in person["description"]
    assert "Tribunal application deadline" in person["description"]


def test_forward_test_prints_a_refusal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    standin = Charitylog()
    try:
        charitylog_env(monkeypatch, standin.url, CHARITYLOG_ORG="training-system-key")
        assert cli.main(["forward", "test"]) == 1
    finally:
        standin.close()
    out = capsys.readouterr().out
    assert "charitylog" in out and "rejected (401)" in out and "invalid Org key" in out


def test_forward_test_names_a_target_and_checks_its_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CASE_SYSTEM", "store")
    assert cli.main(["forward", "test"]) == 2
    assert "names no case system" in capsys.readouterr().out
    assert cli.main(["forward", "test", "--target", "lamplight"]) == 2
    out = capsys.readouterr().out
    assert out.startswith("configuration: CASE_SYSTEM names lamplight but LAMPLIGHT_API_URL")
    assert len(out.strip().splitlines()) == 1
    standin = Lamplight()
    try:
        for name, value in {
            "LAMPLIGHT_API_URL": standin.url,
            "LAMPLIGHT_KEY": CREDENTIALS["key"],
            "LAMPLIGHT_LAMPID": CREDENTIALS["lampid"],
            "LAMPLIGHT_PROJECT": CREDENTIALS["project"],
            "LAMPLIGHT_WORKAREA_ID": "22",
        }.items():
            monkeypatch.setenv(name, value)
        assert cli.main(["forward", "test", "--target", "lamplight", "--type", "care_act"]) == 0
    finally:
        standin.close()
    assert "delivered (200): Lamplight referral" in capsys.readouterr().out
    assert "TEST REFERRAL" in standin.referrals[0]["referral_reason"]
    assert cli.main(["forward", "test", "--target", "lamplight", "--type", "astrology"]) == 2


def test_the_sample_is_a_valid_referral_of_each_type() -> None:
    for kind in trial.CARDS:
        sample = trial.sample_event(kind)
        assert sample.referral.fields["advocacy_type"] == kind
        assert sample.referral.reference.startswith("REF-")


def test_every_target_declares_what_it_needs() -> None:
    assert problems(Settings(case_system=("store",))) == []
    assert problems(Settings(case_system=("webhook", "fhir"))) == [
        "CASE_SYSTEM names webhook but CASE_WEBHOOK_URL, CASE_WEBHOOK_SECRET are not set",
        "CASE_SYSTEM names fhir but FHIR_BASE_URL is not set",
    ]
    assert problems(Settings(case_system=("email",), case_email_to=("a@example.org",))) == [
        "CASE_SYSTEM names email but SMTP_RELAY_URL is not set"
    ]
    with pytest.raises(ForwardingMisconfigured, match="unknown CASE_SYSTEM forwarder 'salesforce'"):
        check(Settings(case_system=("salesforce",)))
    ready = Settings(
        case_system=("email",), case_email_to=("a@example.org",), smtp_relay_url="smtp://x:25"
    )
    check(ready)  # the PDF library loads on this machine
