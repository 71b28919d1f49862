"""Safe pushes with netmiko, in parallel under a concurrency limit, commit-confirm style.

Per device: fetch the running configuration, diff it against the rendered one, and stop there in a dry
run. With commit: keep the running configuration as the snapshot, apply the commands, run the local
post-checks (every interface of the intent up). Once every device has had its turn, the routing
post-check waits for OSPF: each committed device must route every segment of its planes whose own
device is healthy. A device that fails a post-check gets the snapshot back (the diff from what is
running now to the snapshot, applied and confirmed empty); the others are saved (`write memory`).
Every device's outcome is appended to the audit trail with its diff.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from egovops.audit import AuditTrail
from network.diff import commands, unified
from network.estate import Network
from network.intent import AccessIntent, DeviceIntent, device_intent
from network.ipam import IpamPlan
from network.render import DIALECTS, VTYSH, Dialect, render_intent

if TYPE_CHECKING:
    from netmiko import BaseConnection as Session

_CLI_ERROR = re.compile(r"^% (Unknown command|Invalid|Incomplete|Ambiguous)|^(Error|% Error)", re.MULTILINE)
_IF_STATUS = re.compile(r"^(\S+)\s+(up|down)\b", re.MULTILINE)
_VLAN_ROW = re.compile(r"^(\d+)\s+\S+\s+\S+\s*(.*)$")


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    timeout: float = 20.0


def _vtysh_class() -> type[Session]:
    from netmiko.cisco.cisco_ios import CiscoIosSSH

    class VtyshSSH(CiscoIosSSH):
        """FRRouting's vtysh as the login shell: Cisco IOS's dialogue, but vtysh discards what is typed
        before its first prompt, so wait for the prompt before netmiko's first command."""

        def session_preparation(self) -> None:
            self._test_channel_read(pattern=r"[>#]")
            super().session_preparation()

        def save_config(
            self, cmd: str = "write memory", confirm: bool = False, confirm_response: str = ""
        ) -> str:
            """`write memory` has watchfrr ask every daemon to write: slow on a loaded machine."""
            return self._send_command_str(cmd, read_timeout=120)

    return VtyshSSH


def netmiko_session(intent: DeviceIntent, dialect: Dialect, creds: Credentials) -> Session:
    """A netmiko connection; a login that times out (a loaded device) is tried twice more."""
    from netmiko import ConnectHandler, NetmikoTimeoutException, ReadTimeout

    params: dict[str, Any] = {
        "host": str(intent.device.management), "port": intent.device.port, "username": creds.username,
        "password": creds.password, "timeout": creds.timeout, "conn_timeout": creds.timeout, "fast_cli": True,
    }  # fmt: skip
    attempts = 3
    for number in range(1, attempts + 1):
        try:
            if dialect.netmiko == VTYSH:
                return _vtysh_class()(**params)
            return ConnectHandler(device_type=dialect.netmiko, **params)
        except (NetmikoTimeoutException, ReadTimeout):
            if number == attempts:
                raise
            time.sleep(1.0)
    raise AssertionError("unreachable")


@dataclass
class DeviceResult:
    """One device's outcome, the shape every push result has (Nornir's Result: changed, diff, failed)."""

    device: str
    changed: bool = False
    failed: bool = False
    rolled_back: bool = False
    diff: str = ""
    commands: list[str] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "device": self.device, "changed": self.changed, "failed": self.failed,
            "rolled_back": self.rolled_back, "diff": self.diff, "commands": self.commands,
            "checks": self.checks, "error": self.error,
        }  # fmt: skip


@dataclass
class _Device:
    intent: DeviceIntent
    dialect: Dialect
    result: DeviceResult
    session: Session | None = None
    snapshot: str = ""


@dataclass(frozen=True)
class PushOptions:
    commit: bool = False
    workers: int = 8
    converge: float = 60.0
    """Seconds the routing post-check waits for OSPF."""
    actor: str = "egovops"


def _brief(exc: Exception) -> str:
    """The exception's type and first line (netmiko's messages go on with generic advice)."""
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    return f"{type(exc).__name__}: {first}"


