from typing import Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.deps import ReadSessionDep
from services.common.problems import Problem
from services.reporting.access import Anyone
from services.reporting.compliance import report, service
from services.reporting.compliance import trends as trend_service
from services.reporting.compliance.schemas import (
    ClusterRate,
    CompliancePointRate,
    QuestionRate,
    RateReport,
    ScopeRead,
    TrendReport,
)
from services.reporting.disclosure import REFUSED_TITLE, admit
from services.reporting.kept_answers import kept_or_computed
from services.reporting.scope import (
    ReportScope,
    SettingsDep,
    audience_for,
    restrict_to_principal,
    scope_params,
)
from services.reporting.settings import ReportingSettings

router = APIRouter(prefix="/v1/reports/non-compliance", tags=["reports"])


async def _rate_report(
    session: AsyncSession,
    scope: ReportScope,
    caller: Principal,
    settings: ReportingSettings,
    level: report.Level[report.Item],
) -> RateReport[report.Item]:
    scope = restrict_to_principal(scope, caller)
    audience = audience_for(caller, settings)
    admit(scope, audience)

    async def compute() -> RateReport[report.Item]:
        summary, items = await report.rate_report(session, scope, audience, level)
        return RateReport(
            scope=ScopeRead(**scope.__dict__),
            minimum_factories=audience.minimum_factories,
            summary=summary,
            items=items,
        )

    # The scope and the audience (with its date) are all the answer depends on besides the data.
    return await kept_or_computed(session, ("rates", level.code_column, scope, audience), compute)


@router.get(
    "/clusters",
    response_model=RateReport[ClusterRate],
    summary="Non-compliance rate by cluster (factories non-compliant on any CP of it)",
)
async def rates_by_cluster(
    caller: Anyone,
    session: ReadSessionDep,
    scope: ReportScope = Depends(scope_params),
    settings: ReportingSettings = SettingsDep,
) -> RateReport[ClusterRate]:
    """Non-compliance rate by cluster: the share of assessed factories non-compliant on any
    compliance point of it. Open to everyone: admin and staff get every figure; every other
    caller asks for an ended year and its published breakdowns, and gets figures through the
    disclosure rule (docs/disclosure-control.md)."""
    return await _rate_report(session, scope, caller, settings, report.CLUSTERS)


@router.get(
    "/compliance-points",
    response_model=RateReport[CompliancePointRate],
    summary="Non-compliance rate by compliance point",
)
async def rates_by_compliance_point(
    caller: Anyone,
    session: ReadSessionDep,
    scope: ReportScope = Depends(scope_params),
    settings: ReportingSettings = SettingsDep,
) -> RateReport[CompliancePointRate]:
    """Non-compliance rate by compliance point, under the same disclosure rule as clusters."""
    return await _rate_report(session, scope, caller, settings, report.POINTS)


@router.get(
    "/questions",
    response_model=RateReport[QuestionRate],
    summary="Non-compliance rate by question (information-only questions excluded)",
)
async def rates_by_question(
    caller: Anyone,
    session: ReadSessionDep,
    scope: ReportScope = Depends(scope_params),
    settings: ReportingSettings = SettingsDep,
) -> RateReport[QuestionRate]:
    """Non-compliance rate by question (information-only questions excluded), under the same
    disclosure rule as clusters."""
    return await _rate_report(session, scope, caller, settings, report.QUESTIONS)


@router.get("/trends", response_model=TrendReport, summary="Rates by cycle or by year")
async def trends(
    caller: Anyone,
    session: ReadSessionDep,
    by: Literal["cycle", "year"] = Query("cycle"),
    level: Literal["cluster", "compliance_point"] = Query("cluster"),
    scope: ReportScope = Depends(scope_params),
    settings: ReportingSettings = SettingsDep,
) -> TrendReport:
    """Rates by cycle or by year. Callers other than admin and staff get years only (400 for
    cycles): cycles overlap the published years, and their difference would isolate factories
    assessed off the calendar."""
    scope = restrict_to_principal(scope, caller)
    audience = audience_for(caller, settings)
    admit(scope, audience, period_optional=True)
    if audience.is_public and by == "cycle":
        raise Problem(
            400,
            "Trends by cycle are for programme staff: cycles overlap the published years, and "
            "their difference would isolate factories assessed off the calendar. Use by=year.",
            title=REFUSED_TITLE,
            allowed={"by": ["year"]},
        )
    labels = await service.catalog_labels(session, scope.country)
    items = await trend_service.trends(session, scope, audience, labels, by, level)
    return TrendReport(
        scope=ScopeRead(**scope.__dict__),
        by=by,
        level=level,
        minimum_factories=audience.minimum_factories,
        periods=sorted({i.period for i in items}),
        items=items,
    )
