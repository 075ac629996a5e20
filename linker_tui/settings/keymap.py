"""Every key binding of the app, in one place (core: no Textual here).

Each binding has an ``id`` so a practice can remap it in the settings (``keys`` maps a
binding id to a comma-separated list of keys). :func:`keymap_problems` checks such a map
when the settings are read; the TUI turns the specs into Textual bindings
(``linker_tui.tui.keys``), and the help screen and the command palette are generated from
the same list.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class KeySpec:
    """One action and its default keys."""

    id: str
    keys: str
    action: str
    label: str
    help: str
    show: bool = True
    title: str = ""
    """The command palette's name for the action (defaults to ``label``)."""

    @property
    def command(self) -> str:
        """How the action is named in the command palette."""
        return self.title or self.label

    def current_keys(self, keymap: Mapping[str, str]) -> list[str]:
        """The keys in effect, after the practice's remapping."""
        keys = keymap.get(self.id) or self.keys
        return [key.strip() for key in keys.split(",") if key.strip()]


ACCEPT = KeySpec(
    "linker.accept",
    "a",
    "accept",
    "Accept",
    "Accept the highlighted request: find its appointment in the PMS data and link it",
    title="Accept request",
)
REJECT = KeySpec(
    "linker.reject",
    "r",
    "reject",
    "Reject",
    "Reject the highlighted request, with a reason",
    title="Reject request",
)
REOPEN = KeySpec(
    "linker.reopen",
    "o",
    "reopen",
    "Reopen",
    "Put a linked or rejected request back to pending",
    title="Reopen request",
)
TOGGLE_HANDLED = KeySpec(
    "linker.toggle_handled",
    "h",
    "toggle_handled",
    "Handled",
    "Show or hide requests that are already linked or rejected",
    title="Show or hide handled requests",
)
FILTER = KeySpec(
    "linker.filter",
    "slash",
    "filter",
    "Filter",
    "Filter the list by name, request number, reason or email (Esc clears)",
    title="Filter the list",
)
PATIENT = KeySpec(
    "linker.patient",
    "p",
    "patient",
    "Patient",
    "Choose or change which PMS patient sent the highlighted open request "
    '("Is this the same patient?")',
    title="Change the request's patient",
)
OUTBOX = KeySpec(
    "linker.outbox",
    "m",
    "outbox",
    "Mail",
    "Open the mail outbox: confirmation emails queued, sent, failed; retry or cancel",
    title="Mail outbox",
)
SYNC = KeySpec(
    "linker.sync",
    "y",
    "sync",
    "Sync",
    "Sync now: read the PMS export and the request inbox, then refresh the list",
    title="Sync now",
)
SYNC_RUNS = KeySpec(
    "linker.sync_runs",
    "Y",
    "sync_runs",
    "Sync runs",
    "Show the recent sync runs and the rows of the PMS export they could not import",
    show=False,
)
DISMISS_ATTENTION = KeySpec(
    "linker.dismiss_attention",
    "d",
    "dismiss_attention",
    "Seen",
    'Mark the highlighted request\'s sync warning ("! appt changed", "! can link now") as seen',
    title="Dismiss the sync warning",
)
NEXT_PAGE = KeySpec(
    "linker.next_page",
    "right_square_bracket,ctrl+pagedown",
    "next_page",
    "Next page",
    "Show the next page of the list",
    show=False,
)
PREVIOUS_PAGE = KeySpec(
    "linker.previous_page",
    "left_square_bracket,ctrl+pageup",
    "previous_page",
    "Previous page",
    "Show the previous page of the list",
    show=False,
)
REFRESH = KeySpec(
    "linker.refresh",
    "f5,ctrl+r",
    "refresh",
    "Refresh",
    "Reload the list and the counts from the database",
    title="Refresh the list",
)
HELP = KeySpec(
    "linker.help",
    "question_mark,f1",
    "help",
    "Help",
    "Show every key and what it does",
)
QUIT = KeySpec("linker.quit", "q", "quit", "Quit", "Leave the app")
SIGN_IN = KeySpec(
    "linker.sign_in",
    "u",
    "sign_in",
    "Sign in",
    "Who is at the desk: sign in with your name (and PIN), e.g. at a change of shift",
    show=False,
    title="Sign in (who is at the desk)",
)
OPEN_REQUEST = KeySpec(
    "linker.open",
    "enter",
    "open_request",
    "Read",
    "Read the whole highlighted request: every field, the note in full (scrolls)",
    show=False,
    title="Read the whole request",
)

MAIN_KEYS: tuple[KeySpec, ...] = (
    OPEN_REQUEST,
    ACCEPT,
    REJECT,
    REOPEN,
    PATIENT,
    TOGGLE_HANDLED,
    FILTER,
    DISMISS_ATTENTION,
    OUTBOX,
    SYNC,
    SYNC_RUNS,
    REFRESH,
    NEXT_PAGE,
    PREVIOUS_PAGE,
)
"""Keys of the request list screen."""

