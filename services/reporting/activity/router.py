"""Activity figures of a country programme: training, advisory, improvement plans, events."""

from fastapi import APIRouter, Depends

from services.common.deps import ReadSessionDep
from services.reporting.access import Anyone
from services.reporting.activity import service
from services.reporting.activity.schemas import ActivityReport
from services.reporting.disclosure import admit_activity
from services.reporting.scope import (
    ReportScope,
    SettingsDep,
    audience_for,
    restrict_to_principal,
    scope_params,
)
from services.reporting.settings import ReportingSettings

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get(
    "/activity",
    response_model=ActivityReport,
    summary="Training, advisory, improvement-plan and stakeholder figures (counts, no factory)",
)
async def activity(
    caller: Anyone,
    session: ReadSessionDep,
    scope: ReportScope = Depends(scope_params),
    settings: ReportingSettings = SettingsDep,
) -> ActivityReport:
    """Training, advisory, improvement-plan and stakeholder figures of a country and period, as
    counts that name no factory. Filters: country and period. Factory breakdowns (region,
    size_band, ownership, cycle) are refused; callers other than admin and staff ask for an
    ended year, and small figures are withheld (docs/disclosure-control.md)."""
    scope = restrict_to_principal(scope, caller)
    audience = audience_for(caller, settings)
    admit_activity(scope, audience)
    return await service.activity_report(session, scope, audience=audience)
