"""Settings: environment variables (``LINKER_*``) over an optional TOML file over defaults."""

from __future__ import annotations

import os
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from platformdirs import user_config_dir, user_data_dir
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from linker_tui.pms_export import valid_status_target

APP_NAME = "linker-tui"


def default_config_file() -> Path:
    """Where the TOML settings file lives unless ``LINKER_CONFIG`` says otherwise."""
    override = os.environ.get("LINKER_CONFIG")
    if override:
        return Path(override)
    return Path(user_config_dir(APP_NAME)) / "config.toml"


def default_data_dir() -> Path:
    """The per-user data folder (database, outbox files)."""
    return Path(user_data_dir(APP_NAME))


STALE_INTERVALS = 3
"""By default the data counts as stale when the last good sync is this many intervals old."""


class Settings(BaseSettings):
    """Everything a practice can configure.

    Read from ``LINKER_<FIELD>`` environment variables first, then from the TOML file
    (``LINKER_CONFIG`` or the platform's config folder), then these defaults.
    """

    model_config = SettingsConfigDict(env_prefix="LINKER_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    # several desks on PostgreSQL (docs/multi-workstation.md): the role that owns the schema
    # and runs `db upgrade`, and the role the desks log in as (granted by the migrations);
    # "" skips the check / the grants (one role does everything)
    database_admin_role: str = "linker_admin"
    database_desk_role: str = "linker_desk"
    practice_name: str = "Dental practice"
    practice_address: str = ""
    practice_phone: str = ""
    practice_email: str = "reception@practice.invalid"
    practice_timezone: str = "UTC"
    # Where phone numbers typed without a country code are from (ISO 3166 code).
    phone_region: str = "CA"
    outbox_dir: Path | None = None
    keys: dict[str, str] = Field(default_factory=dict)

    # confirmation emails (docs/email.md)
    template_dir: Path | None = None
    mail_backend: Literal["file", "smtp"] = "file"
    smtp_host: str = "localhost"
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str = ""
    smtp_password: SecretStr | None = None
    smtp_password_file: Path | None = None
    smtp_timeout: float = Field(default=20.0, gt=0)
    outbox_max_attempts: int = Field(default=8, ge=1)
    outbox_retry_base_seconds: float = Field(default=60.0, ge=0)
    outbox_retry_cap_seconds: float = Field(default=3600.0, ge=0)
    outbox_lease_seconds: float = Field(default=300.0, gt=0)
    outbox_interval_seconds: float = Field(default=60.0, gt=0)

    # sync from the PMS and the request inbox (docs/sync.md)
    pms_export_dir: Path | None = None  # folder of CSV exports; None: no PMS sync
    pms_date_format: str = ""  # strptime format of birthdates tried before ISO 8601
    pms_datetime_format: str = ""  # strptime format of appointment times, before ISO 8601
    pms_status_map: dict[str, str] = Field(default_factory=dict)  # PMS word → status/ignore
    inbox_dir: Path | None = None  # online requests (FHIR JSON); default data_dir/inbox
    sync_interval_minutes: float = Field(default=2.0, gt=0)
    sync_window_days_back: int | None = Field(default=None, ge=0)
    sync_window_days_ahead: int | None = Field(default=None, ge=0)
    sync_io_timeout_seconds: float = Field(default=60.0, gt=0)
    # The app syncs in a child process (the screen never waits for a big export); False:
    # in one of its threads (a sync then competes with the screen for Python's GIL).
    sync_in_subprocess: bool = True
    # The status line warns when the last good sync is older than this; default: three
    # sync intervals.
    sync_stale_minutes: float | None = Field(default=None, gt=0)
    # How often the list checks for other workstations' changes.
    live_refresh_seconds: float = Field(default=5.0, gt=0)
    demo_shift_days: int = 0  # the demo: move every PMS and request date by this many days

    # which PMS the sync reads; Open Dental's database (docs/sync.md, "Open Dental")
    pms: Literal["csv_folder", "open_dental"] = "csv_folder"
    open_dental_url: str = ""  # mysql+pymysql://user@host:3306/opendental (no password)
    open_dental_password: SecretStr | None = None  # or LINKER_OPEN_DENTAL_PASSWORD
    open_dental_password_file: Path | None = None  # first line is the password (mode 600)
    open_dental_clinic: int | None = Field(default=None, ge=0)  # a ClinicNum; None: all

    @field_validator("practice_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r} (use an IANA name)") from exc
        return value

    @field_validator("phone_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        region = value.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown phone region {value!r} (use a country code like CA)")
        return region

    @field_validator("pms_status_map")
    @classmethod
    def _known_statuses(cls, value: dict[str, str]) -> dict[str, str]:
        wrong = {k: v for k, v in value.items() if not valid_status_target(v.strip().lower())}
        if wrong:
            raise ValueError(
                f"unknown target status in {wrong!r} (use scheduled, confirmed, completed, "
                "cancelled, broken, unscheduled or ignore)"
            )
        return value

    @model_validator(mode="after")
    def _open_dental_needs_url(self) -> Settings:
        if self.pms == "open_dental" and not self.open_dental_url:
            raise ValueError('pms = "open_dental" needs open_dental_url')
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order the sources: arguments, environment, TOML file."""
        toml = TomlConfigSettingsSource(settings_cls, toml_file=default_config_file())
        return (init_settings, env_settings, toml)

    @cached_property
    def tz(self) -> ZoneInfo:
        """The practice's timezone."""
        return ZoneInfo(self.practice_timezone)

    @property
    def sync_stale_after(self) -> timedelta:
        """How old the last good sync may be before the status line warns."""
        if self.sync_stale_minutes is not None:
            return timedelta(minutes=self.sync_stale_minutes)
        return timedelta(minutes=self.sync_interval_minutes * STALE_INTERVALS)

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'linker.db'}"

    @property
    def effective_outbox_dir(self) -> Path:
        """Folder where the file mail backend writes ``.eml`` files."""
        return self.outbox_dir or self.data_dir / "outbox"

    @property
    def effective_inbox_dir(self) -> Path:
        """Folder where online requests arrive (``processed/``, ``rejected/`` inside)."""
        return self.inbox_dir or self.data_dir / "inbox"

    @property
    def effective_smtp_port(self) -> int:
        """The SMTP port: as configured, or 465 for implicit TLS, 587 for STARTTLS, 25."""
        if self.smtp_port:
            return self.smtp_port
        return {"tls": 465, "starttls": 587}.get(self.smtp_security, 25)

    def smtp_secret(self) -> SecretStr | None:
        """The SMTP password: ``LINKER_SMTP_PASSWORD``, else the first line of
        ``smtp_password_file``, else none. Kept wrapped so it never shows in a repr."""
        return _secret(self.smtp_password, self.smtp_password_file)

    def open_dental_secret(self) -> SecretStr | None:
        """The Open Dental database password, found as the SMTP one is."""
        return _secret(self.open_dental_password, self.open_dental_password_file)

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields replaced (validated again)."""
        data = self.model_dump()
        data.update(changes)
        return Settings(**data)


def _secret(value: SecretStr | None, file: Path | None) -> SecretStr | None:
    """A password given directly (the environment), else the first line of ``file``."""
    if value is not None and value.get_secret_value():
        return value
    if file is not None:
        lines = file.expanduser().read_text(encoding="utf-8").splitlines()
        return SecretStr(lines[0]) if lines and lines[0] else None
    return None
