"""Action kinds a module plugs in (`[response] modules = ["tests.response.kinds"]`): a file of addresses,
changed in Python rather than by a playbook. `watch-list` is low impact, `file-block` high."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from secops.response.action import ActionKind, Impact, Model, Plan, Target, choose_address
from secops.response.errors import ActionError
from secops.response.registry import register


class ListOptions(Model):
    path: Path
    broken: bool = False
    """Make every run fail, as a playbook task failing would."""
    hang: float = 0
    """Seconds each run waits before changing the file, as a slow playbook would."""


class ListParams(Model):
    address: str
    path: Path
    broken: bool
    hang: float


class AddressFile(ActionKind[ListParams, ListOptions]):
    params_model = ListParams
    options_model = ListOptions

    def params(self, target: Target, options: ListOptions, address: str | None) -> ListParams:
        address = choose_address(target, address)
        return ListParams(address=address, path=options.path, broken=options.broken, hang=options.hang)

    def describe(self, params: ListParams) -> str:
        return f"{params.address} listed in {params.path}"

    def plan(self, params: ListParams) -> Plan:
        return self._plan(params, "execute")

    def undo_plan(self, params: ListParams, outputs: dict[str, Any]) -> Plan:
        return self._plan(params, "undo")

    def _plan(self, params: ListParams, step: str) -> Plan:
        edit = "add the line" if step == "execute" else "remove the line"
        return Plan(
            kind=self.name,
            step="execute" if step == "execute" else "undo",
            changes=(f"{params.path}: {edit} {params.address}",),
            playbook=None,
            extravars={**params.model_dump(mode="json"), "path": str(params.path)},
        )

    def run(self, plan: Plan) -> dict[str, Any]:
        if plan.extravars["broken"]:
            raise ActionError(f"{self.name}: {plan.extravars['path']} is not writable")
        time.sleep(plan.extravars["hang"])
        path, address = Path(plan.extravars["path"]), plan.extravars["address"]
        lines = path.read_text().splitlines() if path.exists() else []
        lines = [*lines, address] if plan.step == "execute" else [line for line in lines if line != address]
        path.write_text("".join(f"{line}\n" for line in lines))
        return {"lines": len(lines)}


class WatchList(AddressFile):
    name = "watch-list"
    summary = "Put the source address on a watch list."
    impact = Impact.LOW
    contains = False


class FileBlock(AddressFile):
    name = "file-block"
    summary = "Block the source address in a block file."
    impact = Impact.HIGH


register(WatchList())
register(FileBlock())
