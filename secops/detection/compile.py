"""Sigma rules to Python: one generated predicate per rule and dataset, and one dispatch tree per dataset.

Per event, the cost that matters is how many rules an event meets and how much each costs. So:

- every rule is specialised to each dataset it reads (`ir.specialise`), and `RuleSet.match` only looks
  at the rules of the event's dataset;
- within a dataset, rules are grouped by tests every match must pass (`ir.necessary`: `a0` is `getcap`,
  the event type is `http`, the event has arguments): a dispatch tree reads that field once and jumps
  straight to the few rules that can still match, with the now-known test removed from them;
- rules become straight-line Python (`exec` of generated source) over lazily read, shared per-event
  values: a field is resolved, lower-cased or joined at most once per tree node, strings are compared
  against pre-lowered literals, many substrings are one trie-shaped regular expression, and nothing
  from pySigma or the YAML is touched per event.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from secops.detection import runtime
from secops.detection.ir import PRESENT, And, Const, Leaf, Node, Not, Or, alternatives, assume, necessary

Predicate = Callable[[Any], bool]
Dispatch = Callable[[Any, list[int]], None]

LEAF_RULES = 3
"""A dispatch node with this many rules or fewer just tests them."""


def trie_pattern(words: Iterable[str]) -> str:
    """One regular expression for "any of these strings occurs", shaped as a trie so that the regex
    engine follows one branch per character instead of trying every alternative."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        if "" in node and len(node) == 1:
            return ""
        branches = [re.escape(char) + build(child) for char, child in sorted(node.items()) if char]
        if "" in node:  # a word ends here; a longer one continues: the shorter already matches
            return ""
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return build(trie)


@dataclass
class _Module:
    """Generated source and the constants it refers to, turned into functions by one `exec`."""

    lines: list[str] = field(default_factory=list)
    constants: dict[str, Any] = field(default_factory=dict)
    _ids: dict[Any, str] = field(default_factory=dict)
    accessors: dict[str, str] = field(default_factory=dict)

    def constant(self, value: Any, prefix: str = "K") -> str:
        key = (type(value).__name__, value) if _hashable(value) else id(value)
        name = self._ids.get(key)
        if name is None:
            name = self._ids[key] = f"{prefix}{len(self._ids)}"
            self.constants[name] = value
        return name

    def accessor(self, path: str) -> str:
        """A generated function resolving one dotted field, dicts inline and lists through `tail`."""
        name = self.accessors.get(path)
        if name is not None:
            return name
        name = self.accessors[path] = f"A{len(self.accessors)}"
        parts = tuple(path.split("."))
        const = self.constant(parts, "P")
        body = [f"def {name}(doc):", f"    n = doc.get({parts[0]!r})"]
        for index, part in enumerate(parts[1:], start=1):
            through = f"tail(n, {const}, {index})"
            if index == len(parts) - 1 and not part.isdigit():  # a list of objects: each one's field
                through = (
                    f"[v for x in n if x.__class__ is dict and (v := x.get({part!r})) is not None] or None"
                )
            body += [
                "    if n.__class__ is not dict:",
                f"        return ({through}) if n.__class__ is list else None",
                f"    n = n.get({part!r})",
            ]
        body.append(f"    return tail(n, {const}, {len(parts)}) if n.__class__ is list else n")
        self.lines.extend(body)
        return name

    def run(self) -> dict[str, Any]:
        namespace: dict[str, Any] = {
            "U": runtime.UNSET,
            "tail": runtime.tail,
            "lowered": runtime.lowered,
            "text": runtime.text,
            "joined": runtime.joined,
            "SEP": runtime.SEP,
            "any_prefix": runtime.any_prefix,
            "any_suffix": runtime.any_suffix,
            "any_search": runtime.any_search,
            "number_equals": runtime.number_equals,
            "compare": runtime.compare,
            "boolean": runtime.boolean,
            "in_network": runtime.in_network,
            "field_equals": runtime.field_equals,
            "time_part": runtime.time_part,
            **self.constants,
        }
        exec(compile("\n".join(self.lines), "<egovops sigma matchers>", "exec"), namespace)
        return namespace


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


