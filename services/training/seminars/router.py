"""Seminars and stakeholder events of a country programme: record, list, read, correct."""

from datetime import date

from fastapi import APIRouter, Depends, Request, Response

from services.common.deps import ReadSessionDep, SessionDep
from services.common.etag import etag_for, require_if_match
from services.common.pagination import Page, PageParams
from services.training.access import SeminarReader, Writer
from services.training.seminars import service
from services.training.seminars.schemas import SeminarCreate, SeminarRead, SeminarUpdate
from services.training.vocabulary import SeminarKind

router = APIRouter(prefix="/v1/seminars", tags=["seminars and stakeholder events"])


@router.post("", status_code=201, response_model=SeminarRead, summary="Record an event")
async def create_seminar(
    body: SeminarCreate, response: Response, caller: Writer, session: SessionDep
) -> SeminarRead:
    """Records a seminar or stakeholder event of one country: the caller's own when its token
    names one (another is 403), else the one the body names (422 when none). Send an
    Idempotency-Key to retry safely."""
    seminar = await service.create_seminar(session, body, caller)
    response.headers["ETag"] = etag_for(seminar.id, seminar.version)
    response.headers["Location"] = f"/v1/seminars/{seminar.id}"
    return SeminarRead.of(seminar)


@router.get("", response_model=Page[SeminarRead], summary="Seminars and stakeholder events")
async def list_seminars(
    caller: SeminarReader,
    session: ReadSessionDep,
    kind: SeminarKind | None = None,
    held_from: date | None = None,
    held_to: date | None = None,
    params: PageParams = Depends(service.SEMINAR_SORTING.page_params),
) -> Page[SeminarRead]:
    """Seminars and stakeholder events, for the programme and the tripartite constituents; a
    caller limited to a country sees that country's."""
    rows, next_cursor = await service.list_seminars(
        session, params, caller, kind=kind, held_from=held_from, held_to=held_to
    )
    items = [SeminarRead.of(r) for r in rows]
    return Page(items=items, next_cursor=next_cursor, total=params.total)


@router.get("/{seminar_id}", response_model=SeminarRead, summary="One event")
async def get_seminar(
    seminar_id: str, response: Response, caller: SeminarReader, session: ReadSessionDep
) -> SeminarRead:
    """One event, with its ETag; an event of another country is 404 to a country-bound caller."""
    seminar = await service.get_seminar(session, seminar_id, caller)
    response.headers["ETag"] = etag_for(seminar.id, seminar.version)
    return SeminarRead.of(seminar)


@router.patch("/{seminar_id}", response_model=SeminarRead, summary="Correct an event (If-Match)")
async def update_seminar(
    seminar_id: str,
    body: SeminarUpdate,
    request: Request,
    response: Response,
    caller: Writer,
    session: SessionDep,
) -> SeminarRead:
    """Corrects the record of an event. Needs If-Match with its current ETag (428 without, 412
    when stale) and answers the new one."""
    seminar = await service.get_seminar(session, seminar_id, caller)
    require_if_match(request, etag_for(seminar.id, seminar.version))
    seminar = await service.update_seminar(session, seminar, body, caller)
    response.headers["ETag"] = etag_for(seminar.id, seminar.version)
    return SeminarRead.of(seminar)
