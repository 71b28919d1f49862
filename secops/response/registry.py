"""The catalogue of action kinds. Modules register their kinds when imported: the built-in ones below,
and any listed in `[response] modules` (OpenStack port quarantine, router ACLs, ... as they come)."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from secops.response.action import ActionKind
from secops.response.errors import OptionsError, ResponseError

BUILTIN_MODULES = (
    "secops.response.waf_block",
    "secops.response.nft_deny",
    "secops.response.router_acl",
    "secops.response.port_quarantine",
)
RESERVED = frozenset({"list", "approve", "undo", "kinds"})
"""Names the `egovops respond` command uses itself."""

_KINDS: dict[str, ActionKind[Any, Any]] = {}


def register(kind: ActionKind[Any, Any]) -> ActionKind[Any, Any]:
    if kind.name in RESERVED:
        raise ValueError(f"{kind.name!r} is reserved by `egovops respond`; name the kind otherwise")
    known = _KINDS.get(kind.name)
    if known is not None and type(known) is not type(kind):
        raise ValueError(f"action kind {kind.name!r} is registered twice ({type(known).__name__})")
    _KINDS[kind.name] = kind
    return kind


def load_kinds(modules: Iterable[str] = (), configured: Iterable[str] = ()) -> list[ActionKind[Any, Any]]:
    """Import the built-in kinds and `modules`; `configured` (the kinds with options set) must exist."""
    for module in (*BUILTIN_MODULES, *modules):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise OptionsError(f"[response] modules: cannot import {module!r}: {exc}") from exc
    unknown = sorted(set(configured) - set(_KINDS))
    if unknown:
        raise OptionsError(
            f"[response.kinds.{unknown[0]}] in egovops.toml: no such action kind; "
            f"known: {', '.join(sorted(_KINDS))}"
        )
    return kinds()


def kinds() -> list[ActionKind[Any, Any]]:
    return [_KINDS[name] for name in sorted(_KINDS)]


def get_kind(name: str) -> ActionKind[Any, Any]:
    kind = _KINDS.get(name)
    if kind is None:
        raise ResponseError(f"no response action {name!r}; the kinds are: {', '.join(sorted(_KINDS))}")
    return kind
