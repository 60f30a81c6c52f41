"""Improvement plans: one per factory and assessment, one item per non-compliance, driven from
pending to completed with a dated history.

Item changes lock the plan row first, so concurrent changes queue and every
``improvement_plan.updated`` snapshot includes all committed items.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.auth import Principal, Role
from services.common.etag import stale_write_guard
from services.common.ids import new_id
from services.common.outbox import utcnow
from services.common.pagination import PageParams, Sorting, paginate
from services.common.problems import Problem, already_exists, not_found
from services.training.access import (
    NothingVisible,
    fetch_owned,
    in_scope,
    visible_factory_filter,
)
from services.training.assessment_client import References, require_factories
from services.training.common import changes, today
from services.training.events import record_event
from services.training.improvement_plans.rules import (
    check_assessment,
    check_items,
    check_transition,
    is_overdue,
)
from services.training.improvement_plans.schemas import (
    ItemCreate,
    ItemRead,
    ItemUpdate,
    PlanCreate,
    PlanRead,
    Progress,
    StatusChange,
)
from services.training.models import ImprovementItem, ImprovementItemChange, ImprovementPlan
from services.training.vocabulary import ItemStatus

FACTORY_MAY_CHANGE = {"status", "effective_date", "note"}


# The orders these lists offer (``sort``); ties fall back to the unique key.
PLAN_SORTING = Sorting(
    ImprovementPlan.id,
    factory_id=ImprovementPlan.factory_id,
    assessment_id=ImprovementPlan.assessment_id,
    created_at=ImprovementPlan.created_at,
    updated_at=ImprovementPlan.updated_at,
)

ITEM_SORTING = Sorting(
    ImprovementItem.id,
    plan_id=ImprovementItem.plan_id,
    factory_id=ImprovementItem.factory_id,
    compliance_point_code=ImprovementItem.compliance_point_code,
    due_date=ImprovementItem.due_date,
    status=ImprovementItem.status,
)


async def verify_plan_references(
    references: References, data: PlanCreate, principal: Principal
) -> str | None:
    """Factory, assessment and findings, checked with the assessment service before any write;
    the factory's country, which the plan and its items record."""
    countries = await require_factories(references, [data.factory_id], "body.factory_id", principal)
    assessment = check_assessment(
        await references.assessment(data.assessment_id), data.assessment_id, data.factory_id
    )
    check_items(assessment, data.items)
    return countries[data.factory_id]


async def verify_item_references(
    references: References, plan: ImprovementPlan, items: list[ItemCreate]
) -> None:
    assessment = check_assessment(
        await references.assessment(plan.assessment_id), plan.assessment_id, plan.factory_id
    )
    check_items(assessment, items)


async def _insert_items(
    session: AsyncSession,
    plan: ImprovementPlan,
    items: list[ItemCreate],
    changed_by: str,
    on: date,
) -> list[ImprovementItem]:
    """New items, each with its first history entry (pending, dated ``on``)."""
    rows = [
        ImprovementItem(
            id=new_id("itm"),
            plan_id=plan.id,
            factory_id=plan.factory_id,
            country=plan.country,
            **data.model_dump(),
        )
        for data in items
    ]
    session.add_all(rows)
    await session.flush()
    session.add_all(
        ImprovementItemChange(
            id=new_id("chg"),
            item_id=item.id,
            status=ItemStatus.PENDING,
            effective_date=on,
            note="created",
            changed_by=changed_by,
        )
        for item in rows
    )
    return rows


async def create_plan(
    session: AsyncSession,
    data: PlanCreate,
    references: References,
    principal: Principal,
    created_on: date | None = None,
) -> ImprovementPlan:
    country = await verify_plan_references(references, data, principal)
    plan = ImprovementPlan(
        id=new_id("imp"),
        factory_id=data.factory_id,
        country=country,
        assessment_id=data.assessment_id,
    )
    session.add(plan)
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        raise already_exists(
            f"Factory {data.factory_id!r} already has a plan for assessment "
            f"{data.assessment_id!r}; add items to it instead."
        ) from exc
    await _insert_items(session, plan, data.items, principal.subject, created_on or today())
    await _emit(session, "improvement_plan.created", plan)
    await session.commit()
    return plan


async def get_plan(session: AsyncSession, plan_id: str, principal: Principal) -> ImprovementPlan:
    return await fetch_owned(session, ImprovementPlan, plan_id, "Improvement plan", principal)


async def lock_plan(session: AsyncSession, plan_id: str, principal: Principal) -> ImprovementPlan:
    return await fetch_owned(
        session, ImprovementPlan, plan_id, "Improvement plan", principal, lock=True
    )


async def add_items(
    session: AsyncSession,
    plan_id: str,
    items: list[ItemCreate],
    principal: Principal,
) -> list[ImprovementItem]:
    """Items must already be checked with :func:`verify_item_references`."""
    plan = await lock_plan(session, plan_id, principal)
    rows = await _insert_items(session, plan, items, principal.subject, today())
    plan.updated_at = utcnow()
    await _emit(session, "improvement_plan.updated", plan)
    await session.commit()
    return rows


async def get_item(session: AsyncSession, plan: ImprovementPlan, item_id: str) -> ImprovementItem:
    item = await session.get(ImprovementItem, item_id)
    if item is None or item.plan_id != plan.id:
        raise not_found("Improvement item", item_id)
    return item


