"""Request and response shapes of assessments and their status history."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Row

from services.assessment.assessments.state_machine import Status, allowed_transitions
from services.assessment.models import Assessment, AssessmentTransition


class VisitType(StrEnum):
    announced = "announced"
    unannounced = "unannounced"


class ProcessIntegrity(BaseModel):
    """Facts about how the assessment was done, so readers can judge its reliability."""

    model_config = ConfigDict(extra="forbid")

    workers_interviewed: int | None = Field(default=None, ge=0, le=10_000)
    managers_interviewed: int | None = Field(default=None, ge=0, le=10_000)
    union_representatives_interviewed: int | None = Field(default=None, ge=0, le=10_000)
    documents_reviewed: bool | None = None
    access_restricted: bool | None = None
    access_restrictions: str | None = Field(default=None, max_length=2000)
    notes: str | None = Field(default=None, max_length=4000)


class VisitFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    visit_type: VisitType = VisitType.unannounced
    visit_start: date
    visit_end: date
    assessors: list[str] = Field(default_factory=list, max_length=20)
    person_days: float | None = Field(default=None, ge=0, le=1000)
    process_integrity: ProcessIntegrity = Field(default_factory=ProcessIntegrity)

    @model_validator(mode="after")
    def _dates_ordered(self) -> VisitFields:
        if self.visit_end < self.visit_start:
            raise ValueError("visit_end is before visit_start")
        return self


class AssessmentCreate(VisitFields):
    factory_id: str = Field(min_length=1, max_length=40)
    catalog_id: str = Field(min_length=1, max_length=40, description="A published CAT version.")


class AssessmentUpdate(BaseModel):
    """Visit details; the factory and the CAT version are fixed at creation."""

    model_config = ConfigDict(extra="forbid")

    visit_type: VisitType | None = None
    visit_start: date | None = None
    visit_end: date | None = None
    assessors: list[str] | None = Field(default=None, max_length=20)
    person_days: float | None = Field(default=None, ge=0, le=1000)
    process_integrity: ProcessIntegrity | None = None


class RevisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=1000)


class TransitionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: Status
    reason: str | None = Field(default=None, max_length=1000)


class AssessmentRead(BaseModel):
    id: str
    factory_id: str
    catalog_id: str
    cycle: int
    revision: int
    supersedes_id: str | None
    status: Status
    allowed_transitions: list[Status]
    visit_type: VisitType
    visit_start: date
    visit_end: date
    assessors: list[str]
    person_days: float | None
    process_integrity: ProcessIntegrity
    published_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, assessment: Assessment) -> AssessmentRead:
        """The assessment, with the moves its status allows now (clients offer only those)."""
        return cls.model_validate(cls.fields_of(assessment))

    @classmethod
    def fields_of(cls, assessment: Assessment | Row[Any]) -> dict[str, Any]:
        """The read model's fields as one plain dict, from the object or a row of its table (a
        list validates its whole page at once, services/common/pagination.py)."""
        fields = {name: getattr(assessment, name) for name in _COLUMNS_READ}
        fields["allowed_transitions"] = allowed_transitions(assessment.status)
        return fields


_COLUMNS_READ = tuple(name for name in AssessmentRead.model_fields if name != "allowed_transitions")


class TransitionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    from_status: Status | None
    to_status: Status
    actor: str
    actor_role: str
    reason: str | None
    occurred_at: datetime

    @classmethod
    def of(cls, transition: AssessmentTransition) -> TransitionRead:
        return cls.model_validate(transition)
