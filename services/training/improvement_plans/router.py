"""Improvement plans: a factory's actions on an assessment's findings, and their progress."""

from datetime import date

from fastapi import APIRouter, Depends, Query, Request, Response

from services.common.deps import ReadSessionDep, SessionDep
from services.common.etag import etag_for, if_match_exempt, require_if_match
from services.common.pagination import Page, PageParams
from services.training.access import ItemStatusUpdater, Reader, Writer
from services.training.assessment_client import AssessmentClient, assessment_references
from services.training.improvement_plans import service
from services.training.improvement_plans.schemas import (
    ItemRead,
    ItemsCreate,
    ItemUpdate,
    PlanCreate,
    PlanRead,
)
from services.training.vocabulary import ItemStatus

router = APIRouter(prefix="/v1/improvement-plans", tags=["improvement plans"])

OVERDUE = Query(None, description="true: only items past due and not completed.")
AS_OF = Query(None, description="The day 'overdue' is judged on (default: today, UTC).")


@router.post(
    "",
    status_code=201,
    response_model=PlanRead,
    summary="Start a plan from an assessment (ids checked with the assessment service)",
    responses={422: {"description": "Unknown factory, assessment or finding"}, 503: {}},
)
async def create_plan(
    body: PlanCreate,
    response: Response,
    caller: Writer,
    session: SessionDep,
    references: AssessmentClient = Depends(assessment_references),
) -> PlanRead:
    """Starts a factory's improvement plan from one of its assessments, the ids checked with
    the assessment service (422 for an unknown or mismatched factory, assessment or finding;
    503 when it cannot be asked). A factory has one plan per assessment (409). Send an
    Idempotency-Key to retry safely."""
    plan = await service.create_plan(session, body, references, caller)
    response.headers["ETag"] = etag_for(plan.id, plan.version)
    response.headers["Location"] = f"/v1/improvement-plans/{plan.id}"
    [read] = await service.plan_reads(session, [plan])
    return read


@router.get("", response_model=Page[PlanRead], summary="Improvement plans")
async def list_plans(
    caller: Reader,
    session: ReadSessionDep,
    factory_id: str | None = Query(None, max_length=40),
    assessment_id: str | None = Query(None, max_length=40),
    params: PageParams = Depends(service.PLAN_SORTING.page_params),
) -> Page[PlanRead]:
    """Improvement plans with their items and progress: a factory token sees its own factory's,
    staff limited to a country that country's."""
    rows, next_cursor = await service.list_plans(
        session, params, caller, factory_id=factory_id, assessment_id=assessment_id
    )
    items = await service.plan_reads(session, rows)
    return Page(items=items, next_cursor=next_cursor, total=params.total)


@router.get("/items", response_model=Page[ItemRead], summary="Items across plans (?overdue=true)")
async def list_all_items(
    caller: Reader,
    session: ReadSessionDep,
    factory_id: str | None = Query(None, max_length=40),
    status: ItemStatus | None = None,
    overdue: bool | None = OVERDUE,
    as_of: date | None = AS_OF,
    params: PageParams = Depends(service.ITEM_SORTING.page_params),
) -> Page[ItemRead]:
    """Items across the plans the caller may see, e.g. every overdue item of a country
    (`overdue=true`, judged on `as_of`)."""
    rows, next_cursor = await service.list_items(
        session,
        params,
        caller,
        factory_id=factory_id,
        status=status,
        overdue=overdue,
        as_of=as_of,
    )
    items = await service.item_reads(session, rows, as_of)
    return Page(items=items, next_cursor=next_cursor, total=params.total)


@router.get("/{plan_id}", response_model=PlanRead, summary="A plan with its items and progress")
async def get_plan(
    plan_id: str, response: Response, caller: Reader, session: ReadSessionDep
) -> PlanRead:
    """A plan with its items and progress, and its ETag."""
    plan = await service.get_plan(session, plan_id, caller)
    response.headers["ETag"] = etag_for(plan.id, plan.version)
    [read] = await service.plan_reads(session, [plan])
    return read


@router.post(
    "/{plan_id}/items",
    status_code=201,
    response_model=list[ItemRead],
    summary="Add items (checked against the plan's assessment)",
    openapi_extra=if_match_exempt(
        "Adds new items, resources of their own; nothing existing is overwritten, and the plan "
        "row is locked so concurrent additions queue and none is lost."
    ),
)
async def add_items(
    plan_id: str,
    body: ItemsCreate,
    caller: Writer,
    read_session: ReadSessionDep,
    session: SessionDep,
    references: AssessmentClient = Depends(assessment_references),
) -> list[ItemRead]:
    """Adds items, each tied to a compliance point (and finding) of the plan's assessment,
    checked with the assessment service before anything is written (422 unknown or
    mismatched, 503 when it cannot be asked)."""
    # Check with the assessment service before the write transaction takes any lock.
    plan = await service.get_plan(read_session, plan_id, caller)
    read_session.expunge(plan)
    await read_session.rollback()
    await service.verify_item_references(references, plan, body.items)
    items = await service.add_items(session, plan_id, body.items, caller)
    return await service.item_reads(session, items)


@router.get("/{plan_id}/items", response_model=Page[ItemRead], summary="A plan's items")
async def list_plan_items(
    plan_id: str,
    caller: Reader,
    session: ReadSessionDep,
    status: ItemStatus | None = None,
    overdue: bool | None = OVERDUE,
    as_of: date | None = AS_OF,
    params: PageParams = Depends(service.ITEM_SORTING.page_params),
) -> Page[ItemRead]:
    """A plan's items, with their status history."""
    plan = await service.get_plan(session, plan_id, caller)
    rows, next_cursor = await service.list_items(
        session, params, caller, plan_id=plan.id, status=status, overdue=overdue, as_of=as_of
    )
    items = await service.item_reads(session, rows, as_of)
    return Page(items=items, next_cursor=next_cursor, total=params.total)


@router.patch(
    "/{plan_id}/items/{item_id}",
    response_model=ItemRead,
    summary="Move an item's status or change it (If-Match of the item)",
)
async def update_item(
    plan_id: str,
    item_id: str,
    body: ItemUpdate,
    request: Request,
    response: Response,
    caller: ItemStatusUpdater,
    session: SessionDep,
) -> ItemRead:
    """Moves an item's status or changes it. The factory reports its own progress: a factory
    token may change only the status, effective_date and note of its own items. Moves follow
    the item lifecycle (409 naming the allowed ones) and are kept as history. If-Match is the
    item's ETag (428 without, 412 when stale); the answer carries its new one."""
    plan = await service.lock_plan(session, plan_id, caller)
    item = await service.get_item(session, plan, item_id)
    require_if_match(request, etag_for(item.id, item.version))
    item = await service.update_item(session, plan, item, body, caller)
    response.headers["ETag"] = etag_for(item.id, item.version)
    [read] = await service.item_reads(session, [item])
    return read
