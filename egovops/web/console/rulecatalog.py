"""The admin's view of the rules: what loads (enabled), what failed and why, and whether each rule's
fixtures pass. Rules load when the server starts and do not change under it, so the catalogue is worked
out once, on first view, and kept."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RuleStatus:
    id: str
    name: str
    title: str
    level: str
    datasets: tuple[str, ...]
    tags: tuple[str, ...]
    enabled: bool
    reason: str | None
    fixtures: str
    """`pass`, `fail` or `none` (no fixture names the rule)."""
    failures: tuple[str, ...]


class RuleCatalog:
    def __init__(self, paths: Sequence[Path]) -> None:
        self._paths = list(paths)
        self._lock = threading.Lock()
        self._rows: list[RuleStatus] | None = None

    def rows(self) -> list[RuleStatus]:
        with self._lock:
            if self._rows is None:
                self._rows = self._load()
            return self._rows

    def _load(self) -> list[RuleStatus]:
        from secops.detection.fixtures import run_fixtures
        from secops.detection.ruleset import RuleSet

        ruleset = RuleSet.load(self._paths)
        results: dict[str, list[str]] = {}
        for result in run_fixtures(ruleset, self._paths):
            results.setdefault(result.rule, []).extend(result.failures)
        rows = []
        for rule in ruleset.rules:
            ref = rule.ref
            failures = results.get(ref.name or "", results.get(ref.id))
            fixtures = "none" if failures is None else ("fail" if failures else "pass")
            rows.append(
                RuleStatus(
                    ref.id, ref.name or ref.id, ref.title, ref.level, tuple(rule.datasets), ref.tags,
                    True, None, fixtures, tuple(failures or ()),
                )
            )
        rows += [
            RuleStatus(
                f.path, f.title or Path(f.path).name, f.title or "", "", (), (), False, f.reason, "none", ()
            )
            for f in ruleset.failed
        ]
        return rows