def _apply(session: Session, lines: list[str]) -> None:
    output = session.send_config_set(lines, cmd_verify=False, exit_config_mode=True)
    problem = _CLI_ERROR.search(output)
    if problem:
        raise RuntimeError(f"the device refused a command: {output[problem.start() :].splitlines()[0]}")


def interfaces_up(session: Session, intent: DeviceIntent) -> list[dict[str, Any]]:
    """One check per intended interface: present and operationally up."""
    states = dict(_IF_STATUS.findall(str(session.send_command("show interface brief"))))
    return [{"check": "interface-up", "subject": i.name, "ok": states.get(i.name) == "up",
             "detail": f"status {states.get(i.name, 'absent')}"} for i in intent.interfaces]  # fmt: skip


def _short(interface: str) -> str:
    """IOS's abbreviation in `show vlan`: FastEthernet0/2 is Fa0/2, GigabitEthernet1/0/1 is Gi1/0/1."""
    return re.sub(r"^([A-Za-z]{2})[A-Za-z-]*", r"\1", interface)


def vlan_members(show_vlan_brief: str) -> dict[int, set[str]]:
    """`show vlan brief` as VLAN id to its ports (abbreviated); long port lists wrap onto indented lines."""
    members: dict[int, set[str]] = {}
    current: set[str] | None = None
    for line in show_vlan_brief.splitlines():
        row = _VLAN_ROW.match(line)
        if row:
            current = members.setdefault(int(row.group(1)), set())
            rest = row.group(2)
        elif current is not None and line.startswith(" ") and line.strip():
            rest = line
        else:
            current = None
            continue
        current.update(p.strip() for p in rest.split(",") if p.strip())
    return members


def access_in_place(session: Session, access: AccessIntent) -> list[dict[str, Any]]:
    """One check per VLAN (present) and per access port (a member of its plane's VLAN)."""
    members = vlan_members(str(session.send_command("show vlan brief")))
    checks = [{"check": "vlan-present", "subject": str(v.id), "ok": v.id in members,
               "detail": f"{v.name} {'present' if v.id in members else 'absent'}"}
              for v in access.vlans]  # fmt: skip
    for port in access.ports:
        if port.vlan is None:
            continue
        found = sorted(vid for vid, ports in members.items() if _short(port.interface) in ports)
        checks.append({"check": "port-in-vlan", "subject": port.interface, "ok": found == [port.vlan.id],
                       "detail": f"in VLAN {found or 'none'}, wanted {port.vlan.id}"})  # fmt: skip
    return checks


def post_checks(session: Session, intent: DeviceIntent) -> list[dict[str, Any]]:
    if intent.access is not None:
        return access_in_place(session, intent.access)
    return interfaces_up(session, intent)


def missing_routes(session: Session, wanted: list[str]) -> list[str]:
    table = str(session.send_command("show ip route")) + str(session.send_command("show ipv6 route"))
    return [prefix for prefix in wanted if not re.search(rf"\s{re.escape(prefix)}\s", table)]


