"""Advisory visits: an enterprise advisor's visits to a factory, logged and corrected."""

from datetime import date

from fastapi import APIRouter, Depends, Query, Request, Response

from services.common.deps import ReadSessionDep, SessionDep
from services.common.etag import etag_for, require_if_match
from services.common.pagination import Page, PageParams
from services.training.access import Reader, Writer
from services.training.advisory_visits import service
from services.training.advisory_visits.schemas import VisitCreate, VisitRead, VisitUpdate
from services.training.assessment_client import AssessmentClient, assessment_references

router = APIRouter(prefix="/v1/advisory-visits", tags=["advisory visits"])


@router.post("", status_code=201, response_model=VisitRead, summary="Log an advisory visit")
async def create_visit(
    body: VisitCreate,
    response: Response,
    caller: Writer,
    session: SessionDep,
    references: AssessmentClient = Depends(assessment_references),
) -> VisitRead:
    """Logs an enterprise advisor's visit to a factory, checked with the assessment service
    (422 for an unknown factory or one outside the caller's country, 503 when it cannot be
    asked). Send an Idempotency-Key to retry safely."""
    visit = await service.create_visit(session, body, references, caller)
    response.headers["ETag"] = etag_for(visit.id, visit.version)
    response.headers["Location"] = f"/v1/advisory-visits/{visit.id}"
    return VisitRead.of(visit)


@router.get("", response_model=Page[VisitRead], summary="Advisory visits")
async def list_visits(
    caller: Reader,
    session: ReadSessionDep,
    factory_id: str | None = Query(None, max_length=40),
    visited_from: date | None = None,
    visited_to: date | None = None,
    params: PageParams = Depends(service.VISIT_SORTING.page_params),
) -> Page[VisitRead]:
    """Advisory visits: a factory token sees its own factory's, staff limited to a country that
    country's."""
    rows, next_cursor = await service.list_visits(
        session,
        params,
        caller,
        factory_id=factory_id,
        visited_from=visited_from,
        visited_to=visited_to,
    )
    return Page(items=[VisitRead.of(r) for r in rows], next_cursor=next_cursor, total=params.total)


@router.get("/{visit_id}", response_model=VisitRead, summary="One advisory visit")
async def get_visit(
    visit_id: str, response: Response, caller: Reader, session: ReadSessionDep
) -> VisitRead:
    """One advisory visit, with its ETag; another factory's visit is 404 to a factory token."""
    visit = await service.get_visit(session, visit_id, caller)
    response.headers["ETag"] = etag_for(visit.id, visit.version)
    return VisitRead.of(visit)


@router.patch("/{visit_id}", response_model=VisitRead, summary="Correct a visit (If-Match)")
async def update_visit(
    visit_id: str,
    body: VisitUpdate,
    request: Request,
    response: Response,
    caller: Writer,
    session: SessionDep,
) -> VisitRead:
    """Corrects the record of a visit. Needs If-Match with its current ETag (428 without, 412
    when stale) and answers the new one."""
    visit = await service.get_visit(session, visit_id, caller)
    require_if_match(request, etag_for(visit.id, visit.version))
    visit = await service.update_visit(session, visit, body)
    response.headers["ETag"] = etag_for(visit.id, visit.version)
    return VisitRead.of(visit)
