from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.feed_order import POSITION_PATTERN, FeedPosition
from services.reporting.freshness.schemas import EventFreshness, FeedFreshness, Freshness
from services.reporting.models import FeedCursor
from services.reporting.vocabulary import FEED_SOURCES

# Reporting's own writes (webhook subscriptions, annual report publications) answer
# ``Feed-Event: reporting:<position>`` too; they are in the reports the moment they commit.
OWN_SOURCE = "reporting"
EVENT_PATTERN = rf"^({'|'.join((*FEED_SOURCES, OWN_SOURCE))}):{POSITION_PATTERN}$"


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def has_passed(cursor: FeedPosition, event: FeedPosition) -> bool:
    """Whether a cursor has passed an event. The feed never serves an event behind a position
    it has served (ADR 0011), so both named by ``(txid, id)`` compare as pairs. A bare id on
    either side (SQLite, or the cursor or event from before the switch-over to positions, all
    of which precede any position) compares by id."""
    if cursor.txid is None or event.txid is None:
        return cursor.id >= event.id
    return cursor.key() >= event.key()


def position_of(row: FeedCursor | None) -> FeedPosition:
    return FeedPosition(row.last_event_txid, row.last_event_id) if row else FeedPosition(None, 0)


def event_freshness(event: str, rows: dict[str, FeedCursor]) -> EventFreshness:
    """An event is in the reports once its source's cursor has passed it."""
    source, _, position = event.partition(":")
    if source == OWN_SOURCE:
        return EventFreshness(event=event, applied=True, applied_up_to=None)
    cursor = position_of(rows.get(source))
    return EventFreshness(
        event=event,
        applied=has_passed(cursor, FeedPosition.parse(position)),
        applied_up_to=cursor.id,
    )


async def freshness(session: AsyncSession, event: str | None = None) -> Freshness:
    """Each feed's position; ``data_as_of`` is when the source last said nothing more was left,
    so every change committed before it is in the reports. With ``event`` (``source:position``,
    from
    a write's ``Feed-Event`` header): whether that write is in the reports yet."""
    rows = {r.source: r for r in (await session.execute(select(FeedCursor))).scalars()}
    moment = datetime.now(UTC)
    feeds = []
    for source in sorted(set(FEED_SOURCES) | set(rows)):
        row = rows.get(source)
        data_as_of = _aware(row.caught_up_at) if row else None
        failures = row.consecutive_failures if row else 0
        if row is None or row.last_attempt_at is None:
            status = "never_synced"
        elif failures:
            status = "source_unavailable"
        elif data_as_of is None or (_aware(row.last_attempt_at) or moment) > data_as_of:
            status = "catching_up"
        else:
            status = "ok"
        feeds.append(
            FeedFreshness(
                source=source,
                status=status,
                last_event_id=row.last_event_id if row else 0,
                last_event_position=str(position_of(row)),
                last_event_at=_aware(row.last_event_at) if row else None,
                data_as_of=data_as_of,
                lag_seconds=round((moment - data_as_of).total_seconds(), 3) if data_as_of else None,
                last_error=row.last_error if row else None,
                consecutive_failures=failures,
            )
        )
    as_of = [f.data_as_of for f in feeds]
    return Freshness(
        data_as_of=None if None in as_of else min(a for a in as_of if a is not None),
        feeds=feeds,
        event=event_freshness(event, rows) if event else None,
    )
