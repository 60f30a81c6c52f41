from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from services.reporting.activity.schemas import ActivityReport
from services.reporting.compliance.schemas import (
    ClusterRate,
    CompliancePointRate,
    QuestionRate,
    Summary,
    TrendPoint,
)
from services.reporting.models import ReportPublication


class ProgrammeOverview(BaseModel):
    programme_name: str
    factories_participating: int
    assessments_in_period: int
    advisory_visits: int
    training_sessions: int
    training_participants: int
    stakeholder_events: int


class CountShare(BaseModel):
    key: str
    label: str
    factories: int


class FactoryProfile(BaseModel):
    factories_assessed: int
    workers: int
    workers_women: int
    share_women: float | None
    by_size_band: list[CountShare]
    by_ownership: list[CountShare]
    by_region: list[CountShare]


class CatalogUsed(BaseModel):
    """A version of the CAT the report's assessments were made with."""

    id: str
    title: str | None
    version: str | None
    status: str | None
    status_note: str | None = None
    draft: bool = Field(
        description="Unpublished, or published with a note saying it is a draft: its wording "
        "may still change."
    )
    label: str = Field(description="How the report names it: title, version, draft or not.")


class Methodology(BaseModel):
    period_from: date
    period_to: date
    assessments_used: int
    catalog_versions: list[str] = Field(description="The catalogues' labels (see catalogs).")
    catalogs: list[CatalogUsed] = []
    participating_factories: str = Field(
        "", description="Which factories the overview counts as participating in the year."
    )
    minimum_factories: int | None = Field(
        description="Public figures resting on fewer factories are withheld; null: none is."
    )
    steps: list[str]


class ClusterBlock(BaseModel):
    cluster: ClusterRate
    compliance_points: list[CompliancePointRate]


class Trends(BaseModel):
    by_cycle: list[TrendPoint]
    by_year: list[TrendPoint]


class AnnualReport(BaseModel):
    title: str
    country: str
    year: int
    audience: str = Field(description="public (small cells withheld) or full")
    generated_at: datetime
    data_as_of: datetime | None
    overview: ProgrammeOverview
    factory_profile: FactoryProfile
    methodology: Methodology
    summary: Summary
    non_compliance: list[ClusterBlock]
    highest_non_compliance: list[QuestionRate]
    trends: Trends
    activity: ActivityReport

    @classmethod
    def of(cls, publication: ReportPublication) -> AnnualReport:
        """A published edition, as it was frozen."""
        return cls.model_validate(publication.content)


class PublicationRead(BaseModel):
    id: str
    kind: str
    year: int
    country: str
    generated_at: datetime
    content_hash: str = Field(description="sha256 of the frozen JSON report.")

    @classmethod
    def of(cls, publication: ReportPublication) -> PublicationRead:
        return cls.model_validate(publication, from_attributes=True)
