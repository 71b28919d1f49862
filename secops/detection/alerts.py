"""Alerts: what a matched rule or a fired correlation records, and how repeats are folded into one.

An alert's id is deterministic (rule, group key, window start; for a single-event alert the event id), so
the same input always yields the same alerts and a store can upsert them. Suppression folds an alert that
repeats the same rule and the same values of chosen fields within a window into the first one, which keeps
the count of what it absorbed; the engine then hands back that first alert again, updated in place.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, TypeGuard

import orjson

from secops.detection.state import freeze
from secops.events import format_ts, from_epoch

SEVERITIES = ("informational", "low", "medium", "high", "critical")
_SEVERITY_ZH = {"informational": "提示", "low": "低危", "medium": "中危", "high": "高危", "critical": "严重"}


@dataclass(slots=True)
class Alert:
    """One alert. `entity` holds the group-by values; `event_ids` every contributing event, all sides.

    The summaries are derived from the other fields when read, so a folded repeat updates them too.
    """

    id: str
    rule_id: str
    title: str
    severity: str
    entity: dict[str, Any]
    event_ids: list[str]
    tags: list[str]
    first_seen: str
    last_seen: str
    count: int  # contributing events (also those past the evidence cap)
    rule_type: str = "sigma"  # sigma (a single-event rule) or the correlation type
    suppressed: int = 0  # repeats folded into this alert
    rule_name: str | None = None
    title_zh: str | None = None

    @property
    def summary_zh(self) -> str:
        return summaries(self)[0]

    @property
    def summary_en(self) -> str:
        return summaries(self)[1]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["summary_zh"], data["summary_en"] = summaries(self)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        """An alert from `to_dict` output (the summaries, being derived, are not read back)."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def alert_id(rule_id: str, group: Mapping[str, Any], start: str) -> str:
    """rule id + group key + window start."""
    text = b"%s\x1f%s\x1f%s" % (
        rule_id.encode(),
        orjson.dumps(group, option=orjson.OPT_SORT_KEYS),
        start.encode(),
    )
    return hashlib.blake2b(text, digest_size=16).hexdigest()


def event_alert_id(rule_id: str, event_id: str) -> str:
    """The id of a single-event alert: its rule and its event."""
    return hashlib.blake2b(f"{rule_id}\x1f{event_id}".encode(), digest_size=16).hexdigest()


def _entity_text(entity: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in entity.items()) or "-"


def summaries(alert: Alert) -> tuple[str, str]:
    """The Chinese and English one-line summaries an analyst reads in a list."""
    who = _entity_text(alert.entity)
    first, last = alert.first_seen, alert.last_seen
    span = first if first == last else f"{first} – {last}"
    level = alert.severity
    zh_level = _SEVERITY_ZH.get(level, level)
    name_zh = alert.title_zh or alert.title
    folded_zh = f"，另有 {alert.suppressed} 次重复已合并" if alert.suppressed else ""
    folded_en = f", {alert.suppressed} repeats folded in" if alert.suppressed else ""
    if alert.rule_type != "sigma":
        zh = f"【{zh_level}】关联规则「{name_zh}」触发：{who}，{alert.count} 个相关事件（{span}）{folded_zh}"
        en = (
            f"[{level}] correlation '{alert.title}' fired for {who}: {alert.count} contributing events "
            f"({span}){folded_en}"
        )
    else:
        zh = f"【{zh_level}】规则「{name_zh}」命中：{who}（{span}）{folded_zh}"
        en = f"[{level}] rule '{alert.title}' matched for {who} ({span}){folded_en}"
    return zh, en


@dataclass(frozen=True, slots=True)
class Suppression:
    """Fold repeats of one rule with equal values of `fields` within `window` seconds into one alert."""

    fields: tuple[str, ...]
    window: float


def folds(rule: Suppression | None) -> TypeGuard[Suppression]:
    """Whether suppression by `rule` folds anything (`Suppressor.admit` passes alerts of the others
    through untouched)."""
    return rule is not None and rule.window > 0


@dataclass(slots=True)
class _Held:
    until: float
    alert: Alert
    known: set[str] | None = None  # the alert's event ids, made at its first repeat


@dataclass(slots=True)
class Suppressor:
    """Keeps the first alert of each (rule, field values) for its window and folds repeats into it."""

    max_keys: int
    max_evidence: int
    held: dict[tuple[Hashable, ...], _Held] = field(default_factory=dict)
    suppressed: int = 0
    evicted: int = 0
    evidence_truncated: int = 0

    def admit(
        self, alert: Alert, rule: Suppression | None, values: tuple[Hashable, ...], now: float
    ) -> Alert:
        """The alert to hand out: this one, or the earlier one it repeats, updated in place (same id)."""
        if not folds(rule):
            return alert
        key = (alert.rule_id, *values)
        held = self.held.get(key)
        if held is None or held.until < now:
            if held is not None:
                del self.held[key]
            self.held[key] = _Held(now + rule.window, alert)
            while len(self.held) > self.max_keys:
                del self.held[next(iter(self.held))]
                self.evicted += 1
            return alert
        first = held.alert
        self.suppressed += 1
        first.suppressed += 1
        first.count += alert.count
        first.first_seen = min(first.first_seen, alert.first_seen)
        first.last_seen = max(first.last_seen, alert.last_seen)
        known = held.known
        if known is None:
            known = held.known = set(first.event_ids)
        ids = first.event_ids
        for ident in alert.event_ids:
            if ident in known:
                continue
            if len(ids) >= self.max_evidence:
                self.evidence_truncated += 1
                continue
            known.add(ident)
            ids.append(ident)
        return first

    def expire(self, watermark: float) -> None:
        """Forget windows that ended before the watermark (held in start order, so stop at a live one)."""
        done = []
        for key, item in self.held.items():
            if item.until >= watermark:
                break
            done.append(key)
        for key in done:
            del self.held[key]

    def to_state(self) -> list[Any]:
        return [[list(key), held.until, held.alert.to_dict()] for key, held in self.held.items()]

    def load_state(self, items: list[Any]) -> None:
        self.held = {freeze(key): _Held(until, Alert.from_dict(alert)) for key, until, alert in items}


_MINUTES: dict[int, str] = {}


def iso(seconds: float) -> str:
    """Event-time seconds as the ECS timestamp text alerts carry (`format_ts`, without datetime per call)."""
    micros = round(seconds * 1_000_000)
    minute, rest = divmod(micros, 60_000_000)
    prefix = _MINUTES.get(minute)
    if prefix is None:
        if len(_MINUTES) > 100_000:
            _MINUTES.clear()
        prefix = _MINUTES[minute] = format_ts(from_epoch(minute * 60))[:17]
    return f"{prefix}{rest // 1_000_000:02d}.{rest % 1_000_000:06d}Z"


def latest(alerts: list[Alert]) -> list[Alert]:
    """One alert per id, the last version handed out (what a store holds after upserting them all)."""
    return list({a.id: a for a in alerts}.values())
