"""Advisory visits: an enterprise advisor's working day at a factory."""

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.auth import Principal
from services.common.etag import commit_update
from services.common.ids import new_id
from services.common.pagination import PageParams, Sorting, paginate
from services.training.access import (
    NothingVisible,
    fetch_owned,
    in_scope,
    visible_factory_filter,
)
from services.training.advisory_visits.schemas import VisitCreate, VisitRead, VisitUpdate
from services.training.assessment_client import References, require_factories
from services.training.common import changes
from services.training.events import record_event
from services.training.models import AdvisoryVisit

PAYLOAD_FIELDS = {
    "id",
    "factory_id",
    "country",
    "visit_date",
    "advisors",
    "topics",
    "compliance_point_codes",
}


# The orders this list offers (``sort``); ties fall back to the unique key.
VISIT_SORTING = Sorting(
    AdvisoryVisit.id,
    factory_id=AdvisoryVisit.factory_id,
    visit_date=AdvisoryVisit.visit_date,
    created_at=AdvisoryVisit.created_at,
    updated_at=AdvisoryVisit.updated_at,
)


def visit_payload(visit: AdvisoryVisit) -> dict[str, Any]:
    return VisitRead.of(visit).model_dump(mode="json", include=PAYLOAD_FIELDS)


async def create_visit(
    session: AsyncSession, data: VisitCreate, references: References, principal: Principal
) -> AdvisoryVisit:
    countries = await require_factories(references, [data.factory_id], "body.factory_id", principal)
    visit = AdvisoryVisit(id=new_id("adv"), country=countries[data.factory_id], **data.model_dump())
    session.add(visit)
    await session.flush()
    await record_event(session, "advisory_visit.created", visit.id, visit_payload(visit))
    await session.commit()
    return visit


async def get_visit(session: AsyncSession, visit_id: str, principal: Principal) -> AdvisoryVisit:
    return await fetch_owned(session, AdvisoryVisit, visit_id, "Advisory visit", principal)


async def update_visit(
    session: AsyncSession, visit: AdvisoryVisit, data: VisitUpdate
) -> AdvisoryVisit:
    await commit_update(
        session,
        visit,
        changes(data, required={"visit_date", "advisors"}),
        lambda: record_event(session, "advisory_visit.updated", visit.id, visit_payload(visit)),
    )
    return visit


async def list_visits(
    session: AsyncSession,
    params: PageParams,
    principal: Principal,
    *,
    factory_id: str | None = None,
    visited_from: date | None = None,
    visited_to: date | None = None,
) -> tuple[list[AdvisoryVisit], str | None]:
    stmt = select(AdvisoryVisit).where(in_scope(AdvisoryVisit, principal))
    try:
        factory_id = visible_factory_filter(principal, factory_id)
    except NothingVisible:
        return [], None
    if factory_id is not None:
        stmt = stmt.where(col(AdvisoryVisit.factory_id) == factory_id)
    if visited_from is not None:
        stmt = stmt.where(col(AdvisoryVisit.visit_date) >= visited_from)
    if visited_to is not None:
        stmt = stmt.where(col(AdvisoryVisit.visit_date) <= visited_to)
    rows, next_cursor = await paginate(session, stmt, VISIT_SORTING, params)
    return list(rows), next_cursor
