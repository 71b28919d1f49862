"""The estate: one declarative description of a city's slice of the digital-government estate.

Every module reads the same file (`stacks/<city>/estate.yaml`): the cloud planner turns its tenants into
OpenStack state, the network and monitoring modules add sites, links, devices and planes to it. The
models here are the shared kernel, so they hold only what the estate *is*, never how a module acts on it.

`load_estate` validates a file and raises `EstateError` whose lines name the file, the line, the path
inside the document, what is wrong and what to do — never a traceback.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

NAME = r"^[a-z][a-z0-9-]{0,39}$"
Name = Annotated[str, Field(pattern=NAME, description="lower-case letters, digits and -, 1-40 long")]


class EstateError(ValueError):
    """The estate file is wrong; each entry of `problems` is one `file:line: path: what (fix)` line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Level(StrEnum):
    """Administrative levels of the extranet (省/市/县/镇/村)."""

    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"
    TOWN = "town"
    VILLAGE = "village"


class AdminUnit(_Model):
    """An administrative unit; towns and villages may be given as counts until sites are listed."""

    name: str
    level: Level
    towns: int | None = Field(None, ge=0, description="镇街 count when not listed one by one")
    villages: int | None = Field(None, ge=0, description="村居 count when not listed one by one")
    units: list[AdminUnit] = Field(default_factory=list)

    def walk(self) -> Iterator[AdminUnit]:
        yield self
        for unit in self.units:
            yield from unit.walk()


class Pool(_Model):
    """A resource pool of the city's gov-cloud node (general, 信创 …) with its capacity."""

    name: Name
    vcpu: int = Field(ge=0)
    ram_gb: int = Field(ge=0)
    storage_tb: float = Field(ge=0)
    xinchuang: bool = Field(False, description="domestic (信创, 一云多芯) hardware")
    overcommit_vcpu: float = Field(1.0, gt=0, description="vCPU quota the pool may grant per core")


