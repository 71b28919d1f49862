"""Settings of response actions (`[response]` in egovops.toml): where the audit trail goes, which modules
add action kinds, and each kind's options (`[response.kinds.KIND]`, validated by the kind itself).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ResponseSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    audit_log: Path = Field(Path("var/audit.log"), description="the hash-chained audit trail (JSON Lines)")
    modules: list[str] = Field(
        default_factory=list, description="Python modules that register more action kinds when imported"
    )
    kinds: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description='options per action kind, e.g. [response.kinds.nft-deny] namespace = "fw"',
    )
