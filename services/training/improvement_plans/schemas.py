from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.training.common import CatCode, Name, ReferenceId
from services.training.models import ImprovementItem, ImprovementPlan
from services.training.vocabulary import ItemStatus

Action = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5_000)]


class ItemCreate(BaseModel):
    """One improvement item: a compliance point and, where there is one, the finding (question
    code) of the plan's assessment that it remedies."""

    model_config = ConfigDict(extra="forbid")

    compliance_point_code: CatCode
    finding_question_code: CatCode | None = None
    action: Action
    owner: Name
    due_date: date


class PlanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    factory_id: ReferenceId
    assessment_id: ReferenceId
    items: list[ItemCreate] = Field(default_factory=list, max_length=500)


class ItemsCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ItemCreate] = Field(min_length=1, max_length=500)


class ItemUpdate(BaseModel):
    """Staff may change everything; a factory token only ``status``, ``effective_date`` and
    ``note`` (the factory reports its own progress)."""

    model_config = ConfigDict(extra="forbid")

    action: Action | None = None
    owner: Name | None = None
    due_date: date | None = None
    status: ItemStatus | None = None
    effective_date: date | None = Field(
        default=None, description="When the status changed (default: today); not in the future."
    )
    note: str | None = Field(default=None, max_length=2_000)


class StatusChange(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    status: ItemStatus
    effective_date: date
    note: str | None
    changed_by: str
    recorded_at: datetime


class ItemRead(BaseModel):
    id: str
    plan_id: str
    factory_id: str
    country: str | None
    compliance_point_code: str
    finding_question_code: str | None
    action: str
    owner: str
    due_date: date
    status: ItemStatus
    completed_at: date | None
    overdue: bool
    history: list[StatusChange]
    version: int

    @classmethod
    def of(cls, item: ImprovementItem, history: list[StatusChange], overdue: bool) -> "ItemRead":
        """The item with its status history; ``overdue`` as the plan's rules judge it."""
        return cls(
            id=item.id,
            plan_id=item.plan_id,
            factory_id=item.factory_id,
            country=item.country,
            compliance_point_code=item.compliance_point_code,
            finding_question_code=item.finding_question_code,
            action=item.action,
            owner=item.owner,
            due_date=item.due_date,
            status=item.status,
            completed_at=item.completed_at,
            overdue=overdue,
            history=history,
            version=item.version,
        )


class Progress(BaseModel):
    total: int = 0
    pending: int = 0
    in_progress: int = 0
    completed: int = 0
    overdue: int = 0


class PlanRead(BaseModel):
    id: str
    factory_id: str
    country: str | None
    assessment_id: str
    items: list[ItemRead]
    progress: Progress
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, plan: ImprovementPlan, items: list[ItemRead], progress: Progress) -> "PlanRead":
        return cls(
            id=plan.id,
            factory_id=plan.factory_id,
            country=plan.country,
            assessment_id=plan.assessment_id,
            items=items,
            progress=progress,
            version=plan.version,
            created_at=plan.created_at,
            updated_at=plan.updated_at,
        )
