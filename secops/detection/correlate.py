"""Sigma correlation rules compiled once into plain plans the engine runs per event.

pySigma parses the YAML (SigmaCorrelationRule); this module resolves what each correlation refers to (base
rules or other correlations, by name or id), turns its condition into a small predicate, works out which
event field each group-by name means for each input (aliases), orders chained correlations so the inner
ones run first, and lists those it cannot use with the reason. Nothing here is touched per event except
the resulting `Correlation` tuples.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from sigma.correlations import (
    CorrelationConditionAND,
    CorrelationConditionItem,
    CorrelationConditionNOT,
    CorrelationConditionOR,
    SigmaCorrelationCondition,
    SigmaCorrelationRule,
    SigmaExtendedCorrelationCondition,
    SigmaRuleReference,
)
from sigma.correlations import SigmaCorrelationTimespan as Timespan
from sigma.exceptions import SigmaTimespanError

from secops.detection.alerts import Suppression
from secops.detection.correlate_absence import ABSENCE_TYPE, AbsenceRule

Kind = Literal["event_count", "value_count", "temporal", "temporal_ordered", "egovops_absence"]
Test = Callable[[int], bool]
Predicate = Callable[[frozenset[int]], bool]
AnyCorrelation = SigmaCorrelationRule | AbsenceRule

_KINDS: tuple[Kind, ...] = ("event_count", "value_count", "temporal", "temporal_ordered", ABSENCE_TYPE)
_MONOTONE_OPS = ("gt", "gte")


class RuleInfo(Protocol):
    """What the correlation side reads of a base rule (secops.detection.ruleset.RuleRef has these)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def title(self) -> str: ...
    @property
    def level(self) -> str: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    @property
    def path(self) -> str: ...


@dataclass(frozen=True, slots=True)
class CorrelationFailure:
    """A correlation rule that cannot run, and why (for `egovops rules check`)."""

    path: str
    title: str
    reason: str


@dataclass(frozen=True, slots=True)
class Correlation:
    """One compiled correlation. Inputs are indexed 0..n-1 in the order the rule lists them."""

    key: str  # Sigma id, else name, else derived from path and title
    name: str | None
    title: str
    title_zh: str | None
    level: str
    tags: tuple[str, ...]
    kind: Kind
    inputs: tuple[str, ...]  # keys of the referenced base rules / correlations
    group_by: tuple[str, ...]  # names as the rule writes them (the alert's entity keys)
    fields: tuple[tuple[str, ...], ...]  # per input: the event field behind each group-by name
    value_fields: tuple[str | None, ...]  # per input: the field value_count counts distinct values of
    timespan: float
    op: str  # the count condition's operator (gte for extended conditions) ...
    count: int  # ... and its count
    test: Test  # the count condition (events, values or rules seen)
    predicate: Predicate | None  # an extended temporal condition over input indices
    immediate: bool  # fires once true (gt/gte, no `not`) or only at window close
    slot: int  # what a window counts per entry: 2 its value, 1 its input, 0 nothing (just entries)
    trigger: bool  # every event fires on its own (event_count >= 1): no window is kept
    generate: bool
    suppress: Suppression
    path: str


@dataclass(slots=True)
class CorrelationPlan:
    """Compiled correlations in dependency order, who consumes what, and which inputs stay silent."""

    correlations: list[Correlation]
    consumers: dict[str, list[tuple[int, int]]]  # input key -> [(correlation index, input index)]
    silenced: frozenset[str]  # keys whose own alerts a `generate: false` suppresses
    failed: list[CorrelationFailure]


class _UnusableError(ValueError):
    pass


def _test(op: str, count: int) -> Test:
    tests: dict[str, Test] = {
        "gt": lambda n: n > count,
        "gte": lambda n: n >= count,
        "lt": lambda n: n < count,
        "lte": lambda n: n <= count,
        "eq": lambda n: n == count,
        "neq": lambda n: n != count,
    }
    return tests[op]


def _predicate(node: CorrelationConditionItem | SigmaRuleReference, index: Mapping[str, int]) -> Predicate:
    if isinstance(node, SigmaRuleReference):
        if node.reference not in index:
            raise _UnusableError(f"condition names {node.reference!r}, which is not in correlation.rules")
        i = index[node.reference]
        return lambda seen: i in seen
    parts = [_predicate(arg, index) for arg in node.args]
    if isinstance(node, CorrelationConditionNOT):
        inner = parts[0]
        return lambda seen: not inner(seen)
    if isinstance(node, CorrelationConditionAND):
        return lambda seen: all(p(seen) for p in parts)
    if isinstance(node, CorrelationConditionOR):
        return lambda seen: any(p(seen) for p in parts)
    raise _UnusableError(f"unsupported condition element {type(node).__name__}")


