"""`router-acl`: deny the incident's source address at the extranet's boundary router (from the estate).

What "the boundary router's ACL" is depends on the router:

- FRRouting has no packet filter of its own: its `access-list`s only filter routing updates, never
  forwarded traffic. On a Linux router running FRR the ACL is the kernel's, so the deny is an nftables
  rule in the `forward` chain of the router's network namespace — the `nft-deny` plan and playbook, with
  the namespace taken from the test bed (or set), and undo by the handle execution reported.
- Cisco IOS, Huawei VRP and H3C Comware: the deny is a numbered rule in the boundary ACL the templates
  already apply inbound on every interface of each isolated plane (`PLANE-NAME-IN`, `…6` for IPv6),
  numbered below the plane's own rules so it matches first. The dry run shows these lines and their
  undo; they are not pushed yet (no such device to prove a push against), so executing fails and says so.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from secops.response.action import ActionKind, Impact, Model, Plan, Target, choose_address
from secops.response.errors import ActionError, OptionsError
from secops.response.nft_deny import NftDeny, NftDenyParams, _namespace
from secops.response.registry import register

if TYPE_CHECKING:
    from network.estate import Network

FRR = "frr"
SECTION = "[response.kinds.router-acl]"

# (the ACL's block header, the deny rule, the rule's removal) per vendor and family; {acl} is the plane's
# boundary ACL, {seq} the rule number, {address} the source.
VENDOR_LINES: dict[tuple[str, int], tuple[str, str, str]] = {
    ("cisco_ios", 4): ("ip access-list extended {acl}", " {seq} deny ip host {address} any", " no {seq}"),
    ("cisco_ios", 6): (
        "ipv6 access-list {acl}6",
        " sequence {seq} deny ipv6 host {address} any",
        " no sequence {seq}",
    ),
    ("huawei_vrp", 4): (
        "acl name {acl} advance",
        " rule {seq} deny ip source {address} 0",
        " undo rule {seq}",
    ),
    ("huawei_vrp", 6): (
        "acl ipv6 name {acl}6 advance",
        " rule {seq} deny ipv6 source {address}/128",
        " undo rule {seq}",
    ),
    ("h3c_comware", 4): (
        "acl advanced name {acl}",
        " rule {seq} deny ip source {address} 0",
        " undo rule {seq}",
    ),
    ("h3c_comware", 6): (
        "acl ipv6 advanced name {acl}6",
        " rule {seq} deny ipv6 source {address}/128",
        " undo rule {seq}",
    ),
}
VENDOR_EXIT = {"cisco_ios": "exit", "huawei_vrp": "quit", "h3c_comware": "quit"}


class RouterAclOptions(Model):
    estate: Path = Field(description="the estate file whose `network:` section has the boundary router")
    device: str = Field(description="the boundary router: a device of the estate")
    testbed: Path | None = Field(None, description="a test bed's directory: where an FRR router runs")
    namespace: str | None = Field(None, description="an FRR router's network namespace (instead of testbed)")
    sequence: int = Field(
        1, ge=1, le=4, description="rule number in a vendor ACL (the plane's own rules are numbered from 5)"
    )

    _valid_namespace = field_validator("namespace")(_namespace)


class RouterAclParams(Model):
    address: str
    device: str
    vendor: str
    namespace: str | None
    """FRR: the router's network namespace, where the nftables rule goes."""
    acls: tuple[str, ...]
    """Vendor devices: the boundary ACLs the deny rule goes into."""
    sequence: int

    @property
    def nft(self) -> NftDenyParams:
        return NftDenyParams(address=self.address, namespace=self.namespace, chain="forward")

    def vendor_lines(self, undo: bool) -> tuple[str, ...]:
        family = ipaddress.ip_address(self.address).version
        header, rule, removal = VENDOR_LINES[(self.vendor, family)]
        block = (header, removal if undo else rule, VENDOR_EXIT[self.vendor])
        values = {"seq": self.sequence, "address": self.address}
        return tuple(line.format(acl=acl, **values) for acl in self.acls for line in block)


