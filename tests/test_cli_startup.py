"""A process refuses to start, with one clear line, on a configuration it cannot work with."""

from __future__ import annotations

from pathlib import Path

import pytest

from intake import cli


@pytest.mark.parametrize("command", ["web", "smtp", "worker", "run", "sla-check"])
def test_an_unknown_forwarder_stops_every_service_process_at_start(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CASE_SYSTEM", "store,nosuch")
    assert cli.main([command]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"intake {command}: not started: CASE_SYSTEM: unknown CASE_SYSTEM forwarder 'nosuch' "
        "(known: store, webhook, fhir, email, charitylog, lamplight)"
    ]


def test_a_forwarder_without_its_settings_stops_the_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CASE_SYSTEM", "webhook")
    monkeypatch.delenv("CASE_WEBHOOK_URL", raising=False)
    assert cli.main(["web"]) == 2
    assert "CASE_WEBHOOK_URL" in capsys.readouterr().err
