"""What the cloud holds now: one snapshot read in a dozen list calls, matched against a plan.

Reading everything once (admin sees every project) instead of asking per resource keeps a no-change
re-apply to a handful of requests. `find` says which live object a planned resource is, given the ids of
what it refers to; a match is by name inside its project, or by content for resources without a name
(role assignments, RBAC policies, router interfaces, security-group rules).
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, cast

from openstack.connection import Connection
from openstack.identity.v3._proxy import Proxy as IdentityProxy
from openstack.network.v2.security_group_rule import SecurityGroupRule

from cloud.plan import CLOUD, Kind, Resource

RULE_FIELDS = ("direction", "ether_type", "protocol", "port_range_min", "port_range_max", "remote_ip_prefix")


def identity(conn: Connection) -> IdentityProxy:
    """Keystone v3: domains, and assignments scoped to projects, exist only there."""
    return cast(IdentityProxy, conn.identity)


class Live:
    """A snapshot of the estate's domain and of Neutron, as the admin sees them."""

    def __init__(self, conn: Connection, domain: str) -> None:
        self.admin_project = str(conn.current_project_id)
        self.domains = {d.name: d for d in identity(conn).domains(name=domain)}
        found = self.domains.get(domain)
        self.projects = list(identity(conn).projects(domain_id=found.id)) if found else []
        self.users = list(identity(conn).users(domain_id=found.id)) if found else []
        self.assignments = list(identity(conn).role_assignments()) if found else []
        self.roles = {r.name: r.id for r in identity(conn).roles()}
        self.has_compute = any(s.type == "compute" for s in identity(conn).services())
        net = conn.network
        self.quotas = {q.project_id: q for q in net.quotas()}
        self.quota_default = net.get_quota_default(self.admin_project)
        self.subnet_pools = list(net.subnet_pools())
        self.networks = list(net.networks())
        self.subnets = list(net.subnets())
        self.rbac_policies = list(net.rbac_policies(object_type="network", action="access_as_shared"))
        self.routers = list(net.routers())
        ports = list(net.ports())
        self.router_ports = [p for p in ports if p.device_owner == "network:router_interface"]
        self.host_ports = [p for p in ports if not (p.device_owner or "").startswith("network:")]
        self.security_groups = list(net.security_groups())
        # the groups carry their rules: listing rules apart costs ~20 ms per rule here
        self.rules = [
            SecurityGroupRule.existing(**rule)
            for g in self.security_groups
            for rule in g.security_group_rules or []
        ]

    def owner(self, resource: Resource, ids: dict[str, str]) -> str | None:
        if resource.tenant == CLOUD:
            return self.admin_project
        return ids.get(resource.refs.get("project_id", ""))

    def find(self, resource: Resource, ids: dict[str, str]) -> Any:
        """The live object this resource is, or None (also when what it refers to does not exist yet)."""
        refs = {field: ids.get(ref) for field, ref in resource.refs.items()}
        if any(v is None for f, v in refs.items() if f in _IDENTITY_REFS.get(resource.kind, ())):
            return None
        return _FINDERS[resource.kind](self, resource, refs)


def _named(items: list[Any], name: str, **attrs: Any) -> Any:
    for item in items:
        if item.name == name and all(getattr(item, k) == v for k, v in attrs.items()):
            return item
    return None


def _assignment(live: Live, r: Resource, refs: dict[str, Any]) -> Any:
    role = live.roles.get(r.props["role"])
    for a in live.assignments:
        project = (a.scope or {}).get("project", {}).get("id")
        if (
            (a.user or {}).get("id") == refs["user_id"]
            and project == refs["project_id"]
            and (a.role or {}).get("id") == role
        ):
            return a
    return None


def _network_quota(live: Live, r: Resource, refs: dict[str, Any]) -> Any:
    """A project's quota; one never set shows the defaults (and the project it belongs to)."""
    found = live.quotas.get(refs["project_id"])
    if found is not None:
        return found
    return SimpleNamespace(
        project_id=refs["project_id"],
        id=None,
        **{name: getattr(live.quota_default, name) for name in r.props},
    )


def _rbac(live: Live, r: Resource, refs: dict[str, Any]) -> Any:
    for policy in live.rbac_policies:
        if (
            policy.object_id == refs["object_id"]
            and policy.target_project_id == refs["target_project_id"]
            and policy.action == r.props["action"]
        ):
            return policy
    return None


def _interface(live: Live, r: Resource, refs: dict[str, Any]) -> Any:
    for port in live.router_ports:
        if port.device_id == refs["router_id"] and any(
            ip["subnet_id"] == refs["subnet_id"] for ip in port.fixed_ips
        ):
            return port
    return None


def _rule(live: Live, r: Resource, refs: dict[str, Any]) -> Any:
    for rule in live.rules:
        if rule.security_group_id == refs["security_group_id"] and all(
            getattr(rule, f) == r.props[f] for f in RULE_FIELDS
        ):
            return rule
    return None


def _in_project(items: Callable[[Live], list[Any]]) -> Callable[[Live, Resource, dict[str, Any]], Any]:
    def finder(live: Live, r: Resource, refs: dict[str, Any]) -> Any:
        owner = live.admin_project if r.tenant == CLOUD else refs["project_id"]
        return _named(items(live), r.name, project_id=owner)

    return finder


_FINDERS: dict[Kind, Callable[[Live, Resource, dict[str, Any]], Any]] = {
    Kind.DOMAIN: lambda live, r, refs: live.domains.get(r.name),
    Kind.PROJECT: lambda live, r, refs: _named(live.projects, r.name, domain_id=refs["domain_id"]),
    Kind.USER: lambda live, r, refs: _named(live.users, r.name, domain_id=refs["domain_id"]),
    Kind.ROLE_ASSIGNMENT: _assignment,
    Kind.NETWORK_QUOTA: _network_quota,
    Kind.COMPUTE_QUOTA: lambda live, r, refs: None,
    Kind.SUBNET_POOL: _in_project(lambda live: live.subnet_pools),
    Kind.NETWORK: _in_project(lambda live: live.networks),
    Kind.SUBNET: lambda live, r, refs: _named(live.subnets, r.name, network_id=refs["network_id"]),
    Kind.RBAC_POLICY: _rbac,
    Kind.ROUTER: _in_project(lambda live: live.routers),
    Kind.ROUTER_INTERFACE: _interface,
    Kind.SECURITY_GROUP: _in_project(lambda live: live.security_groups),
    Kind.SECURITY_GROUP_RULE: _rule,
}

_IDENTITY_REFS: dict[Kind, tuple[str, ...]] = {
    Kind.PROJECT: ("domain_id",),
    Kind.USER: ("domain_id",),
    Kind.ROLE_ASSIGNMENT: ("user_id", "project_id"),
    Kind.NETWORK_QUOTA: ("project_id",),
    Kind.COMPUTE_QUOTA: ("project_id",),
    Kind.NETWORK: ("project_id",),
    Kind.SUBNET: ("network_id",),
    Kind.RBAC_POLICY: ("object_id", "target_project_id"),
    Kind.ROUTER: ("project_id",),
    Kind.ROUTER_INTERFACE: ("router_id", "subnet_id"),
    Kind.SECURITY_GROUP: ("project_id",),
    Kind.SECURITY_GROUP_RULE: ("security_group_id",),
}
"""Refs that say *which* object a resource is; without their ids the resource cannot exist yet."""