async def update_item(
    session: AsyncSession,
    plan: ImprovementPlan,
    item: ImprovementItem,
    data: ItemUpdate,
    principal: Principal,
) -> ImprovementItem:
    fields = changes(data, required={"action", "owner", "due_date", "status"})
    if principal.role == Role.FACTORY and set(fields) - FACTORY_MAY_CHANGE:
        raise Problem(
            403,
            "A factory may change only status, effective_date and note of its items.",
            title="Forbidden",
        )
    effective = fields.pop("effective_date", None) or today()
    note = fields.pop("note", None)
    if effective > today():
        raise Problem(422, "effective_date is in the future.", title="Validation failed")
    wanted = fields.pop("status", None)
    for name, value in fields.items():
        setattr(item, name, value)
    if wanted is not None and wanted != item.status:
        check_transition(item.status, wanted)
        item.status = wanted
        item.completed_at = effective if wanted == ItemStatus.COMPLETED else None
        session.add(
            ImprovementItemChange(
                id=new_id("chg"),
                item_id=item.id,
                status=wanted,
                effective_date=effective,
                note=note,
                changed_by=principal.subject,
            )
        )
    plan.updated_at = utcnow()
    async with stale_write_guard():
        await session.flush()
        await _emit(session, "improvement_plan.updated", plan)
        await session.commit()
    return item


async def _items_of(session: AsyncSession, plan_ids: list[str]) -> list[ImprovementItem]:
    stmt = (
        select(ImprovementItem)
        .where(ImprovementItem.plan_id.in_(plan_ids))  # type: ignore[attr-defined]
        .order_by(ImprovementItem.id)
    )
    return list((await session.execute(stmt)).scalars())


async def item_reads(
    session: AsyncSession, items: list[ImprovementItem], as_of: date | None = None
) -> list[ItemRead]:
    as_of = as_of or today()
    history: dict[str, list[StatusChange]] = defaultdict(list)
    if items:
        stmt = (
            select(ImprovementItemChange)
            .where(ImprovementItemChange.item_id.in_([i.id for i in items]))  # type: ignore[attr-defined]
            .order_by(ImprovementItemChange.id)
        )
        for change in (await session.execute(stmt)).scalars():
            history[change.item_id].append(StatusChange.model_validate(change))
    return [
        ItemRead.of(i, history[i.id], overdue=is_overdue(i.status, i.due_date, as_of))
        for i in items
    ]


async def plan_reads(session: AsyncSession, plans: list[ImprovementPlan]) -> list[PlanRead]:
    items_by_plan: dict[str, list[ItemRead]] = defaultdict(list)
    for read in await item_reads(session, await _items_of(session, [p.id for p in plans])):
        items_by_plan[read.plan_id].append(read)
    result = []
    for plan in plans:
        items = items_by_plan[plan.id]
        progress = Progress(total=len(items), overdue=sum(i.overdue for i in items))
        for item in items:
            setattr(progress, item.status, getattr(progress, item.status) + 1)
        result.append(PlanRead.of(plan, items, progress))
    return result


async def _emit(session: AsyncSession, event_type: str, plan: ImprovementPlan) -> None:
    await session.flush()
    items = await _items_of(session, [plan.id])
    payload = {
        "id": plan.id,
        "factory_id": plan.factory_id,
        "country": plan.country,
        "assessment_id": plan.assessment_id,
        "items": [
            {
                "id": i.id,
                "compliance_point_code": i.compliance_point_code,
                "finding_question_code": i.finding_question_code,
                "status": i.status,
                "due_date": i.due_date.isoformat(),
                "completed_at": i.completed_at.isoformat() if i.completed_at else None,
            }
            for i in items
        ],
    }
    await record_event(session, event_type, plan.id, payload)


async def list_plans(
    session: AsyncSession,
    params: PageParams,
    principal: Principal,
    *,
    factory_id: str | None = None,
    assessment_id: str | None = None,
) -> tuple[list[ImprovementPlan], str | None]:
    stmt = select(ImprovementPlan).where(in_scope(ImprovementPlan, principal))
    try:
        factory_id = visible_factory_filter(principal, factory_id)
    except NothingVisible:
        return [], None
    if factory_id is not None:
        stmt = stmt.where(col(ImprovementPlan.factory_id) == factory_id)
    if assessment_id is not None:
        stmt = stmt.where(col(ImprovementPlan.assessment_id) == assessment_id)
    rows, next_cursor = await paginate(session, stmt, PLAN_SORTING, params)
    return list(rows), next_cursor


async def list_items(
    session: AsyncSession,
    params: PageParams,
    principal: Principal,
    *,
    plan_id: str | None = None,
    factory_id: str | None = None,
    status: str | None = None,
    overdue: bool | None = None,
    as_of: date | None = None,
) -> tuple[list[ImprovementItem], str | None]:
    """Items across plans or of one plan; ``overdue=True``: past due and not completed."""
    as_of = as_of or today()
    stmt = select(ImprovementItem).where(in_scope(ImprovementItem, principal))
    try:
        factory_id = visible_factory_filter(principal, factory_id)
    except NothingVisible:
        return [], None
    if plan_id is not None:
        stmt = stmt.where(col(ImprovementItem.plan_id) == plan_id)
    if factory_id is not None:
        stmt = stmt.where(col(ImprovementItem.factory_id) == factory_id)
    if status is not None:
        stmt = stmt.where(col(ImprovementItem.status) == status)
    if overdue is True:
        stmt = stmt.where(
            col(ImprovementItem.status) != ItemStatus.COMPLETED,
            col(ImprovementItem.due_date) < as_of,
        )
    elif overdue is False:
        stmt = stmt.where(
            (col(ImprovementItem.status) == ItemStatus.COMPLETED)
            | (col(ImprovementItem.due_date) >= as_of)
        )
    rows, next_cursor = await paginate(session, stmt, ITEM_SORTING, params)
    return list(rows), next_cursor
