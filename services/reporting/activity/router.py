from fastapi import APIRouter, Depends
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.app import get_read_session
from services.common.auth import PUBLIC, Principal
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
    description="Filters: country and period. Factory breakdowns (region, size_band, "
    "ownership, cycle) are refused; callers other than admin and staff ask for an ended year.",
)
async def activity(
    scope: ReportScope = Depends(scope_params),
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(PUBLIC),
    settings: ReportingSettings = SettingsDep,
) -> ActivityReport:
    scope = restrict_to_principal(scope, caller)
    audience = audience_for(caller, settings)
    admit_activity(scope, audience)
    return await service.activity_report(session, scope, audience=audience)