APP_KEYS: tuple[KeySpec, ...] = (SIGN_IN, HELP, QUIT)
"""Keys that work everywhere outside dialogs."""

OUTBOX_RETRY = KeySpec(
    "outbox.retry",
    "r",
    "retry",
    "Retry",
    "Outbox: send the highlighted failed email again (due now, attempts reset)",
    title="Retry email",
)
OUTBOX_CANCEL = KeySpec(
    "outbox.cancel",
    "c",
    "cancel_email",
    "Cancel email",
    "Outbox: cancel the highlighted queued or failed email (it will not be sent)",
    title="Cancel email",
)
OUTBOX_RESEND = KeySpec(
    "outbox.resend",
    "s",
    "resend",
    "Send again",
    "Outbox: send the highlighted sent email again, as a new email (the sent one stays)",
    title="Send email again",
)
OUTBOX_PREVIEW = KeySpec(
    "outbox.preview",
    "enter,v",
    "preview",
    "View",
    "Outbox: the highlighted email as the patient sees it (From, To, Subject, the text)",
    title="View email",
)
OUTBOX_REFRESH = KeySpec(
    "outbox.refresh",
    "f5,ctrl+r",
    "refresh",
    "Refresh",
    "Outbox: reload the list",
    title="Refresh the outbox",
)
OUTBOX_BACK = KeySpec(
    "outbox.back",
    "escape,q",
    "back",
    "Back",
    "Outbox: back to the request list",
    title="Back to the request list",
)
OUTBOX_KEYS: tuple[KeySpec, ...] = (
    OUTBOX_RETRY,
    OUTBOX_CANCEL,
    OUTBOX_RESEND,
    OUTBOX_PREVIEW,
    OUTBOX_REFRESH,
    OUTBOX_BACK,
)
"""Keys of the mail outbox screen."""

PREVIEW_BACK = KeySpec(
    "preview.back",
    "escape,q",
    "back",
    "Back",
    "Email view: back to the outbox",
    title="Back to the outbox",
)
PREVIEW_KEYS: tuple[KeySpec, ...] = (PREVIEW_BACK,)
"""Keys of the email view (the text scrolls with the arrows and PgUp PgDn)."""

RUNS_REFRESH = KeySpec(
    "runs.refresh",
    "f5,ctrl+r",
    "refresh",
    "Refresh",
    "Sync runs: reload the list",
    title="Refresh the sync runs",
)
RUNS_BACK = KeySpec(
    "runs.back",
    "escape,q",
    "back",
    "Back",
    "Sync runs: back to the request list",
    title="Back to the request list",
)
RUNS_KEYS: tuple[KeySpec, ...] = (SYNC, RUNS_REFRESH, RUNS_BACK)
"""Keys of the sync runs screen (``y`` syncs there too)."""

REQUEST_BACK = KeySpec(
    "request.back",
    "escape,q",
    "back",
    "Back",
    "Request: back to the request list",
    title="Back to the request list",
)
REQUEST_KEYS: tuple[KeySpec, ...] = (
    ACCEPT,
    REJECT,
    REOPEN,
    PATIENT,
    DISMISS_ATTENTION,
    REQUEST_BACK,
)
"""Keys of the whole-request screen (a decision goes back to the list and starts there)."""

SIGN_IN_SKIP = KeySpec(
    "sign_in.skip",
    "escape",
    "skip",
    "Back",
    "Sign-in: from the PIN back to the names; from the names carry on without signing in "
    "(the OS login is recorded; not when sign-in is required)",
)
SIGN_IN_KEYS: tuple[KeySpec, ...] = (SIGN_IN_SKIP,)
"""Keys of the sign-in screen (↑ ↓ Enter pick a name)."""

PATIENT_SEARCH = KeySpec(
    "patient.search",
    "slash,s",
    "search",
    "Search",
    "Patient dialog: search patients by name, birth date or phone (Esc: back to the list)",
    title="Search patients",
)

MODAL_CANCEL = KeySpec(
    "modal.cancel",
    "escape",
    "cancel",
    "Cancel",
    "Dialogs: Esc steps back one dialog (from the first, back to the list); nothing changes",
)
MODAL_PREVIOUS = KeySpec(
    "modal.previous", "left,up", "focus_previous", "Previous", "Previous button", show=False
)
MODAL_NEXT = KeySpec("modal.next", "right,down", "focus_next", "Next", "Next button", show=False)
MODAL_KEYS: tuple[KeySpec, ...] = (MODAL_CANCEL, MODAL_PREVIOUS, MODAL_NEXT)
"""Keys of every dialog."""