class _Scope:
    """The lazily computed per-event values of one generated function."""

    def __init__(self, module: _Module) -> None:
        self.module = module
        self.names: dict[tuple[Any, ...], str] = {}

    def _slot(self, key: tuple[Any, ...], prefix: str) -> tuple[str, bool]:
        name = self.names.get(key)
        if name is not None:
            return name, False
        name = self.names[key] = f"{prefix}{len(self.names)}"
        return name, True

    def raw(self, path: str) -> str:
        name, _ = self._slot(("raw", path), "r")
        parent, _, last = path.rpartition(".")
        if parent and last.isdigit():  # `process.args.1`: an index into the (shared) list
            whole = self.raw(parent)
            listed = self.names[("raw", parent)]
            value = f"({listed}[{last}] if {whole}.__class__ is list and len({listed}) > {last} else None)"
            return f"({name} if {name} is not U else ({name} := {value}))"
        return f"({name} if {name} is not U else ({name} := {self.module.accessor(path)}(doc)))"

    def text(self, path: str, lower: bool) -> str:
        raw_name = self._slot(("raw", path), "r")[0]
        raw = self.raw(path)
        name, _ = self._slot(("low" if lower else "text", path), "l" if lower else "t")
        value = f"{raw_name}.lower()" if lower else raw_name
        convert = "lowered" if lower else "text"
        return (
            f"({name} if {name} is not U else ({name} := ({value} if {raw}.__class__ is str "
            f"else None if {raw_name} is None else {convert}({raw_name}))))"
        )

    def joined(self, paths: tuple[str, ...], lower: bool) -> str:
        name, _ = self._slot(("join", paths, lower), "j")
        if len(paths) == 1:
            single = self.text(paths[0], lower)
            inner = self._slot(("low" if lower else "text", paths[0]), "")[0]
            value = f"({inner} if {single}.__class__ is str or {inner} is None else SEP.join({inner}))"
        else:
            value = f"joined(({', '.join(self.raw(p) for p in paths)},), {lower})"
        return f"({name} if {name} is not U else ({name} := {value}))"

    def declare(self) -> str:
        return " = ".join([*self.names.values(), "U"]) if self.names else "pass"


def _leaf(leaf: Leaf, scope: _Scope) -> str:
    module = scope.module
    op = leaf.op
    lower = not leaf.cased
    if op in ("eq", "prefix", "suffix", "glob", "regex"):
        value = scope.text(leaf.field, lower and op != "regex")
        name = scope.names[("low" if lower and op != "regex" else "text", leaf.field)]
        if op == "eq":
            values = leaf.args[0]
            if len(values) == 1:
                literal = next(iter(values))
                return (
                    f"({name} == {literal!r} if {value}.__class__ is str "
                    f"else {name} is not None and {literal!r} in {name})"
                )
            const = module.constant(values, "S")
            return (
                f"({name} in {const} if {value}.__class__ is str "
                f"else {name} is not None and not {const}.isdisjoint({name}))"
            )
        if op in ("prefix", "suffix"):
            const = module.constant(leaf.args[0], "T")
            method, helper = ("startswith", "any_prefix") if op == "prefix" else ("endswith", "any_suffix")
            return (
                f"({name}.{method}({const}) if {value}.__class__ is str "
                f"else {name} is not None and {helper}({name}, {const}))"
            )
        pattern = module.constant(leaf.args[0], "R")
        first = f"{leaf.args[1]!r} in {name} and " if op == "glob" and leaf.args[1] else ""
        return (
            f"({first}{pattern}.search({name}) is not None if {value}.__class__ is str "
            f"else {name} is not None and any_search({pattern}, {name}))"
        )
    if op == "contains":
        literals: tuple[str, ...] = leaf.args[0]
        if any(runtime.SEP in literal for literal in literals):
            # a string holding the separator could match across two values: test value by value
            options = [
                Leaf("glob", (path,), (re.compile(re.escape(lit), re.DOTALL), lit), leaf.cased)
                for path in leaf.fields
                for lit in literals
            ]
            return "(" + " or ".join(_leaf(option, scope) for option in options) + ")"
        value = scope.joined(leaf.fields, lower)
        name = scope.names[("join", leaf.fields, lower)]
        if len(literals) <= 3:
            tests = " or ".join(f"{lit!r} in {name}" for lit in literals)
            return f"({value} is not None and ({tests}))"
        pattern = module.constant(re.compile(trie_pattern(literals), re.DOTALL), "R")
        return f"({value} is not None and {pattern}.search({name}) is not None)"
    raw = scope.raw(leaf.field)
    if op == "exists":
        return f"({raw} is {'not ' if leaf.args[0] else ''}None)"
    if op == "null":
        return f"({raw} is None)"
    if op == "num":
        return f"number_equals({raw}, {leaf.args[0]!r})"
    if op == "cmp":
        return f"compare({raw}, {leaf.args[0]!r}, {leaf.args[1]!r})"
    if op == "bool":
        return f"boolean({raw}, {leaf.args[0]!r})"
    if op == "cidr":
        return f"in_network({raw}, {module.constant(leaf.args[0], 'N')})"
    if op == "tspart":
        return f"time_part({raw}, {leaf.args[0]!r}, {leaf.args[1]!r})"
    if op == "fieldref":
        left = scope.text(leaf.fields[0], True)
        right = scope.text(leaf.fields[1], True)
        return f"field_equals({left}, {right}, {leaf.args[0]!r})"
    raise ValueError(f"unknown leaf op {op}")  # pragma: no cover - ir.Leaf lists every op


def expression(node: Node, scope: _Scope) -> str:
    """Python source of one condition, reading per-event values through `scope`."""
    if isinstance(node, Leaf):
        return _leaf(node, scope)
    if isinstance(node, And):
        return "(" + " and ".join(expression(arg, scope) for arg in node.args) + ")"
    if isinstance(node, Or):
        return "(" + " or ".join(expression(arg, scope) for arg in node.args) + ")"
    if isinstance(node, Not):
        return f"(not {expression(node.arg, scope)})"
    return repr(node.value)