class Target(_Model):
    """An indicator target from a plan, kept as data (targets differ by city)."""

    indicator: Literal[
        "vcpu_used",
        "ram_used_gb",
        "storage_used_tb",
        "compute_scale_vcpu",
        "on_cloud_rate",
        "vcpu_utilisation",
        "ram_utilisation",
        "overall_utilisation",
    ]
    value: float = Field(ge=0)
    due: str = Field(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$", description="YYYY, YYYY-MM or YYYY-MM-DD")
    source: str = Field(description="the plan and clause it comes from")
    scope: Literal["city", "province"] = Field("city", description="province: the city only contributes")


class UsageFigures(_Model):
    """Actual use reported by the cloud's metering at a date (compute the API alone cannot see)."""

    at: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    vcpu_used: float = Field(0, ge=0)
    ram_used_gb: float = Field(0, ge=0)
    storage_used_tb: float = Field(0, ge=0)


class CloudNode(_Model):
    name: str
    platform_level: int = Field(3, ge=1, le=4, description="等保 level the cloud platform is graded at")
    pools: list[Pool] = Field(min_length=1)
    targets: list[Target] = Field(default_factory=list)
    usage: UsageFigures | None = None


class Ipv6Mode(StrEnum):
    """How hosts get IPv6 addresses; sets Neutron's ipv6_ra_mode and ipv6_address_mode together."""

    SLAAC = "slaac"
    DHCPV6_STATEFUL = "dhcpv6-stateful"
    DHCPV6_STATELESS = "dhcpv6-stateless"


class Plane(_Model):
    """A service plane of the extranet (一网多业务平面) with the prefixes tenants draw from."""

    name: Name
    title: str = ""
    ipv4: ipaddress.IPv4Network
    ipv6: ipaddress.IPv6Network
    shared: bool = Field(False, description="one network all tenants attach to (RBAC-shared)")
    ipv6_mode: Ipv6Mode = Ipv6Mode.SLAAC
    external: bool = Field(False, description="routers take their gateway on this plane")
    physical_network: str = Field("physnet1", description="provider network of the plane")
    segment: int | None = Field(None, ge=1, le=4094, description="VLAN id of the plane")


class Protocol(StrEnum):
    TCP = "tcp"
    UDP = "udp"
    ICMP = "icmp"


class Opening(_Model):
    """One allowed flow on top of the default-deny baseline."""

    protocol: Protocol
    ports: str | None = Field(None, pattern=r"^\d{1,5}(-\d{1,5})?$", description="22 or 8000-8080")
    remote: str = Field(description="a CIDR, or tenant:NAME for that tenant's networks")
    direction: Literal["ingress", "egress"] = "ingress"
    purpose: str = ""

    @property
    def port_range(self) -> tuple[int, int] | None:
        if self.ports is None:
            return None
        low, _, high = self.ports.partition("-")
        return int(low), int(high or low)

    @field_validator("remote")
    @classmethod
    def _remote(cls, value: str) -> str:
        if value.startswith("tenant:"):
            return value
        try:
            return str(ipaddress.ip_network(value, strict=True))
        except ValueError as exc:
            raise ValueError(
                f"{value!r} is neither a CIDR (10.0.0.0/8, 2001:db8::/32) nor tenant:NAME"
            ) from exc


class TenantNetwork(_Model):
    """A tenant network on a plane; both address families, as every tenant network has IPv6."""

    name: Name
    plane: Name
    ipv4: ipaddress.IPv4Network
    ipv6: ipaddress.IPv6Network | None = Field(None, description="omitted: prefix delegation from the pool")
    ipv6_mode: Ipv6Mode | None = Field(None, description="default: the plane's mode")
    shared_with: list[Name] = Field(default_factory=list, description="tenants allowed to attach")


class Quota(_Model):
    """Nova and Neutron quotas of a tenant project."""

    vcpu: int = Field(ge=0)
    ram_gb: int = Field(ge=0)
    storage_gb: int = Field(0, ge=0)
    instances: int = Field(10, ge=0)
    networks: int = Field(10, ge=0)
    subnets: int = Field(20, ge=0)
    ports: int = Field(100, ge=0)
    routers: int = Field(2, ge=0)
    floating_ips: int = Field(0, ge=0)
    security_groups: int = Field(10, ge=0)
    security_group_rules: int = Field(100, ge=0)


class Person(_Model):
    name: Name
    roles: list[Literal["admin", "member", "reader"]] = Field(min_length=1)
    email: str | None = None


class DrTier(StrEnum):
    LOCAL = "本地"
    SAME_CITY = "同城"
    REMOTE = "异地"


class CloudStatus(StrEnum):
    ON_CLOUD = "on-cloud"
    PLANNED = "planned"
    EXEMPT = "exempt"
    NOT_MIGRATED = "not-migrated"


class System(_Model):
    """An information system of a department: what 等保, 上云率 and 应迁尽迁 are computed over."""

    name: str
    classified: bool = Field(False, description="涉密: may never be placed on the gov cloud")
    level: int = Field(ge=1, le=4, description="等保 level")
    cii: bool = Field(False, description="关键信息基础设施")
    xinchuang: bool = False
    dr: DrTier = DrTier.LOCAL
    status: CloudStatus = CloudStatus.PLANNED
    wave: int | None = Field(None, ge=1, description="migration wave")
    crypto_assessed: bool = Field(False, description="密评 passed")


class Tenant(_Model):
    """A department (委办局) onboarded as a tenant of the cloud node."""

    name: Name
    title: str = Field(description="the department's name, e.g. 市政务服务数据管理局")
    level: Literal["city", "county"] = "city"
    pool: Name
    quota: Quota
    people: list[Person] = Field(default_factory=list)
    networks: list[TenantNetwork] = Field(default_factory=list)
    attach: list[Name] = Field(default_factory=list, description="shared planes the tenant joins (RBAC)")
    router: bool = True
    openings: list[Opening] = Field(default_factory=list)
    systems: list[System] = Field(default_factory=list)


class Estate(_Model):
    """The whole estate. The network and monitoring modules add sites, links and devices here."""

    version: Literal[1] = 1
    name: Name = Field(description="the stack's name; also the Keystone domain of its tenants")
    city: str
    province: str = "广东省"
    admin: AdminUnit
    cloud: CloudNode
    planes: list[Plane] = Field(default_factory=list)
    tenants: list[Tenant] = Field(default_factory=list)
    network: dict[str, Any] | None = Field(
        None, description="sites, links, devices: validated by the network module (network/estate.py)"
    )

    def tenant(self, name: str) -> Tenant:
        for tenant in self.tenants:
            if tenant.name == name:
                return tenant
        raise KeyError(name)

    def plane(self, name: str) -> Plane:
        for plane in self.planes:
            if plane.name == name:
                return plane
        raise KeyError(name)

    def pool(self, name: str) -> Pool:
        for pool in self.cloud.pools:
            if pool.name == name:
                return pool
        raise KeyError(name)

    @model_validator(mode="after")
    def _references(self) -> Estate:
        problems = list(_reference_problems(self))
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _duplicates(names: list[str]) -> set[str]:
    seen: set[str] = set()
    return {n for n in names if n in seen or seen.add(n)}  # type: ignore[func-returns-value]


def _reference_problems(estate: Estate) -> Iterator[str]:
    """Cross-references pydantic cannot see: names that must exist, prefixes that must nest."""
    for kind, names in (
        ("tenant", [t.name for t in estate.tenants]),
        ("plane", [p.name for p in estate.planes]),
        ("pool", [p.name for p in estate.cloud.pools]),
    ):
        for dup in sorted(_duplicates(names)):
            yield f"@{kind}s: {kind} {dup!r} is declared twice (rename one)"
    planes = {p.name: p for p in estate.planes}
    pools = {p.name for p in estate.cloud.pools}
    tenants = {t.name for t in estate.tenants}
    for ti, tenant in enumerate(estate.tenants):
        where = f"@tenants.{ti}"
        if tenant.pool not in pools:
            known = sorted(pools)
            yield f"{where}.pool: unknown pool {tenant.pool!r} (declare it under cloud.pools: {known})"
        for dup in sorted(_duplicates([n.name for n in tenant.networks])):
            yield f"{where}.networks: network {dup!r} is declared twice (rename one)"
        for ni, net in enumerate(tenant.networks):
            nwhere = f"{where}.networks.{ni}"
            plane = planes.get(net.plane)
            if plane is None:
                known = sorted(planes)
                yield f"{nwhere}.plane: unknown plane {net.plane!r} (declare it under planes: {known})"
                continue
            for family in ("ipv4", "ipv6"):
                prefix, room = getattr(net, family), getattr(plane, family)
                if prefix is not None and not prefix.subnet_of(room):
                    outside = f"{prefix} is outside plane {plane.name}'s {room}"
                    yield f"{nwhere}.{family}: {outside} (pick a prefix in it)"
            if plane.shared or plane.external:
                yield f"{nwhere}.plane: plane {plane.name} is shared or external (list it under attach)"
            for other in net.shared_with:
                if other not in tenants:
                    yield f"{nwhere}.shared_with: unknown tenant {other!r} (declare it under tenants)"
        for ai, plane_name in enumerate(tenant.attach):
            attached = planes.get(plane_name)
            if attached is None or not attached.shared:
                yield f"{where}.attach.{ai}: {plane_name!r} is not a shared plane (set shared: true on it)"
        for oi, opening in enumerate(tenant.openings):
            ref = opening.remote.removeprefix("tenant:")
            if opening.remote.startswith("tenant:") and ref not in tenants:
                yield f"{where}.openings.{oi}.remote: unknown tenant {ref!r} (declare it under tenants)"
    yield from _overlaps(estate)


def _overlaps(estate: Estate) -> Iterator[str]:
    seen: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]] = []
    for ti, tenant in enumerate(estate.tenants):
        for ni, net in enumerate(tenant.networks):
            for family in ("ipv4", "ipv6"):
                prefix = getattr(net, family)
                if prefix is None:
                    continue
                where = f"@tenants.{ti}.networks.{ni}.{family}"
                for other, other_where in seen:
                    if prefix.version == other.version and prefix.overlaps(other):
                        yield f"{where}: {prefix} overlaps {other} at {other_where[1:]} (give each its own)"
                seen.append((prefix, where))


