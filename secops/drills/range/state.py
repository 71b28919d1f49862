"""What a running range is: written to `state.json` as each piece is made, read back by `Range.load`.

Everything `down` must undo is recorded here before or right after it is made, so a range can be taken
down after a failed `up`, from another process, or after egovops itself was killed.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from pydantic.dataclasses import dataclass

from secops.drills.range import procs


@dataclass(frozen=True)
class Sensor:
    """A log the range writes: `format` is the egovops source name, `path` a file or directory to follow."""

    name: str
    path: Path
    format: str


class HostState(BaseModel):
    namespace: str
    addresses: dict[str, list[str]] = Field(default_factory=dict)
    """Per segment: IPv4 then IPv6 address."""
    processes: dict[str, int] = Field(default_factory=dict)
    """Program name -> PID."""


class AuditState(BaseModel):
    pid: int | None = None
    enabled_before: int | None = None
    rules: list[str] = Field(default_factory=list)
    """Rules this range added, as given to `auditctl -a`; removed one by one (or all with -D) by down."""


class Range(BaseModel):
    root: Path
    prefix: str
    description: Path
    namespaces: list[str] = Field(default_factory=list)
    paths: list[Path] = Field(default_factory=list)
    """Files and directories outside `root` made for the range (/etc/netns/NS, /etc/frr/NS, ...)."""
    segments: dict[str, HostState] = Field(default_factory=dict)
    """Per segment: the namespace holding its bridge (and the capture on it)."""
    hosts: dict[str, HostState] = Field(default_factory=dict)
    local: dict[str, int] = Field(default_factory=dict)
    """Processes in the machine's own namespace (the auth-log shipper), name -> PID."""
    user: str = ""
    uid: int | None = None
    """The drill user's (on `ssh`)."""
    web_uid: int | None = None
    """The web service's: Apache's children, the app and any uploaded webshell run as it (on `web`)."""
    password: str = ""
    audit: AuditState = Field(default_factory=AuditState)
    sensor_list: list[Sensor] = Field(default_factory=list)
    web_port: int = 80

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def audit_key(self) -> str:
        """The `-k` key on every audit rule of this range: how its rules are told from anyone else's."""
        return self.prefix

    def save(self) -> None:
        self.state_file.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        self.state_file.chmod(0o600)

    @classmethod
    def load(cls, root: Path) -> Range:
        """The range whose work directory is `root`; RangeError when there is none."""
        try:
            text = (root / "state.json").read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise procs.RangeError(f"no range in {root} (no state.json; see `egovops range up`)") from exc
        return cls.model_validate_json(text)

    def address(self, host: str, family: int = 4) -> str:
        """The host's address (its first segment's, for the router) in IPv4 or IPv6."""
        addresses = next(iter(self.hosts[host].addresses.values()))
        return addresses[0 if family == 4 else 1]

    def run(self, host: str, argv: list[str], *, input: str | None = None,
            timeout: float = 30) -> subprocess.CompletedProcess[str]:  # fmt: skip
        """Run a command inside a host's namespace (drills run their actions from `attacker`)."""
        return subprocess.run(["ip", "netns", "exec", self.hosts[host].namespace, *argv], input=input,
                              capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip

    def sensors(self) -> list[Sensor]:
        return list(self.sensor_list)

    def credentials(self, host: str) -> tuple[str, str]:
        """The drill account's login on `host` (only `ssh` has one)."""
        if host != "ssh":
            raise KeyError(f"{host} has no drill account; only ssh has")
        return self.user, self.password

    def web_url(self, family: int = 4) -> str:
        address = self.address("web", family)
        host = address if family == 4 else f"[{address}]"
        return f"http://{host}:{self.web_port}/"

    def load_audit_rules(self, rules: list[str]) -> None:
        """Add a scenario's audit rules (`auditctl -a` arguments); each is tagged with this range's key
        and recorded, so `down` removes exactly these."""
        from secops.drills.range import audit

        for rule in rules:
            self.audit.rules.append(audit.add_rule(shlex.split(rule), self.audit_key))
            self.save()

    def status(self) -> dict[str, Any]:
        """Per host: namespace, addresses, and whether each of its processes is alive; then the sensors."""
        return {
            "root": str(self.root),
            "prefix": self.prefix,
            "hosts": {name: _host_status(host) for name, host in self.hosts.items()},
            "segments": {name: _host_status(seg) for name, seg in self.segments.items()},
            "local": _processes({**self.local, **({"auditd": self.audit.pid} if self.audit.pid else {})}),
            "sensors": [{"name": s.name, "path": str(s.path), "format": s.format} for s in self.sensor_list],
            "audit_rules": list(self.audit.rules),
            "web_url": self.web_url() if "web" in self.hosts else None,
        }


def _processes(pids: dict[str, int]) -> dict[str, dict[str, object]]:
    return {name: {"pid": pid, "alive": procs.alive(pid)} for name, pid in pids.items()}


def _host_status(host: HostState) -> dict[str, object]:
    return {"namespace": host.namespace, "addresses": host.addresses, "processes": _processes(host.processes)}
