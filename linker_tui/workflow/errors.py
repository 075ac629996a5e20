"""The refusals of a decision: each message is meant for staff; nothing was changed."""

from __future__ import annotations


class WorkflowError(Exception):
    """A decision that was refused; the message is meant for staff. Nothing was changed."""


class RequestNotFound(WorkflowError):
    """The request does not exist (any more)."""


class StaleRequest(WorkflowError):
    """The request changed since it was shown (another workstation decided on it)."""


class AppointmentUnavailable(WorkflowError):
    """The appointment can no longer be linked (cancelled, moved, or taken)."""


class InvalidDecision(WorkflowError):
    """The decision does not apply to the request in its current state."""
