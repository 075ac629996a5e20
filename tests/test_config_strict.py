"""Settings fail loudly: unknown keys, a missing file, TOML errors, bad keys, exposed secrets."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from textual.keys import Keys, _character_to_key

from linker_tui.cli.main import main
from linker_tui.settings.config import Settings, load_settings, unknown_environment
from linker_tui.settings.keymap import ALL_KEYS, NAMED_KEYS, key_name, keymap_problems


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LINKER_DATA_DIR", str(tmp_path / "data"))
    for name in ("LINKER_DATABASE_URL", "LINKER_SMTP_PASSWORD", "LINKER_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "config.toml"
    monkeypatch.setenv("LINKER_CONFIG", str(path))
    return path


def _error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv or ["db", "status"])) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err  # one line
    return err


def test_a_misspelt_key_is_an_error_naming_file_key_and_the_right_one(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config.write_text('databse_url = "sqlite:///x.db"\npms_export_folder = "/srv"\n')
    err = _error(capsys)
    assert str(config) in err
    assert "unknown setting 'databse_url' (did you mean 'database_url'?)" in err
    assert "unknown setting 'pms_export_folder' (did you mean 'pms_export_dir'?)" in err


def test_a_named_settings_file_that_does_not_exist_is_an_error(
    config: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "config.toml.bak").write_text("")
    err = _error(capsys)
    assert f"{config}: settings file not found (named by LINKER_CONFIG or --config)" in err
    other = tmp_path / "linker.toml"
    err = _error(capsys, "--config", str(other), "db", "status")
    assert f"{other}: settings file not found" in err


def test_a_toml_syntax_error_is_one_line_with_file_line_and_column(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config.write_text('practice_name = "Maple"\npractice_phone = 416 555\n')
    err = _error(capsys)
    assert err.startswith(f"linker-tui: settings: {config}:2:")
    assert "Traceback" not in err


def test_a_bad_value_names_the_file_and_the_key(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config.write_text('practice_timezone = "Mars/Base"\n')
    err = _error(capsys)
    assert f"{config}: practice_timezone: unknown timezone 'Mars/Base'" in err
    config.write_text("")
    monkeypatch.setenv("LINKER_SYNC_INTERVAL_MINUTES", "-1")
    err = _error(capsys)
    assert "environment (LINKER_SYNC_INTERVAL_MINUTES): sync_interval_minutes:" in err


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ('{ "linker.acept" = "a" }', "unknown binding id 'linker.acept' (did you mean"),
        ('{ "linker.accept" = "ctrl+shft+a" }', "linker.accept: 'ctrl+shft+a' is not a key"),
        ('{ "linker.accept" = "enterr" }', "linker.accept: 'enterr' is not a key"),
        ('{ "linker.accept" = "" }', "linker.accept: no key given"),
        ('{ "linker.accept" = "r" }', "'r' is bound to both linker.accept and linker.reject"),
        ('{ "outbox.retry" = "c" }', "'c' is bound to both outbox.retry and outbox.cancel"),
    ],
)  # fmt: skip
def test_keys_are_checked(
    config: Path, capsys: pytest.CaptureFixture[str], keys: str, expected: str
) -> None:
    config.write_text(f"keys = {keys}\n")
    err = _error(capsys)
    assert f"{config}: keys: " in err and expected in err


def test_good_keys_are_accepted(config: Path) -> None:
    config.write_text(
        'keys = { "linker.open" = "v", "linker.accept" = "enter,a", "linker.help" = "?,f1" }\n'
    )
    assert load_settings().keys["linker.accept"] == "enter,a"


def test_key_names_agree_with_textual() -> None:
    for character in string.printable.strip():
        assert key_name(character) == _character_to_key(character), character
    textual_names = {key.value.rpartition("+")[2] for key in Keys}
    assert textual_names | {"f" + str(n) for n in range(1, 25)} >= NAMED_KEYS
    assert key_name("ctrl+shift+up") == "ctrl+shift+up"
    assert key_name("question_mark") == "question_mark"
    assert key_name("ctrl+ctrl+a") is None and key_name("space bar") is None


def test_the_default_bindings_do_not_clash() -> None:
    assert keymap_problems({spec_id: spec.keys for spec_id, spec in ALL_KEYS.items()}) == []


def test_a_password_in_a_file_others_can_read_is_refused(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config.write_text('smtp_password = "hunter2"\n')
    config.chmod(0o644)
    err = _error(capsys)
    assert "smtp_password holds a password but the file may be read by others (mode 0644)" in err
    assert "LINKER_SMTP_PASSWORD" in err and "chmod 600" in err and "hunter2" not in err
    config.write_text('database_url = "postgresql+psycopg://desk:hunter2@db/linker"\n')
    err = _error(capsys)
    assert "database_url holds a password" in err and "hunter2" not in err
    config.chmod(0o600)
    assert load_settings().database_url == "postgresql+psycopg://desk:hunter2@db/linker"


def test_config_option_works_before_and_after_the_command(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config.write_text("")
    other = tmp_path / "other.toml"
    other.write_text(f'database_url = "sqlite:///{tmp_path / "other.db"}"\n')
    for argv in (
        ["--config", str(other), "db", "status"],
        ["db", "status", "--config", str(other)],
    ):
        main(argv)
        assert "other.db" in capsys.readouterr().out


def test_unknown_linker_variables_are_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKER_DATABSE_URL", "sqlite:///x")
    assert "LINKER_DATABSE_URL" in unknown_environment()
    assert "LINKER_CONFIG" not in unknown_environment()


def test_the_settings_reference_is_up_to_date() -> None:
    from linker_tui.settings.reference import settings_reference

    written = Path(__file__).resolve().parent.parent / "docs" / "settings.md"
    assert written.read_text(encoding="utf-8") == settings_reference(), (
        "docs/settings.md is out of date: run python scripts/settings_reference.py"
    )


def test_with_json_asked_for_unusable_settings_are_json_on_stdout_too(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config.write_text('databse_url = "sqlite:///x.db"\n')
    assert main(["doctor", "--json"]) == 2
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["status"] == "settings unusable"
    assert report["problems"] == 1
    assert "unknown setting 'databse_url' (did you mean 'database_url'?)" in report["error"]
    assert err.count("\n") == 1 and "databse_url" in err  # the line for people, as before
    assert main(["doctor"]) == 2
    assert capsys.readouterr().out == ""  # without --json: nothing on stdout


def test_every_setting_has_a_meaning() -> None:
    from linker_tui.settings.reference import meanings

    assert set(meanings()) == set(Settings.model_fields)
