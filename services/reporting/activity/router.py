from fastapi import APIRouter, Depends
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.app import get_read_session
from services.common.auth import PUBLIC, Principal
from services.reporting.activity import service
from services.reporting.activity.schemas import ActivityReport
from services.reporting.scope import ReportScope, restrict_to_principal, scope_params

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get(
    "/activity",
    response_model=ActivityReport,
    summary="Training, advisory, improvement-plan and stakeholder figures (counts, no factory)",
)
async def activity(
    scope: ReportScope = Depends(scope_params),
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(PUBLIC),
) -> ActivityReport:
    return await service.activity_report(session, restrict_to_principal(scope, caller))
