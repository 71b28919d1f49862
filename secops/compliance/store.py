"""Assessments kept in SQL (SQLAlchemy 2.0): one row per assessment, one per item result.

Item evidence, check outcomes and overrides are kept as the JSON of their pydantic models, so what was
stored reads back as the same `Assessment`. Saving an assessment again replaces it; its score and band,
when given, are kept on the row so lists and diffs need not re-score.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, Float, ForeignKey, String, create_engine, delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker

from secops.compliance.assessment import Assessment, ItemAssessment
from secops.compliance.scoring import Outcome
from secops.incidents.schema import UtcTime


class AssessmentStoreError(RuntimeError):
    """The assessment store cannot be opened or an assessment is not in it."""


class _Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcTime, dict[str, Any]: JSON}


class AssessmentRow(_Base):
    __tablename__ = "compliance_assessments"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    system: Mapped[str] = mapped_column(String(200), index=True)
    level: Mapped[int]
    cloud: Mapped[bool]
    target: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(index=True)
    catalogue_versions: Mapped[dict[str, Any]]
    scoring_version: Mapped[str] = mapped_column(String(40))
    score: Mapped[float | None] = mapped_column(Float)
    band: Mapped[str | None] = mapped_column(String(8))

    items: Mapped[list[ItemRow]] = relationship(
        back_populates="assessment", cascade="all, delete-orphan", order_by="ItemRow.seq"
    )


class ItemRow(_Base):
    __tablename__ = "compliance_item_results"

    assessment_id: Mapped[str] = mapped_column(
        ForeignKey("compliance_assessments.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int]
    result: Mapped[str] = mapped_column(String(8), index=True)
    risk: Mapped[str | None] = mapped_column(String(4))
    reviewer: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, doc="checks, evidence and override as JSON")

    assessment: Mapped[AssessmentRow] = relationship(back_populates="items")


class Summary(BaseModel):
    """An assessment as lists show it."""

    model_config = ConfigDict(frozen=True)

    id: str
    system: str
    level: int
    target: str
    created_at: datetime
    score: float | None
    band: str | None


_DETAIL = {"checks", "evidence", "override"}


class AssessmentStore:
    """Assessments in a SQL database (`sqlite:///PATH` or any SQLAlchemy URL)."""

    def __init__(self, url: str) -> None:
        try:
            self._engine = create_engine(url)
            _Base.metadata.create_all(self._engine)
        except SQLAlchemyError as exc:
            raise AssessmentStoreError(f"{url}: cannot open the assessment store: {exc}") from exc
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)

    def __enter__(self) -> AssessmentStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    def save(self, assessment: Assessment, outcome: Outcome | None = None) -> None:
        """Store `assessment` (replacing one with the same id), with its score and band if given."""
        row = AssessmentRow(
            id=assessment.id, system=assessment.system, level=assessment.level, cloud=assessment.cloud,
            target=assessment.target, created_at=assessment.created_at,
            catalogue_versions=dict(assessment.catalogue_versions),
            scoring_version=assessment.scoring_version,
            score=outcome.score if outcome else None, band=outcome.band if outcome else None,
            items=[_item_row(seq, item) for seq, item in enumerate(assessment.items)],
        )
        with self._session() as session:
            session.execute(delete(ItemRow).where(ItemRow.assessment_id == assessment.id))
            session.execute(delete(AssessmentRow).where(AssessmentRow.id == assessment.id))
            session.add(row)

    def get(self, assessment_id: str) -> Assessment:
        with self._session() as session:
            row = session.get(AssessmentRow, assessment_id)
            if row is None:
                raise AssessmentStoreError(
                    f"no assessment {assessment_id!r} in this store (check the id and the store URL)"
                )
            return Assessment.model_validate({
                "id": row.id, "system": row.system, "level": row.level, "cloud": row.cloud,
                "target": row.target, "created_at": row.created_at,
                "catalogue_versions": row.catalogue_versions, "scoring_version": row.scoring_version,
                "items": [_item(r) for r in row.items],
            })

    def summaries(self, system: str | None = None) -> list[Summary]:
        """Stored assessments, newest first; only those of `system` if given."""
        columns = [getattr(AssessmentRow, name) for name in Summary.model_fields]
        query = select(*columns).order_by(AssessmentRow.created_at.desc())
        if system is not None:
            query = query.where(AssessmentRow.system == system)
        with self._session() as session:
            return [Summary.model_validate(row._asdict()) for row in session.execute(query)]


def _item_row(seq: int, item: ItemAssessment) -> ItemRow:
    return ItemRow(
        item_id=item.item_id, seq=seq, result=item.result.value,
        risk=item.risk.value if item.risk else None, reviewer=item.reviewer,
        detail=item.model_dump(mode="json", include=_DETAIL),
    )


def _item(row: ItemRow) -> ItemAssessment:
    fields = {"item_id": row.item_id, "result": row.result, "risk": row.risk, "reviewer": row.reviewer}
    return ItemAssessment.model_validate({**fields, **row.detail})
