"""Keeps the newest snapshot of each aggregate whatever order the feed delivers them in.

On PostgreSQL a source's feed is in transaction-id order, which is not commit order: of two
overlapping transactions that change one aggregate, the one that began first may commit last,
and its (newer) snapshot then comes before the other's (older) one (ADR 0011). Every event
carries its aggregate's version (the ETag counter), and reporting applies an event, and queues
its webhook deliveries, only when that version is newer than the newest applied. An event
without a version (a source not sending one) is applied in feed order, as before.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.reporting.models import AppliedVersion
from services.reporting.sync.rows import Event, upsert


def event_version(event: Event) -> int | None:
    version = event.get("aggregate_version")
    return None if version is None else int(version)


async def claim_if_newer(session: AsyncSession, event: Event) -> bool:
    """True, recording the event's version, when the event is newer than what was applied for
    its aggregate (or carries no version); False for a snapshot already overtaken. Runs in the
    page's transaction, under the source's locked cursor, so no other syncer races it."""
    version = event_version(event)
    if version is None:
        return True
    key = (event["aggregate_type"], event["aggregate_id"])
    stored = await session.scalar(
        select(col(AppliedVersion.version)).where(
            col(AppliedVersion.aggregate_type) == key[0],
            col(AppliedVersion.aggregate_id) == key[1],
        )
    )
    if stored is not None and stored >= version:
        return False
    await upsert(
        session,
        AppliedVersion,
        [{"aggregate_type": key[0], "aggregate_id": key[1], "version": version}],
        keys=("aggregate_type", "aggregate_id"),
    )
    return True