class Pusher:
    def __init__(self, net: Network, plan: IpamPlan, creds: Credentials, options: PushOptions,
                 audit: AuditTrail | None = None) -> None:  # fmt: skip
        self.net, self.plan, self.creds, self.options = net, plan, creds, options
        self.audit = audit

    def run(self, names: list[str] | None = None) -> list[DeviceResult]:
        devices = [d for d in self.net.devices if names is None or d.name in names]
        work = [_Device(intent, DIALECTS[d.vendor], DeviceResult(d.name))
                for d in devices for intent in [device_intent(self.net, self.plan, d)]]  # fmt: skip
        with self._pool() as pool:
            list(pool.map(self._stage_apply, work))
            if self.options.commit:
                self._stage_routes(work, pool)
                list(pool.map(self._finish, work))
        for item in work:
            if item.session is not None:
                item.session.disconnect()
            self._record(item)
        return [item.result for item in work]

    @contextmanager
    def _pool(self) -> Iterator[ThreadPoolExecutor]:
        with ThreadPoolExecutor(max_workers=max(1, self.options.workers)) as pool:
            yield pool

    def _stage_apply(self, item: _Device) -> None:
        result = item.result
        try:
            item.session = netmiko_session(item.intent, item.dialect, self.creds)
            item.snapshot = str(item.session.send_command(item.dialect.show_running))
            desired = render_intent(item.intent)
            result.diff = unified(item.snapshot, desired, item.dialect, result.device)
            result.commands = commands(item.snapshot, desired, item.dialect)
            if not self.options.commit or not result.commands:
                return
            result.changed = True
            _apply(item.session, result.commands)
            result.checks = post_checks(item.session, item.intent)
            if not all(c["ok"] for c in result.checks):
                self._roll_back(item, "a post-check failed: " + next(c["detail"] for c in result.checks
                                                                    if not c["ok"]))  # fmt: skip
        except Exception as exc:  # one device's failure must not stop the others
            result.failed, result.error = True, _brief(exc)
            if result.changed and item.session is not None:
                self._roll_back(item, result.error)

    def _stage_routes(self, work: list[_Device], pool: ThreadPoolExecutor) -> None:
        healthy = {i.result.device for i in work if not i.result.failed}
        healthy |= {d.name for d in self.net.devices if d.name not in {i.result.device for i in work}}
        wanted: dict[str, list[str]] = {}
        for item in work:
            if item.result.failed or item.session is None or item.intent.access is not None:
                continue  # an access switch routes nothing
            planes = {p.plane.name for p in item.intent.planes}
            wanted[item.result.device] = [
                a.prefix
                for a in self.plan.allocations
                if a.role == "segment" and a.plane in planes and self._site_healthy(a.site, a.plane, healthy)
            ]
        deadline = time.monotonic() + self.options.converge
        pending = {i.result.device: i for i in work if i.result.device in wanted}
        missing: dict[str, list[str]] = {}
        while pending:
            found = dict(
                zip(
                    pending,
                    pool.map(
                        lambda it: missing_routes(it.session, wanted[it.result.device]), pending.values()
                    ),
                    strict=True,
                )
            )
            missing.update(found)
            pending = {n: i for n, i in pending.items() if found[n]}
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        for name, item in ((i.result.device, i) for i in work if i.result.device in wanted):
            lacking = missing.get(name, [])
            item.result.checks.append({"check": "routes-present", "subject": name, "ok": not lacking,
                                       "detail": f"missing {', '.join(lacking)}" if lacking else
                                       f"{len(wanted[name])} segments routed"})  # fmt: skip
            if lacking and item.result.changed:
                self._roll_back(item, f"routes missing after {self.options.converge:.0f} s")

    def _site_healthy(self, site: str, plane: str, healthy: set[str]) -> bool:
        owners = [d.name for d in self.net.devices if d.site == site
                  and plane in {p.name for p in self.net.device_planes(d)}]  # fmt: skip
        return any(o in healthy for o in owners)

    def _roll_back(self, item: _Device, reason: str) -> None:
        result = item.result
        result.failed = True
        result.error = result.error or reason
        assert item.session is not None
        try:
            now = str(item.session.send_command(item.dialect.show_running))
            back = commands(now, item.snapshot, item.dialect)
            if back:
                _apply(item.session, back)
            after = str(item.session.send_command(item.dialect.show_running))
            left = commands(after, item.snapshot, item.dialect)
            result.rolled_back = not left
            if left:
                result.error = f"{result.error}; rollback left {len(left)} differences: {left[:3]}"
        except Exception as exc:
            result.error = f"{result.error}; rollback failed: {_brief(exc)}"

    def _finish(self, item: _Device) -> None:
        """Save what passed its checks; a device that cannot save keeps running it and says so."""
        result = item.result
        if not result.changed or result.failed or item.session is None:
            return
        try:
            item.session.save_config()
        except Exception as exc:
            result.failed = True
            result.error = f"applied and checked, but not saved: {_brief(exc)}"

    def _record(self, item: _Device) -> None:
        if self.audit is None:
            return
        action = "net.push" if self.options.commit else "net.diff"
        detail = item.result.as_dict()
        self.audit.append(self.options.actor, action, f"device/{item.result.device}", detail)


def push(net: Network, plan: IpamPlan, creds: Credentials, options: PushOptions,
         audit: AuditTrail | None = None, names: list[str] | None = None) -> list[DeviceResult]:  # fmt: skip
    return Pusher(net, plan, creds, options, audit).run(names)
