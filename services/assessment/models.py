"""SQLModel tables of the assessment service; its own registry keeps them out of other services'
metadata (and migrations)."""

from datetime import datetime

from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.common.idempotency import IdempotencyFields
from services.common.outbox import OutboxFields, utcnow


class AssessmentTable(SQLModel, registry=registry()):
    pass


class OutboxEvent(AssessmentTable, OutboxFields, table=True):
    __tablename__ = "outbox"


class IdempotencyRecord(AssessmentTable, IdempotencyFields, table=True):
    __tablename__ = "idempotency_record"


metadata = AssessmentTable.metadata


class Factory(AssessmentTable, table=True):
    __tablename__ = "factory"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=300, index=True)
    country: str = Field(max_length=2, index=True)
    region: str | None = Field(default=None, max_length=120)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
