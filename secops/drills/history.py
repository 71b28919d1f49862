"""Scorecards kept across runs (a `drills` table in SQLite), so a city sees whether its SOC is getting
better: each run of a scenario is compared with the run of that scenario before it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import String, Text, create_engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from secops.drills.scorecard import Scorecard
from secops.store import StoreError


class HistoryError(LookupError):
    """No such drill run; the message says how to find one."""


class _Base(DeclarativeBase):
    pass


class DrillRow(_Base):
    __tablename__ = "drills"

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario: Mapped[str] = mapped_column(String(100), index=True)
    started: Mapped[datetime]
    finished: Mapped[datetime]
    score: Mapped[int]
    coverage: Mapped[float]
    false_positives: Mapped[int]
    scorecard: Mapped[str] = mapped_column(Text)
    """The whole scorecard as JSON (what `drill show` exports)."""


class Run(BaseModel):
    """One run in the history, with its change against the scenario's previous run (None for the first)."""

    id: int
    scenario: str
    started: datetime
    score: int
    coverage: float
    false_positives: int
    score_delta: int | None
    coverage_delta: float | None


class History:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.engine = create_engine(f"sqlite:///{path}")
        with self._errors():
            _Base.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            raise StoreError(f"drill history {self.path}: {getattr(exc, 'orig', None) or exc}") from exc

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._errors(), self._sessions.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, card: Scorecard) -> Scorecard:
        """Store a scorecard; returns it with its id."""
        row = DrillRow(
            scenario=card.scenario, started=card.started, finished=card.finished, score=card.score,
            coverage=card.coverage, false_positives=len(card.false_positives), scorecard="",
        )
        with self._session() as session:
            session.add(row)
            session.flush()
            stored = card.model_copy(update={"id": row.id})
            row.scorecard = stored.model_dump_json()
        return stored

    def get(self, run_id: int) -> Scorecard:
        with self._session() as session:
            row = session.get(DrillRow, run_id)
            if row is None:
                raise HistoryError(f"no drill run {run_id}; `egovops drill history` lists them")
            return Scorecard.model_validate_json(row.scorecard)

    def runs(self, scenario: str | None = None) -> list[Run]:
        """Runs oldest first, each compared with the previous run of its scenario."""
        query = select(DrillRow).order_by(DrillRow.id)
        if scenario is not None:
            query = query.where(DrillRow.scenario == scenario)
        with self._session() as session:
            rows = list(session.scalars(query))
        previous: dict[str, DrillRow] = {}
        runs = []
        for row in rows:
            before = previous.get(row.scenario)
            runs.append(Run(
                id=row.id, scenario=row.scenario, started=row.started, score=row.score,
                coverage=row.coverage, false_positives=row.false_positives,
                score_delta=None if before is None else row.score - before.score,
                coverage_delta=None if before is None else round(row.coverage - before.coverage, 4),
            ))
            previous[row.scenario] = row
        return runs
