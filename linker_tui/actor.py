"""Who is acting: the OS user at a workstation (recorded in the audit trail)."""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """An OS user at a workstation."""

    os_user: str
    workstation: str

    @property
    def label(self) -> str:
        """``alice@desk-2``."""
        return f"{self.os_user}@{self.workstation}"

    @classmethod
    def current(cls) -> Actor:
        """The user running this process, on this machine."""
        try:
            user = getpass.getuser()
        except (OSError, KeyError):
            user = "unknown"
        return cls(os_user=user, workstation=socket.gethostname() or "unknown")
