"""Who is acting at a workstation (recorded in the audit trail beside what the database
itself records: its role and the connection's name), and the staff PINs of the sign-in
(stored as scrypt hashes, never as PINs)."""

from __future__ import annotations

import base64
import binascii
import getpass
import hashlib
import hmac
import os
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """An OS user at a workstation, and the staff member signed in there (if any)."""

    os_user: str
    workstation: str
    staff: str = ""  # the staff member signed in at the desk; empty: the OS login

    @property
    def desk_user(self) -> str:
        """Who sits at the desk: the signed-in staff member, else the OS login."""
        return self.staff or self.os_user

    @property
    def label(self) -> str:
        """``alice@desk-2``."""
        return f"{self.desk_user}@{self.workstation}"

    @classmethod
    def current(cls) -> Actor:
        """The user running this process, on this machine."""
        try:
            user = getpass.getuser()
        except (OSError, KeyError):
            user = "unknown"
        return cls(os_user=user, workstation=socket.gethostname() or "unknown")


# ------------------------------------------------------------ staff PINs
PIN_SCHEME = "scrypt"
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_MAX_N = 2**20  # a hash from the settings file may not ask for more memory than this


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_pin(pin: str, salt: bytes | None = None) -> str:
    """The PIN's hash for the settings file: ``scrypt$16384$8$1$<salt>$<hash>`` (base64;
    a fresh random salt each time). The PIN itself is never stored."""
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(
        pin.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    return f"{PIN_SCHEME}${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != PIN_SCHEME:
        return None
    try:
        n, r, p = (int(x) for x in parts[1:4])
        salt, digest = (
            base64.b64decode(parts[4], validate=True),
            base64.b64decode(parts[5], validate=True),
        )
    except (ValueError, binascii.Error):
        return None
    if not (2 <= n <= _MAX_N and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 4):
        return None
    if len(salt) < 8 or len(digest) < 16:
        return None
    return n, r, p, salt, digest


def is_pin_hash(value: str) -> bool:
    """Whether ``value`` is a PIN hash made by :func:`hash_pin` (and not, say, a PIN)."""
    return _parse(value) is not None


def check_pin(pin: str, stored: str) -> bool:
    """Whether ``pin`` is the PIN whose hash is ``stored`` (constant-time comparison)."""
    parsed = _parse(stored)
    if parsed is None:
        return False
    n, r, p, salt, digest = parsed
    tried = hashlib.scrypt(
        pin.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=len(digest), maxmem=2**30
    )
    return hmac.compare_digest(tried, digest)
