"""Detection on ingest: the rules run on events as the pipeline stores them, and what fires is recorded.

`egovops ingest` and `egovops serve` both hand every batch they store to a `Detector`: the batch goes
through the streaming engine, and its alerts are upserted into the case store and grouped into incidents.
A one-off ingest closes every window at the end (`finish(final=True)`), so correlations over a file fire
when the file has been read; `serve` keeps its windows open across polls and saves the engine's state
at most every `save_every` seconds and when it stops, so a restart in the middle of a brute force still
fires (a snapshot of a million windows takes seconds: taking one per stored batch would stall ingest).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from monitors import metrics
from secops.detection.alerts import Alert
from secops.detection.engine import Engine, EngineOptions, SnapshotError
from secops.detection.ruleset import RuleSet
from secops.events import Event
from secops.incidents.cases import CaseStore
from secops.incidents.grouping import record_alerts


class Detector:
    def __init__(
        self,
        ruleset: RuleSet,
        cases: CaseStore,
        *,
        options: EngineOptions | None = None,
        state_path: Path | None = None,
        save_every: float = 10.0,
    ) -> None:
        self.ruleset = ruleset
        self.cases = cases
        self.engine = Engine(ruleset, options)
        metrics.watch_engine(self.engine.metrics)
        self.state_path = state_path
        self.save_every = save_every
        self.saved_at = time.monotonic()
        self.alert_ids: set[str] = set()  # distinct alerts (a suppressed repeat comes back updated)
        self.incidents: set[int] = set()
        self.warning = ""
        if state_path is not None and state_path.exists():
            try:
                self.engine.restore(state_path.read_bytes())
            except SnapshotError as exc:
                # State of another rule set or version: start afresh rather than refuse to run.
                self.warning = f"detection state {state_path} not restored: {exc}"

    def observe(self, events: Sequence[Event]) -> None:
        """Run one stored batch through the engine (one native matching call) and record its alerts."""
        started = time.perf_counter()
        alerts = self.engine.process_batch(events)
        metrics.observe_detection(time.perf_counter() - started, alerts)
        self._record(alerts)
        if self.state_path is not None and time.monotonic() - self.saved_at >= self.save_every:
            self._save()

    def finish(self, *, final: bool) -> None:
        """End of a run: with `final`, close every window (absence and counts fire now)."""
        if final:
            self._record(self.engine.flush())
        if self.state_path is not None:
            self._save()

    def _record(self, alerts: list[Alert]) -> None:
        if alerts:
            self.alert_ids.update(alert.id for alert in alerts)
            self.incidents.update(record_alerts(self.cases, alerts))

    def _save(self) -> None:
        assert self.state_path is not None
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.state_path.with_suffix(".partial")
        partial.write_bytes(self.engine.snapshot())
        partial.replace(self.state_path)  # a crash leaves the old state or the new, never half of one
        self.saved_at = time.monotonic()
