"""A small boolean form of a Sigma rule's condition, read from pySigma's parsed condition tree.

pySigma parses the YAML, applies the modifiers (contains, base64offset, windash, cidr, ...) and resolves
`1 of selection*`; what is left is a tree of AND/OR/NOT over (field, typed value) pairs. This module turns
that tree into `Leaf` tests with their strings already lowered or compiled, simplifies it (constants,
merged value lists, cheapest test first) and specialises it to one dataset, so the code generator in
`compile.py` has nothing left to decide per event.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SigmaType,
    SpecialChars,
)

DATASET = "event.dataset"
UNBOUND_FIELDS = ("message", "event.original")
"""Where a keyword left unbound by the pipeline is searched (the pipeline maps keywords per log source)."""

_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}


class UnsupportedError(ValueError):
    """A rule uses something the matcher cannot evaluate; the message names it."""


@dataclass(frozen=True, slots=True)
class Leaf:
    """One test of one field (`contains` may read several fields: any of them).

    op: eq | contains | prefix | suffix | glob (on lowered text unless `cased`), regex (original text),
    num, cmp, exists, null, bool, cidr, fieldref, tspart. `args` holds the op's prepared operands (a
    glob: its pattern, and the longest literal piece any match contains, tested first because `in` is
    cheaper than a regular expression search).
    """

    op: str
    fields: tuple[str, ...]
    args: tuple[Any, ...]
    cased: bool = False

    @property
    def field(self) -> str:
        return self.fields[0]


@dataclass(frozen=True, slots=True)
class And:
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    arg: Node


@dataclass(frozen=True, slots=True)
class Const:
    value: bool


Node = Leaf | And | Or | Not | Const
TRUE, FALSE = Const(True), Const(False)


# --- from pySigma -------------------------------------------------------------------------------------


def from_sigma(cond: Any) -> Node:
    """The IR of a postprocessed pySigma condition tree (`SigmaCondition.parsed`)."""
    if isinstance(cond, ConditionAND):
        return And(tuple(from_sigma(arg) for arg in cond.args))
    if isinstance(cond, ConditionOR):
        return Or(tuple(from_sigma(arg) for arg in cond.args))
    if isinstance(cond, ConditionNOT):
        return Not(from_sigma(cond.args[0]))
    if isinstance(cond, ConditionFieldEqualsValueExpression):
        return _value(cond.field, cond.value)
    if isinstance(cond, ConditionValueExpression):
        return Or(tuple(_value(name, _wrap_keyword(cond.value)) for name in UNBOUND_FIELDS))
    if isinstance(cond, ConditionItem):  # pragma: no cover - pySigma resolves identifiers and selectors
        raise UnsupportedError(f"unresolved condition element {type(cond).__name__}")
    raise UnsupportedError(f"condition element {type(cond).__name__}")


def _wrap_keyword(value: SigmaType) -> SigmaType:
    if isinstance(value, SigmaString):
        if not value.startswith(SpecialChars.WILDCARD_MULTI):
            value = SpecialChars.WILDCARD_MULTI + value
        if not value.endswith(SpecialChars.WILDCARD_MULTI):
            value = value + SpecialChars.WILDCARD_MULTI
    return value


def _value(name: str, value: SigmaType) -> Node:
    if isinstance(value, SigmaExpansion):
        return Or(tuple(_value(name, item) for item in value.values))
    if isinstance(value, SigmaString):
        return string_leaf(name, value)
    if isinstance(value, SigmaRegularExpression):
        flags = 0
        for flag in value.flags:
            flags |= _FLAGS[flag]
        _placeholders(value.regexp)
        return Leaf("regex", (name,), (re.compile(str(value.regexp), flags),), cased=True)
    if isinstance(value, SigmaTimestampPart):
        return Leaf("tspart", (name,), (value.timestamp_part.name.lower(), value.number))
    if isinstance(value, SigmaNumber):
        return Leaf("num", (name,), (value.number,))
    if isinstance(value, SigmaBool):
        return Leaf("bool", (name,), (value.boolean,))
    if isinstance(value, SigmaNull):
        return Leaf("null", (name,), ())
    if isinstance(value, SigmaExists):
        return Leaf("exists", (name,), (value.exists,))
    if isinstance(value, SigmaCIDRExpression):
        return Leaf("cidr", (name,), (value.network,))
    if isinstance(value, SigmaCompareExpression):
        return Leaf("cmp", (name,), (value.op.name.lower(), value.number.number))
    if isinstance(value, SigmaFieldReference):
        mode = "prefix" if value.starts_with else "suffix" if value.ends_with else "eq"
        if value.starts_with and value.ends_with:
            mode = "contains"
        return Leaf("fieldref", (name, value.field), (mode,))
    raise UnsupportedError(f"value type {type(value).__name__} ({value!s})")


def _placeholders(value: SigmaString) -> None:
    names = [part.name for part in value.s if isinstance(part, Placeholder)]
    if names:
        raise UnsupportedError(f"unresolved placeholder %{names[0]}% (give it a value in the pipeline vars)")


def string_leaf(name: str, value: SigmaString) -> Leaf:
    """A string test with Sigma's wildcards: a literal, prefix, suffix, substring, or a pattern."""
    _placeholders(value)
    cased = isinstance(value, SigmaCasedString)
    fold = (lambda text: text) if cased else str.lower
    parts = list(value.s)
    if parts in ([SpecialChars.WILDCARD_MULTI], [SpecialChars.WILDCARD_MULTI] * 2):
        return Leaf("exists", (name,), (True,))
    lead = bool(parts) and parts[0] == SpecialChars.WILDCARD_MULTI
    trail = len(parts) > int(lead) and parts[-1] == SpecialChars.WILDCARD_MULTI
    middle = parts[int(lead) : len(parts) - int(trail)]
    if all(isinstance(part, str) for part in middle):
        text = fold("".join(str(part) for part in middle))
        op = "contains" if lead and trail else "suffix" if lead else "prefix" if trail else "eq"
        args: tuple[Any, ...] = (frozenset([text]),) if op == "eq" else ((text,),)
        return Leaf(op, (name,), args, cased)
    pattern = "".join(
        ".*"
        if part == SpecialChars.WILDCARD_MULTI
        else "."
        if part == SpecialChars.WILDCARD_SINGLE
        else re.escape(fold(str(part)))
        for part in middle
    )
    anchored = ("" if lead else r"\A") + pattern + ("" if trail else r"\Z")
    required = max((fold(part) for part in middle if isinstance(part, str)), key=len, default="")
    return Leaf("glob", (name,), (re.compile(anchored, re.DOTALL), required), cased)


