"""The catalogue as the rest of egovops sees it: resolved items with stable ids, and the checks index.

The file formats (with their per-category defaults) live in `loader`; what it hands out is flat and
complete, so reports, collectors and the scoring never resolve a default themselves.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

CATEGORIES = (
    "安全物理环境", "安全通信网络", "安全区域边界", "安全计算环境", "安全管理中心",
    "安全管理制度", "安全管理机构", "安全管理人员", "安全建设管理", "安全运维管理",
)
"""The ten categories (安全层面) of GB/T 22239-2019 in the standard's order: technical, then management."""


class Part(StrEnum):
    """Which requirements an item belongs to: 安全通用要求 or 云计算安全扩展要求."""

    GENERAL = "general"
    CLOUD = "cloud"


class AssessmentMode(StrEnum):
    """How an item is assessed: by automated checks, by evidence a reviewer attaches, or both."""

    AUTOMATED = "automated"
    MANUAL = "manual"
    BOTH = "both"


class Responsibility(StrEnum):
    """Who answers for an item on a cloud, so a tenant system inherits what the platform established."""

    PLATFORM = "platform"
    TENANT = "tenant"
    SHARED = "shared"


class Item(BaseModel):
    """One requirement item (要求项), e.g. `L3-8.1.4.1-a`: level, clause of its control point, letter."""

    model_config = ConfigDict(frozen=True)

    id: str
    level: int
    part: Part
    category: str
    control_point: str
    clause: str
    letter: str
    text: str
    assessment: AssessmentMode
    responsibility: Responsibility
    checks: tuple[str, ...] = ()


class Check(BaseModel):
    """An automated check named by items; evidence collectors implement it."""

    model_config = ConfigDict(frozen=True)

    id: str
    source: str
    description: str


class Catalogue(BaseModel):
    """The items that apply to one level (general requirements, plus the cloud extension if asked)."""

    model_config = ConfigDict(frozen=True)

    level: int
    cloud: bool
    versions: dict[str, str]
    items: tuple[Item, ...]

    def by_id(self) -> dict[str, Item]:
        return {item.id: item for item in self.items}

    def control_points(self, part: Part | None = None) -> list[tuple[str, str, str]]:
        """(clause, category, control point) in catalogue order, once each; the clause tells apart
        control points of the same name (访问控制 in 安全区域边界, 安全计算环境 and the cloud extension)."""
        chosen = (item for item in self.items if part in (None, item.part))
        seen = dict.fromkeys((item.clause, item.category, item.control_point) for item in chosen)
        return list(seen)
