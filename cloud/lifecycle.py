"""A tenant's life on the cloud: 申请 (requested) → approved → 使用 (active) → 撤销 (revoked).

Requests are kept as an append-only JSON Lines file of transitions, so a request's whole history stays
readable after it is revoked. Approval takes a second person (nobody approves their own request), and a
tenant is provisioned only under an approved request and reclaimed only under an active one.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field


class State(StrEnum):
    REQUESTED = "requested"  # 申请
    APPROVED = "approved"
    REJECTED = "rejected"
    ACTIVE = "active"  # 使用
    REVOKED = "revoked"  # 撤销


NEXT: dict[State, set[State]] = {
    State.REQUESTED: {State.APPROVED, State.REJECTED},
    State.APPROVED: {State.ACTIVE, State.REVOKED},
    State.ACTIVE: {State.REVOKED},
    State.REJECTED: set(),
    State.REVOKED: set(),
}


class LifecycleError(ValueError):
    """A transition the lifecycle does not allow; the message says what is allowed."""


class Transition(BaseModel):
    model_config = ConfigDict(frozen=True)

    request: str
    state: State
    at: str
    actor: str
    note: str = ""
    detail: dict[str, Any] = Field(default_factory=dict)


class Request(BaseModel):
    id: str
    tenant: str
    estate: str
    state: State
    requested_by: str
    history: list[Transition]


class Lifecycle:
    """The requests in one file (created on first use)."""

    def __init__(self, path: Path, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.path = path
        self.clock = clock

    def requests(self) -> list[Request]:
        found: dict[str, Request] = {}
        for t in self._transitions():
            if t.state is State.REQUESTED:
                found[t.request] = Request(
                    id=t.request,
                    tenant=t.detail["tenant"],
                    estate=t.detail["estate"],
                    state=t.state,
                    requested_by=t.actor,
                    history=[t],
                )
            else:
                found[t.request].state = t.state
                found[t.request].history.append(t)
        return list(found.values())

    def get(self, request_id: str) -> Request:
        for request in self.requests():
            if request.id == request_id:
                return request
        raise LifecycleError(f"no request {request_id} (`egovops tenant requests` lists them)")

    def request(self, tenant: str, estate: str, actor: str, reason: str) -> Request:
        open_ones = [
            r
            for r in self.requests()
            if r.tenant == tenant and r.estate == estate and r.state not in (State.REJECTED, State.REVOKED)
        ]
        if open_ones:
            raise LifecycleError(
                f"tenant {tenant} already has request {open_ones[0].id} ({open_ones[0].state})"
            )
        request_id = f"REQ-{len(self.requests()) + 1:04d}"
        self._append(
            Transition(
                request=request_id,
                state=State.REQUESTED,
                at=self._now(),
                actor=actor,
                note=reason,
                detail={"tenant": tenant, "estate": estate},
            )
        )
        return self.get(request_id)

    def move(
        self, request_id: str, state: State, actor: str, note: str = "", detail: dict[str, Any] | None = None
    ) -> Request:
        """Record a transition, refusing what the lifecycle does not allow."""
        request = self.get(request_id)
        if state not in NEXT[request.state]:
            allowed = ", ".join(sorted(NEXT[request.state])) or "nothing (it is closed)"
            raise LifecycleError(f"{request_id} is {request.state}: it can move to {allowed}, not {state}")
        if state is State.APPROVED and actor == request.requested_by:
            raise LifecycleError(f"{actor} requested {request_id} and cannot approve it: another person must")
        self._append(
            Transition(
                request=request_id, state=state, at=self._now(), actor=actor, note=note, detail=detail or {}
            )
        )
        return self.get(request_id)

    def _now(self) -> str:
        return self.clock().isoformat(timespec="seconds")

    def _append(self, transition: Transition) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as file:
            fcntl.flock(file, fcntl.LOCK_EX)
            file.write(orjson.dumps(transition.model_dump(mode="json")) + b"\n")

    def _transitions(self) -> Iterator[Transition]:
        if not self.path.exists():
            return
        with self.path.open("rb") as file:
            for line in file:
                if line.strip():
                    yield Transition.model_validate_json(line)
