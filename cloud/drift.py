"""Drift: what changed on the live cloud behind the plan's back, per resource and field, each with the
等保 2.0 item it weakens. It is the reconciler's dry run read as findings; re-converging is `apply`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from cloud.plan import Kind
from cloud.reconciler import Outcome, Report

ITEMS: dict[str, str] = {
    Kind.DOMAIN: "8.1.4.2 a)",
    Kind.PROJECT: "8.1.4.2 a)",
    Kind.USER: "8.1.4.2 a)",
    Kind.ROLE_ASSIGNMENT: "8.1.4.2 c)",
    Kind.NETWORK_QUOTA: "8.1.2.1 a)",
    Kind.COMPUTE_QUOTA: "8.1.2.1 a)",
    Kind.SUBNET_POOL: "8.1.2.1 c)",
    Kind.NETWORK: "8.2.2.1 b)",
    Kind.SUBNET: "8.1.2.1 c)",
    Kind.RBAC_POLICY: "8.2.2.1 b)",
    Kind.ROUTER: "8.1.3.1 a)",
    Kind.ROUTER_INTERFACE: "8.1.3.1 a)",
    Kind.SECURITY_GROUP: "8.2.3.1 a)",
    Kind.SECURITY_GROUP_RULE: "8.1.3.2 a)",
    "port": "8.2.3.1 a)",
}
"""GB/T 22239-2019 level-3 items: 8.1.4.2 accounts and least privilege, 8.1.2.1 capacity and addressing,
8.2.2.1 b) isolation between cloud customers, 8.1.3.1 a) controlled boundary interfaces, 8.1.3.2 a)
default deny between areas, 8.2.3.1 a) access control at the virtual network boundary."""


@dataclass(frozen=True)
class Drift:
    resource: str
    kind: str
    field: str
    expected: Any
    actual: Any
    item: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def drift_of(report: Report) -> list[Drift]:
    """Findings from a dry-run apply: missing resources, differing fields, objects added by hand."""
    found: list[Drift] = []
    for r in report.results:
        item = ITEMS.get(r.kind, "")
        if r.outcome is Outcome.CREATED:
            found.append(Drift(r.resource, r.kind, "exists", True, False, item))
        elif r.outcome in (Outcome.UPDATED, Outcome.DELETED):
            found.extend(
                Drift(r.resource, r.kind, name, expected, actual, item)
                for name, (expected, actual) in r.diff.items()
            )
    return found