# --- loading with line numbers ---------------------------------------------------------------------

_REF = re.compile(r"@([\w.]+)")


class _Scalars(yaml.constructor.SafeConstructor):
    """Builds plain values from composed nodes, as `yaml.safe_load` would, without re-serialising them."""


def located_data(
    node: yaml.Node, path: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int]
) -> Any:
    return _located(_Scalars(), node, path, lines)


def _located(
    build: _Scalars, node: yaml.Node, path: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int]
) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        build.flatten_mapping(node)  # `<<: *anchor` merges, as safe_load does
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(build.construct_object(key_node, deep=True))
            result[key] = _located(build, value_node, (*path, key), lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_located(build, item, (*path, i), lines) for i, item in enumerate(node.value)]
    return build.construct_object(node, deep=True)


def line_at(lines: dict[tuple[str | int, ...], int], loc: tuple[str | int, ...]) -> int:
    while loc and loc not in lines:
        loc = loc[:-1]
    return lines.get(loc, 1)


def _parse_loc(text: str) -> tuple[str | int, ...]:
    return tuple(int(p) if p.isdigit() else p for p in text.split("."))


def _compose(text: str) -> yaml.Node | None:
    """libyaml when present (ten times faster on big estates); on a syntax error the pure-Python reader
    runs again, since its message says what it expected and what it found."""
    try:
        return yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return yaml.compose(text, Loader=yaml.SafeLoader)


