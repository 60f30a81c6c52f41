"""Transactional outbox and the change feed (``GET /internal/v1/changes``).

Every write to an aggregate appends an event in the same transaction. The feed pages by event id
in commit order. On PostgreSQL an id is drawn before commit, so a reader could see event 6 while
event 5 is still open and skip it forever; writers therefore take a transaction-scoped advisory
lock before drawing an id, which makes id order equal commit order. SQLite has one writer at a
time already.

A write tells its client which event it committed: :func:`install_feed_events` answers every
successful write that appended to the outbox with ``Feed-Event: <service>:<id>`` (the last event
of the request), and reporting's ``GET /v1/reports/freshness?event=...`` says whether that event
is in the reports yet. The header is added innermost, so a keyed write's answer is held (and
stored for replays) with it until its transaction has committed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import cache
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query
from pydantic import BaseModel
from sqlalchemy import JSON, BigInteger, Integer, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.auth import Access, Role, current_principal
from services.common.observability import current_request_id

MAX_FEED_PAGE = 1000
FEED_EVENT_HEADER = "Feed-Event"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# The ids of the events the current request appended; None outside a request (seeding, sync).
_request_events: ContextVar[list[int] | None] = ContextVar("bw_feed_events", default=None)


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
    event = model(
        event_type=event_type,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        payload=payload,
        request_id=request_id or current_request_id(),
        actor_subject=actor.subject if actor else None,
        actor_role=actor.role if actor else None,
    )
    session.add(event)
    await session.flush()
    if (appended := _request_events.get()) is not None and event.id is not None:
        appended.append(event.id)


class FeedEventMiddleware:
    """Adds ``Feed-Event: <source>:<id>`` to a successful write's answer, naming the last event
    the request appended. Only a 2xx carries it: a refused or failed write committed nothing."""

    def __init__(self, app: ASGIApp, source: str) -> None:
        self.app = app
        self.source = source

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        appended: list[int] = []
        token = _request_events.set(appended)

        async def send_naming_the_event(message: Message) -> None:
            start = message["type"] == "http.response.start"
            if start and appended and 200 <= message["status"] < 300:
                value = f"{self.source}:{max(appended)}".encode()
                headers = [*message.get("headers", []), (b"feed-event", value)]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_naming_the_event)
        finally:
            _request_events.reset(token)


def install_feed_events(app: FastAPI, source: str) -> None:
    """Answer writes with their feed event and declare the header on every write operation.

    The middleware goes innermost (after the idempotency one, whose held answer then carries it)
    and the declaration wraps whatever ``app.openapi`` already is."""
    if app.middleware_stack is not None:
        raise RuntimeError("install_feed_events must run before the app serves its first request")
    app.user_middleware.append(Middleware(FeedEventMiddleware, source=source))
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()
        declare_feed_event_header(document, source)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def declare_feed_event_header(document: dict[str, Any], source: str) -> None:
    """Every write operation's success answers may carry Feed-Event (in place, idempotent)."""
    header = {
        "description": "The change-feed event this write committed, as `source:id` (e.g. "
        f"`{source}:1234`); present when the write changed data the reports are built from. "
        "Pass it to `GET /v1/reports/freshness?event=` to learn when the reports include it.",
        "schema": {"type": "string", "pattern": "^[a-z]+:[0-9]+$"},
    }
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            if method.upper() not in WRITE_METHODS or not isinstance(operation, dict):
                continue
            for status, response in operation.get("responses", {}).items():
                if status.startswith("2") and isinstance(response, dict):
                    response.setdefault("headers", {})[FEED_EVENT_HEADER] = header


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


# Once per process: every app built (each test builds its own) includes this same router, as it
# does the services' module-level routers, instead of analysing its routes' dependencies anew.
@cache
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
