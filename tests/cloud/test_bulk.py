"""Bulk creates on the real Neutron: a bulk request that Neutron refuses is all or nothing, so the
reconciler retries its chunk one by one, creates the good resources and names the one that fails."""

from __future__ import annotations

from typing import Any

import pytest

from cloud.plan import CLOUD, Kind, Plan, Resource
from cloud.planner import key, rule_name
from cloud.reconciler import Outcome, Reconciler
from tests.components.openstack import OpenStackServers

NAME = "bulkfail"
pytestmark = pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning")


def rule(low: int, high: int) -> Resource:
    props: dict[str, Any] = {
        "direction": "ingress",
        "ether_type": "IPv4",
        "protocol": "tcp",
        "port_range_min": low,
        "port_range_max": high,
        "remote_ip_prefix": "10.0.0.0/8",
    }
    refs = {"security_group_id": key(Kind.SECURITY_GROUP, "bf", "bf-baseline"), "project_id": "project:bf/bf"}
    return Resource(Kind.SECURITY_GROUP_RULE, f"bf-baseline:{rule_name(props)}", "bf", props, refs)


def test_a_refused_bulk_request_is_retried_one_by_one(
    openstack_servers: OpenStackServers, admin: Any
) -> None:
    bad = rule(30, 20)  # Neutron: the range's minimum is above its maximum
    plan = Plan(
        NAME,
        [
            Resource(Kind.DOMAIN, NAME, CLOUD, {"description": "bulk test"}),
            Resource(
                Kind.PROJECT,
                "bf",
                "bf",
                {"description": "bf", "is_enabled": True},
                {"domain_id": f"domain:{CLOUD}/{NAME}"},
            ),
            Resource(
                Kind.SECURITY_GROUP,
                "bf-baseline",
                "bf",
                {"description": "bf"},
                {"project_id": "project:bf/bf"},
            ),
            rule(22, 22),
            bad,
            rule(443, 443),
        ],
        NAME,
    )
    changes: list[tuple[str, str]] = []
    reconciler = Reconciler(
        plan, openstack_servers.connect, audit=lambda a, target, d: changes.append((a, target))
    )
    try:
        report = reconciler.apply()
        outcomes = {r.resource: r for r in report.results}
        assert outcomes[bad.key].outcome is Outcome.FAILED
        assert "port_range_min" in (outcomes[bad.key].error or "")
        assert (report.count(Outcome.CREATED), report.failed) == (5, 1)
        group = admin.network.find_security_group(
            "bf-baseline",
            project_id=admin.identity.find_project("bf", domain_id=admin.identity.find_domain(NAME).id).id,
        )
        live = sorted(
            r.port_range_min for r in admin.network.security_group_rules(security_group_id=group.id)
        )
        assert live == [22, 443]  # and no egress rule: the group's defaults went after its bulk create
        assert [t for a, t in changes if a == "create"] == [r.key for r in plan.resources if r is not bad]
        again = reconciler.apply()
        assert (again.count(Outcome.CREATED), again.count(Outcome.UNCHANGED), again.failed) == (0, 5, 1)
    finally:
        reconciler.destroy(dry_run=False)
