"""Network evidence: a device's running configuration parsed with ciscoconfparse2 (indentation gives the
sections: `line vty`, ACL bodies, interfaces), judged per vendor by `network_rules.yaml`.

Cisco IOS, Huawei VRP, H3C Comware and FRRouting differ only in the rules file: one parser, one judge.
Inputs are configuration files or the estate's rendered configurations (network.render).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ciscoconfparse2 import CiscoConfParse  # type: ignore[import-untyped]
from pydantic import Field

from secops.compliance.assessment import CheckOutcome, Evidence, EvidenceKind
from secops.compliance.evidence.conditions import Conditions, RuleSpec, Verdict, judge, pattern, read_rules
from secops.compliance.evidence.redundancy import RedundancyRules

if TYPE_CHECKING:
    from network.estate import Network

RULES = Path(__file__).with_name("network_rules.yaml")
Vendor = Literal["cisco_ios", "huawei_vrp", "h3c_comware", "frr"]
BOUNDARY = "net.acl.boundary"


class Block(Conditions):
    scope: str | None = None
    show: tuple[str, ...] = ()


class Detect(RuleSpec):
    vendor: Vendor
    detect: str


class AclSyntax(RuleSpec):
    applied: str
    header: str
    permit_any: str


class NetworkRules(RuleSpec):
    schema_: Literal[1] = Field(alias="schema")
    version: str
    vendors: tuple[Detect, ...]
    checks: dict[str, dict[Vendor, tuple[Block, ...]]]
    acls: dict[Vendor, AclSyntax]
    redundancy: RedundancyRules


class ConfigError(ValueError):
    """A configuration that cannot be read or whose vendor cannot be told."""


def load_network_rules(path: Path = RULES) -> NetworkRules:
    return read_rules(path, NetworkRules)


def detect_vendor(text: str, rules: NetworkRules) -> Vendor | None:
    return next((d.vendor for d in rules.vendors if pattern(d.detect).search(text)), None)


class DeviceConfig:
    """One device's configuration, parsed once."""

    def __init__(self, name: str, text: str, vendor: Vendor) -> None:
        self.name, self.text, self.vendor = name, text, vendor
        self.parsed = CiscoConfParse(text.splitlines(), syntax="ios", comment_delimiters=["!", "#"])

    def sections(self, scope: str) -> list[tuple[str, str]]:
        """(section line, its children's text) of every section whose line matches `scope`."""
        return [
            (obj.text, "\n".join(child.text for child in obj.all_children))
            for obj in self.parsed.find_objects(pattern(scope))
        ]


def _block(device: DeviceConfig, block: Block) -> Verdict:
    verdict = Verdict()
    if block.scope is None:
        verdict.add(judge(block, device.text))
    else:
        found = device.sections(block.scope)
        if not found:
            verdict.failures.append(f"no section matching /{block.scope}/")
        for line, children in found:
            part = judge(block, children, where=line.strip())
            part.excerpt = [line.strip(), *part.excerpt]
            verdict.add(part)
    verdict.excerpt.extend(m.group(0).strip() for s in block.show for m in pattern(s).finditer(device.text))
    return verdict


def boundary_acls(device: DeviceConfig, syntax: AclSyntax) -> Verdict:
    """Inbound ACLs on interfaces: at least one, each defined, none that only permits any to any."""
    verdict = Verdict()
    applied = {
        m.group("name"): f"{iface.text.strip()}: {m.group(0).strip()}"
        for iface in device.parsed.find_objects(r"^interface ")
        for child in iface.all_children
        if (m := pattern(syntax.applied).search(child.text))
    }
    defined = {
        m.group("name"): [child.text.strip() for child in obj.all_children]
        for obj in device.parsed.find_objects(pattern(syntax.header))
        if (m := pattern(syntax.header).search(obj.text))
    }
    if not applied:
        verdict.failures.append("no interface has an inbound ACL")
    for name, where in applied.items():
        verdict.excerpt.append(where)
        entries = defined.get(name)
        if entries is None:
            verdict.failures.append(f"ACL {name} is applied but not defined")
            continue
        verdict.excerpt.extend(f"  {name}: {entry}" for entry in entries)
        if all(pattern(syntax.permit_any).search(entry) for entry in entries):
            verdict.failures.append(f"ACL {name} permits any to any (no filtering)")
    return verdict


def judge_device(device: DeviceConfig, rules: NetworkRules, at: datetime) -> Iterator[CheckOutcome]:
    """One outcome per check that has rules for the device's vendor."""
    verdicts: dict[str, Verdict] = {}
    for check, per_vendor in rules.checks.items():
        blocks = per_vendor.get(device.vendor)
        if blocks is None:
            continue
        verdicts[check] = Verdict()
        for block in blocks:
            verdicts[check].add(_block(device, block))
    syntax = rules.acls.get(device.vendor)
    if syntax is not None:
        verdicts[BOUNDARY] = boundary_acls(device, syntax)
    for check, verdict in verdicts.items():
        content = "\n".join(verdict.excerpt) or "(no matching lines)"
        if verdict.failures:
            content += "\n-- not met:\n" + "\n".join(verdict.failures)
        source = f"{device.name} ({device.vendor})"
        yield CheckOutcome(
            check=check,
            passed=not verdict.failures,
            evidence=(Evidence(kind=EvidenceKind.CONFIG, source=source, content=content, collected_at=at),),
        )


def device_from_file(path: Path, rules: NetworkRules) -> DeviceConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc} (give a text file)") from exc
    vendor = detect_vendor(text, rules)
    if vendor is None:
        raise ConfigError(
            f"{path}: not recognisably Cisco IOS, Huawei VRP, H3C Comware or FRRouting syntax "
            "(give a running configuration)"
        )
    return DeviceConfig(path.name, text, vendor)


def estate_network(estate: Path) -> Network | None:
    """The estate's extranet, or None when it describes none (a cloud-only estate has no `network`)."""
    import yaml

    from network.estate import parse_network

    text = estate.read_text(encoding="utf-8")
    try:
        sections = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        sections = {"network": None}  # parse_network reports the error with its line
    return parse_network(text, str(estate)) if "network" in sections else None


def estate_devices(net: Network) -> Iterator[DeviceConfig]:
    """The estate's routers, as network.render writes their configurations (vendor from the estate)."""
    from network.estate import Role
    from network.ipam import plan
    from network.render import render_all

    configs = render_all(net, plan(net))
    for device in net.devices:
        if device.role is Role.ROUTER and device.name in configs:
            yield DeviceConfig(device.name, configs[device.name], device.vendor.value)


def collect_network(devices: Iterable[DeviceConfig], at: datetime, rules: NetworkRules) -> list[CheckOutcome]:
    return [outcome for device in devices for outcome in judge_device(device, rules, at)]
