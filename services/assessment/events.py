"""Appends this service's change-feed events: one call per write, inside the write's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.assessment.models import OutboxEvent
from services.common.observability import current_request_id
from services.common.outbox import append_event


async def emit(
    session: AsyncSession,
    event_type: str,
    aggregate_id: str,
    payload: dict[str, Any],
) -> None:
    """Record ``event_type`` (e.g. ``factory.updated``) with a snapshot payload."""
    await append_event(
        session,
        OutboxEvent,
        event_type=event_type,
        aggregate_type=event_type.split(".", 1)[0],
        aggregate_id=aggregate_id,
        payload=payload,
        request_id=current_request_id(),
    )
