from datetime import date

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.app import get_read_session, get_session
from services.common.auth import Principal
from services.common.pagination import Page, PageParams
from services.training.access import READ, WRITE
from services.training.advisory_visits import service
from services.training.advisory_visits.schemas import VisitCreate, VisitRead, VisitUpdate
from services.training.assessment_client import AssessmentClient, assessment_references
from services.training.common import check_if_match, set_etag

router = APIRouter(prefix="/v1/advisory-visits", tags=["advisory visits"])


@router.post("", status_code=201, response_model=VisitRead, summary="Log an advisory visit")
async def create_visit(
    body: VisitCreate,
    response: Response,
    session: AsyncSession = Depends(get_session),
    references: AssessmentClient = Depends(assessment_references),
    caller: Principal = Depends(WRITE),
) -> VisitRead:
    visit = await service.create_visit(session, body, references, caller)
    set_etag(response, visit.id, visit.version)
    return VisitRead.model_validate(visit)


@router.get("", response_model=Page[VisitRead], summary="Advisory visits")
async def list_visits(
    factory_id: str | None = Query(None, max_length=40),
    visited_from: date | None = None,
    visited_to: date | None = None,
    params: PageParams = Depends(service.VISIT_SORTING.page_params),
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(READ),
) -> Page[VisitRead]:
    rows, next_cursor = await service.list_visits(
        session,
        params,
        caller,
        factory_id=factory_id,
        visited_from=visited_from,
        visited_to=visited_to,
    )
    return Page(
        items=[VisitRead.model_validate(r) for r in rows],
        next_cursor=next_cursor,
        total=params.total,
    )


@router.get("/{visit_id}", response_model=VisitRead, summary="One advisory visit")
async def get_visit(
    visit_id: str,
    response: Response,
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(READ),
) -> VisitRead:
    visit = await service.get_visit(session, visit_id, caller)
    set_etag(response, visit.id, visit.version)
    return VisitRead.model_validate(visit)


@router.patch("/{visit_id}", response_model=VisitRead, summary="Correct a visit (If-Match)")
async def update_visit(
    visit_id: str,
    body: VisitUpdate,
    request: Request,
    response: Response,
    session: AsyncSession = Depends(get_session),
    caller: Principal = Depends(WRITE),
) -> VisitRead:
    visit = await service.get_visit(session, visit_id, caller)
    check_if_match(request, visit.id, visit.version)
    visit = await service.update_visit(session, visit, body)
    set_etag(response, visit.id, visit.version)
    return VisitRead.model_validate(visit)
