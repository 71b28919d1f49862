"""The compiled rule set handed to the native matcher (`egovops_native.Matcher`, native/src/matcher.rs).

The Python compiler (`compile.py`) stays the reference and the single source of truth: this module
serialises its per-dataset dispatch trees and the rule conditions (the IR of `ir.py`) as a JSON plan, so
the native side walks exactly the trees the generated Python walks, on the events' JSON text without
decoding them. Regular expressions are translated to the `regex` crate's syntax only where the meaning is
the same (no `$` outside multi-line mode, no back references, ...); every pattern leaf also gets its
Python predicate, which the native side calls (on the decoded document) when a pattern does not compile
there. Time parts (`|minute`, ...) always run in Python. `Matcher.fallback_leaves` counts both.
"""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Any, Protocol

import orjson

from secops.detection.compile import Matchers, Predicate, Tree
from secops.detection.ir import PRESENT, And, Const, Leaf, Node, Not, Or

DISABLE_ENV = "EGOVOPS_NATIVE_MATCHER"
"""Set to 0 to match with the generated Python only (the reference)."""


class NativeMatcher(Protocol):
    """What `egovops_native.Matcher` offers (see native/egovops_native.pyi)."""

    @property
    def fallback_leaves(self) -> int: ...
    def match_batch(
        self, datasets: list[str], texts: list[str], stamps: list[str]
    ) -> tuple[list[tuple[int, list[int], dict[str, Any], float, float]], float]: ...


_FLAGS = ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"))
_RUST_META = set("\\.+*?()|[]{}^$#&-~")
_SAME_ESCAPES = set("AbBdDsSwWntrfva")
"""Escapes that mean the same in Python's `re` and in the `regex` crate."""


def rust_regex(pattern: re.Pattern[str]) -> str | None:
    """The pattern in the `regex` crate's syntax with the same meaning, or None when there may be none.

    Conservative: what is not known to be equal is refused (the leaf then runs its Python predicate).
    """
    if pattern.flags & (re.VERBOSE | re.ASCII | re.LOCALE):
        return None
    text = pattern.pattern
    multiline = bool(pattern.flags & re.MULTILINE)
    out: list[str] = []
    in_class = False
    depth = 0
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            if i + 1 >= len(text):
                return None
            code = text[i + 1]
            i += 2
            if code == "Z" and not in_class:
                out.append(r"\z")
            elif code in ("x", "u", "U") or (code in _SAME_ESCAPES and not (in_class and code in "bAB")):
                out.append("\\" + code)
            elif code.isalnum() or code == "_":
                return None  # back references, octal, \N{...}: no identical port
            else:
                out.append("\\" + code if code in _RUST_META else code)
            continue
        i += 1
        if in_class:
            if char == "]":
                in_class = False
            elif char == "-" and text[i : i + 1] == "-":
                return None  # `--` is a set difference in the regex crate
            elif char in "[&~":
                char = "\\" + char  # literal in Python, set syntax in the regex crate
            out.append(char)
            continue
        if char == "[":
            in_class = True
            out.append(char)
            if text[i : i + 1] == "^":
                out.append("^")
                i += 1
            if text[i : i + 1] == "]":  # a `]` first in a set is a literal
                out.append(r"\]")
                i += 1
            continue
        if char == "$" and not multiline:
            # Python's `$` also matches before a final newline. At the end of the pattern or of a
            # top-level alternative, consuming that newline changes no match: say it so.
            if i < len(text) and not (text[i] == "|" and depth == 0):
                return None
            out.append(r"(?:\n?\z)")
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "(" and (text[i : i + 3] == "?P=" or text[i : i + 2] == "?#"):
            return None  # (?P=name) back reference, (?#...) comment
        out.append(char)
    if in_class:
        return None
    flags = "".join(letter for flag, letter in _FLAGS if pattern.flags & flag)
    return (f"(?{flags})" if flags else "") + "".join(out)


class _Plan:
    """The JSON plan and the Python fallback predicates, built from the compiler's trees."""

    def __init__(self) -> None:
        self.paths: dict[str, int] = {}
        self.fallback_nodes: list[Node] = []

    def slot(self, path: str) -> int:
        return self.paths.setdefault(path, len(self.paths))

    def tree(self, tree: Tree) -> dict[str, Any]:
        indexes: list[list[Any]] = []
        for index in tree.indexes:
            kind, path = index.key
            if kind == "present":
                indexes.append(["present", self.slot(path), self.tree(index.children[next(iter(PRESENT))])])
            else:
                children = {value: self.tree(child) for value, child in index.children.items()}
                indexes.append(["eq", self.slot(path), children])
        rules = [[rule, self.node(node)] for rule, node in sorted(tree.rules, key=lambda item: item[0])]
        return {"indexes": indexes, "rules": rules}

    def node(self, node: Node) -> list[Any]:
        if isinstance(node, And | Or):
            return ["and" if isinstance(node, And) else "or", [self.node(arg) for arg in node.args]]
        if isinstance(node, Not):
            return ["not", self.node(node.arg)]
        if isinstance(node, Const):
            return ["const", node.value]
        return ["leaf", self.leaf(node)]

    def fallback(self, leaf: Leaf) -> int:
        self.fallback_nodes.append(leaf)
        return len(self.fallback_nodes) - 1

    def leaf(self, leaf: Leaf) -> dict[str, Any]:
        fields = [self.slot(name) for name in leaf.fields]
        out: dict[str, Any] = {"op": leaf.op, "fields": fields, "cased": leaf.cased}
        op, args = leaf.op, leaf.args
        if op in ("eq", "prefix", "suffix", "contains"):
            out["values"] = sorted(args[0])
        elif op in ("glob", "regex"):
            out.update(op="pattern", pattern=rust_regex(args[0]), py=self.fallback(leaf))
            out["required"] = args[1] if op == "glob" else ""
        elif op in ("exists", "bool"):
            out["value"] = args[0]
        elif op == "num":
            out.update(number=args[0], text=str(args[0]))
        elif op == "cmp":
            out.update(cmp=args[0], number=args[1])
        elif op == "cidr":
            network: ipaddress.IPv4Network | ipaddress.IPv6Network = args[0]
            out.update(
                v6=network.version == 6,
                network=str(int(network.network_address)),
                mask=str(int(network.netmask)),
            )
        elif op == "fieldref":
            out["mode"] = args[0]
        elif op != "null":  # tspart, and whatever the IR grows that is not ported: Python evaluates it
            out.update(op="py", py=self.fallback(leaf))
        return out


def build(matchers: Matchers, project: tuple[str, ...] = ()) -> NativeMatcher | None:
    """The native matcher of a compiled rule set, handing back the `project` fields of matched events;
    None when the native module lacks it or it is disabled."""
    if os.environ.get(DISABLE_ENV, "1") == "0":
        return None
    try:
        import egovops_native
    except ImportError:
        return None
    factory = getattr(egovops_native, "Matcher", None)  # a build without the `matcher` feature lacks it
    if factory is None:
        return None
    plan = _Plan()
    datasets = {dataset: plan.tree(tree) for dataset, tree in matchers.trees.items()}
    text = orjson.dumps({"paths": list(plan.paths), "datasets": datasets}).decode()
    fallbacks: list[Predicate] = Matchers.predicates(plan.fallback_nodes)
    matcher: NativeMatcher = factory(text, fallbacks, orjson.loads, list(project))
    return matcher
