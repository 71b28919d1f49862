"""The three roles of the control plane and the principal a request acts as.

三权分立: the admin runs the estate but cannot erase the audit trail, the analyst works incidents, the
auditor reads everything and changes nothing. Routes state which roles they admit; nothing else decides.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict


class Role(StrEnum):
    ADMIN = "admin"
    ANALYST = "analyst"
    AUDITOR = "auditor"


class Principal(BaseModel):
    """Who a request acts as: a logged-in user (session cookie) or a script (API token)."""

    model_config = ConfigDict(frozen=True)

    name: str
    role: Role
    via: Literal["session", "token"]
