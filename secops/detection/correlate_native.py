"""Correlation windows kept natively (`egovops_native.Correlator`, native/src/matcher/correlate.rs).

The native matcher feeds them in the same pass over a batch: group keys and counted values are read from
the JSON it already parsed, windows follow the immediate rules of `correlate_windows.py` and the bounded
store of `state.py`, firings chain natively, and Python gets back only what it still does, in stream
order: the single-event alerts to build, the firings of correlations that alert (with their evidence
ids), and the watermarks at which suppression expires. The alerts themselves are made natively too
(`Alert` objects, ids and times as `alerts.py` makes them), so Python only suppresses them and fills the
rare field whose bytes the native side leaves to it (an entity holding lists or objects; a group holding a
float, whose orjson text decides the id).

Only for rule sets whose correlations are all immediate (gt/gte counts, temporal conditions without
`not`): windows judged at their close and our absence type run in Python, and so does everything when
`EGOVOPS_NATIVE_CORRELATE=0` (or `EGOVOPS_NATIVE_MATCHER=0`) is set. The Python engine stays the reference.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import orjson

from secops.detection.alerts import Alert
from secops.detection.correlate import Correlation
from secops.detection.correlate_absence import ABSENCE_TYPE
from secops.events import Event

DISABLE_ENV = "EGOVOPS_NATIVE_CORRELATE"
"""Set to 0 to keep correlation windows in Python (with the native matcher still matching)."""

MAX_INPUTS = 16
"""Inputs of one correlation the native side handles (an extended condition becomes a truth table)."""

Fix = tuple[Any, ...]
"""What Python still does to the natively made alerts, in stream order:
(alert position, 0, rule, doc or None, time): read the entity if None, suppress;
(alert position, 1, correlation, doc or None, last time, first time): fill id and times if None, suppress;
(alerts so far, 2, 0, None, watermark): suppression expires."""

Batch = tuple[list[Alert], list[Fix]]
"""The alerts of a batch in stream order, and their fixes."""

Spec = tuple[str, str | None, str, str, tuple[str, ...], str | None, str, bool]
"""What every alert of a rule or correlation shares: (id, name, title, severity, tags, title_zh,
rule_type, whether its suppression folds repeats)."""


class NativeCorrelator(Protocol):
    """What `egovops_native.Correlator` offers (see native/egovops_native.pyi)."""

    clock: tuple[float, float]

    def advance(self, mark: float) -> Batch: ...
    def counters(self) -> list[tuple[str, int]]: ...
    def set_counter(self, name: str, value: int) -> None: ...
    def windows(self) -> list[tuple[int, list[Any], float, list[tuple[float, int, Any, list[str]]]]]: ...
    def load_window(self, index: int, key: list[Any], newest: float, entries: list[Any]) -> None: ...


class CorrelatingMatcher(Protocol):
    def correlate_batch(
        self,
        correlator: NativeCorrelator,
        datasets: list[str],
        texts: list[str],
        stamps: list[str],
        events: Sequence[Event],
    ) -> Batch: ...


def supported(correlations: Sequence[Correlation]) -> bool:
    """Whether every correlation follows the rules the native windows implement."""
    return all(
        c.immediate and c.kind != ABSENCE_TYPE and len(c.inputs) <= MAX_INPUTS for c in correlations
    )


def _truth(corr: Correlation) -> list[bool] | None:
    """The extended condition for every set of inputs seen (bit i: input i)."""
    predicate = corr.predicate
    if predicate is None:
        return None
    n = len(corr.inputs)
    return [predicate(frozenset(i for i in range(n) if mask >> i & 1)) for mask in range(1 << n)]


def plan_text(
    correlations: Sequence[Correlation],
    feeds: Sequence[Sequence[tuple[int, int]]],
    consumers: Mapping[str, Sequence[tuple[int, int]]],
    silent_rules: Sequence[bool],
    silenced: frozenset[str],
    reads_beyond: Sequence[bool],
    options: Mapping[str, object],
) -> str:
    """The JSON plan `egovops_native.Correlator` is built from. `reads_beyond`: per correlation, whether
    its suppression reads fields beyond its group (its firings then carry the event's fields)."""
    return orjson.dumps(
        {
            **options,
            "correlations": [
                {
                    "kind": c.kind,
                    "timespan": c.timespan,
                    "op": c.op,
                    "count": c.count,
                    "truth": _truth(c),
                    "slot": c.slot,
                    "trigger": c.trigger,
                    "fields": c.fields,
                    "values": c.value_fields,
                    "group_by": c.group_by,
                    "silent": c.key in silenced,
                    "doc": doc,
                }
                for c, doc in zip(correlations, reads_beyond, strict=True)
            ],
            "feeds": feeds,
            "chains": [consumers.get(c.key, []) for c in correlations],
            "silent_rules": silent_rules,
        }
    ).decode()


def build(
    matcher: object,
    plan: str,
    seconds: Callable[[str], float],
    rules: Sequence[Spec],
    correlations: Sequence[Spec],
) -> tuple[CorrelatingMatcher, Callable[[], NativeCorrelator]] | None:
    """The matcher and a factory of fresh native correlation states; None when unavailable or disabled.
    `rules` and `correlations`: the alert specs by index."""
    if os.environ.get(DISABLE_ENV, "1") == "0" or not hasattr(matcher, "correlate_batch"):
        return None
    try:
        import egovops_native
    except ImportError:
        return None
    factory = getattr(egovops_native, "Correlator", None)
    if factory is None:
        return None

    alerts = (Alert, list(rules), list(correlations))

    def fresh() -> NativeCorrelator:
        state: NativeCorrelator = factory(plan, seconds, alerts)
        return state

    correlating: CorrelatingMatcher = matcher
    return correlating, fresh