def read_located(text: str, source: str) -> tuple[Any, dict[tuple[str | int, ...], int]]:
    """Estate YAML as plain data, with the line of every path in it (None for an empty file)."""
    try:
        root = _compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise EstateError(
            [f"{source}:{line}: not valid YAML: {getattr(exc, 'problem', exc)} (fix the syntax)"]
        ) from exc
    lines: dict[tuple[str | int, ...], int] = {}
    return (located_data(root, (), lines) if root is not None else None), lines


def parse_estate(text: str, source: str = "<estate>") -> Estate:
    """Validate estate YAML text; `source` names the file in error messages."""
    data, lines = read_located(text, source)
    if data is None:
        raise EstateError([f"{source}:1: the file is empty (start from stacks/shanwei/estate.yaml)"])
    if isinstance(data, dict):  # x-* keys hold YAML anchors for reuse, as in compose files
        data = {k: v for k, v in data.items() if not k.startswith("x-")}
    try:
        return Estate.model_validate(data)
    except ValidationError as exc:
        raise EstateError(list(describe_errors(exc, source, lines))) from exc


def describe_errors(
    exc: ValidationError,
    source: str,
    lines: dict[tuple[str | int, ...], int],
    within: tuple[str, ...] = (),
    doc: str = "docs/estate.md",
) -> Iterator[str]:
    """One `file:line: path: what (fix)` line per problem; `within` is the section the model validated."""
    for error in exc.errors():
        loc = (*within, *error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "value_error" and _REF.search(message):
            # cross-reference problems carry their own paths: one line each
            for part in message.split("; "):
                match = _REF.match(part)
                sub = _parse_loc(match.group(1)) if match else loc
                text = part[match.end() + 2 :] if match else part
                yield f"{source}:{line_at(lines, sub)}: {'.'.join(map(str, sub))}: {text}"
            continue
        path = ".".join(map(str, loc)) or "(top)"
        yield f"{source}:{line_at(lines, loc)}: {path}: {message}{_hint(error, doc)}"


def _hint(error: Any, doc: str) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return f" (remove it or check its spelling against {doc})"
    if kind == "missing":
        return f" (add it; {doc} lists every field)"
    if kind == "string_pattern_mismatch":
        return " (names: lower-case letters, digits and -, starting with a letter)"
    return ""


def load_estate(path: Path) -> Estate:
    """Read and validate an estate file (EstateError names file, line, path, reason and fix)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EstateError([f"{path}: cannot read the estate file: {exc.strerror}"]) from exc
    return parse_estate(text, str(path))
