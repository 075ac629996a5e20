"""Settings: environment variables (``LINKER_*``) over an optional TOML file over defaults.

Strict: a settings file named by ``LINKER_CONFIG`` (or ``--config``) must exist, a key the
app does not know is an error (with a "did you mean"), a TOML syntax error is one line with
file:line:column, and secrets come only from the environment or a file only its owner can
read. Every problem is a :class:`ConfigError` whose message names the file and the key.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import tomllib
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from platformdirs import user_config_dir, user_data_dir
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from linker_tui.common.actor import is_pin_hash
from linker_tui.settings.keymap import keymap_problems
from linker_tui.store.enums import AppointmentStatus

APP_NAME = "linker-tui"
CONFIG_ENV = "LINKER_CONFIG"
"""Names the settings file (``linker-tui --config PATH`` sets it for the process)."""
ENV_PREFIX = "LINKER_"


IGNORE = "ignore"
"""The status table's target for PMS statuses that are no appointment (rows skipped)."""


def valid_status_target(value: str) -> bool:
    """Whether a status table entry maps to something known."""
    return value == IGNORE or value in {s.value for s in AppointmentStatus}


class ConfigError(ValueError):
    """A settings problem, in one line that names the file (or variable) and the key."""


def default_config_file() -> Path:
    """Where the TOML settings file lives unless ``LINKER_CONFIG`` says otherwise."""
    override = os.environ.get(CONFIG_ENV)
    if override:
        return Path(override).expanduser()
    return Path(user_config_dir(APP_NAME)) / "config.toml"


def config_file_is_named() -> bool:
    """True when the file was named (``LINKER_CONFIG``/``--config``): then it must exist."""
    return bool(os.environ.get(CONFIG_ENV))


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


_TOML_POSITION = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")
_URL_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@:]*:[^/@]+@", re.IGNORECASE)


def _toml_error(path: Path, text: str, exc: tomllib.TOMLDecodeError) -> ConfigError:
    message = str(exc)
    found = _TOML_POSITION.search(message)
    if found is None:
        return ConfigError(f"{path}: {message}")
    message = message[: found.start()]
    if found.group(1):
        return ConfigError(f"{path}:{found.group(1)}:{found.group(2)}: {message}")
    lines = text.splitlines() or [""]
    return ConfigError(f"{path}:{len(lines)}:{len(lines[-1]) + 1}: {message}")


def _readable_by_others(path: Path) -> int | None:
    """The file's permission bits when group or others may read it, else None."""
    mode = path.stat().st_mode
    return stat.S_IMODE(mode) if mode & (stat.S_IRWXG | stat.S_IRWXO) else None


def is_secret_field(name: str) -> bool:
    """Settings that hold a password (``SecretStr``): never shown, never from a shared file."""
    field = Settings.model_fields[name]
    return "SecretStr" in repr(field.annotation)


