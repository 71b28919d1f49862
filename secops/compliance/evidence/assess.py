"""An assessment (测评) of one system from the estate: collect what each source can show, grade every
catalogue item, score it, and keep it beside the previous assessment of the same system."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from egovops.config import Settings
from secops.compliance.assessment import Assessment, CheckOutcome
from secops.compliance.evidence.grading import grade, load_grading
from secops.compliance.evidence.host import HostTarget
from secops.compliance.loader import load_catalogue
from secops.compliance.scoring import Outcome, Problem, high_risks, load_scoring_model, score

Progress = Callable[[str], None]


@dataclass
class Sources:
    """What to collect from: a host, device configurations (files or an estate's), the cloud (the estate's
    plan, or the live cloud `os_cloud` names in clouds.yaml), WAF configurations, the SOC."""

    host: HostTarget | None = None
    router_configs: list[Path] = field(default_factory=list)
    estate: Path | None = None
    cloud: bool = False
    os_cloud: str | None = None
    waf_configs: list[Path] = field(default_factory=list)
    settings: Settings | None = None
    tls: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class Graded:
    assessment: Assessment
    outcome: Outcome
    high_risks: list[Problem]


def collect(sources: Sources, at: datetime, progress: Progress) -> Iterator[CheckOutcome]:
    """Every source's check outcomes, one source after the other (each reports its progress)."""
    if sources.host is not None:
        from secops.compliance.evidence.host import collect_host, load_host_rules

        progress(f"host {sources.host.host}: check-mode playbook")
        yield from collect_host(sources.host, at, load_host_rules())
    if sources.router_configs or sources.estate is not None:
        from secops.compliance.evidence.network import (
            collect_network,
            device_from_file,
            estate_devices,
            estate_network,
            load_network_rules,
        )
        from secops.compliance.evidence.redundancy import judge_redundancy

        rules = load_network_rules()
        net = estate_network(sources.estate) if sources.estate is not None else None
        devices = [device_from_file(path, rules) for path in sources.router_configs]
        if net is not None and not sources.router_configs:
            devices = list(estate_devices(net))
        progress(f"network: {len(devices)} device configurations")
        yield from collect_network(devices, at, rules)
        if net is not None:
            yield judge_redundancy(net, devices, rules.redundancy, at)
    if sources.cloud and sources.estate is not None and sources.os_cloud:
        from egovops.estate import load_estate
        from secops.compliance.evidence.cloud_live import read_live_cloud

        progress(f"cloud {sources.os_cloud}: Keystone, Neutron, Nova and Glance as they are now")
        yield from read_live_cloud(load_estate(sources.estate), sources.os_cloud, at)
    elif sources.cloud and sources.estate is not None:
        from secops.compliance.evidence.cloud import collect_cloud

        progress("cloud: the estate's desired OpenStack state")
        yield from collect_cloud(sources.estate, at)
    if sources.waf_configs:
        from secops.compliance.evidence.waf import judge_waf_config

        progress(f"waf: {len(sources.waf_configs)} ModSecurity configurations")
        yield from (judge_waf_config(path, at) for path in sources.waf_configs)
    if sources.settings is not None:
        from secops.compliance.evidence.soc import collect_soc, load_soc_rules

        progress("soc: retention, event store, detection rules, audit trail")
        yield from collect_soc(sources.settings, at, load_soc_rules())
    if sources.tls or sources.settings is not None:
        from secops.compliance.evidence.crypto import collect_crypto, load_crypto_rules

        progress(f"crypto: {len(sources.tls)} TLS endpoints, SM3 audit chain, SM4 sealed secrets")
        yield from collect_crypto(sources.settings, sources.tls, at, load_crypto_rules())


def assess(system: str, level: int, sources: Sources, *, target: str,
           progress: Progress = lambda _: None) -> Graded:  # fmt: skip
    """Collect, grade and score one system at `level` (with the cloud extension when `sources.cloud`)."""
    catalogue = load_catalogue(level, cloud=sources.cloud)
    model = load_scoring_model()
    at = datetime.now(UTC)
    outcomes = list(collect(sources, at, progress))
    progress(f"grading {len(catalogue.items)} items")
    items = grade(catalogue, outcomes, model, load_grading(), at)
    assessment = Assessment(
        id=f"{at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}", system=system, level=level,
        cloud=sources.cloud, target=target, created_at=at, catalogue_versions=catalogue.versions,
        scoring_version=model.version, items=tuple(items),
    )  # fmt: skip
    results = assessment.results()
    return Graded(
        assessment=assessment,
        outcome=score(catalogue, results, assessment.problems(), model),
        high_risks=high_risks(catalogue, results, assessment.failed_checks(), model),
    )
