"""What can go wrong with a case that the user can fix; every message says what to do."""

from __future__ import annotations


class CaseError(ValueError):
    """A case operation was refused: an illegal transition, a missing reason or recipient."""


class CaseNotFoundError(CaseError):
    """No incident or alert with that id."""


class TraceError(CaseError):
    """Evidence could not be collected: tshark missing, a pcap unreadable."""
