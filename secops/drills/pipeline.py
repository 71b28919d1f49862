"""The SOC pipeline a drill runs through: the range's sensors followed into the drill's own event store,
the built-in rules run on every stored batch, alerts and incidents in the drill's own case store.

It is the same pipeline as `egovops ingest --follow` (Follower → Ingestor → Detector), on a background
thread with a short poll, and it starts at the sensors' current end: what a range logged before the drill
(an earlier drill's brute force, say) is no part of this one.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from egovops.config import Settings
from secops import sources
from secops.detection.detector import Detector
from secops.detection.engine import EngineOptions
from secops.detection.ruleset import BUILTIN_RULES, RuleSet
from secops.incidents.cases import CaseStore, open_cases
from secops.incidents.schema import AlertRow
from secops.ingest.follow import Follower
from secops.ingest.pipeline import IngestOptions, Ingestor
from secops.ingest.reader import read_fingerprint
from secops.sources.base import FileSource, SourceOptions
from secops.store import Store, open_store
from secops.store.base import Checkpoint, Query


class Sensor(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def path(self) -> Path: ...
    @property
    def format(self) -> str: ...


class Pipeline:
    """Start with `start()`, stop with `stop()`; `alerts()` reads the case store at any time."""

    def __init__(
        self, work: Path, settings: Settings, sensors: Sequence[Sensor], *, poll: float = 0.2
    ) -> None:
        work.mkdir(parents=True, exist_ok=True)
        self.work = work
        self.settings = settings
        self.sensors = list(sensors)
        self.poll = poll
        self.store_url = f"sqlite:///{work / 'events.db'}"
        self.cases: CaseStore = open_cases(
            self.store_url, f"sqlite:///{work / 'cases.db'}", settings=settings.incidents
        )
        self.ruleset = RuleSet.load([BUILTIN_RULES, *settings.detection.rules])
        self.failure: BaseException | None = None
        self._stop = threading.Event()
        self._caught_up = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="drill-pipeline", daemon=True)

    def open_store(self) -> Store:
        return open_store(self.store_url, spool_dir=self.work / "spool")

    def start(self, timeout: float = 30) -> None:
        """Follow the sensors from their current end; returns once the first round has been read."""
        with self.open_store() as store:
            for sensor in self.sensors:
                skip_existing(store, sensor)
        self._thread.start()
        if not self._caught_up.wait(timeout):
            raise RuntimeError(f"the drill pipeline did not start within {timeout:.0f} s")
        self.check()

    def check(self) -> None:
        """Raise what stopped the background thread, if anything did."""
        if self.failure is not None:
            raise RuntimeError(f"the drill pipeline stopped: {self.failure}") from self.failure

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=60)
        self.cases.close()

    def alerts(self, since: datetime) -> list[AlertRow]:
        """Alerts recorded or updated (a folded repeat) since `since`, wall-clock time."""
        return [row for row in self.cases.alerts(limit=None) if aware(row.updated_at) >= since]

    def events(self, since: datetime, until: datetime) -> dict[str, int]:
        """Events stored per dataset with an event time in [since, until]."""
        datasets = sorted({sources.source_class(s.format).dataset for s in self.sensors})
        with self.open_store() as store:
            return {
                ds: store.count(Query(since=since, until=until, datasets=[ds], limit=None)) for ds in datasets
            }

    def _follow(self) -> None:
        settings = self.settings
        try:
            with self.open_store() as store:
                detector = Detector(
                    self.ruleset, self.cases, options=EngineOptions(lateness=settings.detection.lateness)
                )
                options = IngestOptions(
                    keep_original=False,
                    batch_size=settings.ingest.batch_size,
                    source_options=SourceOptions(timezone=settings.ingest.timezone),
                )
                ingestor = Ingestor(store, options, detector.observe)
                followers = [
                    Follower(ingestor, [s.path], s.format, poll_interval=self.poll, idle_flush=1.0)
                    for s in self.sensors
                ]
                while not self._stop.is_set():
                    read = sum(f.poll_once() for f in followers)
                    self._caught_up.set()
                    if not read:
                        self._stop.wait(self.poll)
                for follower in followers:
                    follower.poll_once()
                    follower.close()
                detector.finish(final=False)
        except BaseException as exc:  # handed to the drill's thread, which reports it
            self.failure = exc
            self._caught_up.set()


def skip_existing(store: Store, sensor: Sensor) -> None:
    """Checkpoint every file of the sensor at its current end, so following starts from now."""
    binary = issubclass(sources.source_class(sensor.format), FileSource)
    path = Path(sensor.path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file())
    else:
        files = [path] if path.exists() else []
    for file in files:
        stat = file.stat()
        if binary:
            store.save_checkpoint(str(file), Checkpoint("whole-file", stat.st_ino, stat.st_size))
            continue
        with file.open("rb") as stream:
            identity = read_fingerprint(stream)
            if identity is None:
                continue
            end = _last_line_end(stream, stat.st_size)
        store.save_checkpoint(str(file), Checkpoint(identity, stat.st_ino, end))


def _last_line_end(stream: BinaryIO, size: int) -> int:
    """The offset just past the last complete line (a line still being written is read later)."""
    tail = min(size, 65536)
    stream.seek(size - tail)
    data = stream.read(tail)
    cut = data.rfind(b"\n")
    return size - tail + cut + 1 if cut >= 0 else size - tail


def aware(moment: datetime) -> datetime:
    """The case store's times (UTC, naive in SQLite) as aware datetimes."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

