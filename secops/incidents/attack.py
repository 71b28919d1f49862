"""ATT&CK from Sigma tags: tactics (`attack.credential-access`), techniques (`attack.t1110.001`) and the
kill-chain stage an incident has reached (the latest tactic along the enterprise matrix's order)."""

from __future__ import annotations

import re
from collections.abc import Iterable

TACTICS_ZH = {
    "reconnaissance": "侦察",
    "resource-development": "资源开发",
    "initial-access": "初始访问",
    "execution": "执行",
    "persistence": "持久化",
    "privilege-escalation": "权限提升",
    "defense-evasion": "防御规避",
    "credential-access": "凭据访问",
    "discovery": "发现",
    "lateral-movement": "横向移动",
    "collection": "收集",
    "command-and-control": "命令与控制",
    "exfiltration": "数据窃取",
    "impact": "破坏影响",
}
"""Enterprise tactics in matrix order, which is roughly the order an intrusion goes through them."""
_ORDER = {name: rank for rank, name in enumerate(TACTICS_ZH)}
_TECHNIQUE = re.compile(r"^(?:attack\.)?(t\d{4}(?:\.\d{3})?)$", re.IGNORECASE)


def tactics(tags: Iterable[str]) -> list[str]:
    """Tactic names in matrix order, from tags (Sigma writes `-` or `_`) or names already taken from them."""
    found = {t.lower().removeprefix("attack.").replace("_", "-") for t in tags}
    return sorted(found & _ORDER.keys(), key=_ORDER.__getitem__)


def techniques(tags: Iterable[str]) -> list[str]:
    """Technique ids (`T1110.001`), from tags or ids already taken from them."""
    return sorted({m.group(1).upper() for t in tags if (m := _TECHNIQUE.match(t))})


def stage(tactic_names: Iterable[str]) -> str | None:
    """How far along the kill chain: the latest tactic seen."""
    ranked = [t for t in tactic_names if t in _ORDER]
    return max(ranked, key=_ORDER.__getitem__) if ranked else None
