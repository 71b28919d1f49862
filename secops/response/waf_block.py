"""`waf-block`: deny a source address at the WAF.

ModSecurity reads the block list with `@ipMatchFromFile` in a phase-1 deny rule (docs/response.md has
the rule); the list is read when Apache loads its configuration, so each change is followed by a
graceful reload (requests in flight finish). Undo removes the line and reloads again.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from secops.response.action import PLAYBOOKS, ActionKind, Impact, Model, Plan, Target, choose_address
from secops.response.registry import register


class WafBlockOptions(Model):
    blocklist: Path = Path("/etc/modsecurity/egovops-blocklist.txt")
    reload: tuple[str, ...] = ("apache2ctl", "-k", "graceful")


class WafBlockParams(Model):
    address: str
    blocklist: Path
    reload: tuple[str, ...]


class WafBlock(ActionKind[WafBlockParams, WafBlockOptions]):
    name = "waf-block"
    summary = "Block the incident's source address at the WAF (ModSecurity block list, Apache reload)."
    impact = Impact.HIGH
    params_model = WafBlockParams
    options_model = WafBlockOptions

    def params(self, target: Target, options: WafBlockOptions, address: str | None) -> WafBlockParams:
        return WafBlockParams(
            address=choose_address(target, address), blocklist=options.blocklist, reload=options.reload
        )

    def describe(self, params: WafBlockParams) -> str:
        return f"{params.address} blocked at the WAF (block list {params.blocklist})"

    def plan(self, params: WafBlockParams) -> Plan:
        return self._plan(params, "present")

    def undo_plan(self, params: WafBlockParams, outputs: dict[str, Any]) -> Plan:
        return self._plan(params, "absent")

    def _plan(self, params: WafBlockParams, state: str) -> Plan:
        edit = "add the line" if state == "present" else "remove the line"
        return Plan(
            kind=self.name,
            step="execute" if state == "present" else "undo",
            changes=(
                f"{params.blocklist}: {edit} {params.address}",
                f"if the file changed, reload Apache: {shlex.join(params.reload)}",
            ),
            playbook=PLAYBOOKS / "waf-block.yml",
            extravars={
                "address": params.address,
                "blocklist": str(params.blocklist),
                "reload": list(params.reload),
                "state": state,
            },
        )


register(WafBlock())
