"""SQLModel tables of the training service; its own registry keeps them out of other services'
metadata (and migrations).

Factory, assessment and finding ids are references into the assessment service: plain strings,
checked over HTTP when written, never foreign keys.

``country`` on every row that belongs to a country programme (factory-owned rows copy their
factory's country from the assessment service when they are created; sessions and seminars
carry the country they take place in) is what the kernel's country scope filters on
(services/common/scope.py). Children (members, meetings, participants, item history) follow their
parent's. A row with no country is seen only by callers without a country limit.
"""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.common.etag import Versioned
from services.common.idempotency import IdempotencyFields
from services.common.outbox import OutboxFields, utcnow


class TrainingTable(SQLModel, registry=registry()):
    pass


class OutboxEvent(TrainingTable, OutboxFields, table=True):
    __tablename__ = "outbox"


class IdempotencyRecord(TrainingTable, IdempotencyFields, table=True):
    __tablename__ = "idempotency_record"


metadata = TrainingTable.metadata


def _json_list() -> Any:
    return Field(default_factory=list, sa_type=JSON, nullable=False)


def _country() -> Any:
    """ISO 3166-1 alpha-2 code of the country programme the row belongs to."""
    return Field(default=None, max_length=2, index=True)


class Course(TrainingTable, Versioned, table=True):
    __tablename__ = "course"

    id: str = Field(primary_key=True, max_length=40)
    code: str = Field(max_length=40, unique=True)
    title_en: str = Field(max_length=300)
    title_uz: str | None = Field(default=None, max_length=300)
    title_ru: str | None = Field(default=None, max_length=300)
    topic: str = Field(max_length=60, index=True)
    duration_days: float = Field(default=1.0)
    audience: list[str] = _json_list()
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class TrainingSession(TrainingTable, Versioned, table=True):
    __tablename__ = "training_session"

    id: str = Field(primary_key=True, max_length=40)
    course_id: str = Field(foreign_key="course.id", max_length=40, index=True)
    start_date: date = Field(index=True)
    end_date: date
    trainers: list[str] = _json_list()
    venue: str | None = Field(default=None, max_length=300)
    delivery: str = Field(max_length=20)
    factory_ids: list[str] = _json_list()
    country: str | None = _country()
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class SessionFactory(TrainingTable, table=True):
    """One row per factory taking part in a session, so 'sessions of factory X' is indexed."""

    __tablename__ = "training_session_factory"

    session_id: str = Field(foreign_key="training_session.id", primary_key=True, max_length=40)
    factory_id: str = Field(primary_key=True, max_length=40, index=True)


class Participant(TrainingTable, table=True):
    """One line of a session's attendance list; replaced as a whole by each upload."""

    __tablename__ = "participant"

    id: str = Field(primary_key=True, max_length=40)
    session_id: str = Field(foreign_key="training_session.id", max_length=40, index=True)
    row_number: int
    full_name: str | None = Field(default=None, max_length=200)
    sex: str = Field(max_length=10)
    role: str = Field(max_length=30)
    factory_id: str = Field(max_length=40, index=True)
    attended: bool = True
    completed: bool = False


class AdvisoryVisit(TrainingTable, Versioned, table=True):
    __tablename__ = "advisory_visit"

    id: str = Field(primary_key=True, max_length=40)
    factory_id: str = Field(max_length=40, index=True)
    country: str | None = _country()
    visit_date: date = Field(index=True)
    advisors: list[str] = _json_list()
    topics: list[str] = _json_list()
    compliance_point_codes: list[str] = _json_list()
    notes: str | None = Field(default=None, max_length=10_000)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Committee(TrainingTable, Versioned, table=True):
    """A factory's bipartite worker-management committee."""

    __tablename__ = "committee"

    id: str = Field(primary_key=True, max_length=40)
    factory_id: str = Field(max_length=40, unique=True)
    country: str | None = _country()
    name: str | None = Field(default=None, max_length=300)
    established_on: date | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class CommitteeMember(TrainingTable, Versioned, table=True):
    __tablename__ = "committee_member"

    id: str = Field(primary_key=True, max_length=40)
    committee_id: str = Field(foreign_key="committee.id", max_length=40, index=True)
    full_name: str = Field(max_length=200)
    role: str = Field(max_length=40)
    position: str | None = Field(default=None, max_length=200)
    sex: str = Field(max_length=10)
    selection: str = Field(max_length=20)
    is_chair: bool = False
    joined_on: date
    left_on: date | None = None


class CommitteeMeeting(TrainingTable, table=True):
    __tablename__ = "committee_meeting"

    id: str = Field(primary_key=True, max_length=40)
    committee_id: str = Field(foreign_key="committee.id", max_length=40, index=True)
    meeting_date: date
    attendee_member_ids: list[str] = _json_list()
    guests_women: int = 0
    guests_men: int = 0
    attendees_total: int = 0
    attendees_women: int = 0
    minutes_summary: str | None = Field(default=None, max_length=20_000)
    created_at: datetime = Field(default_factory=utcnow)


class ImprovementPlan(TrainingTable, Versioned, table=True):
    __tablename__ = "improvement_plan"
    __table_args__ = (UniqueConstraint("factory_id", "assessment_id"),)

    id: str = Field(primary_key=True, max_length=40)
    factory_id: str = Field(max_length=40, index=True)
    assessment_id: str = Field(max_length=40, index=True)
    country: str | None = _country()
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ImprovementItem(TrainingTable, Versioned, table=True):
    __tablename__ = "improvement_item"

    id: str = Field(primary_key=True, max_length=40)
    plan_id: str = Field(foreign_key="improvement_plan.id", max_length=40, index=True)
    country: str | None = _country()
    factory_id: str = Field(max_length=40, index=True)
    compliance_point_code: str = Field(max_length=40)
    finding_question_code: str | None = Field(default=None, max_length=40)
    action: str = Field(max_length=5_000)
    owner: str = Field(max_length=200)
    due_date: date = Field(index=True)
    status: str = Field(default="pending", max_length=20, index=True)
    completed_at: date | None = None
    created_at: datetime = Field(default_factory=utcnow)


class ImprovementItemChange(TrainingTable, table=True):
    """The dated status history of an improvement item (append-only)."""

    __tablename__ = "improvement_item_change"

    id: str = Field(primary_key=True, max_length=40)
    item_id: str = Field(foreign_key="improvement_item.id", max_length=40, index=True)
    status: str = Field(max_length=20)
    effective_date: date
    note: str | None = Field(default=None, max_length=2_000)
    changed_by: str = Field(max_length=200)
    recorded_at: datetime = Field(default_factory=utcnow)


class Seminar(TrainingTable, Versioned, table=True):
    """Industry seminars, PAC meetings and other stakeholder events."""

    __tablename__ = "seminar"

    id: str = Field(primary_key=True, max_length=40)
    kind: str = Field(max_length=30, index=True)
    country: str | None = _country()
    event_date: date = Field(index=True)
    topic: str = Field(max_length=500)
    organisations: list[str] = _json_list()
    venue: str | None = Field(default=None, max_length=300)
    participants_women: int = 0
    participants_men: int = 0
    notes: str | None = Field(default=None, max_length=10_000)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
