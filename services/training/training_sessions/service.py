"""Training sessions and their attendance lists.

Each write emits a ``training_session.*`` snapshot carrying the participant counts, so the
reporting service never needs the individual participants.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.auth import Principal
from services.common.etag import commit_update, stale_write_guard
from services.common.ids import new_id
from services.common.outbox import utcnow
from services.common.pagination import PageParams, Sorting, paginate
from services.common.problems import Problem, conflict, not_found
from services.training.access import (
    NothingVisible,
    ensure_visible,
    factory_scope,
    in_scope,
    visible_factory_filter,
)
from services.training.assessment_client import References, require_factories_country
from services.training.common import changes
from services.training.events import record_event
from services.training.models import Course, Participant, SessionFactory, TrainingSession
from services.training.training_sessions.attendance import add_to_counts, validate_rows
from services.training.training_sessions.schemas import (
    ParticipantCounts,
    SessionCreate,
    SessionRead,
    SessionUpdate,
    check_session_shape,
)

# The orders these lists offer (``sort``); ties fall back to the unique key.
SESSION_SORTING = Sorting(
    TrainingSession.id,
    course_id=TrainingSession.course_id,
    start_date=TrainingSession.start_date,
    end_date=TrainingSession.end_date,
    created_at=TrainingSession.created_at,
    updated_at=TrainingSession.updated_at,
)

PARTICIPANT_SORTING = Sorting(
    Participant.row_number,
    key_name="row_number",
    sex=Participant.sex,
    role=Participant.role,
    factory_id=Participant.factory_id,
)


async def _course(session: AsyncSession, course_id: str) -> Course:
    course = await session.get(Course, course_id)
    if course is None:
        raise Problem(
            422,
            f"course {course_id!r} does not exist.",
            title="Unknown reference",
            errors=[
                {"location": "body.course_id", "message": "unknown course", "value": course_id}
            ],
        )
    return course


async def _counts(
    session: AsyncSession, session_ids: list[str], only_factory: str | None = None
) -> dict[str, ParticipantCounts]:
    """Participant counts per session, aggregated in the database (lists can be long)."""
    key = (
        col(Participant.session_id),
        col(Participant.sex),
        col(Participant.role),
        col(Participant.factory_id),
        col(Participant.attended),
        col(Participant.completed),
    )
    stmt = (
        select(*key, func.count())
        .where(col(Participant.session_id).in_(session_ids))
        .group_by(*key)
    )
    if only_factory is not None:
        stmt = stmt.where(col(Participant.factory_id) == only_factory)
    counts: dict[str, ParticipantCounts] = defaultdict(ParticipantCounts)
    for session_id, sex, role, factory_id, attended, completed, how_many in await session.execute(
        stmt
    ):
        add_to_counts(counts[session_id], sex, role, factory_id, attended, completed, how_many)
    return counts


async def read_sessions(
    session: AsyncSession, rows: list[TrainingSession], principal: Principal | None
) -> list[SessionRead]:
    scope = factory_scope(principal) if principal else None
    counts = await _counts(session, [r.id for r in rows], scope)
    courses = {c.id: c for c in await _courses(session, {r.course_id for r in rows})}
    return [SessionRead.of(r, courses[r.course_id], counts[r.id], scope) for r in rows]


async def _courses(session: AsyncSession, ids: set[str]) -> list[Course]:
    if not ids:
        return []
    stmt = select(Course).where(Course.id.in_(ids))  # type: ignore[attr-defined]
    return list((await session.execute(stmt)).scalars())


async def _emit(session: AsyncSession, event_type: str, training: TrainingSession) -> None:
    [snapshot] = await read_sessions(session, [training], None)
    payload: dict[str, Any] = snapshot.model_dump(
        mode="json",
        include={
            "id",
            "course_id",
            "course_topic",
            "start_date",
            "end_date",
            "delivery",
            "venue",
            "country",
            "factory_ids",
            "participants",
        },
    )
    await record_event(session, event_type, training.id, payload)


async def create_session(
    session: AsyncSession, data: SessionCreate, references: References, principal: Principal
) -> TrainingSession:
    """The session takes place in its factories' country (one country: checked here)."""
    country = await require_factories_country(
        references, data.factory_ids, "body.factory_ids", principal
    )
    await _course(session, data.course_id)
    training = TrainingSession(id=new_id("trs"), country=country, **data.model_dump())
    session.add(training)
    await session.flush()
    session.add_all(SessionFactory(session_id=training.id, factory_id=f) for f in data.factory_ids)
    await session.flush()
    await _emit(session, "training_session.created", training)
    await session.commit()
    return training


