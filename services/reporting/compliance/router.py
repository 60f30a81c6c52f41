from functools import cache
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import TypeAdapter
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


@cache
def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


def _as_json(model: Any, answer: Any) -> bytes:
    """``answer`` as FastAPI sends a route's return value for ``response_model=model``
    (validated from attributes, dumped by alias): made once per kept answer, not per request."""
    adapter = _adapter(model)
    return adapter.dump_json(adapter.validate_python(answer, from_attributes=True), by_alias=True)


async def _rate_report(
    session: AsyncSession,
    scope: ReportScope,
    caller: Principal,
    settings: ReportingSettings,
    level: report.Level[report.Item],
    model: Any,
) -> Response:
    scope = restrict_to_principal(scope, caller)
    audience = audience_for(caller, settings)
    admit(scope, audience)

    async def compute() -> bytes:
        summary, items = await report.rate_report(session, scope, audience, level)
        answer: RateReport[report.Item] = RateReport(
            scope=ScopeRead(**scope.__dict__),
            minimum_factories=audience.minimum_factories,
            summary=summary,
            items=items,
        )
        return _as_json(model, answer)

    # The scope and the audience (with its date) are all the answer depends on besides the data.
    key = ("rates", level.code_column, scope, audience)
    return Response(await kept_or_computed(session, key, compute), media_type="application/json")


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
) -> Response:
    """Non-compliance rate by cluster: the share of assessed factories non-compliant on any
    compliance point of it. Open to everyone: admin and staff get every figure; every other
    caller asks for an ended year and its published breakdowns, and gets figures through the
    disclosure rule (docs/disclosure-control.md)."""
    return await _rate_report(
        session, scope, caller, settings, report.CLUSTERS, RateReport[ClusterRate]
    )


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
) -> Response:
    """Non-compliance rate by compliance point, under the same disclosure rule as clusters."""
    return await _rate_report(
        session, scope, caller, settings, report.POINTS, RateReport[CompliancePointRate]
    )


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
) -> Response:
    """Non-compliance rate by question (information-only questions excluded), under the same
    disclosure rule as clusters."""
    return await _rate_report(
        session, scope, caller, settings, report.QUESTIONS, RateReport[QuestionRate]
    )


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
