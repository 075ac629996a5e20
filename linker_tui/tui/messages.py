"""Messages between the screens and the app (a light module: it imports no engine).

The app tells every screen on its stack what changed (:class:`OutboxChanged`,
:class:`PmsSynced`, :class:`SyncStarted`, :class:`DatabaseAway`, :class:`StaffSignedIn`);
each screen that shows it reads it again. The app does not need to know which screens
there are.
"""

from __future__ import annotations

from textual.message import Message


class SyncRequested(Message):
    """Staff asked for a sync now (the app runs it, the status line says so)."""


class FirstPageShown(Message):
    """The request list shows its first page: what staff wait for at start is there."""


class OutboxChanged(Message, bubble=False):
    """The outbox changed (an email queued, sent, retried or cancelled)."""


class PmsSynced(Message, bubble=False):
    """A sync run ended: the PMS data, the requests and the sync runs may have changed."""


class RequestsChanged(Message, bubble=False):
    """The live refresh saw a change made elsewhere (another desk decided, the inbox or a
    sync brought something): open dialogs look at their request again."""


class SyncStarted(Message, bubble=False):
    """A sync started at this desk: say so until it ends (:class:`PmsSynced`)."""


class DatabaseAway(Message, bubble=False):
    """A background job found the database away: the status line says so."""


class StaffSignedIn(Message, bubble=False):
    """Someone signed in at this desk: screens that name who is there show ``staff``."""

    def __init__(self, staff: str) -> None:
        super().__init__()
        self.staff = staff