def read_settings_file(path: Path, *, named: bool) -> dict[str, Any]:
    """The settings in a TOML file, checked: it exists when ``named``, it parses, every key
    is a setting, and a file holding a password is readable by its owner only."""
    if not path.exists():
        if not named:
            return {}
        siblings = (
            sorted(p.name for p in path.parent.glob("*.toml")) if path.parent.is_dir() else []
        )
        hint = _did_you_mean(path.name, siblings)
        raise ConfigError(
            f"{path}: settings file not found (named by {CONFIG_ENV} or --config){hint}"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the settings file: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(path, text, exc) from None
    fields = list(Settings.model_fields)
    unknown = [key for key in data if key not in Settings.model_fields]
    if unknown:
        problems = [
            f"unknown setting {key!r}"
            + _did_you_mean(key.lower().removeprefix(ENV_PREFIX.lower()), fields)
            for key in unknown
        ]
        raise ConfigError(f"{path}: " + "; ".join(problems))
    secrets = [
        key
        for key, value in data.items()
        if is_secret_field(key)
        or (isinstance(value, str) and _URL_PASSWORD.match(value))
        or (key == "staff" and isinstance(value, dict) and any(value.values()))  # PIN hashes
    ]
    mode = _readable_by_others(path) if secrets else None
    if mode is not None:
        names = ", ".join(secrets)
        raise ConfigError(
            f"{path}: {names} holds a password but the file may be read by others "
            f"(mode {mode:04o}); put the password in the environment "
            f"({ENV_PREFIX}{secrets[0].upper()}) or in a *_password_file, or chmod 600 {path}"
        )
    return data


def check_private_file(path: Path, setting: str) -> None:
    """A password file must exist and be readable by its owner only (mode 0600)."""
    path = path.expanduser()
    if not path.is_file():
        raise ConfigError(f"{setting}: {path} does not exist or is not a file")
    mode = _readable_by_others(path)
    if mode is not None:
        raise ConfigError(
            f"{setting}: {path} may be read by others (mode {mode:04o}); a password file "
            f"must be readable by its owner only: chmod 600 {path}"
        )


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

    # Each setting's meaning is the docstring under it; the settings reference reads them
    # from the source (settings/reference.py). pydantic's use_attribute_docstrings would
    # read this file's source at every start: about 70 ms of the launch.
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    data_dir: Path = Field(default_factory=default_data_dir)
    """Folder of the desk's own files: the default SQLite database, outbox files, the demo
    (default: the platform's user data folder, ``~/.local/share/linker-tui`` on Linux)."""
    database_url: str | None = None
    """SQLAlchemy URL of the database; none: the SQLite file ``linker.db`` in ``data_dir``.
    ``postgresql+psycopg://user@host/db`` for several desks (docs/multi-workstation.md)."""
    database_admin_role: str = "linker_admin"
    """PostgreSQL: the role that owns the schema and runs ``db upgrade`` ("": not checked)."""
    database_desk_role: str = "linker_desk"
    """PostgreSQL: the role the desks log in as, granted by the migrations ("": none)."""
    practice_name: str = "Dental practice"
    """Shown on screen and in the confirmation emails."""
    practice_address: str = ""
    """Shown in the confirmation emails."""
    practice_phone: str = ""
    """Shown in the confirmation emails."""
    practice_email: str = "reception@practice.invalid"
    """The confirmation emails' sender (From) address."""
    practice_timezone: str = "UTC"
    """IANA name, e.g. ``America/Toronto``: every time on screen and in emails uses it."""
    phone_region: str = Field(default="CA", validate_default=False)  # no phonenumbers at start
    """Where phone numbers typed without a country code are from (ISO 3166 code)."""
    outbox_dir: Path | None = None
    """Where the file mail backend writes ``.eml`` files (default ``data_dir/outbox``)."""
    keys: dict[str, str] = Field(default_factory=dict)
    """Remapped keys by binding id (docs/settings.md lists them), e.g.
    ``{ "linker.accept" = "a,ctrl+a" }``."""

    # who is at the desk (README "Staff sign-in")
    staff: dict[str, str] = Field(default_factory=dict)
    """Staff who sign in at the desk: name → ``""`` (no PIN) or the hash of their PIN from
    ``linker-tui staff-pin`` (never the PIN itself; a file holding PIN hashes must be
    readable by its owner only, mode 0600)."""
    staff_sign_in: Literal["auto", "off", "optional", "required"] = "auto"
    """Ask who is at the desk at start: ``auto`` when ``staff`` lists anyone, ``optional``
    (Esc carries on as the OS login) or ``required`` always (from ``staff``, else the
    PMS's providers); ``off``: never. Decisions record the name and the OS login."""

    # confirmation emails (docs/email.md)
    template_dir: Path | None = None
    """Folder of the practice's own email templates (default: the bundled ones)."""
    mail_backend: Literal["file", "smtp"] = "file"
    """``file``: emails are only written to ``outbox_dir`` (not sent); ``smtp``: sent."""
    smtp_host: str = "localhost"
    """The SMTP server (relay) that sends the practice's email."""
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    """Its port (default: 465 for ``tls``, 587 for ``starttls``, 25 for ``none``)."""
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    """``starttls`` (upgrade the connection), ``tls`` (implicit TLS) or ``none``."""
    smtp_username: str = ""
    """Login name at the SMTP server; empty: no login."""
    smtp_password: SecretStr | None = None
    """The SMTP password: ``LINKER_SMTP_PASSWORD`` (a settings file only if mode 0600)."""
    smtp_password_file: Path | None = None
    """A file whose first line is the SMTP password; must be readable by its owner only."""
    smtp_timeout: float = Field(default=20.0, gt=0)
    """Seconds to wait for the SMTP server."""
    outbox_max_attempts: int = Field(default=8, ge=1)
    """Tries per email before it is marked failed."""
    outbox_retry_base_seconds: float = Field(default=60.0, ge=0)
    """First wait before a retry (it doubles each time)."""
    outbox_retry_cap_seconds: float = Field(default=3600.0, ge=0)
    """Longest wait between retries."""
    outbox_lease_seconds: float = Field(default=300.0, gt=0)
    """How long one desk keeps the outbox job before another may take it over."""
    outbox_interval_seconds: float = Field(default=60.0, gt=0)
    """How often the app sends the queued emails."""

    # sync from the PMS and the request inbox (docs/sync.md)
    pms_export_dir: Path | None = None
    """Folder of the PMS's CSV exports to sync from; none: no PMS sync."""
    pms_date_format: str = ""
    """``strptime`` format of birthdates, tried before ISO 8601 (e.g. ``%m/%d/%Y``)."""
    pms_datetime_format: str = ""
    """``strptime`` format of appointment times, tried before ISO 8601."""
    pms_status_map: dict[str, str] = Field(default_factory=dict)
    """The PMS's appointment status words → ``scheduled``, ``cancelled``, … or ``ignore``."""
    inbox_dir: Path | None = None
    """Where online requests arrive as FHIR JSON files (default ``data_dir/inbox``)."""
    sync_interval_minutes: float = Field(default=2.0, gt=0)
    """How often the app syncs (``linker-tui sync`` runs one sync for cron/systemd)."""
    sync_window_days_back: int | None = Field(default=None, ge=0)
    """Only appointments from this many days ago on are synced (none: all)."""
    sync_window_days_ahead: int | None = Field(default=None, ge=0)
    """Only appointments up to this many days ahead are synced (none: all)."""
    sync_io_timeout_seconds: float = Field(default=60.0, gt=0)
    """A sync gives up on an export or inbox file that does not answer for this long."""
    sync_in_subprocess: bool = True
    """The app syncs in a child process (the screen never waits for a big export);
    ``false``: in one of its threads."""
    sync_stale_minutes: float | None = Field(default=None, gt=0)
    """The status line warns when the last good sync is older (default: 3 intervals)."""
    live_refresh_seconds: float = Field(default=5.0, gt=0)
    """How often the list looks for changes made at other desks."""
    log_file: Path | None = None
    """The log file (rotated at 5 MB, 5 kept; default: the platform's user log folder,
    ``~/.local/state/linker-tui/log/linker-tui.log`` on Linux)."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """What goes to the log file: ``INFO`` tells every sync, email run and decision."""
    terminal_glyphs: Literal["auto", "unicode", "console"] = "auto"
    """Frames, button edges and marks: ``console`` draws them with the characters the Linux
    text console has (box lines, no block elements), ``unicode`` with Textual's own;
    ``auto``: ``console`` when ``TERM=linux`` or the locale is not UTF-8."""
    demo_shift_days: int = 0
    """The demo only: every PMS and request date moves by this many days."""

    # which PMS the sync reads; Open Dental's database (docs/sync.md, "Open Dental")
    pms: Literal["csv_folder", "open_dental"] = "csv_folder"
    """Where PMS data comes from: ``csv_folder`` (``pms_export_dir``) or ``open_dental``
    (Open Dental's database, read-only)."""
    open_dental_url: str = ""
    """``mysql+pymysql://user@host:3306/opendental`` (no password in it)."""
    open_dental_password: SecretStr | None = None
    """The Open Dental database password: ``LINKER_OPEN_DENTAL_PASSWORD``."""
    open_dental_password_file: Path | None = None
    """A file whose first line is the Open Dental password; readable by its owner only."""
    open_dental_clinic: int | None = Field(default=None, ge=0)
    """A ``ClinicNum``: sync only that clinic's appointments (none: all)."""

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
        import phonenumbers  # 30-40 ms of imports: only for a region the settings give

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

    @field_validator("staff")
    @classmethod
    def _pins_are_hashed(cls, value: dict[str, str]) -> dict[str, str]:
        plain = [name for name, pin in value.items() if pin and not is_pin_hash(pin)]
        if plain:  # never repeat what was written: it may be a PIN
            raise ValueError(
                f"the PIN of {', '.join(map(repr, plain))} is not a hash made by "
                "`linker-tui staff-pin` (a PIN is never stored as it is)"
            )
        if any(not name.strip() for name in value):
            raise ValueError("a staff name is empty")
        return value

    @model_validator(mode="after")
    def _open_dental_needs_url(self) -> Settings:
        if self.pms == "open_dental" and not self.open_dental_url:
            raise ValueError('pms = "open_dental" needs open_dental_url')
        return self

    @field_validator("keys")
    @classmethod
    def _valid_keymap(cls, value: dict[str, str]) -> dict[str, str]:
        problems = keymap_problems(value)
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @model_validator(mode="after")
    def _private_password_files(self) -> Settings:
        for name in type(self).model_fields:
            path = getattr(self, name)
            if name.endswith("_password_file") and path is not None:
                check_private_file(path, name)
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
        """Order the sources: arguments, environment, TOML file (read strictly)."""
        data = read_settings_file(default_config_file(), named=config_file_is_named())
        return (init_settings, env_settings, InitSettingsSource(settings_cls, init_kwargs=data))

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
        return _secret(self.smtp_password, self.smtp_password_file, "smtp_password_file")

    def open_dental_secret(self) -> SecretStr | None:
        """The Open Dental database password, found as the SMTP one is."""
        return _secret(
            self.open_dental_password, self.open_dental_password_file, "open_dental_password_file"
        )

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields replaced (validated again)."""
        data = self.model_dump()
        data.update(changes)
        return Settings(**data)


def _secret(value: SecretStr | None, file: Path | None, setting: str) -> SecretStr | None:
    """A password given directly (the environment), else the first line of ``file``."""
    if value is not None and value.get_secret_value():
        return value
    if file is not None:
        check_private_file(file, setting)
        lines = file.expanduser().read_text(encoding="utf-8").splitlines()
        return SecretStr(lines[0]) if lines and lines[0] else None
    return None


def setting_sources() -> dict[str, str]:
    """Where each setting's value comes from now: ``environment (LINKER_X)``, the settings
    file's path, or ``default``."""
    path = default_config_file()
    in_file = read_settings_file(path, named=config_file_is_named())
    env = {key.upper() for key in os.environ}
    sources = {}
    for name in Settings.model_fields:
        variable = f"{ENV_PREFIX}{name}".upper()
        if variable in env:
            sources[name] = f"environment ({variable})"
        elif name in in_file:
            sources[name] = str(path)
        else:
            sources[name] = "default"
    return sources


def unknown_environment() -> list[str]:
    """``LINKER_*`` variables that name no setting (a typo is otherwise silently ignored)."""
    known = {f"{ENV_PREFIX}{name}".upper() for name in Settings.model_fields}
    known.add(CONFIG_ENV)
    return sorted(
        key
        for key in os.environ
        if key.upper().startswith(ENV_PREFIX)
        and key.upper() not in known
        and not key.upper().startswith(f"{ENV_PREFIX}TEST_")
    )


def describe_invalid(exc: ValidationError) -> str:
    """A settings validation error, one line per problem, naming where the value came from."""
    sources = setting_sources()
    lines = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        where = sources.get(name, "settings")
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown setting" + _did_you_mean(name, list(Settings.model_fields))
        lines.append(f"{where}: {name}: {message}" if name else message)
    return "\n".join(lines)


def load_settings(config: Path | None = None) -> Settings:
    """The settings, from ``config`` when given (it then becomes ``LINKER_CONFIG`` for this
    process and its children). Raises :class:`ConfigError` with a readable message."""
    if config is not None:
        os.environ[CONFIG_ENV] = str(config)
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(describe_invalid(exc)) from None
