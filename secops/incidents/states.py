"""The incident lifecycle as data: 发现 → 通报 → 处置 → 溯源 → 打击, or closed as 误报 / 无害 at any point.

States are stored by their English names; people see the Chinese labels and may type either.
"""

from __future__ import annotations

from enum import StrEnum

from secops.incidents.errors import CaseError


class State(StrEnum):
    NEW = "new"
    NOTIFIED = "notified"
    CONTAINED = "contained"
    TRACED = "traced"
    CLOSED = "closed"
    FALSE_POSITIVE = "false_positive"
    BENIGN = "benign"

    @property
    def zh(self) -> str:
        return LABELS_ZH[self]

    @property
    def is_open(self) -> bool:
        return self not in TERMINAL


LABELS_ZH = {
    State.NEW: "发现",
    State.NOTIFIED: "通报",
    State.CONTAINED: "处置",
    State.TRACED: "溯源",
    State.CLOSED: "打击",
    State.FALSE_POSITIVE: "误报",
    State.BENIGN: "无害",
}
PATH = (State.NEW, State.NOTIFIED, State.CONTAINED, State.TRACED, State.CLOSED)
"""The main path; each step leads only to the next one."""
DISMISSALS = (State.FALSE_POSITIVE, State.BENIGN)
TERMINAL = frozenset({State.CLOSED, *DISMISSALS})
NEEDS_REASON = TERMINAL
"""打击 records the action taken; a dismissal records why the alerts were not an attack."""
OPEN_STATES = tuple(s for s in State if s not in TERMINAL)


def parse_state(text: str) -> State:
    """A state from its English name or Chinese label."""
    value = text.strip()
    for state in State:
        if value in (state.value, state.zh):
            return state
    names = ", ".join(f"{s.value} ({s.zh})" for s in State)
    raise CaseError(f"{text!r} is not an incident state; use one of {names}")


def next_states(current: State) -> tuple[State, ...]:
    if current in TERMINAL:
        return ()
    return (PATH[PATH.index(current) + 1], *DISMISSALS)


def check_transition(current: State, target: State, reason: str | None) -> None:
    """Refuse a move the lifecycle does not allow, or one that needs a reason given without it."""
    allowed = next_states(current)
    if target not in allowed:
        if not allowed:
            raise CaseError(f"the incident is already {current.value} ({current.zh}); it cannot move on")
        choices = ", ".join(f"{s.value} ({s.zh})" for s in allowed)
        raise CaseError(
            f"cannot go from {current.value} ({current.zh}) to {target.value} ({target.zh}); "
            f"next can be: {choices}"
        )
    if target in NEEDS_REASON and not (reason and reason.strip()):
        what = "the action taken (打击)" if target is State.CLOSED else "why it is not an attack"
        raise CaseError(f"closing as {target.value} ({target.zh}) needs --reason: {what}")
