"""What the cloud holds now: one snapshot of the estate's part of the cloud, matched against a plan.

Reading once instead of asking per resource keeps a no-change re-apply to a handful of requests, and
reading only the estate's part keeps it fast on a busy cloud: Keystone gives the estate's domain and its
projects, then every Neutron collection is listed once, filtered server side to those projects and the
admin project (which owns the shared planes), all lists at the same time. Neutron's objects are kept as
`Record`s straight from the JSON, under openstacksdk's attribute names: building openstacksdk resources
costs ~3 ms each here, and 20 tenants are ~700 objects. Keystone's lists and Neutron's quotas are read
the same way: openstacksdk's listing looks up its service-type aliases (a deep copy of their table) for
every request, most of a no-change run's CPU once the lists were plain. `find` says which live object a
planned resource is, given the ids of what it refers to; a match is by name inside its project, or by
content for resources without a name (role assignments, RBAC policies, router interfaces, rules).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

from openstack import fields, resource
from openstack.identity.v3.domain import Domain
from openstack.identity.v3.project import Project
from openstack.identity.v3.role import Role
from openstack.identity.v3.role_assignment import RoleAssignment
from openstack.identity.v3.service import Service
from openstack.identity.v3.user import User
from openstack.network.v2.network import Network
from openstack.network.v2.port import Port
from openstack.network.v2.quota import Quota
from openstack.network.v2.rbac_policy import RBACPolicy
from openstack.network.v2.router import Router
from openstack.network.v2.security_group import SecurityGroup
from openstack.network.v2.security_group_rule import SecurityGroupRule
from openstack.network.v2.subnet import Subnet
from openstack.network.v2.subnet_pool import SubnetPool

from cloud.compute_quota import read_compute_quota
from cloud.plan import CLOUD, Kind, Resource
from cloud.sdk import Reader

if TYPE_CHECKING:
    from openstack.connection import Connection
    from openstack.identity.v3._proxy import Proxy as IdentityProxy

RULE_FIELDS = ("direction", "ether_type", "protocol", "port_range_min", "port_range_max", "remote_ip_prefix")
_READS = 12
"""Lists of a snapshot, all in flight at once."""
PROJECTS_PER_QUERY = 40
"""Project ids per filtered list request: keeps the query string short on estates with many tenants."""


def identity(conn: Connection) -> IdentityProxy:
    """Keystone v3: domains, and assignments scoped to projects, exist only there."""
    return cast("IdentityProxy", conn.identity)


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), PROJECTS_PER_QUERY):
        yield ids[start : start + PROJECTS_PER_QUERY]


class Record(SimpleNamespace):
    """A live Keystone or Neutron object: the API's fields under openstacksdk's attribute names
    (`ether_type`, `security_group_ids`, `is_shared`, `is_enabled` ...); the actions pass its `id` to
    openstacksdk."""

    id: str


def _names(kind: type[resource.Resource]) -> dict[str, tuple[str, Callable[[Any], Any] | None]]:
    """The API's field name -> openstacksdk's attribute name and, for numbers and flags, their type (the
    API may send "64" where openstacksdk gives 64)."""
    return {
        component.name: (attr, _SCALARS.get(component.type))
        for attr, component in kind._attributes_iterator(components=fields.Body)
    }


def _flag(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in ("true", "1")


_SCALARS: dict[Any, Callable[[Any], Any]] = {int: int, bool: _flag}


def record(kind: type[resource.Resource], body: dict[str, Any]) -> Record:
    names = _MAPPINGS[kind]
    attrs: dict[str, Any] = {}
    for key, value in body.items():
        attr, cast_ = names.get(key, (key, None))
        attrs[attr] = cast_(value) if cast_ is not None and value is not None else value
    return Record(**attrs)


def list_records(reader: Reader, kind: type[resource.Resource], **query: Any) -> list[Record]:
    """Every object of `kind` matching `query` (filtered by the service), following pagination links."""
    service = "identity" if kind in _KEYSTONE else "network"
    found: list[Record] = []
    url: str | None = kind.base_path
    params: dict[str, Any] | None = query
    while url:
        data = reader.get(service, url, params).json()
        key = str(kind.resources_key)
        found += [record(kind, body) for body in data[key]]
        url = _next_page(data, key)
        params = None  # the next link carries the query
    return found


def _next_page(data: dict[str, Any], key: str) -> str | None:
    """Neutron's `<key>_links` or Keystone's `links`."""
    if isinstance(data.get("links"), dict):
        return cast(str | None, data["links"].get("next"))
    return next((link["href"] for link in data.get(f"{key}_links", []) if link["rel"] == "next"), None)


def get_record(reader: Reader, kind: type[resource.Resource], path: str) -> Record:
    """One Neutron object at `path` (openstacksdk's names, as `record`)."""
    return record(kind, reader.get("network", path).json()[kind.resource_key])


_KEYSTONE = (Domain, Project, User, RoleAssignment, Role, Service)
_MAPPINGS: dict[type[resource.Resource], dict[str, tuple[str, Callable[[Any], Any] | None]]] = {
    kind: _names(kind)
    for kind in (
        *_KEYSTONE,
        Network,
        Port,
        Quota,
        RBACPolicy,
        Router,
        SecurityGroup,
        SecurityGroupRule,
        Subnet,
        SubnetPool,
    )
}


class Live:
    """A snapshot of the estate's domain and of its projects' Neutron resources, as the admin sees them."""

    def __init__(self, reader: Reader, domain: str) -> None:
        self._reader = reader
        self.admin_project = reader.project_id
        with ThreadPoolExecutor(_READS) as pool:
            read = self._read(pool, domain)

        self.users: list[Record] = read["users"]
        self.assignments: list[Record] = read["assignments"]
        self.roles: dict[str, str] = read["roles"]
        self.has_compute = "compute" in read["services"]
        self.quotas: dict[str, Record] = {q.project_id: q for q in read["quotas"]}
        self.subnet_pools: list[Record] = read["subnet_pools"]
        self.networks: list[Record] = read["networks"]
        self.subnets: list[Record] = read["subnets"]
        self.rbac_policies: list[Record] = read["rbac_policies"]
        self.routers: list[Record] = read["routers"]
        ports: list[Record] = read["ports"]
        self.router_ports = [p for p in ports if p.device_owner == "network:router_interface"]
        self.host_ports = [p for p in ports if not (p.device_owner or "").startswith("network:")]
        self.security_groups: list[Record] = read["security_groups"]
        # the groups carry their rules: listing rules apart costs ~20 ms per rule here
        self.rules = [
            record(SecurityGroupRule, rule)
            for g in self.security_groups
            for rule in g.security_group_rules or []
        ]

    def _read(self, pool: ThreadPoolExecutor, domain: str) -> dict[str, Any]:
        """Every list of the snapshot by name, finding the domain and its projects on the way.

        Neutron has Keystone validate the token on its first request, so that request (the quotas, which
        need no project ids) goes first, while Keystone finds the domain and its projects: Neutron's lists
        then do not queue behind Keystone's. Both answer side by side; one session serves every thread.
        """
        reader = self._reader
        started = {"quotas": pool.submit(list_records, reader, Quota)}
        self.domains = {d.name: d for d in list_records(reader, Domain, name=domain)}
        found = self.domains.get(domain)
        self.projects = list_records(reader, Project, domain_id=found.id) if found else []
        owners = sorted({self.admin_project, *(p.id for p in self.projects)})

        def owned(kind: type[resource.Resource], **query: Any) -> Callable[[], list[Record]]:
            return lambda: [
                item
                for ids in _chunks(owners)
                for item in list_records(reader, kind, project_id=ids, **query)
            ]

        reads: dict[str, Callable[[], Any]] = {
            "users": lambda: list_records(reader, User, domain_id=found.id) if found else [],
            "assignments": lambda: list_records(reader, RoleAssignment) if found else [],
            "roles": lambda: {r.name: r.id for r in list_records(reader, Role)},
            "services": lambda: [s.type for s in list_records(reader, Service)],
            "subnet_pools": owned(SubnetPool),
            "networks": owned(Network),
            "subnets": owned(Subnet),
            "rbac_policies": owned(RBACPolicy, object_type="network", action="access_as_shared"),
            "routers": owned(Router),
            "ports": owned(Port),
            "security_groups": owned(SecurityGroup),
        }
        started.update({name: pool.submit(fetch) for name, fetch in reads.items()})
        return {name: future.result() for name, future in started.items()}

    @cached_property
    def quota_default(self) -> Record:
        """Neutron's quotas for a project that has none set (asked for only then: a first apply)."""
        return get_record(self._reader, Quota, f"/quotas/{self.admin_project}/default")

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


def _compute_quota(live: Live, r: Resource, refs: dict[str, Any]) -> Any:
    """A project's Nova limits (always answered, defaults filled in); nothing to find without Nova."""
    if not live.has_compute:
        return None
    return read_compute_quota(live._reader, refs["project_id"], r.props)


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
    Kind.COMPUTE_QUOTA: _compute_quota,
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
