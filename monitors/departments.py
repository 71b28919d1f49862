"""Each department's actual cloud use against its quota and the city's utilisation targets (考核).

The estate holds quotas and the city-wide metering snapshot (`cloud.usage`); what each department uses
comes from the cloud's metering, exported per project into a metering file beside the estate:

    at: 2026-10-31
    departments:
      szf: {vcpu_used: 120, ram_used_gb: 600, storage_used_tb: 20}

Department names must be tenants of the estate, so the labels they become stay bounded by the estate.
Utilisation is use over quota per resource; `overall` is their mean, as 云资源整体利用率 is for the city.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from pydantic import BaseModel, ConfigDict, Field

from egovops.estate import Estate
from monitors.indicators import IndicatorError, current_target, load_model

METERING_FILE = "metering.yaml"
"""The metering file `egovops exporter` and `egovops serve` look for beside the estate file."""
RESOURCES = ("vcpu", "memory", "storage", "overall")
TARGET_OF = {"vcpu": "vcpu_utilisation", "memory": "ram_utilisation", "overall": "overall_utilisation"}
"""The estate's target (`cloud.targets`) each resource's utilisation is judged against."""
GIB = 1024**3
TB = 1000**4


class DepartmentUse(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    vcpu_used: float = Field(0, ge=0)
    ram_used_gb: float = Field(0, ge=0)
    storage_used_tb: float = Field(0, ge=0)


class Metering(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    at: date
    departments: dict[str, DepartmentUse]


@dataclass(frozen=True)
class Utilisation:
    """One department's use, its share of its quota per resource (None without a quota), and its rank."""

    department: str
    title: str
    use: DepartmentUse
    ratios: dict[str, float | None]
    rank: int = 0

    @property
    def overall(self) -> float | None:
        return self.ratios["overall"]


def default_metering(estate_path: Path) -> Path | None:
    found = estate_path.with_name(METERING_FILE)
    return found if found.exists() else None


def load_metering(path: Path, estate: Estate) -> Metering:
    """The metering file; errors name the file, what is wrong and what to write instead."""
    shape = "at: YYYY-MM-DD and departments: {TENANT: {vcpu_used: …, ram_used_gb: …, storage_used_tb: …}}"
    metering = load_model(Metering, path, "metering file", shape)
    unknown = sorted(set(metering.departments) - {t.name for t in estate.tenants})
    if unknown:
        raise IndicatorError(
            f"{path}: departments {unknown} are not tenants of the estate {estate.name} "
            f"(tenants: {sorted(t.name for t in estate.tenants)})"
        )
    return metering


def _share(used: float, quota: float) -> float | None:
    return round(used / quota, 6) if quota else None


def utilisation(estate: Estate, metering: Metering) -> list[Utilisation]:
    """Departments of the metering file, best utilised first (overall, then vCPU; unmeasured last)."""
    found = []
    for tenant in estate.tenants:
        use = metering.departments.get(tenant.name)
        if use is None:
            continue
        ratios = {
            "vcpu": _share(use.vcpu_used, tenant.quota.vcpu),
            "memory": _share(use.ram_used_gb, tenant.quota.ram_gb),
            "storage": _share(use.storage_used_tb * 1000, tenant.quota.storage_gb),
        }
        known = [r for r in ratios.values() if r is not None]
        ratios["overall"] = round(sum(known) / len(known), 6) if known else None
        found.append(Utilisation(tenant.name, tenant.title, use, ratios))
    found.sort(key=lambda u: (u.overall is None, -(u.overall or 0), -(u.ratios["vcpu"] or 0), u.department))
    return [Utilisation(u.department, u.title, u.use, u.ratios, rank) for rank, u in enumerate(found, 1)]


def targets(estate: Estate, today: date) -> dict[str, float]:
    """The utilisation target for each resource the estate sets one for (the one due next)."""
    found = {}
    for resource, indicator in TARGET_OF.items():
        chosen = current_target([t for t in estate.cloud.targets if t.indicator == indicator], today)
        if chosen is not None and chosen.scope == "city":
            found[resource] = chosen.value
    return found


def families(estate: Estate, metering: Metering, today: date) -> list[Metric]:
    used = {
        "vcpu": GaugeMetricFamily(
            "egovops_department_vcpu_used",
            "vCPU a department actually uses (metering).",
            labels=["department"],
        ),
        "memory": GaugeMetricFamily(
            "egovops_department_memory_used_bytes",
            "Memory a department actually uses.",
            labels=["department"],
        ),
        "storage": GaugeMetricFamily(
            "egovops_department_storage_used_bytes",
            "Storage a department actually uses.",
            labels=["department"],
        ),
    }
    ratio = GaugeMetricFamily(
        "egovops_department_utilisation_ratio",
        "A department's use over its quota, per resource (overall: their mean).",
        labels=["department", "resource"],
    )
    for row in utilisation(estate, metering):
        used["vcpu"].add_metric([row.department], row.use.vcpu_used)
        used["memory"].add_metric([row.department], row.use.ram_used_gb * GIB)
        used["storage"].add_metric([row.department], row.use.storage_used_tb * TB)
        for resource in RESOURCES:
            if (value := row.ratios[resource]) is not None:
                ratio.add_metric([row.department, resource], value)
    target = GaugeMetricFamily(
        "egovops_department_utilisation_target_ratio",
        "The city's utilisation target each department is judged against.",
        labels=["resource"],
    )
    for resource, value in sorted(targets(estate, today).items()):
        target.add_metric([resource], value)
    return [*used.values(), ratio, target]


@dataclass(frozen=True)
class DepartmentFamilies:
    """The department gauges for `IndicatorCollector(extras=…)`: computed with the indicators, from the
    estate already loaded, and again when the metering file changes."""

    path: Path

    def __call__(self, estate: Estate) -> list[Metric]:
        return families(estate, load_metering(self.path, estate), date.today())
