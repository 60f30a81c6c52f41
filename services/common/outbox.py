"""Transactional outbox and the change feed (``GET /internal/v1/changes``).

Every write to an aggregate appends an event in the same transaction. The feed pages by event id
in commit order. On PostgreSQL an id is drawn before commit, so a reader could see event 6 while
event 5 is still open and skip it forever; writers therefore take a transaction-scoped advisory
lock before drawing an id, which makes id order equal commit order. SQLite has one writer at a
time already.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import JSON, BigInteger, Integer, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from services.common.auth import Access, Role, current_principal
from services.common.observability import current_request_id

MAX_FEED_PAGE = 1000


def utcnow() -> datetime:
    return datetime.now(UTC)


class OutboxFields(SQLModel):
    """Columns of every service's ``outbox`` table; each service declares its own table."""

    # 64-bit on PostgreSQL: a feed outlives 2**31 events; SQLite's rowid is 64-bit already.
    id: int | None = Field(
        default=None, primary_key=True, sa_type=BigInteger().with_variant(Integer, "sqlite")
    )
    event_type: str = Field(max_length=80)
    aggregate_type: str = Field(max_length=80)
    aggregate_id: str = Field(max_length=64, index=True)
    occurred_at: datetime = Field(default_factory=utcnow)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    request_id: str | None = Field(default=None, max_length=128)
    # Who made the change: the outbox doubles as the audit log of every write.
    actor_subject: str | None = Field(default=None, max_length=200, index=True)
    actor_role: str | None = Field(default=None, max_length=40)


async def append_event(
    session: AsyncSession,
    model: type[OutboxFields],
    *,
    event_type: str,
    aggregate_type: str,
    aggregate_id: str,
    payload: dict[str, Any],
    request_id: str | None = None,
) -> None:
    """Add one event to the current transaction; it commits (or rolls back) with the write."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.outbox'))")
        )
    actor = current_principal()
    session.add(
        model(
            event_type=event_type,
            aggregate_type=aggregate_type,
            aggregate_id=aggregate_id,
            payload=payload,
            request_id=request_id or current_request_id(),
            actor_subject=actor.subject if actor else None,
            actor_role=actor.role if actor else None,
        )
    )
    await session.flush()


class ChangeEvent(BaseModel):
    id: int
    event_type: str
    aggregate_type: str
    aggregate_id: str
    occurred_at: datetime
    payload: dict[str, Any]


class ChangePage(BaseModel):
    items: list[ChangeEvent]
    next_cursor: str = Field(description="Pass as `after` to get the events that follow.")
    has_more: bool


async def read_changes(
    session: AsyncSession, model: type[OutboxFields], after: int, limit: int
) -> ChangePage:
    column: Any = model.id
    stmt = select(model).where(column > after).order_by(column).limit(limit + 1)
    rows = list((await session.execute(stmt)).scalars().all())
    has_more = len(rows) > limit
    rows = rows[:limit]
    items = [ChangeEvent.model_validate(row, from_attributes=True) for row in rows]
    last = items[-1].id if items else after
    return ChangePage(items=items, next_cursor=str(last), has_more=has_more)


def changes_router(
    model: type[OutboxFields],
    session_dependency: Callable[..., AsyncIterator[AsyncSession]],
) -> APIRouter:
    router = APIRouter(prefix="/internal/v1", tags=["internal"])

    @router.get("/changes", response_model=ChangePage, summary="Change feed, in commit order")
    async def get_changes(
        after: int = Query(
            0, ge=0, le=2**63 - 1, description="Last event id already applied (0 = start)."
        ),
        limit: int = Query(200, ge=1, le=MAX_FEED_PAGE),
        session: AsyncSession = Depends(session_dependency),
        _caller: Any = Depends(Access(Role.SERVICE, Role.ADMIN)),
    ) -> ChangePage:
        return await read_changes(session, model, after, limit)

    return router