def _has_not(node: CorrelationConditionItem | SigmaRuleReference) -> bool:
    if isinstance(node, SigmaRuleReference):
        return False
    return isinstance(node, CorrelationConditionNOT) or any(_has_not(a) for a in node.args)


def correlation_key(rule: AnyCorrelation) -> str:
    """Stable identity of a correlation: its id, else its name, else a hash of where it came from."""
    if rule.id is not None:
        return str(rule.id)
    if rule.name:
        return rule.name
    digest = hashlib.blake2b(f"{_path(rule)}\x1f{rule.title}".encode(), digest_size=8).hexdigest()
    return f"corr-{digest}"


def _path(rule: AnyCorrelation) -> str:
    if isinstance(rule, AbsenceRule):
        return rule.path
    return str(rule.source.path) if rule.source is not None and rule.source.path is not None else ""


def _references(rule: AnyCorrelation) -> tuple[str, ...]:
    if isinstance(rule, AbsenceRule):
        return rule.rules
    if rule.rules is not None:
        return tuple(r.reference for r in rule.rules)
    if isinstance(rule.condition, SigmaExtendedCorrelationCondition):
        return tuple(rule.condition.get_referenced_rules())
    return ()


def _aliases(rule: AnyCorrelation) -> dict[str, dict[str, str]]:
    if isinstance(rule, AbsenceRule):
        return {alias: dict(mapping) for alias, mapping in rule.aliases.items()}
    return {a.alias: {ref.reference: f for ref, f in a.mapping.items()} for a in rule.aliases}


def _extension(rule: AnyCorrelation) -> Mapping[str, Any]:
    ext = rule.custom_attributes.get("egovops")
    return ext if isinstance(ext, Mapping) else {}


def _suppression(rule: AnyCorrelation, group_by: tuple[str, ...], timespan: float) -> Suppression:
    """`egovops: {suppress: {by: [...], window: 10m}}` on the rule; by default its group over its timespan."""
    spec = _extension(rule).get("suppress")
    if spec is None:
        return Suppression(group_by, timespan)
    if not isinstance(spec, Mapping):
        raise _UnusableError("egovops.suppress must be a mapping with `by` and `window`")
    by = spec.get("by", list(group_by))
    if isinstance(by, str):
        by = [by]
    if not isinstance(by, list) or not all(isinstance(f, str) for f in by):
        raise _UnusableError("egovops.suppress.by must be a field name or a list of them")
    try:
        window = float(Timespan(str(spec.get("window", "1m"))).seconds)
    except SigmaTimespanError as exc:
        raise _UnusableError(f"egovops.suppress.window: {exc}") from exc
    return Suppression(tuple(by), window)


def _kind_and_condition(
    rule: AnyCorrelation, refs: tuple[str, ...]
) -> tuple[Kind, str, int, Predicate | None, bool, str | list[str] | None]:
    if isinstance(rule, AbsenceRule):
        return ABSENCE_TYPE, "gte", 1, None, False, None
    name = str(rule.type)
    kinds = [k for k in _KINDS if k == name]
    if not kinds:
        raise _UnusableError(f"correlation type {name!r} is not supported (supported: {', '.join(_KINDS)})")
    kind = kinds[0]
    cond = rule.condition
    if isinstance(cond, SigmaExtendedCorrelationCondition):
        index = {ref: i for i, ref in enumerate(refs)}
        predicate = _predicate(cond.parsed, index)
        return kind, "gte", 1, predicate, not _has_not(cond.parsed), None
    if not isinstance(cond, SigmaCorrelationCondition):
        raise _UnusableError("correlation has no condition")
    op = cond.op.name.lower()
    return kind, op, cond.count, None, op in _MONOTONE_OPS, cond.fieldref


