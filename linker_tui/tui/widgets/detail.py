"""The pane under the list: everything about the highlighted request, under a rule."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from textual.content import Content
from textual.widgets import Static

from linker_tui.read.views import RequestDetail
from linker_tui.store.enums import RequestState
from linker_tui.tui.formatting import appointment_summary, long_datetime, with_provider
from linker_tui.tui.safe import line, lines

_LABEL = "bold"
HEIGHT = 7
"""The rule and six lines of text (a longer text is cut)."""


class DetailPane(Static):
    """Typed identity, note, matched patient, state and decision of one request (the
    text can be selected with the mouse and copied)."""

    DEFAULT_CSS = f"""
    DetailPane {{
        height: {HEIGHT};
        padding: 0 1;
        border-top: solid $primary;
        overflow: hidden hidden;
    }}
    """

    def __init__(self, tz: ZoneInfo, *, id: str | None = None) -> None:
        super().__init__(line("No request selected."), id=id, markup=False)
        self.tz = tz
        self.request_id: int | None = None

    def show_message(self, message: str) -> None:
        """A one-line message instead of a request (empty list, request gone)."""
        self.request_id = None
        self.update(line(message), layout=False)  # a fixed height: no layout needed

    def show_detail(self, detail: RequestDetail) -> None:
        """Show one request."""
        self.request_id = detail.row.id
        self.update(render_detail(detail, self.tz), layout=False)


def render_detail(detail: RequestDetail, tz: ZoneInfo) -> Content:
    """The detail pane's text (literal: every piece of data is cleaned, never markup)."""
    row = detail.row
    typed = [row.typed_name or "(no name)"]
    if detail.typed_birthdate:
        typed.append(f"born {detail.typed_birthdate.isoformat()}")
    typed += [value for value in (detail.typed_phone, detail.typed_email) if value]
    patient = detail.patient_name or detail.patient_status
    if detail.patient_name and detail.patient_no_email:
        patient += " (asked not to be emailed)"
    requested = with_provider(row.requested_start, row.requested_provider_name, tz)
    if row.reason:
        requested += f" · {row.reason}"
    if row.state.open:
        first = line(
            (row.external_id, _LABEL),
            " · ",
            (row.state.label, _LABEL),
            f" · received {long_datetime(row.received_at, tz)} · {row.match_hint}",
        )
    else:
        first = line(
            (row.external_id, _LABEL),
            " · ",
            (row.state.label, _LABEL),
            f" by {detail.decided_by or '?'} at {long_datetime(detail.decided_at, tz)}",
        )
    rows = [first]
    if row.attention:
        rows.append(line(("! Sync: ", _LABEL), row.attention, " (d: seen)"))
    rows += [
        line(("Typed: ", _LABEL), " · ".join(typed)),
        line(("Patient: ", _LABEL), patient),
        line(("Requested: ", _LABEL), requested),
    ]
    if row.state is RequestState.LINKED:
        linked = appointment_summary(detail.linked, tz) if detail.linked else "(appointment gone)"
        rows.append(line(("Linked to: ", _LABEL), linked))
    elif row.state is RequestState.REJECTED:
        rows.append(line(("Reason: ", _LABEL), detail.reject_reason or "-"))
    rows.append(line(("Note: ", _LABEL), detail.note or "-"))
    return lines(*rows)
