"""Files and folders that hold patient data: readable by their owner only, whatever the
umask (the database file, the data folder, the inbox's ``processed/`` and ``rejected/``)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700


def private_folder(path: Path, *, tighten: bool = False) -> Path:
    """Create ``path`` (and missing parents) ``0700`` if it is missing; with ``tighten``
    (a folder only the app uses) an existing one of this user's is made ``0700`` too."""
    try:
        path.mkdir(mode=PRIVATE_FOLDER)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        return private_folder(path, tighten=tighten)
    except FileExistsError:
        if not tighten:
            return path
    with contextlib.suppress(OSError):
        stat = path.stat()
        if stat.st_uid == os.getuid() and stat.st_mode & 0o777 != PRIVATE_FOLDER:
            path.chmod(PRIVATE_FOLDER)  # exact, whatever the umask
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty, ``0600``, unless it exists (an existing file keeps its mode)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    return path
