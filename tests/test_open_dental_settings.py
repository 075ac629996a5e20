"""Choosing the PMS source in the settings (no database needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from linker_tui.settings.config import Settings
from linker_tui.sync.configure import connector
from linker_tui.sync.csv_folder import CsvFolderConnector
from linker_tui.sync.open_dental import OpenDentalConnector
from linker_tui.sync.worker import settings_payload

URL = "mysql+pymysql://linker_ro@od-server:3306/opendental"


def test_open_dental_needs_its_url() -> None:
    with pytest.raises(ValidationError, match="needs open_dental_url"):
        Settings(pms="open_dental")
    with pytest.raises(ValidationError):
        Settings(pms="dentrix")  # type: ignore[arg-type]  # what a typo in a file gives


def test_the_configured_source_is_used(tmp_path: Path) -> None:
    secret = tmp_path / "od-password"
    secret.write_text("s3cret\n", encoding="utf-8")
    secret.chmod(0o600)  # a password file must be readable by its owner only
    settings = Settings(
        pms="open_dental",
        open_dental_url=URL,
        open_dental_password_file=secret,
        open_dental_clinic=2,
        pms_export_dir=tmp_path,
        practice_timezone="America/Toronto",
    )
    found = connector(settings)
    assert isinstance(found, OpenDentalConnector)
    assert found.url.password == "s3cret" and found.clinic == 2
    assert found.source == "open_dental:od-server:3306/opendental#clinic2"
    assert "s3cret" not in found.source and "s3cret" not in repr(settings)
    csv = connector(settings.with_overrides(pms="csv_folder"))
    assert isinstance(csv, CsvFolderConnector)
    assert connector(Settings()) is None


def test_the_environment_password_wins_and_never_reaches_the_sync_child(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LINKER_OPEN_DENTAL_PASSWORD", "from-env")
    settings = Settings(pms="open_dental", open_dental_url=URL)
    secret = settings.open_dental_secret()
    assert secret is not None and secret.get_secret_value() == "from-env"
    payload = settings_payload(settings)
    assert "open_dental_password" not in payload and payload["pms"] == "open_dental"
    child = Settings(**payload)  # the child reads it from the environment again
    again = child.open_dental_secret()
    assert again is not None and again.get_secret_value() == "from-env"
