"""Notices when a source's feed no longer holds what reporting applied, and rebuilds that
source's part of the read model from the feed.

It happens when a source is restored from a backup older than reporting's database: reporting's
cursor may point past the end of the feed, or at an id the restored source has since given to a
different event. Either way the read model holds figures the source no longer supports. The
cursor remembers the id and time of the last event applied; if the feed does not serve that
very event any more, the source's rows are dropped and the cursor goes back to 0, in one
transaction, and the normal sync reads the feed again from the start.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.db import Database
from services.common.feed_order import FeedPosition
from services.reporting.models import AppliedVersion, FeedCursor, ReportingTable
from services.reporting.sync.apply import DELETIONS
from services.reporting.sync.rows import parse_datetime

log = logging.getLogger("bw.reporting.sync")

# Which aggregates each source's feed carries (docs/change-feed.md).
SOURCE_AGGREGATES: dict[str, tuple[str, ...]] = {
    "assessment": ("factory", "consent", "catalog", "assessment"),
    "training": (
        "course",
        "training_session",
        "advisory_visit",
        "committee",
        "committee_meeting",
        "improvement_plan",
        "seminar",
    ),
}


def source_tables(source: str) -> list[type[ReportingTable]]:
    """The read-model tables built from one source's feed (children before parents)."""
    tables: list[type[ReportingTable]] = []
    for aggregate in SOURCE_AGGREGATES[source]:
        tables += [model for model, _column in DELETIONS[aggregate] if model not in tables]
    return tables


# Fetches the one event after the given position from the source's feed.
FeedPage = Callable[[FeedPosition], Awaitable[dict[str, Any]]]


def _utc(value: datetime | None) -> datetime | None:
    """Comparable instants whether a back end kept the time zone or not."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def event_matches(event: dict[str, Any] | None, event_id: int, at: datetime | None) -> bool:
    if event is None or int(event["id"]) != event_id:
        return False
    return at is None or _utc(parse_datetime(event.get("occurred_at"))) == _utc(at)


async def diverged_cursor(
    db: Database, source: str, fetch_one: FeedPage
) -> tuple[int, datetime | None] | None:
    """The cursor (id, time) when the source's feed no longer serves that event; else None."""
    async with db.sessionmaker() as session:
        cursor = await session.get(FeedCursor, source)
    if cursor is None or cursor.last_event_id == 0:
        return None
    # The position just before the cursor's event: the same transaction, the id before.
    page = await fetch_one(FeedPosition(cursor.last_event_txid, cursor.last_event_id - 1))
    items: list[dict[str, Any]] = page.get("items") or []
    if event_matches(items[0] if items else None, cursor.last_event_id, cursor.last_event_at):
        return None
    return cursor.last_event_id, _utc(cursor.last_event_at)


async def _locked_cursor(session: AsyncSession, source: str) -> FeedCursor | None:
    statement = select(FeedCursor).where(FeedCursor.source == source).with_for_update()  # type: ignore[arg-type]
    return (await session.execute(statement)).scalar_one_or_none()


async def forget_source(session: AsyncSession, source: str, cursor: FeedCursor | None) -> None:
    """Drop every row built from the source and send its (locked) cursor back to the start."""
    for model in source_tables(source):
        await session.execute(delete(model.__table__))  # type: ignore[attr-defined]
    aggregates = col(AppliedVersion.aggregate_type).in_(SOURCE_AGGREGATES[source])
    await session.execute(delete(AppliedVersion).where(aggregates))
    if cursor is not None:
        cursor.last_event_id = 0
        cursor.last_event_txid = None
        cursor.last_event_at = None
        cursor.caught_up_at = None
        cursor.updated_at = datetime.now(UTC)


async def rebuild_if_diverged(db: Database, source: str, fetch_one: FeedPage) -> bool:
    """Rebuild the source's part of the read model when the feed diverged; True if it did."""
    stale = await diverged_cursor(db, source, fetch_one)
    if stale is None:
        return False
    async with db.sessionmaker() as session:
        cursor = await _locked_cursor(session, source)
        if cursor is None or (cursor.last_event_id, _utc(cursor.last_event_at)) != stale:
            await session.rollback()  # another syncer rebuilt or moved on meanwhile
            return False
        await forget_source(session, source, cursor)
        await session.commit()
    log.warning(
        "the source's feed no longer holds the events applied from it (restored from an "
        "older backup?); rebuilding its part of the read model from the feed",
        extra={"source": source, "stale_cursor": stale[0]},
    )
    return True
