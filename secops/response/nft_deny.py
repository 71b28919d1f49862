"""`nft-deny`: drop a source address on a Linux firewall with nftables, in a named network namespace.

The rule goes into the `inet egovops` table (created with its chain when missing), carries a comment
naming the address, and execution reports its handle; undo deletes the rule with that handle, after
checking it still carries that comment, so a rule added by hand is never removed.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from typing import Any, Literal

from pydantic import field_validator

from secops.response.action import PLAYBOOKS, ActionKind, Impact, Model, Plan, Target, choose_address
from secops.response.errors import ActionError
from secops.response.registry import register

TABLE = "egovops"
NAMESPACE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _namespace(value: str | None) -> str | None:
    if value is not None and not NAMESPACE_NAME.match(value):
        raise ValueError("a network namespace name is letters, digits, '_', '.', '-' (as `ip netns list`)")
    return value


class NftDenyOptions(Model):
    namespace: str | None = None
    """The firewall's network namespace (`ip netns`); none: this host's own."""
    chain: Literal["input", "forward"] = "input"
    """Traffic to the firewall itself, or through it."""

    _valid_namespace = field_validator("namespace")(_namespace)


class NftDenyParams(Model):
    address: str
    namespace: str | None
    chain: Literal["input", "forward"]

    _valid_namespace = field_validator("namespace")(_namespace)

    @property
    def family(self) -> str:
        return "ip" if ipaddress.ip_address(self.address).version == 4 else "ip6"

    @property
    def comment(self) -> str:
        return f"egovops deny {self.address}"

    @property
    def nft(self) -> list[str]:
        return ["ip", "netns", "exec", self.namespace, "nft"] if self.namespace else ["nft"]


class NftDeny(ActionKind[NftDenyParams, NftDenyOptions]):
    name = "nft-deny"
    summary = "Drop the incident's source address with an nftables rule (table inet egovops), in a namespace."
    impact = Impact.HIGH
    params_model = NftDenyParams
    options_model = NftDenyOptions

    def params(self, target: Target, options: NftDenyOptions, address: str | None) -> NftDenyParams:
        return NftDenyParams(
            address=choose_address(target, address), namespace=options.namespace, chain=options.chain
        )

    def describe(self, params: NftDenyParams) -> str:
        where = f"network namespace {params.namespace}" if params.namespace else "this host"
        return f"{params.address} dropped by nftables (inet {TABLE} {params.chain}) in {where}"

    def plan(self, params: NftDenyParams) -> Plan:
        nft = shlex.join(params.nft)
        chain = f"{{ type filter hook {params.chain} priority 0 ; policy accept ; }}"
        return Plan(
            kind=self.name,
            step="execute",
            changes=(
                f"{nft} add table inet {TABLE}",
                f"{nft} add chain inet {TABLE} {params.chain} '{chain}'",
                f"{nft} add rule inet {TABLE} {params.chain} {params.family} saddr {params.address} drop "
                f"comment '\"{params.comment}\"'",
            ),
            playbook=PLAYBOOKS / "nft-deny.yml",
            extravars={**self._vars(params), "state": "present"},
        )

    def undo_plan(self, params: NftDenyParams, outputs: dict[str, Any]) -> Plan:
        handle = outputs.get("handle")
        if not str(handle).isdigit():
            raise ActionError(f"nft-deny: execution reported no rule handle ({outputs}); delete it by hand")
        return Plan(
            kind=self.name,
            step="undo",
            changes=(
                f"{shlex.join(params.nft)} delete rule inet {TABLE} {params.chain} handle {handle} "
                f'(only if that rule carries the comment "{params.comment}")',
            ),
            playbook=PLAYBOOKS / "nft-deny.yml",
            extravars={**self._vars(params), "state": "absent", "handle": int(str(handle))},
        )

    def _vars(self, params: NftDenyParams) -> dict[str, Any]:
        return {
            "nft": params.nft,
            "table": TABLE,
            "chain": params.chain,
            "family": params.family,
            "address": params.address,
            "comment": params.comment,
        }


register(NftDeny())
