from datetime import date

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.app import get_read_session, get_session
from services.common.auth import Principal
from services.common.pagination import Page, PageParams
from services.common.problems import Problem
from services.training.access import READ, WRITE
from services.training.assessment_client import (
    AssessmentClient,
    assessment_references,
    require_factories_country,
)
from services.training.common import check_if_match, set_etag
from services.training.training_sessions import service
from services.training.training_sessions.schemas import (
    AttendanceUpload,
    ParticipantCounts,
    ParticipantRead,
    SessionCreate,
    SessionRead,
    SessionUpdate,
)

router = APIRouter(prefix="/v1/training-sessions", tags=["training sessions"])


async def _read_one(
    session: AsyncSession, training_id: str, principal: Principal, response: Response
) -> SessionRead:
    training = await service.get_session(session, training_id, principal)
    [read] = await service.read_sessions(session, [training], principal)
    set_etag(response, training.id, training.version)
    return read


@router.post("", status_code=201, response_model=SessionRead, summary="Schedule a session")
async def create_session(
    body: SessionCreate,
    response: Response,
    session: AsyncSession = Depends(get_session),
    references: AssessmentClient = Depends(assessment_references),
    caller: Principal = Depends(WRITE),
) -> SessionRead:
    training = await service.create_session(session, body, references, caller)
    return await _read_one(session, training.id, caller, response)


@router.get("", response_model=Page[SessionRead], summary="Training sessions")
async def list_sessions(
    factory_id: str | None = Query(None, max_length=40),
    course_id: str | None = Query(None, max_length=40),
    start_from: date | None = Query(None, description="Sessions starting on or after."),
    start_to: date | None = Query(None, description="Sessions starting on or before."),
    params: PageParams = Depends(service.SESSION_SORTING.page_params),
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(READ),
) -> Page[SessionRead]:
    rows, next_cursor = await service.list_sessions(
        session,
        params,
        caller,
        factory_id=factory_id,
        course_id=course_id,
        start_from=start_from,
        start_to=start_to,
    )
    items = await service.read_sessions(session, rows, caller)
    return Page(items=items, next_cursor=next_cursor, total=params.total)


@router.get("/{session_id}", response_model=SessionRead, summary="One session with its counts")
async def get_training_session(
    session_id: str,
    response: Response,
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(READ),
) -> SessionRead:
    return await _read_one(session, session_id, caller, response)


@router.patch("/{session_id}", response_model=SessionRead, summary="Change a session (If-Match)")
async def update_session(
    session_id: str,
    body: SessionUpdate,
    request: Request,
    response: Response,
    read_session: AsyncSession = Depends(get_read_session),
    session: AsyncSession = Depends(get_session),
    references: AssessmentClient = Depends(assessment_references),
    caller: Principal = Depends(WRITE),
) -> SessionRead:
    # 404, then If-Match, before anything else; then the HTTP check, before the write
    # transaction takes a lock (If-Match is checked again under it).
    seen = await service.get_session(read_session, session_id, caller)
    check_if_match(request, seen.id, seen.version)
    await read_session.rollback()
    country = None
    if body.factory_ids:
        country = await require_factories_country(
            references, body.factory_ids, "body.factory_ids", caller
        )
    training = await service.get_session(session, session_id, caller)
    check_if_match(request, training.id, training.version)
    await service.update_session(session, training, body, country)
    return await _read_one(session, session_id, caller, response)


@router.put(
    "/{session_id}/attendance",
    response_model=SessionRead,
    summary="Upload the whole attendance list (If-Match of the session)",
)
async def replace_attendance(
    session_id: str,
    body: AttendanceUpload,
    request: Request,
    response: Response,
    session: AsyncSession = Depends(get_session),
    caller: Principal = Depends(WRITE),
) -> SessionRead:
    training = await service.get_session(session, session_id, caller)
    check_if_match(request, training.id, training.version)
    limit = request.app.state.settings.max_attendance_rows
    if len(body.participants) > limit:
        raise Problem(413, f"An attendance list has at most {limit} rows.")
    await service.replace_attendance(session, training, body.participants)
    return await _read_one(session, session_id, caller, response)


@router.get(
    "/{session_id}/attendance",
    response_model=Page[ParticipantRead],
    summary="The attendance list, in row order",
)
async def list_attendance(
    session_id: str,
    params: PageParams = Depends(service.PARTICIPANT_SORTING.page_params),
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(READ),
) -> Page[ParticipantRead]:
    training = await service.get_session(session, session_id, caller)
    rows, next_cursor = await service.list_participants(session, training, params, caller)
    return Page(
        items=[ParticipantRead.model_validate(r) for r in rows],
        next_cursor=next_cursor,
        total=params.total,
    )


@router.get(
    "/{session_id}/participant-counts",
    response_model=ParticipantCounts,
    summary="Participants by sex and role",
)
async def participant_counts(
    session_id: str,
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(READ),
) -> ParticipantCounts:
    training = await service.get_session(session, session_id, caller)
    [read] = await service.read_sessions(session, [training], caller)
    return read.participants
