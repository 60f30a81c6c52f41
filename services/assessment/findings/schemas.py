"""Findings: one answer per CAT question of an assessment, and the computed results."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from services.assessment.assessments.state_machine import AssessmentStatus
from services.assessment.models import Finding

Value = StrictBool | StrictInt | StrictFloat | StrictStr | None


class FindingBody(BaseModel):
    """``non_compliant`` for finding questions; ``value`` (and no non_compliant) for
    information-only questions, e.g. a head count."""

    model_config = ConfigDict(extra="forbid")

    non_compliant: bool | None = None
    value: Value = Field(default=None, description="Fact recorded (number, text or yes/no).")
    notes: str | None = Field(default=None, max_length=4000)
    evidence: list[str] = Field(
        default_factory=list, max_length=50, description="References to documents, photos."
    )


QUESTION_CODE_MAX_LENGTH = 30


class FindingIn(FindingBody):
    question_code: str = Field(min_length=1, max_length=QUESTION_CODE_MAX_LENGTH)


class FindingsSubmission(BaseModel):
    """The whole set of an assessment's findings; it replaces what was recorded before."""

    model_config = ConfigDict(extra="forbid")

    findings: list[FindingIn] = Field(max_length=1000)


class FindingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    question_code: str
    compliance_point_code: str
    cluster_code: str
    non_compliant: bool | None
    value: Value
    notes: str | None
    evidence: list[str]
    recorded_by: str
    recorded_at: datetime

    @classmethod
    def of(cls, finding: Finding) -> FindingRead:
        return cls.model_validate(finding)


class SubmissionResult(BaseModel):
    assessment_id: str
    findings_stored: int
    version: int = Field(description="The assessment's version after this submission.")


class CompliancePointResultRead(BaseModel):
    code: str
    name: str
    assessed: bool
    non_compliant: bool
    questions_answered: int
    non_compliant_questions: list[str]


class ClusterResultRead(BaseModel):
    code: str
    name: str
    assessed: bool
    non_compliant: bool
    compliance_points_assessed: int
    compliance_points_non_compliant: int
    compliance_points: list[CompliancePointResultRead]


class ResultsRead(BaseModel):
    assessment_id: str
    catalog_id: str
    status: AssessmentStatus
    compliance_points_assessed: int
    compliance_points_non_compliant: int
    non_compliance_rate: float | None = Field(
        description="Share of assessed compliance points with at least one finding."
    )
    clusters: list[ClusterResultRead]
