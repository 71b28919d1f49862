"""The plans' indicators computed from the estate, each with its target, unit and source.

The definitions are data (`monitors/indicators.yaml`: id, name, unit, formula, source, default target).
Targets come from three places, each overriding the one before: the definitions' defaults (the province's
figures), the estate (`cloud.targets`, `network.access_target`), and a targets file for the city
(`targets: {ID: {value, source}}`). Cloud figures come from `cloud.usage.measure` (the estate's metering
snapshot, or a live report when one is passed in); network figures from `network.checks`.

An indicator the estate cannot answer (availability, monthly activity, 等保 assessments) is still listed,
with no value and a note saying what it needs, so a report never silently drops a row.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import suppress
from dataclasses import asdict, dataclass
from datetime import date
from functools import cache
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

import orjson
import yaml
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from egovops.estate import CloudStatus, Estate, EstateError, Level, System, Target, load_estate
from network.checks import bandwidth, ipv6
from network.estate import Network, load_network

if TYPE_CHECKING:
    from cloud.usage import UsageReport

DEFINITIONS = Path(__file__).with_name("indicators.yaml")
CLOUD_FIGURES = (
    "compute_scale_vcpu", "vcpu_used", "ram_used_gb", "storage_used_tb",
    "vcpu_utilisation", "ram_utilisation", "overall_utilisation",
)  # fmt: skip
"""Indicators whose figure `cloud.usage.measure` computes (the ids of `egovops.estate.Target`)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TargetRef(_Model):
    value: float = Field(ge=0)
    source: str = Field(description="the plan and clause it comes from")
    due: str | None = None
    scope: Literal["city", "province"] = Field("city", description="province: the city only contributes")


class Definition(_Model):
    id: str
    name: str
    unit: Literal["ratio", "vCPU", "GB", "TB"]
    scope: Literal["city", "county", "department"]
    formula: str
    source: str
    target: TargetRef | None


class TargetsFile(_Model):
    targets: dict[str, TargetRef]


ModelT = TypeVar("ModelT", bound=BaseModel)


class IndicatorError(ValueError):
    """A targets file is wrong; the message names the file, the entry and what to do."""


@dataclass(frozen=True)
class Reading:
    """One indicator for the city, or one of its counties or departments (the other left empty)."""

    id: str
    name: str
    unit: str
    source: str
    value: float | None
    target: float | None
    target_source: str | None
    target_scope: str = "city"
    county: str = ""
    department: str = ""
    note: str = ""

    @property
    def key(self) -> str:
        return f"{self.id}|{self.county}|{self.department}"

    @property
    def gap(self) -> float | None:
        """Value minus target (negative: short of it); none for a province-wide target."""
        if self.value is None or self.target is None or self.target_scope != "city":
            return None
        return round(self.value - self.target, 6)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"gap": self.gap}


@cache
def definitions() -> tuple[Definition, ...]:
    data = yaml.safe_load(DEFINITIONS.read_text(encoding="utf-8"))
    return tuple(TypeAdapter(list[Definition]).validate_python(data))


