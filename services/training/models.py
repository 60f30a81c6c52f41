"""SQLModel tables of the training service; its own registry keeps them out of other services'
metadata (and migrations)."""

from datetime import datetime

from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.common.idempotency import IdempotencyFields
from services.common.outbox import OutboxFields, utcnow


class TrainingTable(SQLModel, registry=registry()):
    pass


class OutboxEvent(TrainingTable, OutboxFields, table=True):
    __tablename__ = "outbox"


class IdempotencyRecord(TrainingTable, IdempotencyFields, table=True):
    __tablename__ = "idempotency_record"


metadata = TrainingTable.metadata


class Course(TrainingTable, table=True):
    __tablename__ = "course"

    id: str = Field(primary_key=True, max_length=40)
    code: str = Field(max_length=40, unique=True)
    title: str = Field(max_length=300)
    topic: str = Field(max_length=60)
    duration_days: float = Field(default=1.0)
    created_at: datetime = Field(default_factory=utcnow)
