"""The exception hierarchy of OmniClaude.

Every error raised on purpose derives from :class:`OmniClaudeError`. Retry code reads the
``retriable`` attribute instead of matching classes, and the dead-letter records store the
class *name*, so class names here are part of the public API.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "DeliveryError",
    "EventValidationError",
    "OmniClaudeError",
    "StackError",
    "StorageError",
    "UnknownEventTypeError",
]


class OmniClaudeError(Exception):
    """Root of every error OmniClaude raises on purpose."""

    retriable: bool = False


class ConfigurationError(OmniClaudeError):
    """A setting is missing or invalid; the message names the variable."""


class EventValidationError(OmniClaudeError, ValueError):
    """An event does not match its contract; the message names the field at fault."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnknownEventTypeError(EventValidationError):
    """An event names an ``event_type`` the catalogue does not know."""


class DeliveryError(OmniClaudeError):
    """An event could not be handed to the broker (yet)."""

    retriable = True


class StorageError(OmniClaudeError):
    """The database refused or could not be reached."""

    retriable = True


class StackError(OmniClaudeError):
    """A local service (embedded PostgreSQL, Tansu broker) failed to start or stop."""
