"""/metrics: one registry with this process's counters, the state collectors and the estate's indicators.

`metrics_app(settings, …)` is the ASGI app `egovops serve` mounts at /metrics (behind its Bearer token)
and `egovops exporter` serves on its own. Each app has its own `CollectorRegistry`, so nothing is
registered globally and two apps (or two tests) never collide.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, make_asgi_app

from egovops.audit import AuditTrail
from monitors.metrics import CONTROL_PLANE, ControlPlaneMetrics
from monitors.state import AssessmentCollector, AuditCollector, CaseCollector, DrillCollector, StoreCollector

if TYPE_CHECKING:
    from egovops.config import Settings
    from secops.incidents.cases import CaseStore
    from secops.store import Store


def build_registry(
    settings: Settings,
    *,
    estate: Path | None = None,
    targets: Path | None = None,
    store: Store | None = None,
    cases: CaseStore | None = None,
    metering: Path | None = None,
    metrics: ControlPlaneMetrics = CONTROL_PLANE,
    background: bool = False,
) -> CollectorRegistry:
    """Everything /metrics shows; the store and case store are opened from `settings` unless given, the
    assessment store is the one `egovops compliance` uses (beside the event store), and the department
    figures come from `metering` (default: `metering.yaml` beside the estate, when there is one).
    Unless `background`, an invalid estate raises EstateError here, before anything is served; with it,
    the indicators are computed in a child process and /metrics answers meanwhile (monitors.indicators)."""
    from secops.compliance.store import AssessmentStore
    from secops.incidents.cases import cases_url_for, open_cases
    from secops.store import open_store

    registry = CollectorRegistry(auto_describe=False)
    if store is None:
        store = open_store(
            settings.store.url, spool_dir=settings.store.spool_dir, index_prefix=settings.store.index_prefix
        )
    if cases is None:
        cases = open_cases(store.url, settings=settings.incidents)
    metrics.set_silence(settings.ingest.silence)
    registry.register(metrics)
    registry.register(StoreCollector(store))
    registry.register(CaseCollector(cases))
    registry.register(AuditCollector(AuditTrail(settings.response.audit_log)))
    registry.register(AssessmentCollector(AssessmentStore(cases_url_for(store.url, settings.incidents))))
    registry.register(DrillCollector(settings.drills.history))
    if estate is not None:
        from monitors.departments import DepartmentFamilies, default_metering
        from monitors.indicators import IndicatorCollector

        metering = metering or default_metering(estate)
        extras = [DepartmentFamilies(metering)] if metering else []
        registry.register(IndicatorCollector(estate, targets, background=background, extras=extras))
    return registry


def metrics_app(
    settings: Settings,
    *,
    estate: Path | None = None,
    targets: Path | None = None,
    store: Store | None = None,
    cases: CaseStore | None = None,
    background: bool = False,
) -> Callable[..., Any]:
    """The /metrics ASGI app (Prometheus text format, gzip when asked); see `build_registry`."""
    return make_asgi_app(
        build_registry(
            settings, estate=estate, targets=targets, store=store, cases=cases, background=background
        )
    )


def serve_exporter(
    settings: Settings, host: str, port: int, *, estate: Path | None = None, targets: Path | None = None
) -> None:
    """Serve /metrics until interrupted (the standalone `egovops exporter`)."""
    import uvicorn

    app = metrics_app(settings, estate=estate, targets=targets)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, lifespan="off")