class RouterAcl(ActionKind[RouterAclParams, RouterAclOptions]):
    name = "router-acl"
    summary = (
        "Deny the incident's source address at the extranet's boundary router (FRR: nftables forward chain "
        "in its namespace; IOS/VRP/Comware: a rule in the plane's boundary ACL, shown by the dry run)."
    )
    impact = Impact.HIGH
    params_model = RouterAclParams
    options_model = RouterAclOptions
    _nft = NftDeny()

    def params(self, target: Target, options: RouterAclOptions, address: str | None) -> RouterAclParams:
        from egovops.estate import EstateError
        from network.estate import load_network

        chosen = choose_address(target, address)
        try:
            net = load_network(options.estate)
        except EstateError as exc:
            raise OptionsError(f"{SECTION} estate: {exc}") from exc
        known = [d.name for d in net.devices]
        if options.device not in known:
            raise OptionsError(
                f"{SECTION} device: {options.device!r} is not a device of {options.estate} "
                f"(its devices: {', '.join(known) or 'none'})"
            )
        device = net.device(options.device)
        namespace: str | None = None
        acls: tuple[str, ...] = ()
        if device.vendor == FRR:
            namespace = self._namespace(options)
        else:
            acls = self._acls(net, options.device, ipaddress.ip_address(chosen).version)
        return RouterAclParams(address=chosen, device=device.name, vendor=device.vendor.value,
                               namespace=namespace, acls=acls, sequence=options.sequence)  # fmt: skip

    @staticmethod
    def _namespace(options: RouterAclOptions) -> str:
        if options.namespace is not None:
            return options.namespace
        if options.testbed is None:
            raise OptionsError(
                f"{SECTION}: {options.device} is an FRRouting router; set testbed (the test bed's "
                "directory) or namespace (its network namespace) so the nftables rule can be placed"
            )
        from network.testbed import Range

        try:
            return Range.load(options.testbed).netns(options.device)
        except (OSError, ValueError, KeyError) as exc:
            raise OptionsError(
                f"{SECTION} testbed: no router {options.device} in the test bed at {options.testbed} "
                f"({type(exc).__name__}: {exc}); is it up (`egovops range status --dir DIR`)?"
            ) from exc

    @staticmethod
    def _acls(net: Network, device: str, family: int) -> tuple[str, ...]:
        from network.intent import device_intent
        from network.ipam import plan

        intent = device_intent(net, plan(net), net.device(device))
        acls = tuple(p.acl for p in intent.planes if (p.others_v4 if family == 4 else p.others_v6))
        if not acls:
            raise OptionsError(
                f"{SECTION} device: {device} has no boundary ACL (none of its planes is isolated from "
                "another); choose the router whose planes are isolated"
            )
        return acls

    def describe(self, params: RouterAclParams) -> str:
        where = f"nftables forward chain in namespace {params.namespace}" if params.vendor == FRR else (
            f"rule {params.sequence} of {', '.join(params.acls)}"
        )  # fmt: skip
        return f"{params.address} denied at boundary router {params.device} ({where})"

    def plan(self, params: RouterAclParams) -> Plan:
        if params.vendor == FRR:
            return self._nft.plan(params.nft).model_copy(update={"kind": self.name})
        return Plan(kind=self.name, step="execute", changes=params.vendor_lines(undo=False), playbook=None,
                    extravars={"device": params.device})  # fmt: skip

    def undo_plan(self, params: RouterAclParams, outputs: dict[str, Any]) -> Plan:
        if params.vendor == FRR:
            return self._nft.undo_plan(params.nft, outputs).model_copy(update={"kind": self.name})
        return Plan(kind=self.name, step="undo", changes=params.vendor_lines(undo=True), playbook=None,
                    extravars={"device": params.device})  # fmt: skip

    def run(self, plan: Plan) -> dict[str, Any]:
        if plan.playbook is None:
            raise ActionError(
                f"router-acl: {plan.extravars['device']} is not an FRRouting router, and pushing ACL rules "
                "to IOS/VRP/Comware is not implemented yet; apply the dry run's lines on the device by hand"
            )
        return super().run(plan)


register(RouterAcl())
