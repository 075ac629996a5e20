"""Settings: environment variables (``LINKER_*``) over an optional TOML file over defaults."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from platformdirs import user_config_dir, user_data_dir
from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

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


class Settings(BaseSettings):
    """Everything a practice can configure.

    Read from ``LINKER_<FIELD>`` environment variables first, then from the TOML file
    (``LINKER_CONFIG`` or the platform's config folder), then these defaults.
    """

    model_config = SettingsConfigDict(env_prefix="LINKER_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    practice_name: str = "Dental practice"
    practice_address: str = ""
    practice_phone: str = ""
    practice_email: str = "reception@practice.invalid"
    practice_timezone: str = "UTC"
    outbox_dir: Path | None = None
    keys: dict[str, str] = Field(default_factory=dict)

    @field_validator("practice_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r} (use an IANA name)") from exc
        return value

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
    def effective_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'linker.db'}"

    @property
    def effective_outbox_dir(self) -> Path:
        """Folder where the file mail backend writes ``.eml`` files."""
        return self.outbox_dir or self.data_dir / "outbox"

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields replaced (validated again)."""
        data = self.model_dump()
        data.update(changes)
        return Settings(**data)