# --- simplification -----------------------------------------------------------------------------------


def simplify(node: Node) -> Node:
    """Fold constants, flatten, merge value lists on one field, and order conjuncts cheapest first."""
    if isinstance(node, Not):
        inner = simplify(node.arg)
        if isinstance(inner, Const):
            return Const(not inner.value)
        return inner.arg if isinstance(inner, Not) else Not(inner)
    if isinstance(node, And | Or):
        kind = type(node)
        absorbing = isinstance(node, Or)  # a True in an OR, a False in an AND, decides it
        args: list[Node] = []
        for arg in (simplify(a) for a in node.args):
            if isinstance(arg, Const):
                if arg.value == absorbing:
                    return Const(absorbing)
                continue
            args.extend(arg.args if isinstance(arg, kind) else [arg])
        if isinstance(node, Or):
            args = _merge_alternatives(args)
        args = _unique(args)
        if not args:
            return Const(not absorbing)
        if len(args) == 1:
            return args[0]
        return kind(tuple(sorted(args, key=cost)))
    return node


def _unique(nodes: Iterable[Node]) -> list[Node]:
    return list(dict.fromkeys(nodes))


def _merge_alternatives(args: list[Node]) -> list[Node]:
    """In an OR: one `eq` set, one `prefix`/`suffix`/`contains` tuple per field; then one `contains`
    over several fields when they look for the same strings (a keyword search over a log source's
    keyword fields)."""
    merged: dict[tuple[str, tuple[str, ...], bool], set[Any]] = {}
    rest: list[Node] = []
    for arg in args:
        if isinstance(arg, Leaf) and arg.op in ("eq", "prefix", "suffix", "contains"):
            bucket = merged.setdefault((arg.op, arg.fields, arg.cased), set())
            bucket.update(arg.args[0])
        else:
            rest.append(arg)
    by_literals: dict[tuple[bool, frozenset[str]], list[str]] = {}
    out: list[Node] = []
    for (op, fields, cased), values in merged.items():
        if op == "contains":
            by_literals.setdefault((cased, frozenset(values)), []).extend(fields)
        elif op == "eq":
            out.append(Leaf(op, fields, (frozenset(values),), cased))
        else:
            out.append(Leaf(op, fields, (tuple(sorted(values)),), cased))
    for (cased, literals), names in by_literals.items():
        out.append(Leaf("contains", tuple(dict.fromkeys(names)), (tuple(sorted(literals)),), cased))
    return out + rest


_COST = {
    "eq": 1,
    "exists": 1,
    "null": 1,
    "num": 2,
    "bool": 2,
    "prefix": 2,
    "suffix": 2,
    "cmp": 3,
    "tspart": 4,
    "fieldref": 4,
    "cidr": 5,
    "contains": 3,
    "glob": 6,
    "regex": 8,
}


