"""Transactional outbox and the change feed (``GET /internal/v1/changes``).

Every write to an aggregate appends an event in the same transaction (ADR 0003).

Order (ADR 0011). On SQLite there is one writer at a time, so id order is commit order and the
feed pages by id. On PostgreSQL an id is drawn before commit, so id order is not commit order;
instead of serialising writers on a lock, each event records its transaction id (``txid``,
``pg_current_xact_id()``) and the feed serves events in ``(txid, id)`` order, only below the
oldest transaction still open that may write this outbox (the snapshot's xmin, narrowed to the
outbox's schema: ``feed_order.served_below``). Every transaction below that mark has ended, so
no event can later appear behind a position already served and a late commit is never
skipped; a long transaction holds the feed back (seen as lag), never loses an event.
Transaction-id order is not commit order for two overlapping transactions, so an event also
carries its aggregate's version (``aggregate_version``, the ETag counter) and readers keep the
newest (reporting's sync).

A cursor is a :class:`FeedPosition`: ``<txid>.<id>`` on PostgreSQL, a bare ``<id>`` on SQLite.
A bare id given to a PostgreSQL feed (a reader from before the switch-over) means "every event
up to this id", resolved to the position of the last event at or below it.

A write tells its client which event it committed: :func:`install_feed_events` answers every
successful write that appended to the outbox with ``Feed-Event: <service>:<position>`` (the last
event of the request), and reporting's ``GET /v1/reports/freshness?event=...`` says whether that
event is in the reports yet. The header is added innermost, so a keyed write's answer is held
(and stored for replays) with it until its transaction has committed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import cache
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query
from pydantic import BaseModel
from sqlalchemy import (
    JSON,
    BigInteger,
    Index,
    Integer,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import declared_attr
from sqlmodel import Field, SQLModel
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.auth import Access, Role, current_principal
from services.common.feed_order import (
    HOLD_WAIT_SECONDS,
    POSITION_PATTERN,
    TXID_TYPE,
    CurrentXactId,
    FeedPosition,
    page_below,
)
from services.common.observability import current_request_id
from services.common.problems import Problem

MAX_FEED_PAGE = 1000
FEED_EVENT_HEADER = "Feed-Event"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The positions of the events the current request appended; None outside a request.
_request_events: ContextVar[list[FeedPosition] | None] = ContextVar("bw_feed_events", default=None)


def utcnow() -> datetime:
    return datetime.now(UTC)


class OutboxFields(SQLModel):
    """Columns of every service's ``outbox`` table; each service declares its own table."""

    # 64-bit on PostgreSQL: a feed outlives 2**31 events; SQLite's rowid is 64-bit already.
    id: int | None = Field(
        default=None, primary_key=True, sa_type=BigInteger().with_variant(Integer, "sqlite")
    )
    # The writing transaction (PostgreSQL; NULL on SQLite): the feed's order, see the module.
    txid: int | None = Field(
        default=None,
        sa_type=TXID_TYPE,
        sa_column_kwargs={"server_default": CurrentXactId()},
    )
    # The aggregate's version counter (its ETag's) as this event left it; None if it has none.
    aggregate_version: int | None = Field(default=None, sa_type=BigInteger())
    event_type: str = Field(max_length=80)
    aggregate_type: str = Field(max_length=80)
    aggregate_id: str = Field(max_length=64, index=True)
    occurred_at: datetime = Field(default_factory=utcnow)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    request_id: str | None = Field(default=None, max_length=128)
    # Who made the change: the outbox doubles as the audit log of every write.
    actor_subject: str | None = Field(default=None, max_length=200, index=True)
    actor_role: str | None = Field(default=None, max_length=40)

    @declared_attr  # type: ignore[arg-type]
    def __table_args__(cls) -> tuple[Any, ...]:
        # The PostgreSQL feed's order; unused (all NULL) on SQLite.
        return (Index(f"ix_{cls.__tablename__}_txid_id", "txid", "id"),)


async def append_event(
    session: AsyncSession,
    model: type[OutboxFields],
    *,
    event_type: str,
    aggregate_type: str,
    aggregate_id: str,
    payload: dict[str, Any],
    request_id: str | None = None,
    aggregate_version: int | None = None,
) -> None:
    """Add one event to the current transaction; it commits (or rolls back) with the write.
    No lock: on PostgreSQL the feed's order comes from the transaction id (module docstring)."""
    actor = current_principal()
    event = model(
        event_type=event_type,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        aggregate_version=aggregate_version,
        payload=payload,
        request_id=request_id or current_request_id(),
        actor_subject=actor.subject if actor else None,
        actor_role=actor.role if actor else None,
    )
    session.add(event)
    await session.flush()
    if (appended := _request_events.get()) is not None and event.id is not None:
        appended.append(FeedPosition(event.txid, event.id))


