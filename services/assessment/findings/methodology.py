"""The Better Work non-compliance rule for one assessment (shared/domain/README.md):

- information-only questions never count;
- a compliance point (CP) is assessed when at least one of its finding questions was answered,
  and non-compliant when at least one of them has a finding (non_compliant = true);
- a cluster is assessed when any of its CPs is, non-compliant when any of its CPs is;
- the factory's own figure is the share of assessed CPs on which it is non-compliant.

Plain data in, plain data out, so the rule is tested without a database or HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

FINDING = "finding"


@dataclass(frozen=True)
class QuestionInfo:
    code: str
    kind: str
    compliance_point_code: str
    cluster_code: str


@dataclass
class CompliancePointResult:
    code: str
    cluster_code: str
    assessed: bool = False
    non_compliant: bool = False
    questions_answered: int = 0
    non_compliant_questions: list[str] = field(default_factory=list)


@dataclass
class ClusterResult:
    code: str
    compliance_points: list[CompliancePointResult] = field(default_factory=list)

    @property
    def compliance_points_assessed(self) -> int:
        return sum(cp.assessed for cp in self.compliance_points)

    @property
    def compliance_points_non_compliant(self) -> int:
        return sum(cp.non_compliant for cp in self.compliance_points)

    @property
    def assessed(self) -> bool:
        return self.compliance_points_assessed > 0

    @property
    def non_compliant(self) -> bool:
        return self.compliance_points_non_compliant > 0


@dataclass
class AssessmentResults:
    clusters: list[ClusterResult]

    @property
    def compliance_points_assessed(self) -> int:
        return sum(c.compliance_points_assessed for c in self.clusters)

    @property
    def compliance_points_non_compliant(self) -> int:
        return sum(c.compliance_points_non_compliant for c in self.clusters)

    @property
    def non_compliance_rate(self) -> float | None:
        """Share of assessed CPs that are non-compliant; None when nothing was assessed."""
        assessed = self.compliance_points_assessed
        return self.compliance_points_non_compliant / assessed if assessed else None


def compute_results(
    questions: Iterable[QuestionInfo], findings: Mapping[str, bool | None]
) -> AssessmentResults:
    """Results by CP and cluster, in catalogue order. ``findings`` maps question code to
    non_compliant (None for information answers); questions missing from it were not answered."""
    clusters: dict[str, ClusterResult] = {}
    points: dict[str, CompliancePointResult] = {}
    for question in questions:
        cluster = clusters.setdefault(question.cluster_code, ClusterResult(question.cluster_code))
        point = points.get(question.compliance_point_code)
        if point is None:
            point = CompliancePointResult(question.compliance_point_code, question.cluster_code)
            points[point.code] = point
            cluster.compliance_points.append(point)
        if question.kind != FINDING or question.code not in findings:
            continue
        answer = findings[question.code]
        if answer is None:
            continue
        point.assessed = True
        point.questions_answered += 1
        if answer:
            point.non_compliant = True
            point.non_compliant_questions.append(question.code)
    return AssessmentResults(clusters=list(clusters.values()))
