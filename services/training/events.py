"""Appends this service's change-feed events (snapshot payloads, docs/change-feed.md)."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.observability import current_request_id
from services.common.outbox import append_event
from services.training.models import OutboxEvent


async def record_event(
    session: AsyncSession, event_type: str, aggregate_id: str, payload: dict[str, Any]
) -> None:
    """Add a snapshot event to the caller's transaction; the aggregate type prefixes the name."""
    await append_event(
        session,
        OutboxEvent,
        event_type=event_type,
        aggregate_type=event_type.rsplit(".", 1)[0],
        aggregate_id=aggregate_id,
        payload=payload,
        request_id=current_request_id(),
    )
