from datetime import date

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.app import get_read_session, get_session
from services.common.auth import Principal
from services.common.etag import if_match_exempt
from services.common.pagination import Page, PageParams
from services.training.access import READ, UPDATE_ITEM_STATUS, WRITE
from services.training.assessment_client import AssessmentClient, assessment_references
from services.training.common import check_if_match, set_etag
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
    session: AsyncSession = Depends(get_session),
    references: AssessmentClient = Depends(assessment_references),
    caller: Principal = Depends(WRITE),
) -> PlanRead:
    plan = await service.create_plan(session, body, references, caller)
    set_etag(response, plan.id, plan.version)
    [read] = await service.plan_reads(session, [plan])
    return read


@router.get("", response_model=Page[PlanRead], summary="Improvement plans")
async def list_plans(
    factory_id: str | None = Query(None, max_length=40),
    assessment_id: str | None = Query(None, max_length=40),
    params: PageParams = Depends(service.PLAN_SORTING.page_params),
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(READ),
) -> Page[PlanRead]:
    rows, next_cursor = await service.list_plans(
        session, params, caller, factory_id=factory_id, assessment_id=assessment_id
    )
    return Page(
        items=await service.plan_reads(session, rows), next_cursor=next_cursor, total=params.total
    )


@router.get("/items", response_model=Page[ItemRead], summary="Items across plans (?overdue=true)")
async def list_all_items(
    factory_id: str | None = Query(None, max_length=40),
    status: ItemStatus | None = None,
    overdue: bool | None = OVERDUE,
    as_of: date | None = AS_OF,
    params: PageParams = Depends(service.ITEM_SORTING.page_params),
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(READ),
) -> Page[ItemRead]:
    rows, next_cursor = await service.list_items(
        session,
        params,
        caller,
        factory_id=factory_id,
        status=status,
        overdue=overdue,
        as_of=as_of,
    )
    return Page(
        items=await service.item_reads(session, rows, as_of),
        next_cursor=next_cursor,
        total=params.total,
    )


@router.get("/{plan_id}", response_model=PlanRead, summary="A plan with its items and progress")
async def get_plan(
    plan_id: str,
    response: Response,
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(READ),
) -> PlanRead:
    plan = await service.get_plan(session, plan_id, caller)
    set_etag(response, plan.id, plan.version)
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
    read_session: AsyncSession = Depends(get_read_session),
    session: AsyncSession = Depends(get_session),
    references: AssessmentClient = Depends(assessment_references),
    caller: Principal = Depends(WRITE),
) -> list[ItemRead]:
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
    status: ItemStatus | None = None,
    overdue: bool | None = OVERDUE,
    as_of: date | None = AS_OF,
    params: PageParams = Depends(service.ITEM_SORTING.page_params),
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(READ),
) -> Page[ItemRead]:
    plan = await service.get_plan(session, plan_id, caller)
    rows, next_cursor = await service.list_items(
        session, params, caller, plan_id=plan.id, status=status, overdue=overdue, as_of=as_of
    )
    return Page(
        items=await service.item_reads(session, rows, as_of),
        next_cursor=next_cursor,
        total=params.total,
    )


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
    session: AsyncSession = Depends(get_session),
    caller: Principal = Depends(UPDATE_ITEM_STATUS),
) -> ItemRead:
    plan = await service.lock_plan(session, plan_id, caller)
    item = await service.get_item(session, plan, item_id)
    check_if_match(request, item.id, item.version)
    item = await service.update_item(session, plan, item, body, caller)
    set_etag(response, item.id, item.version)
    [read] = await service.item_reads(session, [item])
    return read
