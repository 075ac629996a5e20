"""Who is acting at a workstation (recorded in the audit trail beside what the database
itself records: its role and the connection's name)."""

from __future__ import annotations

import getpass
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
