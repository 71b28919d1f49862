"""The range description: segments, the router between them, the three hosts and the sensors, as YAML.

Validated with pydantic; every problem is reported as `file:line: path: what (fix)`, never a traceback.
Addresses may only come from the benchmarking range 198.18.0.0/15, 10.0.0.0/8 or IPv6 ULA fd00::/8, so a
drill can never aim at a real public address.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from egovops.estate import EstateError, describe_errors, read_located

SHIPPED = Path(__file__).with_name("range.yaml")
DOC = "docs/range.md"
PRIVATE_V4 = (ipaddress.IPv4Network("198.18.0.0/15"), ipaddress.IPv4Network("10.0.0.0/8"))
ULA = ipaddress.IPv6Network("fd00::/8")

SegmentName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9]{0,9}$")]
"""Short: the router's interface on a segment is named `r-SEGMENT` (Linux allows 15 characters)."""
HostNumber = Annotated[int, Field(ge=1, le=65000, description="the host's number inside each segment")]


class DescriptionError(ValueError):
    """The description is wrong; each entry of `problems` is one `file:line: path: what (fix)` line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Segment(_Model):
    ipv4: ipaddress.IPv4Network
    ipv6: ipaddress.IPv6Network

    @model_validator(mode="after")
    def _inside_the_range(self) -> Segment:
        if not any(self.ipv4.subnet_of(allowed) for allowed in PRIVATE_V4):
            raise ValueError(f"{self.ipv4} is outside 198.18.0.0/15 and 10.0.0.0/8 (use one of those)")
        if not self.ipv6.subnet_of(ULA):
            raise ValueError(f"{self.ipv6} is not IPv6 ULA (use a prefix inside fd00::/8)")
        return self


class Router(_Model):
    host: HostNumber = 1
    """Its number on every segment: it is every host's default gateway."""
    zebra: Path = Path("/usr/lib/frr/zebra")
    staticd: Path = Path("/usr/lib/frr/staticd")


class Host(_Model):
    segment: SegmentName
    host: HostNumber


class Web(Host):
    apache: Path = Path("/usr/sbin/apache2")
    modsecurity: Literal["DetectionOnly", "On"] = "DetectionOnly"
    """DetectionOnly lets an attack chain proceed and be detected; On blocks (CRS anomaly scoring)."""
    paranoia: int = Field(1, ge=1, le=4)


class Ssh(Host):
    sshd: Path = Path("/usr/sbin/sshd")
    user: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")] = "drill"
    password: Annotated[str, Field(min_length=8)]


class Capture(_Model):
    segment: SegmentName = "dmz"
    tshark: Path = Path("/usr/bin/tshark")
    rotate_seconds: int = Field(5, ge=1, le=3600)
    """A capture file is closed after this long, so egovops' follower ingests it soon after."""
    rotate_kilobytes: int = Field(10240, ge=64)


class Audit(_Model):
    auditd: Path = Path("/usr/sbin/auditd")
    enabled: bool = True


class Sensors(_Model):
    capture: Capture = Capture()
    audit: Audit = Audit()


class Description(_Model):
    segments: dict[SegmentName, Segment]
    router: Router = Router()
    attacker: Host
    web: Web
    ssh: Ssh
    sensors: Sensors = Sensors()

    @model_validator(mode="after")
    def _consistent(self) -> Description:
        problems: list[str] = []
        used: dict[tuple[str, int], str] = {}
        for name, host in self.hosts().items():
            if host.segment not in self.segments:
                problems.append(f"@{name}.segment: no segment {host.segment!r} (add it under segments)")
                continue
            if host.host == self.router.host:
                problems.append(f"@{name}.host: {host.host} is the router's address on {host.segment}")
            if (clash := used.setdefault((host.segment, host.host), name)) != name:
                problems.append(f"@{name}.host: {host.host} on {host.segment} is also {clash}'s address")
            for net in (self.segments[host.segment].ipv4, self.segments[host.segment].ipv6):
                if host.host >= net.num_addresses - 1:
                    problems.append(f"@{name}.host: {host.host} does not fit in {net}")
        if self.sensors.capture.segment not in self.segments:
            problems.append(f"@sensors.capture.segment: no segment {self.sensors.capture.segment!r}")
        nets = [(n, net) for n, s in self.segments.items() for net in (s.ipv4, s.ipv6)]
        for i, (a, first) in enumerate(nets):
            for b, second in nets[i + 1 :]:
                if a != b and first.version == second.version and first.overlaps(second):
                    problems.append(f"@segments.{b}: {second} overlaps {a}'s {first} (give each its own)")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def hosts(self) -> dict[str, Host]:
        return {"attacker": self.attacker, "web": self.web, "ssh": self.ssh}

    def address(self, segment: str, host: int, family: int) -> str:
        net = self.segments[segment].ipv4 if family == 4 else self.segments[segment].ipv6
        return str(net[host])

    def prefixlen(self, segment: str, family: int) -> int:
        s = self.segments[segment]
        return s.ipv4.prefixlen if family == 4 else s.ipv6.prefixlen


def load_description(path: Path) -> Description:
    """Read and validate a description file; DescriptionError lists every problem with its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DescriptionError([f"{path}: cannot read: {exc.strerror} (give an existing file)"]) from exc
    try:
        data, lines = read_located(text, str(path))
    except EstateError as exc:
        raise DescriptionError(exc.problems) from exc
    if data is None:
        raise DescriptionError([f"{path}:1: the file is empty (start from {SHIPPED})"])
    try:
        return Description.model_validate(data)
    except ValidationError as exc:
        raise DescriptionError(list(describe_errors(exc, str(path), lines, doc=DOC))) from exc
