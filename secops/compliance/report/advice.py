"""整改建议 as data: advice per control point (both levels) and per automated check, in `advice.yaml`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from secops.compliance.loader import CatalogueError, read_model
from secops.compliance.models import Catalogue, Item, Part

ADVICE_FILE = Path(__file__).parent / "advice.yaml"
CLOUD_PREFIX = "云计算/"


class Advice(BaseModel):
    """The advice file; `for_item` joins a control point's advice with that of the checks that failed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: Literal[1] = Field(alias="schema")
    version: str = Field(min_length=1)
    control_points: dict[str, str]
    checks: dict[str, str]

    def for_item(self, item: Item, failed_checks: tuple[str, ...]) -> str:
        concrete = [self.checks[check] for check in failed_checks if check in self.checks]
        return " ".join([*concrete, self.control_points[control_point_key(item)]])


def control_point_key(item: Item) -> str:
    """`category/control point`, prefixed `云计算/` for the cloud extension, as `advice.yaml` keys it."""
    prefix = CLOUD_PREFIX if item.part is Part.CLOUD else ""
    return f"{prefix}{item.category}/{item.control_point}"


def load_advice(catalogue: Catalogue, path: Path = ADVICE_FILE) -> Advice:
    """Read the advice file, refusing one that leaves a control point of `catalogue` without advice."""
    advice, located = read_model(path, Advice)
    missing = sorted({control_point_key(item) for item in catalogue.items} - set(advice.control_points))
    if missing:
        raise CatalogueError([located.at(("control_points",), f"no advice for {key} (add a line for it)")
                              for key in missing])
    return advice
