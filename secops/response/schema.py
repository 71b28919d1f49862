"""The `response_actions` table, in the case store's database beside the incidents it acts for."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import JSON, Connection, ForeignKey, String, Text, inspect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.schema import CreateColumn

from secops.incidents.schema import IncidentRow, UtcTime


class ActionState(StrEnum):
    PENDING = "pending"  # requested, waiting for a second person's approval
    RUNNING = "running"  # its playbook (execute or undo) is running
    EXECUTED = "executed"
    FAILED = "failed"  # execution failed; request it again once the cause is fixed
    UNDONE = "undone"


ACTIVE = (ActionState.PENDING, ActionState.RUNNING, ActionState.EXECUTED)
"""States in which an identical second request is refused."""


class ResponseBase(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcTime, dict[str, Any]: JSON}


class ActionRow(ResponseBase):
    __tablename__ = "response_actions"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey(IncidentRow.id), index=True)
    kind: Mapped[str] = mapped_column(String(60), index=True)
    impact: Mapped[str] = mapped_column(String(10))
    params: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(20), index=True)
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime]
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None]
    executed_at: Mapped[datetime | None]
    undone_by: Mapped[str | None] = mapped_column(String(200))
    undone_at: Mapped[datetime | None]
    outputs: Mapped[dict[str, Any]]
    """What execution reported (an nft rule handle); undo uses it."""
    error: Mapped[str | None] = mapped_column(Text)
    runner: Mapped[str | None] = mapped_column(String(200))
    """`host:pid` of the process running its playbook, while it is running: an interrupted run is told
    from a slow one by that process being gone."""


def create_tables(connection: Connection) -> None:
    """Create the table, or add the nullable columns a newer version has to one an older version made."""
    ResponseBase.metadata.create_all(connection)
    table = ResponseBase.metadata.tables[ActionRow.__tablename__]
    present = {column["name"] for column in inspect(connection).get_columns(table.name)}
    for column in table.columns:
        if column.name not in present and column.nullable:
            ddl = CreateColumn(column).compile(dialect=connection.dialect)
            connection.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {ddl}")