async def get_session(
    session: AsyncSession, session_id: str, principal: Principal
) -> TrainingSession:
    """The session if the caller may see it (its country; a factory: one it takes part in)."""
    training = await session.get(TrainingSession, session_id)
    scope = factory_scope(principal)
    if training is None or (scope is not None and scope not in training.factory_ids):
        raise not_found("Training session", session_id)
    ensure_visible(principal, training, "Training session", session_id)
    return training


async def update_session(
    session: AsyncSession,
    training: TrainingSession,
    data: SessionUpdate,
    country: str | None = None,
) -> TrainingSession:
    """Factory ids in ``data`` must already be checked with the assessment service, which gave
    their ``country``: the session moves with its factories."""
    fields = changes(
        data, required={"course_id", "start_date", "end_date", "delivery", "factory_ids"}
    )
    if "course_id" in fields:
        await _course(session, fields["course_id"])
    merged = {
        "start_date": training.start_date,
        "end_date": training.end_date,
        "delivery": training.delivery,
        "factory_ids": list(training.factory_ids),
        **{k: v for k, v in fields.items() if k in {"start_date", "end_date", "delivery"}},
    }
    if "factory_ids" in fields:
        merged["factory_ids"] = list(fields["factory_ids"])
    try:
        check_session_shape(**merged)
    except ValueError as exc:
        raise Problem(422, f"The session would be inconsistent: {exc}.") from exc
    if "factory_ids" in fields:
        await _replace_factories(session, training, fields["factory_ids"])
        fields["country"] = country
    await commit_update(
        session, training, fields, lambda: _emit(session, "training_session.updated", training)
    )
    return training


async def _replace_factories(
    session: AsyncSession, training: TrainingSession, factory_ids: list[str]
) -> None:
    stmt = (
        select(col(Participant.factory_id))
        .where(col(Participant.session_id) == training.id)
        .distinct()
    )
    attending = set((await session.execute(stmt)).scalars())
    orphaned = sorted(attending - set(factory_ids))
    if orphaned:
        raise conflict(
            "The attendance list has participants from factories the change removes: "
            + ", ".join(orphaned)
            + ". Upload a new attendance list first."
        )
    await session.execute(delete(SessionFactory).where(SessionFactory.session_id == training.id))  # type: ignore[arg-type]
    session.add_all(SessionFactory(session_id=training.id, factory_id=f) for f in factory_ids)


async def replace_attendance(
    session: AsyncSession, training: TrainingSession, rows: list[dict[str, Any]]
) -> TrainingSession:
    """Swap the whole attendance list in one transaction: all rows valid, or nothing changes."""
    participants = validate_rows(rows, training.factory_ids)
    await session.execute(delete(Participant).where(Participant.session_id == training.id))  # type: ignore[arg-type]
    session.add_all(
        Participant(id=new_id("par"), session_id=training.id, row_number=n, **p.model_dump())
        for n, p in enumerate(participants, start=1)
    )
    training.updated_at = utcnow()
    async with stale_write_guard():
        await session.flush()
        await _emit(session, "training_session.updated", training)
        await session.commit()
    return training


async def list_sessions(
    session: AsyncSession,
    params: PageParams,
    principal: Principal,
    *,
    factory_id: str | None = None,
    course_id: str | None = None,
    start_from: date | None = None,
    start_to: date | None = None,
) -> tuple[list[TrainingSession], str | None]:
    stmt = select(TrainingSession).where(in_scope(TrainingSession, principal))
    try:
        factory_id = visible_factory_filter(principal, factory_id)
    except NothingVisible:
        return [], None
    if factory_id is not None:
        stmt = stmt.join(SessionFactory).where(col(SessionFactory.factory_id) == factory_id)
    if course_id is not None:
        stmt = stmt.where(col(TrainingSession.course_id) == course_id)
    if start_from is not None:
        stmt = stmt.where(col(TrainingSession.start_date) >= start_from)
    if start_to is not None:
        stmt = stmt.where(col(TrainingSession.start_date) <= start_to)
    rows, next_cursor = await paginate(session, stmt, SESSION_SORTING, params)
    return list(rows), next_cursor


async def list_participants(
    session: AsyncSession, training: TrainingSession, params: PageParams, principal: Principal
) -> tuple[list[Participant], str | None]:
    stmt = select(Participant).where(col(Participant.session_id) == training.id)
    scope = factory_scope(principal)
    if scope is not None:
        stmt = stmt.where(col(Participant.factory_id) == scope)
    rows, next_cursor = await paginate(session, stmt, PARTICIPANT_SORTING, params)
    return list(rows), next_cursor
