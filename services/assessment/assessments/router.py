"""Assessments: schedule, read, edit visit details, move through the lifecycle, revise."""

from datetime import date

from fastapi import APIRouter, Depends, Query, Request, Response

from services.assessment.access import HistoryReader, Reader, Writer
from services.assessment.assessments import service
from services.assessment.assessments.schemas import (
    AssessmentCreate,
    AssessmentRead,
    AssessmentUpdate,
    RevisionRequest,
    TransitionRead,
    TransitionRequest,
)
from services.assessment.assessments.state_machine import Status
from services.common.deps import ReadConnectionDep, ReadSessionDep, SessionDep
from services.common.etag import etag_for, if_match_exempt, require_if_match
from services.common.pagination import Page, PageParams, page_response

router = APIRouter(prefix="/v1/assessments", tags=["assessments"])
# Built once: subscripting the generic on each request costs a lookup of its own.
ASSESSMENT_PAGE = Page[AssessmentRead]


@router.post("", status_code=201, response_model=AssessmentRead, summary="Schedule an assessment")
async def create_assessment(
    body: AssessmentCreate, response: Response, caller: Writer, session: SessionDep
) -> AssessmentRead:
    """Schedules an assessment of a factory against a published CAT version of the factory's
    country. It starts `scheduled`; the factory sees it only from `factory_review` on, since it
    must not learn the date of an unannounced visit. Send an Idempotency-Key to retry safely."""
    assessment = await service.create_assessment(session, body, caller)
    response.headers["ETag"] = etag_for(assessment.id, assessment.version)
    response.headers["Location"] = f"/v1/assessments/{assessment.id}"
    return AssessmentRead.of(assessment)


@router.get("", response_model=ASSESSMENT_PAGE, summary="List assessments")
async def list_assessments(
    caller: Reader,
    connection: ReadConnectionDep,
    factory_id: str | None = Query(None, max_length=40),
    status: Status | None = None,
    cycle: int | None = Query(None, ge=1, le=50),
    catalog_id: str | None = Query(None, max_length=40),
    visit_from: date | None = Query(None, description="Visits starting on or after this day."),
    visit_to: date | None = Query(None, description="Visits starting on or before this day."),
    params: PageParams = Depends(service.ASSESSMENT_SORTING.page_params),
) -> Response:
    """The assessments the caller may see: a factory its own from `factory_review` on, a brand
    the published ones of the factories that share with it, staff limited to a country that
    country's."""
    rows, next_cursor = await service.list_assessments(
        connection,
        params,
        caller,
        factory_id=factory_id,
        status=status,
        cycle=cycle,
        catalog_id=catalog_id,
        visit_from=visit_from,
        visit_to=visit_to,
    )
    items = [AssessmentRead.fields_of(r) for r in rows]
    return page_response(ASSESSMENT_PAGE, items, next_cursor, params.total)


@router.get("/{assessment_id}", response_model=AssessmentRead, summary="One assessment")
async def get_assessment(
    assessment_id: str, response: Response, caller: Reader, session: ReadSessionDep
) -> AssessmentRead:
    """One assessment, with `allowed_transitions` (the moves its status allows now) and the
    ETag that changes to it and to its findings send as If-Match."""
    assessment = await service.get_assessment(session, assessment_id, caller)
    response.headers["ETag"] = etag_for(assessment.id, assessment.version)
    return AssessmentRead.of(assessment)


@router.patch("/{assessment_id}", response_model=AssessmentRead, summary="Edit visit details")
async def update_assessment(
    assessment_id: str,
    body: AssessmentUpdate,
    request: Request,
    response: Response,
    caller: Writer,
    session: SessionDep,
) -> AssessmentRead:
    """Edits the visit details; the factory and the CAT version are fixed, and a published or
    cancelled assessment is final (409). Needs If-Match with its current ETag (428 without, 412
    when stale) and answers the new one."""
    assessment = await service.get_assessment(session, assessment_id, caller, lock=True)
    require_if_match(request, etag_for(assessment.id, assessment.version))
    assessment = await service.update_assessment(session, assessment, body)
    response.headers["ETag"] = etag_for(assessment.id, assessment.version)
    return AssessmentRead.of(assessment)


@router.post(
    "/{assessment_id}/transitions",
    response_model=AssessmentRead,
    summary="Move to another status (409 when the lifecycle does not allow it)",
)
async def transition(
    assessment_id: str,
    body: TransitionRequest,
    request: Request,
    response: Response,
    caller: Writer,
    session: SessionDep,
) -> AssessmentRead:
    """Moves the assessment along its lifecycle (scheduled, in_progress, draft, factory_review,
    published; or cancelled); a move the lifecycle does not allow is 409 naming the allowed
    ones, and every move is recorded with who made it. Needs If-Match with its current ETag
    (428 without, 412 when stale) and answers the new one."""
    assessment = await service.get_assessment(session, assessment_id, caller, lock=True)
    require_if_match(request, etag_for(assessment.id, assessment.version))
    assessment = await service.transition(session, assessment, body.to, caller, body.reason)
    response.headers["ETag"] = etag_for(assessment.id, assessment.version)
    return AssessmentRead.of(assessment)


@router.get(
    "/{assessment_id}/transitions",
    response_model=Page[TransitionRead],
    summary="Status history: who moved it, and when",
)
async def list_transitions(
    assessment_id: str,
    caller: HistoryReader,
    session: ReadSessionDep,
    params: PageParams = Depends(service.TRANSITION_SORTING.page_params),
) -> Page[TransitionRead]:
    """The status history: every move, who made it, with which role, and why. The programme's
    own record: for admin, staff and services, not for factories or brands."""
    await service.get_assessment(session, assessment_id, caller)
    rows, next_cursor = await service.list_transitions(session, assessment_id, params)
    items = [TransitionRead.of(r) for r in rows]
    return Page(items=items, next_cursor=next_cursor, total=params.total)


@router.post(
    "/{assessment_id}/revisions",
    status_code=201,
    response_model=AssessmentRead,
    summary="Correct a published assessment with a new revision (the old one is kept)",
    openapi_extra=if_match_exempt(
        "Creates a new draft assessment; the published original it corrects is final and never "
        "changes, and a second revision of it answers 409."
    ),
)
async def create_revision(
    assessment_id: str,
    response: Response,
    caller: Writer,
    session: SessionDep,
    body: RevisionRequest | None = None,
) -> AssessmentRead:
    """Corrects a published assessment: a new draft that supersedes it, with its findings
    copied. The published original stays as it was; only a published assessment is revised,
    and only once while its revision stands (409 otherwise)."""
    original = await service.get_assessment(session, assessment_id, caller, lock=True)
    revision = await service.create_revision(
        session, original, caller, body.reason if body else None
    )
    response.headers["ETag"] = etag_for(revision.id, revision.version)
    response.headers["Location"] = f"/v1/assessments/{revision.id}"
    return AssessmentRead.of(revision)
