"""From a running configuration to the rendered one: the unified diff a reviewer reads, and the commands
that get there. Configurations are trees (a block's lines are indented under its header); two trees are
compared by line text per block, order aside, so a re-push of an applied configuration is empty."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from network.render import Dialect

_NOISE = re.compile(r"^(Building configuration|Current configuration|!Time:|end$)")


@dataclass
class Node:
    line: str
    children: list[Node] = field(default_factory=list)


def parse(text: str, dialect: Dialect) -> list[Node]:
    """The configuration as a tree; comments, terminators (exit, quit), banners of the show command and
    empty interface blocks go (a switch lists every port it has; a port without lines configures nothing)."""
    root = Node("")
    stack: list[tuple[int, Node]] = [(-1, root)]
    for raw in text.splitlines():
        stripped = raw.strip()
        noise = not stripped or stripped.startswith(dialect.comment) or bool(_NOISE.match(stripped))
        if noise or stripped in dialect.terminators or stripped.startswith("exit-address-family"):
            continue
        depth = len(raw) - len(raw.lstrip(" "))
        while stack[-1][0] >= depth:
            stack.pop()
        node = Node(stripped)
        stack[-1][1].children.append(node)
        stack.append((depth, node))
    return [n for n in root.children if n.children or not re.match(dialect.clear_blocks, n.line)]


def normalised(text: str, dialect: Dialect) -> list[str]:
    """The configuration as comparable lines: indented by depth, sorted within each block, because the
    device keeps its own order (FRR sorts interfaces by name) and order inside a block means nothing here."""
    lines: list[str] = []

    def walk(nodes: list[Node], depth: int) -> None:
        for node in sorted(nodes, key=lambda n: n.line):
            if depth == 0 and dialect.ignored(node.line):
                continue
            lines.append(" " * depth + node.line)
            walk(node.children, depth + 1)

    walk(parse(text, dialect), 0)
    return lines


def unified(running: str, desired: str, dialect: Dialect, name: str) -> str:
    """What would change, as a unified diff of the two configurations (empty: nothing)."""
    diff = difflib.unified_diff(
        normalised(running, dialect), normalised(desired, dialect),
        fromfile=f"{name} (running)", tofile=f"{name} (rendered)", lineterm="",
    )  # fmt: skip
    return "\n".join(diff)


def commands(running: str, desired: str, dialect: Dialect) -> list[str]:
    """Configuration-mode commands that turn `running` into `desired` (removals first in each block)."""
    return _block(parse(desired, dialect), parse(running, dialect), dialect, top=True)


def _block(want: list[Node], have: list[Node], dialect: Dialect, top: bool) -> list[str]:
    wanted = {n.line: n for n in want}
    present = {n.line: n for n in have}
    out: list[str] = []
    for node in have:
        if node.line in wanted or (top and dialect.ignored(node.line)):
            continue
        if node.children and re.match(dialect.clear_blocks, node.line):
            inner = _block([], node.children, dialect, top=False)
            out += [node.line, *inner, dialect.exit]
        else:
            out.append(dialect.negation(node.line))
    for node in want:
        old = present.get(node.line)
        if old is None:
            out.append(node.line)
            if node.children:
                out += [*_block(node.children, [], dialect, top=False), dialect.exit]
        elif node.children or old.children:
            inner = _block(node.children, old.children, dialect, top=False)
            if inner:
                out += [node.line, *inner, dialect.exit]
    return out