def load_model(model: type[ModelT], path: Path, what: str, shape: str) -> ModelT:
    """A YAML file of the monitors' inputs as `model`; IndicatorError names the file, what is wrong and,
    when the content is wrong, the `shape` to write instead."""
    try:
        return model.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise IndicatorError(f"{path}: cannot read the {what}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise IndicatorError(f"{path}: not valid YAML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise IndicatorError(f"{path}: {problems} (write {shape})") from exc


def load_targets(path: Path) -> dict[str, TargetRef]:
    """A city's targets file; errors name the file, the entry and the fix."""
    known = {d.id for d in definitions()}
    parsed = load_model(TargetsFile, path, "targets file", "targets: {ID: {value: 0.9, source: ...}}")
    unknown = sorted(set(parsed.targets) - known)
    if unknown:
        raise IndicatorError(f"{path}: unknown indicators {unknown} (known: {sorted(known)})")
    return parsed.targets


def current_target(targets: Iterable[Target], today: date) -> Target | None:
    """The target due next (a bare year is due at its end), else the last one that fell due."""

    def due(target: Target) -> str:
        return (target.due + "-12-31")[:10] if len(target.due) == 4 else (target.due + "-31")[:10]

    ordered = sorted(targets, key=due)
    upcoming = [t for t in ordered if due(t) >= today.isoformat()]
    return upcoming[0] if upcoming else (ordered[-1] if ordered else None)


def estate_targets(estate: Estate, network: Network | None, today: date) -> dict[str, TargetRef]:
    found: dict[str, TargetRef] = {}
    for indicator in {t.indicator for t in estate.cloud.targets}:
        chosen = current_target([t for t in estate.cloud.targets if t.indicator == indicator], today)
        if chosen is not None:
            found[indicator] = TargetRef(
                value=chosen.value, source=chosen.source, due=chosen.due, scope=chosen.scope
            )
    if network is not None:
        found["extranet_access_rate"] = TargetRef(
            value=network.access_target, source="estate: network.access_target"
        )
    return found


def _rate(hits: int, total: int) -> float | None:
    return round(hits / total, 6) if total else None


def on_cloud_rate(systems: Iterable[System]) -> float | None:
    eligible = [s for s in systems if not s.classified and s.status is not CloudStatus.EXEMPT]
    return _rate(sum(1 for s in eligible if s.status is CloudStatus.ON_CLOUD), len(eligible))


def crypto_rate(systems: Iterable[System]) -> float | None:
    due = [s for s in systems if s.level >= 3 or s.cii]
    return _rate(sum(1 for s in due if s.crypto_assessed), len(due))


def county_of(net: Network) -> dict[str, str]:
    """Each site's county site ('' for the city and province sites above every county)."""
    parents = {s.name: s.parent for s in net.sites}
    levels = {s.name: s.level for s in net.sites}
    found: dict[str, str] = {}

    def walk(name: str) -> str:
        if name not in found:
            parent = parents.get(name)
            if levels.get(name) is Level.COUNTY:
                found[name] = name
            else:
                found[name] = walk(parent) if parent else ""
        return found[name]

    for site in net.sites:
        walk(site.name)
    return found


@dataclass(frozen=True)
class Figures:
    """The readings, and the access sites below their bandwidth floor per (county, level)."""

    readings: list[Reading]
    below_floor: dict[tuple[str, str], int]


def compute(
    estate: Estate,
    *,
    network: Network | None = None,
    usage: UsageReport | None = None,
    targets: Mapping[str, TargetRef] | None = None,
    today: date | None = None,
) -> Figures:
    """Every indicator of the definitions, for the city and, where the scope says so, per county or
    department. `network` defaults to the estate's network section; `usage` to the estate's metering."""
    from cloud.usage import measure

    today = today or date.today()
    if network is None and estate.network is not None:
        network = Network.model_validate(estate.network)
    chosen = {
        **{d.id: d.target for d in definitions() if d.target is not None},
        **estate_targets(estate, network, today),
        **(targets or {}),
    }
    values: dict[tuple[str, str, str], float | None] = {}
    notes: dict[str, str] = {}
    # cloud figures: ask for every one (a probe target each), whatever targets the estate sets
    probe = estate.model_copy(update={"cloud": estate.cloud.model_copy(update={"targets": [
        Target(indicator=i, value=0, due="2000", source="probe") for i in CLOUD_FIGURES
    ]})})  # fmt: skip
    for figure in (usage or measure(probe)).indicators:
        values[(figure.indicator, "", "")] = figure.actual
    if estate.cloud.usage is None and usage is None:
        for name in CLOUD_FIGURES[1:]:
            notes[name] = "no metering figures (add cloud.usage to the estate)"
    systems = [s for t in estate.tenants for s in t.systems]
    values[("on_cloud_rate", "", "")] = on_cloud_rate(systems)
    values[("crypto_assessment_completion", "", "")] = crypto_rate(systems)
    for tenant in estate.tenants:
        values[("on_cloud_rate", "", tenant.name)] = on_cloud_rate(tenant.systems)
        if (rate := crypto_rate(tenant.systems)) is not None:
            values[("crypto_assessment_completion", "", tenant.name)] = rate
    below: dict[tuple[str, str], int] = {}
    if network is None:
        for name in ("extranet_access_rate", "bandwidth_floor_compliance", "ipv6_readiness"):
            notes[name] = "the estate has no network section"
    else:
        _network_figures(network, values, below)
    notes.setdefault("extranet_availability", "needs availability probes (not in the estate)")
    notes.setdefault("monthly_active_rate", "needs audit-log users and target users per system")
    notes.setdefault("djcp_completion", "needs 等保 assessment records (compliance module)")
    readings: list[Reading] = []
    for definition in definitions():
        target = chosen.get(definition.id)
        keys = sorted(k for k in values if k[0] == definition.id) or [(definition.id, "", "")]
        for _, county, department in keys:
            readings.append(
                Reading(
                    definition.id, definition.name, definition.unit, definition.source,
                    values.get((definition.id, county, department)),
                    target.value if target else None, target.source if target else None,
                    target.scope if target else "city", county, department, notes.get(definition.id, ""),
                )
            )  # fmt: skip
    return Figures(readings, below)


def _network_figures(
    net: Network, values: dict[tuple[str, str, str], float | None], below: dict[tuple[str, str], int]
) -> None:
    counties = county_of(net)
    levels = {s.name: s.level for s in net.sites}
    connected = sum(1 for u in net.budget_units if u.site is not None)
    values[("extranet_access_rate", "", "")] = _rate(connected, len(net.budget_units))
    for check_id, checks in (("bandwidth_floor_compliance", bandwidth(net)), ("ipv6_readiness", ipv6(net))):
        tally: dict[str, list[int]] = {"": [0, 0]}
        for check in checks:
            county = counties.get(check.subject, "")
            for key in {"", county}:
                hits = tally.setdefault(key, [0, 0])
                hits[0] += check.ok
                hits[1] += 1
            if check_id == "bandwidth_floor_compliance" and not check.ok:
                where = (county, str(levels[check.subject]))
                below[where] = below.get(where, 0) + 1
        for county, (ok, total) in tally.items():
            values[(check_id, county, "")] = _rate(ok, total)


# -- history (for the trend) -----------------------------------------------------------------------------


def read_history(path: Path) -> dict[str, float]:
    """The values of the last snapshot recorded in `path` (JSON Lines), by reading key."""
    if not path.exists():
        return {}
    last = b""
    with path.open("rb") as file:
        for line in file:
            if line.strip():
                last = line
    if not last:
        return {}
    values: dict[str, float] = orjson.loads(last)["values"]
    return values


def read_snapshots(path: Path) -> list[tuple[date, dict[str, float]]]:
    """Every snapshot recorded in `path`, oldest first: what monthly trends are drawn from."""
    if not path.exists():
        return []
    found: list[tuple[date, dict[str, float]]] = []
    with path.open("rb") as file:
        for line in file:
            if line.strip():
                snapshot = orjson.loads(line)
                found.append((date.fromisoformat(snapshot["at"]), snapshot["values"]))
    return sorted(found, key=lambda item: item[0])


def record_history(path: Path, readings: Iterable[Reading], at: date) -> None:
    values = {r.key: r.value for r in readings if r.value is not None}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as file:
        file.write(orjson.dumps({"at": at.isoformat(), "values": values}) + b"\n")


# -- Prometheus ------------------------------------------------------------------------------------------


class EstateFamilies(Protocol):
    """More gauges computed from the estate with the indicators, from a file watched for changes."""

    @property
    def path(self) -> Path: ...

    def __call__(self, estate: Estate) -> list[Metric]: ...


class IndicatorCollector(Collector):
    """`egovops_indicator_value` and `egovops_indicator_target` for an estate file, recomputed when the
    file (or the targets file) changes; labels are bounded by the estate: indicator, city, county and
    department.

    Computing 10,000 sites takes seconds. With `background=True` the computation (the first one and each
    after a change) runs in a child process and a scrape serves the families computed last, so /metrics
    answers at once and shows the indicators as soon as they are ready; otherwise the constructor
    computes them and a scrape after a change waits for the new figures."""

    def __init__(
        self,
        estate_path: Path,
        targets_path: Path | None = None,
        *,
        background: bool = False,
        extras: Sequence[EstateFamilies] = (),
    ) -> None:
        self.estate_path, self.targets_path = estate_path, targets_path or default_targets(estate_path)
        self.background, self.extras = background, tuple(extras)
        self._lock = threading.Lock()
        self._stamp: tuple[float, ...] = ()
        self._families: list[Metric] = []
        self._worker: threading.Thread | None = None
        self._tried: tuple[float, ...] = ()
        if background:
            self._start()
        else:
            self.refresh()

    def _mtimes(self) -> tuple[float, ...]:
        paths = [self.estate_path, *([self.targets_path] if self.targets_path else [])]
        return tuple(p.stat().st_mtime for p in [*paths, *(extra.path for extra in self.extras)])

    def refresh(self) -> None:
        """Recompute if a file changed since the last computation (EstateError if it became invalid)."""
        with self._lock:
            stamp = self._mtimes()
            if stamp == self._stamp:
                return
            self._families = compute_families(self.estate_path, self.targets_path, self.extras)
            self._stamp = stamp

    def _start(self) -> None:
        """Recompute in a child process, watched by a thread, unless one is at it or already tried these
        files. A process, not a thread: parsing and validating the estate holds the GIL for seconds at a
        time (LibYAML, pydantic-core), which would stall every scrape in this process meanwhile. A failed
        computation keeps the last good figures until a file changes again."""
        if self._worker is not None and self._worker.is_alive():
            return
        stamp = self._mtimes()
        if stamp == self._tried:
            return
        self._tried = stamp

        def run() -> None:
            with (
                suppress(OSError, EstateError, IndicatorError, BrokenProcessPool),
                ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool,
            ):
                found = pool.submit(compute_families, self.estate_path, self.targets_path, self.extras)
                self._families, self._stamp = found.result(), stamp

        self._worker = threading.Thread(target=run, name="egovops-indicators", daemon=True)
        self._worker.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a background computation to end; True once none is running."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
        return worker is None or not worker.is_alive()

    def collect(self) -> Iterator[Metric]:
        if self.background:
            with suppress(OSError):
                if self._mtimes() != self._stamp:
                    self._start()
        else:  # a file that became unreadable or invalid: keep serving the last good figures
            with suppress(OSError, EstateError, IndicatorError):
                self.refresh()
        yield from self._families


def compute_families(
    estate_path: Path, targets_path: Path | None, extras: Sequence[EstateFamilies] = ()
) -> list[Metric]:
    """The indicator families and the extras' for the files (picklable: it runs in a child process)."""
    estate, figures = load_figures(estate_path, targets_path)
    found = families(estate, figures)
    for extra in extras:
        found += extra(estate)
    return found


def read_estate(path: Path) -> tuple[Estate, Network | None]:
    """The estate and its network section. A valid file takes the fast path (LibYAML, one validation):
    the line-numbering reader costs minutes on 10,000 sites. Anything wrong goes through that reader,
    whose EstateError names the file, line, path and fix."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with suppress(OSError, yaml.YAMLError, ValidationError, AttributeError):
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
        estate = Estate.model_validate({k: v for k, v in data.items() if not str(k).startswith("x-")})
        network = Network.model_validate(estate.network) if estate.network is not None else None
        if network is None or {p.name for p in network.planes} <= {p.name for p in estate.planes}:
            return estate, network
    estate = load_estate(path)
    return estate, load_network(path) if estate.network is not None else None


TARGETS_FILE = "targets.yaml"
"""The city's targets file, found beside its estate (`stacks/<city>/targets.yaml`) unless one is named."""


def default_targets(estate_path: Path) -> Path | None:
    found = estate_path.with_name(TARGETS_FILE)
    return found if found.exists() else None


def load_figures(estate_path: Path, targets_path: Path | None = None) -> tuple[Estate, Figures]:
    estate, network = read_estate(estate_path)
    targets_path = targets_path or default_targets(estate_path)
    targets = load_targets(targets_path) if targets_path else None
    return estate, compute(estate, network=network, targets=targets)


def families(estate: Estate, figures: Figures) -> list[Metric]:
    labels = ["indicator", "city", "county", "department"]
    value = GaugeMetricFamily(
        "egovops_indicator_value", "An indicator of the plans, as measured.", labels=labels
    )
    target = GaugeMetricFamily(
        "egovops_indicator_target", "The indicator's target for this city.", labels=labels
    )
    for reading in figures.readings:
        where = [reading.id, estate.city, reading.county, reading.department]
        if reading.value is not None:
            value.add_metric(where, reading.value)
        if reading.target is not None and reading.target_scope == "city":
            target.add_metric(where, reading.target)
    below = GaugeMetricFamily(
        "egovops_network_sites_below_floor",
        "Access sites whose uplink is below their level's floor.",
        labels=["city", "county", "level"],
    )
    for (county, level), count in sorted(figures.below_floor.items()):
        below.add_metric([estate.city, county, level], count)
    return [value, target, below]
