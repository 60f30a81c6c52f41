"""SQLModel tables of the reporting service's read model (its own registry and migrations)."""

from datetime import datetime

from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.common.idempotency import IdempotencyFields
from services.common.outbox import utcnow


class ReportingTable(SQLModel, registry=registry()):
    pass


class IdempotencyRecord(ReportingTable, IdempotencyFields, table=True):
    __tablename__ = "idempotency_record"


class FeedCursor(ReportingTable, table=True):
    """How far reporting has applied a source's change feed; updated in the same transaction."""

    __tablename__ = "feed_cursor"

    source: str = Field(primary_key=True, max_length=40)
    last_event_id: int = Field(default=0)
    last_event_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


metadata = ReportingTable.metadata
