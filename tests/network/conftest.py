"""The FRRouting test bed for the push and verify tests (started once per session)."""

from __future__ import annotations

from tests.components.frr import frr_testbed

__all__ = ["frr_testbed"]
