"""Patient data is not world-readable, and the sync child gets no secrets (issue 13)."""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

import pytest

from linker_tui.store.db import make_engine
from linker_tui.store.schema import create_schema
from linker_tui.sync import worker
from linker_tui.sync.worker import child_environment


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_the_database_and_its_folder_are_private_whatever_the_umask(
    tmp_path: Path, umask: int
) -> None:
    folder = tmp_path / "data" / "linker"
    old = os.umask(umask)
    try:
        engine = make_engine(f"sqlite:///{folder / 'linker.db'}")
        create_schema(engine)
        engine.dispose()
    finally:
        os.umask(old)
    assert _mode(folder) == 0o700
    assert _mode(folder / "linker.db") == 0o600
    for extra in folder.glob("linker.db-*"):  # WAL and shared memory, while they exist
        assert _mode(extra) == 0o600, extra.name


def test_an_existing_folder_of_the_user_is_left_as_it_is(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    make_engine(f"sqlite:///{folder / 'linker.db'}").dispose()
    assert _mode(folder) == 0o755 and _mode(folder / "linker.db") == 0o600


def test_the_sync_child_gets_no_password() -> None:
    environ = {
        "LINKER_SMTP_PASSWORD": "secret",
        "LINKER_DB_PASSWORD_FILE": "/x",
        "linker_smtp_password": "secret",
        "LINKER_TIMEZONE": "America/Toronto",
        "PATH": "/usr/bin",
    }
    assert child_environment(environ) == {"LINKER_TIMEZONE": "America/Toronto", "PATH": "/usr/bin"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_spawned_sync_child_has_no_password_in_its_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LINKER_SMTP_PASSWORD", "hunter2")
    monkeypatch.setenv("LINKER_PRACTICE_NAME", "Maple Grove Dental")
    child = worker._spawn()
    try:
        deadline = time.monotonic() + 10
        environ = [b""]
        while environ == [b""] and time.monotonic() < deadline:  # until exec has set it up
            environ = Path(f"/proc/{child.pid}/environ").read_bytes().split(b"\0")
            time.sleep(0.01)
        alive = child.poll() is None
    finally:
        child.kill()
        _out, err = child.communicate()
    assert alive, err
    assert b"LINKER_PRACTICE_NAME=Maple Grove Dental" in environ
    assert not [item for item in environ if b"PASSWORD" in item or b"hunter2" in item]