class FeedEventMiddleware:
    """Adds ``Feed-Event: <source>:<position>`` to a successful write's answer, naming the last
    event the request appended. Only a 2xx carries it: a refused or failed write committed
    nothing."""

    def __init__(self, app: ASGIApp, source: str) -> None:
        self.app = app
        self.source = source

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        appended: list[FeedPosition] = []
        token = _request_events.set(appended)

        async def send_naming_the_event(message: Message) -> None:
            start = message["type"] == "http.response.start"
            if start and appended and 200 <= message["status"] < 300:
                value = f"{self.source}:{max(appended, key=FeedPosition.key)}".encode()
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
        "description": "The change-feed event this write committed, as `source:position` "
        f"(`{source}:1234` on SQLite, `{source}:<txid>.<id>` on PostgreSQL); present when the "
        "write changed data the reports are built from. Pass it to "
        "`GET /v1/reports/freshness?event=` to learn when the reports include it.",
        "schema": {"type": "string", "pattern": f"^[a-z]+:{POSITION_PATTERN}$"},
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
    txid: int | None = None
    aggregate_version: int | None = None
    event_type: str
    aggregate_type: str
    aggregate_id: str
    occurred_at: datetime
    payload: dict[str, Any]


class ChangePage(BaseModel):
    items: list[ChangeEvent]
    next_cursor: str = Field(description="Pass as `after` to get the events that follow.")
    has_more: bool


async def _position_of_id(
    session: AsyncSession, model: type[OutboxFields], ident: int
) -> FeedPosition:
    """A bare id on PostgreSQL (a reader from before the switch-over, which applied every event
    up to it in id order): the position of the last event at or below it."""
    column: Any = model.id
    txid: Any = model.txid
    stmt = select(txid).where(column <= ident).order_by(column.desc()).limit(1)
    txid = (await session.execute(stmt)).scalar_one_or_none()
    return FeedPosition(txid, ident) if txid is not None else FeedPosition(0, 0)


async def read_changes(
    session: AsyncSession,
    model: type[OutboxFields],
    after: FeedPosition | int | str,
    limit: int,
    *,
    hold_wait: float = HOLD_WAIT_SECONDS,
) -> ChangePage:
    """The page after ``after``: by id on SQLite; on PostgreSQL by ``(txid, id)`` and only
    below the snapshot's xmin (module docstring). An empty page keeps the cursor as given."""
    given = after if isinstance(after, FeedPosition) else FeedPosition.parse(after)
    column: Any = model.id
    if session.get_bind().dialect.name != "postgresql":
        stmt = select(model).where(column > given.id).order_by(column).limit(limit + 1)
        rows = list((await session.execute(stmt)).scalars().all())
        has_more = len(rows) > limit
    else:
        start = given if given.txid is not None else await _position_of_id(session, model, given.id)
        rows, held_back = await page_below(session, model, start, limit, hold_wait)
        has_more = held_back or len(rows) > limit  # come back for events held back
    items = [ChangeEvent.model_validate(row, from_attributes=True) for row in rows[:limit]]
    last = FeedPosition(items[-1].txid, items[-1].id) if items else given
    return ChangePage(items=items, next_cursor=str(last), has_more=has_more)


def feed_cursor(
    after: str = Query(
        "0",
        max_length=40,
        description="The `next_cursor` of the last page applied (0 = start): `<txid>.<id>` on "
        "PostgreSQL, `<id>` on SQLite; a bare id is accepted by both.",
    ),
) -> FeedPosition:
    try:
        return FeedPosition.parse(after)
    except ValueError as exc:
        raise Problem(422, str(exc), title="Validation failed") from exc


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
        after: FeedPosition = Depends(feed_cursor),
        limit: int = Query(200, ge=1, le=MAX_FEED_PAGE),
        session: AsyncSession = Depends(session_dependency),
        _caller: Any = Depends(Access(Role.SERVICE, Role.ADMIN)),
    ) -> ChangePage:
        return await read_changes(session, model, after, limit)

    return router