OTHER_KEYS: tuple[tuple[str, str], ...] = (
    ("↑ ↓ PgUp PgDn Home End", "Move in the list (^Home ^End too)"),
    ("^p", "Command palette: search every action by name"),
    ("Tab / ← →", "Move between buttons in a dialog"),
    ("Enter", "Press the highlighted button, or pick the highlighted appointment"),
)
"""Keys that are not remappable bindings of ours, for the help screen."""


SPARE_IDS: frozenset[str] = frozenset(
    {OUTBOX.id, REFRESH.id, OUTBOX_REFRESH.id, SYNC.id, RUNS_REFRESH.id}
)
"""Keys the key bar leaves out first when the line is too short (they stay in the help, the
palette and, for the outbox, the status line)."""

CONTEXTS: tuple[tuple[str, tuple[KeySpec, ...]], ...] = (
    ("the request list", (*MAIN_KEYS, *APP_KEYS)),
    ("the whole request", REQUEST_KEYS),
    ("the mail outbox", OUTBOX_KEYS),
    ("the email view", PREVIEW_KEYS),
    ("the sign-in", SIGN_IN_KEYS),
    ("the sync runs", RUNS_KEYS),
    ("dialogs", MODAL_KEYS),
    ("the patient dialog", (PATIENT_SEARCH, *MODAL_KEYS)),
)
"""Where bindings are active together: one key may mean one action in each."""

ALL_KEYS: dict[str, KeySpec] = {spec.id: spec for _, specs in CONTEXTS for spec in specs}
"""Every remappable binding by its id."""

MODIFIERS = frozenset({"ctrl", "shift", "alt", "meta", "super", "hyper"})
NAMED_KEYS = frozenset(
    {
        "backspace",
        "delete",
        "down",
        "end",
        "enter",
        "escape",
        "home",
        "insert",
        "left",
        "pagedown",
        "pageup",
        "return",
        "right",
        "space",
        "tab",
        "up",
        *(f"f{n}" for n in range(1, 25)),
    }
)
"""Keys a terminal sends that are not characters (Textual's names)."""

_CHARACTER_NAMES = {
    "solidus": "slash",
    "reverse_solidus": "backslash",
    "commercial_at": "at",
    "hyphen_minus": "minus",
    "plus_sign": "plus",
    "low_line": "underscore",
}


def key_name(key: str) -> str | None:
    """The canonical name of one key (``"?"`` → ``"question_mark"``, ``"ctrl+r"`` stays),
    or None when no terminal can send it."""
    *modifiers, base = key.strip().split("+") if key.strip() != "+" else ["+"]
    if any(m not in MODIFIERS for m in modifiers) or len(set(modifiers)) < len(modifiers):
        return None
    if len(base) == 1:
        if not base.isprintable() or base.isspace():
            return None
        if not base.isalnum():
            name = unicodedata.name(base, "").lower().replace("-", "_").replace(" ", "_")
            base = _CHARACTER_NAMES.get(name, name)
    elif base not in NAMED_KEYS and base not in _CHARACTER_NAMES.values():
        try:
            character = unicodedata.lookup(base.replace("_", " ").upper())
        except KeyError:
            return None
        if len(character) != 1 or character.isalnum() or not character.isprintable():
            return None
    return "+".join([*modifiers, base])


def keymap_problems(keymap: Mapping[str, str]) -> list[str]:
    """What is wrong with a practice's ``keys`` setting: unknown binding ids, keys no
    terminal can send, and a key that would mean two actions in one place."""
    problems = [p for binding_id, keys in keymap.items() for p in _entry_problems(binding_id, keys)]
    return problems or _clashes(keymap)


def _entry_problems(binding_id: str, keys: str) -> list[str]:
    """An unknown binding id, or keys no terminal can send, in one entry of the setting."""
    if binding_id not in ALL_KEYS:
        close = difflib.get_close_matches(binding_id, ALL_KEYS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return [f"unknown binding id {binding_id!r}{hint}"]
    named = [key.strip() for key in keys.split(",")]
    problems = [] if any(named) else [f"{binding_id}: no key given"]
    problems += [
        f"{binding_id}: {key!r} is not a key a terminal can send"
        for key in named
        if key and key_name(key) is None
    ]
    return problems


def _clashes(keymap: Mapping[str, str]) -> list[str]:
    """A key bound to two actions in one place, one of them set by the practice."""
    problems: list[str] = []
    for place, specs in CONTEXTS:
        owner: dict[str, str] = {}
        for spec in specs:
            for key in spec.current_keys(keymap):
                name = key_name(key) or key
                other = owner.setdefault(name, spec.id)
                if other != spec.id and (spec.id in keymap or other in keymap):
                    problems.append(f"{key!r} is bound to both {other} and {spec.id} in {place}")
    return problems
