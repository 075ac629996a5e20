"""One outbox email as the patient sees it: From, To, Subject, Date, the text and the
attachments, read back from the message the app sends (read-only; Esc goes back)."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from linker_tui.mail.preview import EmailPreview
from linker_tui.services import Services
from linker_tui.tui.keys import PREVIEW_KEYS, bindings
from linker_tui.tui.safe import content, line, lines
from linker_tui.tui.widgets.keybar import KeyBar


def preview_text(preview: EmailPreview) -> Content:
    """The headers, a blank line, the text, the attachments (all literal)."""
    rows = [line((f"{name}: ", "bold"), value) for name, value in preview.headers]
    if preview.file is not None:
        rows.append(line(("File: ", "bold"), str(preview.file)))
    if preview.problem:
        rows.append(line(("! Cannot be sent: ", "bold"), preview.problem))
    rows += [Content(""), content(preview.body.rstrip())]
    if preview.attachments:
        rows += [Content(""), line(("Attached: ", "bold"), ", ".join(preview.attachments))]
    return lines(*rows)


class EmailPreviewScreen(Screen[None]):
    """The email, scrolling; Esc or q goes back to the outbox."""

    BINDINGS: ClassVar[list[BindingType]] = list(bindings(PREVIEW_KEYS))
    AUTO_FOCUS = "#preview-body"
    DEFAULT_CSS = """
    EmailPreviewScreen {
        layout: vertical;
        & > #preview-header {
            height: 1;
            padding: 0 1;
            background: $panel;
        }
        & > #preview-body {
            height: 1fr;
            padding: 0 1;
            scrollbar-size-vertical: 1;
        }
        & #preview-text {
            height: auto;
        }
    }
    """

    def __init__(self, services: Services, outbox_id: int) -> None:
        super().__init__()
        self.services = services
        self.outbox_id = outbox_id
        self.preview: EmailPreview | None = None

    def compose(self) -> ComposeResult:
        """Title, the message in a scrolling box, the keys."""
        with Horizontal(id="preview-header"):
            title = f"Email {self.outbox_id} as the patient sees it"
            yield Static(line((title, "bold")), id="preview-title")
        with VerticalScroll(id="preview-body"):
            yield Static(line("Loading…"), id="preview-text", markup=False)
        yield KeyBar(id="preview-keys")

    def on_mount(self) -> None:
        """Build the message (off the UI thread)."""
        self.load()

    @work(exclusive=True, group="preview-load", exit_on_error=False)
    async def load(self) -> None:
        """Build the message as it was sent (or will be) and show it."""
        try:
            preview = await asyncio.to_thread(self.services.email_preview, self.outbox_id)
        except LookupError:
            self.query_one("#preview-text", Static).update(line("This email no longer exists."))
            return
        self.preview = preview
        self.query_one("#preview-text", Static).update(preview_text(preview))

    def text(self) -> str:
        """What the screen shows (for tests)."""
        shown = self.query_one("#preview-text", Static).content
        return shown.plain if isinstance(shown, Content) else str(shown)

    def action_back(self) -> None:
        """Back to the outbox."""
        self.dismiss(None)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed read becomes a notification."""
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            self.notify(
                f"Could not show the email: {type(error).__name__}: {error}",
                title="Error",
                severity="error",
                markup=False,
                timeout=15,
            )
