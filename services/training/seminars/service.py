"""Industry seminars, PAC meetings and other stakeholder events (no factory, so no HTTP check).
Each belongs to the country programme that holds it; the country scope filters on it."""

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.auth import Principal
from services.common.etag import commit_update
from services.common.ids import new_id
from services.common.pagination import PageParams, Sorting, paginate
from services.training.access import country_for_new_record, fetch_owned, in_scope
from services.training.common import changes
from services.training.events import record_event
from services.training.models import Seminar
from services.training.seminars.schemas import SeminarCreate, SeminarRead, SeminarUpdate

PAYLOAD_FIELDS = {
    "id",
    "kind",
    "country",
    "event_date",
    "topic",
    "organisations",
    "participants_women",
    "participants_men",
}


# The orders this list offers (``sort``); ties fall back to the unique key.
SEMINAR_SORTING = Sorting(
    Seminar.id,
    kind=Seminar.kind,
    event_date=Seminar.event_date,
    created_at=Seminar.created_at,
    updated_at=Seminar.updated_at,
)


def seminar_payload(seminar: Seminar) -> dict[str, Any]:
    return SeminarRead.of(seminar).model_dump(mode="json", include=PAYLOAD_FIELDS)


async def create_seminar(
    session: AsyncSession, data: SeminarCreate, principal: Principal
) -> Seminar:
    country = country_for_new_record(principal, data.country)
    seminar = Seminar(id=new_id("sem"), **{**data.model_dump(), "country": country})
    session.add(seminar)
    await session.flush()
    await record_event(session, "seminar.created", seminar.id, seminar_payload(seminar))
    await session.commit()
    return seminar


async def get_seminar(session: AsyncSession, seminar_id: str, principal: Principal) -> Seminar:
    return await fetch_owned(session, Seminar, seminar_id, "Seminar", principal)


async def update_seminar(
    session: AsyncSession, seminar: Seminar, data: SeminarUpdate, principal: Principal
) -> Seminar:
    required = {"kind", "country", "event_date", "topic", "organisations"}
    required |= {"participants_women", "participants_men"}
    fields = changes(data, required=required)
    if "country" in fields:
        fields["country"] = country_for_new_record(principal, fields["country"])
    await commit_update(
        session,
        seminar,
        fields,
        lambda: record_event(session, "seminar.updated", seminar.id, seminar_payload(seminar)),
    )
    return seminar


async def list_seminars(
    session: AsyncSession,
    params: PageParams,
    principal: Principal,
    *,
    kind: str | None = None,
    held_from: date | None = None,
    held_to: date | None = None,
) -> tuple[list[Seminar], str | None]:
    stmt = select(Seminar).where(in_scope(Seminar, principal))
    if kind is not None:
        stmt = stmt.where(col(Seminar.kind) == kind)
    if held_from is not None:
        stmt = stmt.where(col(Seminar.event_date) >= held_from)
    if held_to is not None:
        stmt = stmt.where(col(Seminar.event_date) <= held_to)
    rows, next_cursor = await paginate(session, stmt, SEMINAR_SORTING, params)
    return list(rows), next_cursor