def cost(node: Node) -> int:
    """A rough evaluation cost, to test cheap and selective conditions first."""
    if isinstance(node, Leaf):
        base = _COST[node.op] + 2 * (len(node.fields) - 1)
        return base + (len(node.args[0]) // 4 if node.op in ("prefix", "suffix", "contains") else 0)
    if isinstance(node, Not):
        return cost(node.arg)
    if isinstance(node, And):
        return min(cost(arg) for arg in node.args) + len(node.args)
    if isinstance(node, Or):
        return sum(cost(arg) for arg in node.args)
    return 0


# --- datasets -----------------------------------------------------------------------------------------


def datasets(node: Node) -> set[str]:
    """Every dataset the rule names (the pipeline's source condition puts them there)."""
    if isinstance(node, Leaf):
        return set(node.args[0]) if node.op == "eq" and node.fields == (DATASET,) else set()
    if isinstance(node, Not):
        return datasets(node.arg)
    if isinstance(node, And | Or):
        return set().union(*(datasets(arg) for arg in node.args))
    return set()


def specialise(node: Node, dataset: str) -> Node:
    """The rule as it reads on events of one dataset: `event.dataset` tests become constants."""
    return simplify(_bind(node, dataset.lower()))


def _bind(node: Node, dataset: str) -> Node:
    if isinstance(node, Leaf):
        if node.fields == (DATASET,) and node.op == "eq" and not node.cased:
            return Const(dataset in node.args[0])
        return node
    if isinstance(node, Not):
        return Not(_bind(node.arg, dataset))
    if isinstance(node, And | Or):
        return type(node)(tuple(_bind(arg, dataset) for arg in node.args))
    return node


# --- dispatch keys ------------------------------------------------------------------------------------

PRESENT = frozenset({"\x00present"})
"""Key value of an `exists: true` necessity."""


def necessary(node: Node) -> dict[tuple[str, str], frozenset[str]]:
    """Tests every match must pass: `{("eq", field): values}` and `{("present", field): PRESENT}`.

    An event whose field value is outside `values` (or absent) cannot match, so rules can be grouped
    by these and most of them skipped with one dictionary lookup.
    """
    if isinstance(node, Leaf):
        if node.op == "eq" and not node.cased and len(node.fields) == 1:
            return {("eq", node.field): node.args[0]}
        if node.op == "exists" and node.args[0] and len(node.fields) == 1:
            return {("present", node.field): PRESENT}
        return {}
    if isinstance(node, And):
        found: dict[tuple[str, str], frozenset[str]] = {}
        for arg in node.args:
            for key, values in necessary(arg).items():
                found[key] = found[key] & values if key in found else values
        return found
    if isinstance(node, Or):
        options = [necessary(arg) for arg in node.args]
        common = set(options[0]).intersection(*options[1:]) if options else set()
        return {key: frozenset().union(*(option[key] for option in options)) for key in common}
    return {}


def alternatives(node: Node, limit: int = 32) -> list[Node]:
    """The rule as OR-ed alternatives when it has no necessary test but its alternatives do.

    `1 of selection_*` over selections of different record types has no test common to all of them,
    but each selection has one: dispatched separately, each alternative is only tried on events that
    can match it.
    """
    if necessary(node):
        return [node]
    split = _distribute(node, limit)
    return split if any(necessary(alt) for alt in split) else [node]


def _distribute(node: Node, limit: int) -> list[Node]:
    if isinstance(node, Or):
        out = [alt for arg in node.args for alt in _distribute(arg, limit)]
        return out if len(out) <= limit else [node]
    if isinstance(node, And):
        choices = [arg for arg in node.args if isinstance(arg, Or)]
        if not choices:
            return [node]
        widest = max(choices, key=lambda arg: len(arg.args))
        rest = tuple(arg for arg in node.args if arg is not widest)
        out = [
            alt
            for option in _distribute(widest, limit)
            for alt in _distribute(simplify(And((*rest, option))), limit)
        ]
        return out if len(out) <= limit else [node]
    return [node]


def assume(node: Node, key: tuple[str, str]) -> Node:
    """The rule once `key` is known to hold: a top-level test that is exactly the key becomes true."""
    conjuncts = node.args if isinstance(node, And) else (node,)
    kept = tuple(arg for arg in conjuncts if not _is_key(arg, key))
    if len(kept) == len(conjuncts):
        return node
    return simplify(And(kept)) if kept else TRUE


def _is_key(node: Node, key: tuple[str, str]) -> bool:
    kind, name = key
    if not isinstance(node, Leaf) or node.fields != (name,) or node.cased:
        return False
    return (kind == "eq" and node.op == "eq") or (kind == "present" and node.op == "exists" and node.args[0])
