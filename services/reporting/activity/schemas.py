from __future__ import annotations

from pydantic import BaseModel, Field

from services.reporting.compliance.schemas import ScopeRead, Withheld


class Participants(BaseModel):
    total: int
    female: int
    male: int
    worker: int
    supervisor: int
    manager: int
    worker_representative: int
    completed: int


class TopicFigures(BaseModel):
    topic: str
    sessions: int
    participants: int


class TrainingFigures(BaseModel):
    sessions: int
    participants: Participants
    factories_reached: int
    by_topic: list[TopicFigures]


class AdvisoryFigures(BaseModel):
    visits: int
    factories_visited: int
    committee_meetings: int
    committee_meeting_attendees: int
    committee_meeting_attendees_women: int
    factories_with_committee_meetings: int


class ImprovementPlanFigures(BaseModel):
    """Remediation progress is a result of the factories behind it: callers without
    factory-level entitlement get it only when enough factories are behind it."""

    factories: int = Field(description="Factories with items due in the period.")
    items: int | None
    completed: int | None
    in_progress: int | None
    pending: int | None
    overdue: int | None = Field(description="Not completed and due before the as-of date.")
    completion_rate: float | None
    as_of: str
    withheld: Withheld | None = None


class SeminarKindFigures(BaseModel):
    kind: str
    events: int
    participants_women: int
    participants_men: int


class StakeholderFigures(BaseModel):
    events: int
    participants_women: int
    participants_men: int
    organisations: list[str]
    by_kind: list[SeminarKindFigures]


class ActivityReport(BaseModel):
    scope: ScopeRead
    training: TrainingFigures
    advisory: AdvisoryFigures
    improvement_plans: ImprovementPlanFigures
    stakeholder_engagement: StakeholderFigures