def _compile_one(
    rule: AnyCorrelation,
    key: str,
    inputs: tuple[str, ...],
    refs: tuple[str, ...],
    tags: tuple[str, ...],
) -> Correlation:
    kind, op, count, predicate, immediate, fieldref = _kind_and_condition(rule, refs)
    test = _test(op, count)
    group_by = tuple(rule.group_by or ())
    aliases = _aliases(rule)

    def field_for(name: str, ref: str) -> str:
        mapping = aliases.get(name)
        if mapping is None:
            return name
        if ref not in mapping:
            raise _UnusableError(f"alias {name!r} has no field for rule {ref!r}")
        return mapping[ref]

    value_name = fieldref[0] if isinstance(fieldref, list) else fieldref
    if kind == "value_count" and not value_name:
        raise _UnusableError("value_count needs condition.field")
    level = rule.level if isinstance(rule, AbsenceRule) else (str(rule.level) if rule.level else None)
    timespan = float(rule.timespan) if isinstance(rule, AbsenceRule) else float(rule.timespan.seconds)
    title_zh = _extension(rule).get("title_zh")
    own_tags = tuple(rule.tags) if isinstance(rule, AbsenceRule) else tuple(str(t) for t in rule.tags)
    return Correlation(
        key=key,
        name=rule.name,
        title=rule.title,
        title_zh=str(title_zh) if title_zh else None,
        level=level or "medium",
        tags=tuple(dict.fromkeys(own_tags + tags)),
        kind=kind,
        inputs=inputs,
        group_by=group_by,
        fields=tuple(tuple(field_for(g, ref) for g in group_by) for ref in refs),
        value_fields=tuple(field_for(value_name, ref) if value_name else None for ref in refs),
        timespan=timespan,
        op=op,
        count=count,
        test=test,
        predicate=predicate,
        immediate=immediate and kind != ABSENCE_TYPE,
        slot={"value_count": 2, "temporal": 1, "temporal_ordered": 1}.get(kind, 0),
        trigger=kind == "event_count" and immediate and predicate is None and test(1),
        generate=rule.generate,
        suppress=_suppression(rule, group_by, timespan),
        path=_path(rule),
    )


def compile_correlations(
    rules: Sequence[RuleInfo], correlations: Sequence[AnyCorrelation]
) -> CorrelationPlan:
    """Compile correlations against the base rules they may refer to; unusable ones go to `failed`."""
    names: dict[str, set[str]] = {}
    tags: dict[str, tuple[str, ...]] = {}
    for ref in rules:
        for alias in (ref.id, ref.name):
            if alias:
                names.setdefault(alias, set()).add(ref.id)
        tags[ref.id] = ref.tags
    keyed = {correlation_key(c): c for c in correlations}
    for key, corr in keyed.items():
        for alias in (key, corr.name, str(corr.id) if corr.id else None):
            if alias:
                names.setdefault(alias, set()).add(key)

    failed: list[CorrelationFailure] = []
    resolved: dict[str, tuple[str, ...]] = {}
    for key, corr in keyed.items():
        try:
            refs = _references(corr)
            if not refs:
                raise _UnusableError("correlation refers to no rules")
            targets = []
            for reference in refs:
                found = names.get(reference)
                if not found:
                    raise _UnusableError(
                        f"refers to {reference!r}, which is no loaded rule or correlation (by name or id)"
                    )
                if len(found) > 1:
                    raise _UnusableError(
                        f"refers to {reference!r}, which names several rules: {', '.join(sorted(found))}"
                    )
                targets.append(next(iter(found)))
            resolved[key] = tuple(targets)
        except _UnusableError as exc:
            failed.append(CorrelationFailure(_path(corr), corr.title, str(exc)))

    order = _dependency_order(resolved, failed, keyed)
    compiled: list[Correlation] = []
    for key in order:
        corr = keyed[key]
        inputs = resolved[key]
        try:
            input_tags = tuple(t for i in inputs for t in tags.get(i, ()))
            plan = _compile_one(corr, key, inputs, _references(corr), input_tags)
        except _UnusableError as exc:
            failed.append(CorrelationFailure(_path(corr), corr.title, str(exc)))
            continue
        tags[key] = plan.tags
        compiled.append(plan)

    consumers: dict[str, list[tuple[int, int]]] = {}
    silenced: set[str] = set()
    for index, plan in enumerate(compiled):
        for position, source in enumerate(plan.inputs):
            consumers.setdefault(source, []).append((index, position))
            if not plan.generate:
                silenced.add(source)
    return CorrelationPlan(compiled, consumers, frozenset(silenced), failed)


def _dependency_order(
    resolved: dict[str, tuple[str, ...]],
    failed: list[CorrelationFailure],
    keyed: Mapping[str, AnyCorrelation],
) -> list[str]:
    """Inner correlations before the ones that consume them; cycles and dependents of failures dropped."""
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(key: str, trail: tuple[str, ...]) -> bool:
        if state.get(key) == "done":
            return True
        if state.get(key) == "bad" or key not in resolved:
            return False
        if key in trail:
            cycle = " -> ".join((*trail[trail.index(key) :], key))
            failed.append(
                CorrelationFailure(_path(keyed[key]), keyed[key].title, f"correlation cycle: {cycle}")
            )
            state[key] = "bad"
            return False
        for dep in resolved[key]:
            if dep in keyed and not visit(dep, (*trail, key)):
                if state.get(key) != "bad":
                    failed.append(
                        CorrelationFailure(
                            _path(keyed[key]),
                            keyed[key].title,
                            f"depends on correlation {dep!r}, which cannot run",
                        )
                    )
                state[key] = "bad"
                return False
        state[key] = "done"
        order.append(key)
        return True

    for key in resolved:
        visit(key, ())
    return order
