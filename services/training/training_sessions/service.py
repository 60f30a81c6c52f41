"""Training sessions and their attendance lists.

Each write emits a ``training_session.*`` snapshot carrying the participant counts, so the
reporting service never needs the individual participants.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Row, Table, and_, bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.auth import Principal
from services.common.etag import commit_update, stale_write_guard
from services.common.ids import new_id
from services.common.outbox import utcnow
from services.common.pagination import PageParams, Sorting, paginate, select_rows
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
from services.training.training_sessions.attendance import (
    SEX_ROLE_PAIRS,
    counts_by_session,
    empty_counts,
    validate_rows,
)
from services.training.training_sessions.schemas import (
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

_COURSE_TABLE: Table = Course.__table__  # type: ignore[attr-defined]
_SESSION_FACTORY_TABLE: Table = SessionFactory.__table__  # type: ignore[attr-defined]

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


# Participant counts of the sessions ``session_ids``, one row per session and factory (see
# counts_by_session), aggregated in the database: lists can be long. Built once: building a
# statement and its cache key costs more than running it on a page.
_ATTENDED = col(Participant.attended)
_COUNTED = (
    select(
        col(Participant.session_id),
        col(Participant.factory_id),
        func.count(),
        func.count().filter(_ATTENDED),
        func.count().filter(and_(_ATTENDED, col(Participant.completed))),
        *(
            func.count().filter(
                and_(
                    _ATTENDED,
                    col(Participant.sex) == sex,
                    col(Participant.role) == role,
                )
            )
            for sex, role in SEX_ROLE_PAIRS
        ),
    )
    .where(col(Participant.session_id).in_(bindparam("session_ids", expanding=True)))
    .group_by(col(Participant.session_id), col(Participant.factory_id))
)
# A factory caller counts its own participants only.
_COUNTED_OF_FACTORY = _COUNTED.where(col(Participant.factory_id) == bindparam("factory_id"))
_TOPICS = select(col(Course.id), col(Course.topic)).where(
    col(Course.id).in_(bindparam("course_ids", expanding=True))
)
# A page of sessions as rows of the table, each with its course's topic: the list answers read
# models only, and one statement gives what the page and then its courses took two for.
_SESSION_ROWS = (
    select_rows(TrainingSession)
    .add_columns(col(Course.topic).label("course_topic"))
    .join(_COURSE_TABLE, col(Course.id) == col(TrainingSession.course_id))
)


async def _rows(session: AsyncSession, stmt: Any, params: dict[str, Any]) -> Sequence[Row[Any]]:
    """Core rows of ``stmt``, on the session's connection (values only: no ORM layer), after
    flushing what the session holds, as ``session.execute`` would."""
    if session.new or session.dirty or session.deleted:
        await session.flush()
    connection = await session.connection()
    return (await connection.execute(stmt, params)).all()


async def _counts(
    session: AsyncSession, session_ids: list[str], only_factory: str | None = None
) -> dict[str, dict[str, Any]]:
    """Participant counts per session (the fields of ParticipantCounts; a session with nobody
    on its list is left out), limited to ``only_factory``'s participants when given."""
    if not session_ids:
        return {}
    if only_factory is None:
        rows = await _rows(session, _COUNTED, {"session_ids": session_ids})
    else:
        params = {"session_ids": session_ids, "factory_id": only_factory}
        rows = await _rows(session, _COUNTED_OF_FACTORY, params)
    return counts_by_session(rows)


async def session_fields(
    session: AsyncSession, rows: Sequence[Row[Any]], principal: Principal
) -> list[dict[str, Any]]:
    """A page of :func:`list_sessions` as the read model's fields, its counts in one statement."""
    scope = factory_scope(principal)
    counts = await _counts(session, [r.id for r in rows], scope)
    return [
        SessionRead.fields_of(r, r.course_topic, counts.get(r.id) or empty_counts(), scope)
        for r in rows
    ]


async def read_sessions(
    session: AsyncSession, rows: list[TrainingSession], principal: Principal | None
) -> list[SessionRead]:
    """Sessions held as objects (one just read or written) as read models."""
    if not rows:
        return []
    scope = factory_scope(principal) if principal else None
    counts = await _counts(session, [r.id for r in rows], scope)
    course_ids = sorted({r.course_id for r in rows})
    topics = {r.id: r.topic for r in await _rows(session, _TOPICS, {"course_ids": course_ids})}
    return [
        SessionRead.model_validate(
            SessionRead.fields_of(r, topics[r.course_id], counts.get(r.id) or empty_counts(), scope)
        )
        for r in rows
    ]


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
) -> tuple[list[Row[Any]], str | None]:
    """A page of sessions as rows of the table with ``course_topic`` (see session_fields)."""
    stmt = _SESSION_ROWS.where(in_scope(TrainingSession, principal))
    try:
        factory_id = visible_factory_filter(principal, factory_id)
    except NothingVisible:
        return [], None
    if factory_id is not None:
        stmt = stmt.join(
            _SESSION_FACTORY_TABLE, col(SessionFactory.session_id) == col(TrainingSession.id)
        ).where(col(SessionFactory.factory_id) == factory_id)
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
