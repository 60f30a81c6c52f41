from datetime import date

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.app import get_read_session, get_session
from services.common.auth import Principal
from services.common.pagination import Page, PageParams
from services.training.access import READ_SEMINARS, WRITE
from services.training.common import check_if_match, set_etag
from services.training.seminars import service
from services.training.seminars.schemas import SeminarCreate, SeminarRead, SeminarUpdate
from services.training.vocabulary import SeminarKind

router = APIRouter(prefix="/v1/seminars", tags=["seminars and stakeholder events"])


@router.post("", status_code=201, response_model=SeminarRead, summary="Record an event")
async def create_seminar(
    body: SeminarCreate,
    response: Response,
    session: AsyncSession = Depends(get_session),
    caller: Principal = Depends(WRITE),
) -> SeminarRead:
    seminar = await service.create_seminar(session, body, caller)
    set_etag(response, seminar.id, seminar.version)
    return SeminarRead.model_validate(seminar)


@router.get("", response_model=Page[SeminarRead], summary="Seminars and stakeholder events")
async def list_seminars(
    kind: SeminarKind | None = None,
    held_from: date | None = None,
    held_to: date | None = None,
    params: PageParams = Depends(service.SEMINAR_SORTING.page_params),
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(READ_SEMINARS),
) -> Page[SeminarRead]:
    rows, next_cursor = await service.list_seminars(
        session, params, caller, kind=kind, held_from=held_from, held_to=held_to
    )
    return Page(
        items=[SeminarRead.model_validate(r) for r in rows],
        next_cursor=next_cursor,
        total=params.total,
    )


@router.get("/{seminar_id}", response_model=SeminarRead, summary="One event")
async def get_seminar(
    seminar_id: str,
    response: Response,
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(READ_SEMINARS),
) -> SeminarRead:
    seminar = await service.get_seminar(session, seminar_id, caller)
    set_etag(response, seminar.id, seminar.version)
    return SeminarRead.model_validate(seminar)


@router.patch("/{seminar_id}", response_model=SeminarRead, summary="Correct an event (If-Match)")
async def update_seminar(
    seminar_id: str,
    body: SeminarUpdate,
    request: Request,
    response: Response,
    session: AsyncSession = Depends(get_session),
    caller: Principal = Depends(WRITE),
) -> SeminarRead:
    seminar = await service.get_seminar(session, seminar_id, caller)
    check_if_match(request, seminar.id, seminar.version)
    seminar = await service.update_seminar(session, seminar, body, caller)
    set_etag(response, seminar.id, seminar.version)
    return SeminarRead.model_validate(seminar)
