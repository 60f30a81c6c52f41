from __future__ import annotations

from datetime import date
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from services.common.pagination import readable_generic_name

T = TypeVar("T")


class Withheld(BaseModel):
    reason: str
    minimum_factories: int


class Rate(BaseModel):
    factories_assessed: int = Field(description="Factories behind the figure (the denominator).")
    factories_non_compliant: int | None
    non_compliance_rate: float | None = Field(description="Share 0..1; null when withheld.")
    withheld: Withheld | None = None


class ClusterRate(Rate):
    cluster_code: str
    cluster_name: str
    category: str | None = None


class CompliancePointRate(Rate):
    compliance_point_code: str
    compliance_point_name: str
    cluster_code: str
    cluster_name: str


class QuestionRate(Rate):
    question_code: str
    question_text: str | None
    compliance_point_code: str
    compliance_point_name: str
    cluster_code: str


class ScopeRead(BaseModel):
    country: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    cycle: int | None = None
    region: str | None = None
    size_band: str | None = None
    ownership: str | None = None


class Summary(BaseModel):
    factories_assessed: int
    average_share_of_compliance_points_non_compliant: float | None = Field(
        description="Mean over factories of the share of their CPs found non-compliant."
    )
    withheld: Withheld | None = None


class RateReport(BaseModel, Generic[T]):
    scope: ScopeRead

    @classmethod
    def model_parametrized_name(cls, params: tuple[Any, ...]) -> str:
        return readable_generic_name(params, "Report")  # ClusterRateReport

    minimum_factories: int | None = Field(
        description="Figures resting on fewer factories are withheld; null: nothing withheld."
    )
    summary: Summary
    items: list[T]


class TrendPoint(Rate):
    period: int = Field(description="The cycle number or the calendar year.")
    code: str = Field(description="Cluster or compliance point code; 'ALL' for the summary.")
    name: str
    average_share_of_compliance_points_non_compliant: float | None = None


class TrendReport(BaseModel):
    scope: ScopeRead
    by: str = Field(description="cycle or year")
    level: str = Field(description="cluster or compliance_point")
    minimum_factories: int | None
    periods: list[int]
    items: list[TrendPoint]