# --- building the matchers ----------------------------------------------------------------------------


@dataclass
class Index:
    """Rules that need one key field to hold given values, grouped by value."""

    key: tuple[str, str]
    children: dict[str, Tree]


@dataclass
class Tree:
    """A dispatch node: key lookups that jump to the rules that can still match, then the rules that
    have no key left, tested here. All of a node's lookups share its per-event values."""

    rules: list[tuple[int, Node]]
    indexes: list[Index] = field(default_factory=list)


def _grow(rules: list[tuple[int, Node]], used: frozenset[tuple[str, str]]) -> Tree:
    tree = Tree([])
    remaining = rules
    while len(remaining) > LEAF_RULES:
        keys = [necessary(node) for _, node in remaining]
        counts = Counter(key for found in keys for key in found if key not in used)
        if not counts:
            break
        key, count = max(counts.items(), key=lambda item: (item[1], item[0][0] == "eq", item[0][1]))
        if count < 2:
            break
        buckets: dict[str, list[tuple[int, Node]]] = {}
        rest: list[tuple[int, Node]] = []
        for (index, node), found in zip(remaining, keys, strict=True):
            values = found.get(key)
            if values is None:
                rest.append((index, node))
                continue
            narrowed = assume(node, key)
            for value in sorted(values):
                buckets.setdefault(value, []).append((index, narrowed))
        children = {value: _grow(members, used | {key}) for value, members in buckets.items()}
        tree.indexes.append(Index(key, children))
        used |= {key}
        remaining = rest
    tree.rules = remaining
    return tree


class Matchers:
    """Generated predicates (`predicate(rule, dataset)`) and per-dataset dispatch (`dispatch[dataset]`)."""

    def __init__(self, rules: list[dict[str, Node]]) -> None:
        module = _Module()
        names: dict[tuple[int, str], str] = {}
        for index, by_dataset in enumerate(rules):
            for dataset, node in by_dataset.items():
                names[(index, dataset)] = self._function(module, f"rule_{index}_{len(names)}", node)
        per_dataset: dict[str, list[tuple[int, Node]]] = {}
        for index, by_dataset in enumerate(rules):
            for dataset, node in by_dataset.items():
                if node != Const(False):
                    per_dataset.setdefault(dataset, []).extend((index, alt) for alt in alternatives(node))
        self.trees = {ds: _grow(members, frozenset()) for ds, members in sorted(per_dataset.items())}
        """Per dataset the dispatch tree the generated code walks (also what the native matcher runs)."""
        roots = {ds: self._tree(module, f"tree_{n}", tree) for n, (ds, tree) in enumerate(self.trees.items())}
        namespace = module.run()
        self._predicates = {key: namespace[name] for key, name in names.items()}
        self.dispatch: dict[str, Dispatch] = {ds: namespace[name] for ds, name in roots.items()}

    def predicate(self, index: int, dataset: str) -> Predicate | None:
        return self._predicates.get((index, dataset))

    @classmethod
    def predicates(cls, nodes: list[Node]) -> list[Predicate]:
        """One generated predicate per condition (the native matcher's fallback for leaves it cannot run)."""
        module = _Module()
        names = [cls._function(module, f"part_{n}", node) for n, node in enumerate(nodes)]
        namespace = module.run()
        return [namespace[name] for name in names]

    @staticmethod
    def _function(module: _Module, name: str, node: Node) -> str:
        scope = _Scope(module)
        body = expression(node, scope)
        module.lines += [f"def {name}(doc):", f"    {scope.declare()}", f"    return {body}"]
        return name

    def _tree(self, module: _Module, name: str, tree: Tree) -> str:
        scope = _Scope(module)
        body: list[str] = []
        for number, lookup in enumerate(tree.indexes):
            kind, path = lookup.key
            if kind == "present":
                child = self._tree(module, f"{name}_{number}p", lookup.children[next(iter(PRESENT))])
                body += [f"    if {scope.raw(path)} is not None:", f"        {child}(doc, out)"]
                continue
            table = {
                value: self._tree(module, f"{name}_{number}_{n}", sub)
                for n, (value, sub) in enumerate(sorted(lookup.children.items()))
            }
            const = f"D_{name}_{number}"
            module.lines.append(f"{const} = {{" + ", ".join(f"{v!r}: {fn}" for v, fn in table.items()) + "}")
            key = scope.text(path, True)
            slot = scope.names[("low", path)]
            body += [
                f"    if {key}.__class__ is str:",
                f"        c = {const}.get({slot})",
                "        if c is not None:",
                "            c(doc, out)",
                f"    elif {slot}:",
                f"        for c in {{{const}.get(v) for v in {slot}}}:",
                "            if c is not None:",
                "                c(doc, out)",
            ]
        for index, node in sorted(tree.rules, key=lambda item: item[0]):
            if node == Const(True):
                body.append(f"    out.append({index})")
            else:
                body.append(f"    if {expression(node, scope)}:")
                body.append(f"        out.append({index})")
        module.lines += [f"def {name}(doc, out):", f"    {scope.declare()}", *(body or ["    pass"])]
        return name
