"""What a response action kind is: parameters taken from an incident, an impact level, and plans.

A plan is the dry run and the execution at once: the exact changes it makes, in words a reviewer can
check (the block-list line, the nft command), and the playbook with its variables that makes them.
`run(plan)` carries it out; the default runs the playbook through ansible-runner. Undo is a plan too,
built from the parameters and what execution reported (an nft rule handle).
"""

from __future__ import annotations

import ipaddress
from abc import ABC, abstractmethod
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from secops.incidents.schema import IncidentRow
from secops.response.errors import OptionsError, ResponseError
from secops.response.settings import ResponseSettings

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"
"""The repository's `playbooks/` directory."""


class Impact(StrEnum):
    LOW = "low"  # runs when requested
    HIGH = "high"  # runs once a second person approves


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(Model):
    """What an incident offers to act on: its entities."""

    incident: int
    addresses: tuple[str, ...]
    hosts: tuple[str, ...]
    users: tuple[str, ...]

    @classmethod
    def of(cls, incident: IncidentRow) -> Target:
        def values(kind: str) -> tuple[str, ...]:
            return tuple(sorted(e.value for e in incident.entities if e.kind == kind))

        return cls(incident=incident.id, addresses=values("ip"), hosts=values("host"), users=values("user"))


class Plan(Model):
    kind: str
    step: Literal["execute", "undo"]
    changes: tuple[str, ...]
    """Each change it makes, exactly: a file line added or removed, a command run."""
    playbook: Path | None
    extravars: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "step": self.step,
            "changes": list(self.changes),
            "playbook": str(self.playbook) if self.playbook else None,
            "vars": self.extravars,
        }


ParamsT = TypeVar("ParamsT", bound=BaseModel)
OptionsT = TypeVar("OptionsT", bound=BaseModel)


class ActionKind(ABC, Generic[ParamsT, OptionsT]):
    """One kind of action. Subclasses set the class attributes and build plans; the registry holds one
    instance of each."""

    name: ClassVar[str]
    summary: ClassVar[str]
    impact: ClassVar[Impact]
    contains: ClassVar[bool] = True
    """Executing it contains the incident: a 通报 (notified) incident moves on to 处置 (contained)."""
    params_model: type[ParamsT]
    options_model: type[OptionsT]

    def options(self, settings: ResponseSettings) -> OptionsT:
        """This kind's `[response.kinds.NAME]` options, validated."""
        try:
            return self.options_model.model_validate(settings.kinds.get(self.name, {}))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise OptionsError(f"[response.kinds.{self.name}] in egovops.toml: {problems}") from exc

    def load_params(self, stored: dict[str, Any]) -> ParamsT:
        return self.params_model.model_validate(stored)

    @abstractmethod
    def params(self, target: Target, options: OptionsT, address: str | None) -> ParamsT:
        """The parameters for acting on `target`; `address` picks one of several source addresses."""

    @abstractmethod
    def describe(self, params: ParamsT) -> str:
        """One line for the incident's notes: what is in force once it ran."""

    @abstractmethod
    def plan(self, params: ParamsT) -> Plan: ...

    @abstractmethod
    def undo_plan(self, params: ParamsT, outputs: dict[str, Any]) -> Plan: ...

    def run(self, plan: Plan) -> dict[str, Any]:
        """Make the plan's changes; returns what the run reported (a playbook's `set_stats` data)."""
        from secops.response.playbook import run_playbook

        return run_playbook(plan)


def choose_address(target: Target, wanted: str | None) -> str:
    """The incident's one source address, or the one `wanted` among several (only its own addresses)."""
    if wanted is not None:
        try:
            address = str(ipaddress.ip_address(wanted.strip()))
        except ValueError as exc:
            raise ResponseError(f"--address {wanted!r} is not an IP address") from exc
        if address not in target.addresses:
            raise ResponseError(
                f"{address} is not a source address of incident {target.incident} "
                f"(it has: {', '.join(target.addresses) or 'none'})"
            )
        return address
    if len(target.addresses) == 1:
        return str(ipaddress.ip_address(target.addresses[0]))
    if not target.addresses:
        raise ResponseError(f"incident {target.incident} has no source address to act on")
    raise ResponseError(
        f"incident {target.incident} has several source addresses ({', '.join(target.addresses)}); "
        "choose one with --address"
    )
