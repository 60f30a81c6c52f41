"""Appends this service's change-feed events (snapshot payloads, docs/change-feed.md)."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.etag import Versioned
from services.common.observability import current_request_id
from services.common.outbox import append_event
from services.training.models import (
    AdvisoryVisit,
    Committee,
    Course,
    ImprovementPlan,
    OutboxEvent,
    Seminar,
    TrainingSession,
)

# Aggregates whose row carries the ETag's version counter. A child's change (a participant, a
# member, an item) stamps its parent's updated_at, so the parent's counter moves with it.
VERSIONED: dict[str, type[Versioned]] = {
    "course": Course,
    "training_session": TrainingSession,
    "advisory_visit": AdvisoryVisit,
    "committee": Committee,
    "improvement_plan": ImprovementPlan,
    "seminar": Seminar,
}
# Aggregates written once and never changed: their only version is 1.
WRITTEN_ONCE = frozenset({"committee_meeting"})


async def aggregate_version(
    session: AsyncSession, aggregate_type: str, aggregate_id: str
) -> int | None:
    """The aggregate's version as this transaction leaves it, so a reader of the feed can keep
    the newer of two snapshots whatever order they arrive in (ADR 0011)."""
    if aggregate_type in WRITTEN_ONCE:
        return 1
    model = VERSIONED.get(aggregate_type)
    if model is None:
        return None
    await session.flush()  # the row's versioned UPDATE goes out first (and bumps the counter)
    row = await session.get(model, aggregate_id)
    return None if row is None else row.version


async def record_event(
    session: AsyncSession, event_type: str, aggregate_id: str, payload: dict[str, Any]
) -> None:
    """Add a snapshot event to the caller's transaction; the aggregate type prefixes the name."""
    aggregate_type = event_type.rsplit(".", 1)[0]
    await append_event(
        session,
        OutboxEvent,
        event_type=event_type,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        payload=payload,
        request_id=current_request_id(),
        aggregate_version=await aggregate_version(session, aggregate_type, aggregate_id),
    )
