"""Assessments: schedule, read, edit visit details, move through the lifecycle, revise."""

from datetime import date

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from services.assessment.assessments import service
from services.assessment.assessments.schemas import (
    AssessmentCreate,
    AssessmentRead,
    AssessmentUpdate,
    TransitionRead,
    TransitionRequest,
)
from services.assessment.assessments.state_machine import Status
from services.assessment.models import Assessment
from services.common.app import get_read_session, get_session
from services.common.auth import Access, Principal, Role
from services.common.etag import etag_for, if_match_exempt, require_if_match
from services.common.pagination import Page, PageParams

router = APIRouter(prefix="/v1/assessments", tags=["assessments"])

WRITERS = Access(Role.ADMIN, Role.STAFF)
READERS = Access(Role.ADMIN, Role.STAFF, Role.SERVICE, Role.FACTORY, Role.BRAND)


class RevisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=1000)


def _respond(response: Response, assessment: Assessment) -> AssessmentRead:
    response.headers["ETag"] = etag_for(assessment.id, assessment.version)
    return service.to_read(assessment)


@router.post("", status_code=201, response_model=AssessmentRead, summary="Schedule an assessment")
async def create_assessment(
    body: AssessmentCreate,
    response: Response,
    session: AsyncSession = Depends(get_session),
    caller: Principal = Depends(WRITERS),
) -> AssessmentRead:
    assessment = await service.create_assessment(session, body, caller)
    response.headers["Location"] = f"/v1/assessments/{assessment.id}"
    return _respond(response, assessment)


@router.get("", response_model=Page[AssessmentRead], summary="List assessments")
async def list_assessments(
    factory_id: str | None = Query(None, max_length=40),
    status: Status | None = None,
    cycle: int | None = Query(None, ge=1, le=50),
    catalog_id: str | None = Query(None, max_length=40),
    visit_from: date | None = Query(None, description="Visits starting on or after this day."),
    visit_to: date | None = Query(None, description="Visits starting on or before this day."),
    params: PageParams = Depends(service.ASSESSMENT_SORTING.page_params),
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(READERS),
) -> Page[AssessmentRead]:
    rows, next_cursor = await service.list_assessments(
        session,
        caller,
        params,
        factory_id=factory_id,
        status=status,
        cycle=cycle,
        catalog_id=catalog_id,
        visit_from=visit_from,
        visit_to=visit_to,
    )
    return Page(
        items=[service.to_read(r) for r in rows], next_cursor=next_cursor, total=params.total
    )


@router.get("/{assessment_id}", response_model=AssessmentRead, summary="One assessment")
async def get_assessment(
    assessment_id: str,
    response: Response,
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(READERS),
) -> AssessmentRead:
    return _respond(response, await service.get_assessment(session, assessment_id, caller))


@router.patch("/{assessment_id}", response_model=AssessmentRead, summary="Edit visit details")
async def update_assessment(
    assessment_id: str,
    body: AssessmentUpdate,
    request: Request,
    response: Response,
    session: AsyncSession = Depends(get_session),
    caller: Principal = Depends(WRITERS),
) -> AssessmentRead:
    assessment = await service.get_assessment(session, assessment_id, caller, lock=True)
    require_if_match(request, etag_for(assessment.id, assessment.version))
    return _respond(response, await service.update_assessment(session, assessment, body))


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
    session: AsyncSession = Depends(get_session),
    caller: Principal = Depends(WRITERS),
) -> AssessmentRead:
    assessment = await service.get_assessment(session, assessment_id, caller, lock=True)
    require_if_match(request, etag_for(assessment.id, assessment.version))
    assessment = await service.transition(session, assessment, body.to, caller, body.reason)
    return _respond(response, assessment)


@router.get(
    "/{assessment_id}/transitions",
    response_model=Page[TransitionRead],
    summary="Status history: who moved it, and when",
)
async def list_transitions(
    assessment_id: str,
    params: PageParams = Depends(service.TRANSITION_SORTING.page_params),
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(Access(Role.ADMIN, Role.STAFF, Role.SERVICE)),
) -> Page[TransitionRead]:
    await service.get_assessment(session, assessment_id, caller)
    rows, next_cursor = await service.list_transitions(session, assessment_id, params)
    return Page(
        items=[TransitionRead.model_validate(r) for r in rows],
        next_cursor=next_cursor,
        total=params.total,
    )


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
    body: RevisionRequest | None = None,
    session: AsyncSession = Depends(get_session),
    caller: Principal = Depends(WRITERS),
) -> AssessmentRead:
    original = await service.get_assessment(session, assessment_id, caller, lock=True)
    revision = await service.create_revision(
        session, original, caller, body.reason if body else None
    )
    response.headers["Location"] = f"/v1/assessments/{revision.id}"
    return _respond(response, revision)
