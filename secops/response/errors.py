"""What can go wrong with a response action; every message says what to do."""

from __future__ import annotations

from secops.incidents.errors import CaseError


class ResponseError(CaseError):
    """A response request was refused: unknown kind or action, self-approval, a second undo."""


class OptionsError(ResponseError):
    """A kind's options in `[response.kinds.KIND]` are wrong."""


class ActionError(RuntimeError):
    """The change itself failed (a playbook task failed); the action is recorded as failed."""
