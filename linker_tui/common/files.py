"""Files and folders that hold patient data: readable by their owner only, whatever the
umask (the database file, the data folder, the inbox's ``processed/`` and ``rejected/``)."""

from __future__ import annotations

import contextlib
import errno
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


EXIT_STORAGE = 74  # sysexits EX_IOERR: the disk is full or read-only, a file cannot be written
EXIT_LOCKED = 75  # sysexits EX_TEMPFAIL: the database is locked by another program


def storage_problem(exc: BaseException) -> tuple[int, str]:
    """An exit status and a one-line message for an error of the disk or the database
    (a read-only file system, a full disk, a database locked by another program)."""
    original = getattr(exc, "orig", None) or exc
    text = " ".join(str(original).split())
    low = text.lower()
    number = getattr(original, "errno", None)
    if "locked" in low or "lock timeout" in low or "could not obtain lock" in low:
        return EXIT_LOCKED, f"the database is locked by another program; try again later ({text})"
    if number == errno.EROFS or "read-only file system" in low or "readonly database" in low:
        return EXIT_STORAGE, f"the file system is read-only ({text})"
    if number == errno.ENOSPC or "disk is full" in low or "no space left" in low:
        return EXIT_STORAGE, f"the disk is full ({text})"
    if isinstance(original, OSError):
        where = f" {original.filename}" if original.filename else ""
        return EXIT_STORAGE, f"cannot use{where}: {original.strerror or text}"
    return EXIT_STORAGE, f"the database cannot be used ({text})"
