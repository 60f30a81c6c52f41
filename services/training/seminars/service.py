"""Industry seminars, PAC meetings and other stakeholder events (no factory, so no HTTP check)."""

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.etag import commit_update
from services.common.ids import new_id
from services.common.pagination import PageParams, paginate
from services.common.problems import not_found
from services.training.common import changes
from services.training.events import record_event
from services.training.models import Seminar
from services.training.seminars.schemas import SeminarCreate, SeminarRead, SeminarUpdate

PAYLOAD_FIELDS = {
    "id",
    "kind",
    "event_date",
    "topic",
    "organisations",
    "participants_women",
    "participants_men",
}


def seminar_payload(seminar: Seminar) -> dict[str, Any]:
    return SeminarRead.model_validate(seminar).model_dump(mode="json", include=PAYLOAD_FIELDS)


async def create_seminar(session: AsyncSession, data: SeminarCreate) -> Seminar:
    seminar = Seminar(id=new_id("sem"), **data.model_dump())
    session.add(seminar)
    await session.flush()
    await record_event(session, "seminar.created", seminar.id, seminar_payload(seminar))
    await session.commit()
    return seminar


async def get_seminar(session: AsyncSession, seminar_id: str) -> Seminar:
    seminar = await session.get(Seminar, seminar_id)
    if seminar is None:
        raise not_found("Seminar", seminar_id)
    return seminar


async def update_seminar(session: AsyncSession, seminar: Seminar, data: SeminarUpdate) -> Seminar:
    required = {"kind", "event_date", "topic", "organisations"}
    required |= {"participants_women", "participants_men"}
    await commit_update(
        session,
        seminar,
        changes(data, required=required),
        lambda: record_event(session, "seminar.updated", seminar.id, seminar_payload(seminar)),
    )
    return seminar


async def list_seminars(
    session: AsyncSession,
    params: PageParams,
    *,
    kind: str | None = None,
    held_from: date | None = None,
    held_to: date | None = None,
) -> tuple[list[Seminar], str | None]:
    stmt = select(Seminar)
    if kind is not None:
        stmt = stmt.where(col(Seminar.kind) == kind)
    if held_from is not None:
        stmt = stmt.where(col(Seminar.event_date) >= held_from)
    if held_to is not None:
        stmt = stmt.where(col(Seminar.event_date) <= held_to)
    rows, next_cursor = await paginate(session, stmt, Seminar.id, params)  # type: ignore[arg-type]
    return list(rows), next_cursor
