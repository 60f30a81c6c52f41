"""Training sessions: schedule, change, their attendance lists and participant counts."""

from datetime import date

from fastapi import APIRouter, Depends, Query, Request, Response

from services.common.deps import ReadSessionDep, SessionDep
from services.common.etag import etag_for, require_if_match
from services.common.pagination import Page, PageParams, page_response
from services.common.problems import Problem
from services.training.access import Reader, Writer
from services.training.assessment_client import (
    AssessmentClient,
    assessment_references,
    require_factories_country,
)
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
# Built once: subscripting the generic on each request costs a lookup of its own.
SESSION_PAGE = Page[SessionRead]


@router.post("", status_code=201, response_model=SessionRead, summary="Schedule a session")
async def create_session(
    body: SessionCreate,
    response: Response,
    caller: Writer,
    session: SessionDep,
    references: AssessmentClient = Depends(assessment_references),
) -> SessionRead:
    """Schedules a training session for one or more factories, checked with the assessment
    service (422 for an unknown factory, 503 when it cannot be asked); a session belongs to one
    country programme, so its factories are of one country (422). Send an Idempotency-Key to
    retry safely."""
    training = await service.create_session(session, body, references, caller)
    response.headers["ETag"] = etag_for(training.id, training.version)
    response.headers["Location"] = f"/v1/training-sessions/{training.id}"
    [read] = await service.read_sessions(session, [training], caller)
    return read


@router.get("", response_model=SESSION_PAGE, summary="Training sessions")
async def list_sessions(
    caller: Reader,
    session: ReadSessionDep,
    factory_id: str | None = Query(None, max_length=40),
    course_id: str | None = Query(None, max_length=40),
    start_from: date | None = Query(None, description="Sessions starting on or after."),
    start_to: date | None = Query(None, description="Sessions starting on or before."),
    params: PageParams = Depends(service.SESSION_SORTING.page_params),
) -> Response:
    """Training sessions with their participant counts: a factory token sees the sessions its
    factory takes part in, and only its own participants; staff limited to a country see that
    country's."""
    rows, next_cursor = await service.list_sessions(
        session,
        params,
        caller,
        factory_id=factory_id,
        course_id=course_id,
        start_from=start_from,
        start_to=start_to,
    )
    items = await service.session_fields(session, rows, caller)
    return page_response(SESSION_PAGE, items, next_cursor, params.total)


@router.get("/{session_id}", response_model=SessionRead, summary="One session with its counts")
async def get_training_session(
    session_id: str, response: Response, caller: Reader, session: ReadSessionDep
) -> SessionRead:
    """One session with its participant counts, and its ETag."""
    training = await service.get_session(session, session_id, caller)
    response.headers["ETag"] = etag_for(training.id, training.version)
    [read] = await service.read_sessions(session, [training], caller)
    return read


@router.patch("/{session_id}", response_model=SessionRead, summary="Change a session (If-Match)")
async def update_session(
    session_id: str,
    body: SessionUpdate,
    request: Request,
    response: Response,
    caller: Writer,
    read_session: ReadSessionDep,
    session: SessionDep,
    references: AssessmentClient = Depends(assessment_references),
) -> SessionRead:
    """Changes a session; new factories are checked with the assessment service and must be of
    one country, which the session then moves to. Needs If-Match with its current ETag (428
    without, 412 when stale) and answers the new one."""
    # 404, then If-Match, before anything else; then the HTTP check, before the write
    # transaction takes a lock (If-Match is checked again under it).
    seen = await service.get_session(read_session, session_id, caller)
    require_if_match(request, etag_for(seen.id, seen.version))
    await read_session.rollback()
    country = None
    if body.factory_ids:
        country = await require_factories_country(
            references, body.factory_ids, "body.factory_ids", caller
        )
    training = await service.get_session(session, session_id, caller)
    require_if_match(request, etag_for(training.id, training.version))
    training = await service.update_session(session, training, body, country)
    response.headers["ETag"] = etag_for(training.id, training.version)
    [read] = await service.read_sessions(session, [training], caller)
    return read


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
    caller: Writer,
    session: SessionDep,
) -> SessionRead:
    """Replaces the whole attendance list (each participant's sex, role, factory, attendance and
    completion), at most the configured number of rows (413 beyond). If-Match is the session's
    ETag (428 without, 412 when stale); the answer carries its new one."""
    training = await service.get_session(session, session_id, caller)
    require_if_match(request, etag_for(training.id, training.version))
    limit = request.app.state.settings.max_attendance_rows
    if len(body.participants) > limit:
        raise Problem(413, f"An attendance list has at most {limit} rows.")
    training = await service.replace_attendance(session, training, body.participants)
    response.headers["ETag"] = etag_for(training.id, training.version)
    [read] = await service.read_sessions(session, [training], caller)
    return read


@router.get(
    "/{session_id}/attendance",
    response_model=Page[ParticipantRead],
    summary="The attendance list, in row order",
)
async def list_attendance(
    session_id: str,
    caller: Reader,
    session: ReadSessionDep,
    params: PageParams = Depends(service.PARTICIPANT_SORTING.page_params),
) -> Page[ParticipantRead]:
    """The attendance list in row order; a factory token sees its own participants only."""
    training = await service.get_session(session, session_id, caller)
    rows, next_cursor = await service.list_participants(session, training, params, caller)
    items = [ParticipantRead.of(r) for r in rows]
    return Page(items=items, next_cursor=next_cursor, total=params.total)


@router.get(
    "/{session_id}/participant-counts",
    response_model=ParticipantCounts,
    summary="Participants by sex and role",
)
async def participant_counts(
    session_id: str, caller: Reader, session: ReadSessionDep
) -> ParticipantCounts:
    """Participants by sex and role, as the annual report counts them; a factory token counts
    its own participants only."""
    training = await service.get_session(session, session_id, caller)
    [read] = await service.read_sessions(session, [training], caller)
    return read.participants
