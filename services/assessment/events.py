"""Appends this service's change-feed events: one call per write, inside the write's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.assessment.models import Assessment, Brand, Catalog, Consent, Factory, OutboxEvent
from services.common.etag import Versioned
from services.common.observability import current_request_id
from services.common.outbox import append_event

# Aggregates whose row carries the ETag's version counter.
VERSIONED: dict[str, type[Versioned]] = {
    "factory": Factory,
    "brand": Brand,
    "catalog": Catalog,
    "assessment": Assessment,
}


async def aggregate_version(
    session: AsyncSession, aggregate_type: str, aggregate_id: str
) -> int | None:
    """The aggregate's version as this transaction leaves it, so a reader of the feed can keep
    the newer of two snapshots whatever order they arrive in (ADR 0011). A consent has no
    counter but only one move, grant then revoke: 1, then 2."""
    await session.flush()  # the row's versioned UPDATE goes out first (and bumps the counter)
    if aggregate_type == "consent":
        consent = await session.get(Consent, aggregate_id)
        return None if consent is None else 2 if consent.revoked_at is not None else 1
    model = VERSIONED.get(aggregate_type)
    row = await session.get(model, aggregate_id) if model is not None else None
    return None if row is None else row.version


async def emit(
    session: AsyncSession,
    event_type: str,
    aggregate_id: str,
    payload: dict[str, Any],
) -> None:
    """Record ``event_type`` (e.g. ``factory.updated``) with a snapshot payload."""
    aggregate_type = event_type.split(".", 1)[0]
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
