"""The public event types and how source events become deliveries.

Integrators subscribe to a few stable, documented types, not to the internal feed's event
names (docs/change-feed.md), so the feeds may change without breaking subscribers. One source
event gives at most one public event; :func:`enqueue` writes one delivery per matching
subscription inside the caller's transaction, the one that applies the event and moves the
cursor, so a crash loses or doubles nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.reporting.models import Factory, ImprovementPlanItem
from services.reporting.sync.rows import parse_datetime
from services.reporting.webhooks.access import live_consents, may_receive
from services.reporting.webhooks.models import WebhookDelivery, WebhookSubscription

EVENT_TYPES: dict[str, str] = {
    "factory.changed": "A factory was registered, its profile changed, or it was removed.",
    "assessment.published": "An assessment was published (its first revision).",
    "assessment.revised": "A published assessment was corrected: a new revision supersedes it.",
    "findings.replaced": "An assessment's findings were submitted or replaced.",
    "improvement_plan_item.status_changed": "An improvement-plan item was added or changed status.",
    "training.attendance": "A training session's participating factories or attendance changed.",
    "annual_report.published": "A public edition of the annual report was frozen.",
}


@dataclass
class PublicEvent:
    """What a delivery carries: the type, the factories it concerns (None: an aggregate
    for which no factory-level entitlement is needed) and their country."""

    type: str
    data: dict[str, Any]
    factory_ids: list[str] | None
    country: str | None


async def _factory_country(session: AsyncSession, factory_id: str | None) -> str | None:
    if not factory_id:
        return None
    row = await session.get(Factory, factory_id)
    return row.country if row else None


async def _plan_item_changes(session: AsyncSession, event: dict[str, Any]) -> list[dict[str, Any]]:
    """Items whose status differs from what the read model holds (new items included).
    Called before the event is applied, so the read model still holds the previous state."""
    payload = event["payload"]
    stmt = select(ImprovementPlanItem).where(
        col(ImprovementPlanItem.plan_id) == event["aggregate_id"]
    )
    before = {row.id: row.status for row in (await session.execute(stmt)).scalars()}
    changed = []
    for item in payload.get("items") or []:
        if item.get("id") not in before or before[item["id"]] != item.get("status"):
            changed.append({**item, "previous_status": before.get(item.get("id"))})
    return changed


async def public_events(
    session: AsyncSession, source: str, event: dict[str, Any]
) -> list[PublicEvent]:
    """The public events a source event stands for (most stand for none)."""
    kind, payload = event["event_type"], event.get("payload") or {}
    aggregate = event["aggregate_type"]
    if aggregate == "factory":
        country = payload.get("country") or await _factory_country(session, event["aggregate_id"])
        data = {**payload, "id": event["aggregate_id"], "change": kind.rsplit(".", 1)[-1]}
        return [PublicEvent("factory.changed", data, [event["aggregate_id"]], country)]
    if kind == "assessment.published":
        public = "assessment.revised" if payload.get("supersedes_id") else "assessment.published"
        factory_id = payload.get("factory_id")
        country = payload.get("country") or await _factory_country(session, factory_id)
        return [PublicEvent(public, payload, [factory_id] if factory_id else [], country)]
    if kind == "assessment.updated" and "findings_count" in payload:
        factory_id = payload.get("factory_id")
        country = await _factory_country(session, factory_id)
        return [
            PublicEvent("findings.replaced", payload, [factory_id] if factory_id else [], country)
        ]
    if aggregate == "improvement_plan" and not kind.endswith(".deleted"):
        changes = await _plan_item_changes(session, event)
        if not changes:
            return []
        factory_id = payload.get("factory_id")
        data = {
            "plan_id": payload.get("id"),
            "factory_id": factory_id,
            "assessment_id": payload.get("assessment_id"),
            "items": changes,
        }
        country = await _factory_country(session, factory_id)
        factories = [factory_id] if factory_id else []
        return [PublicEvent("improvement_plan_item.status_changed", data, factories, country)]
    if aggregate == "training_session" and not kind.endswith(".deleted"):
        return [
            PublicEvent(
                "training.attendance", payload, list(payload.get("factory_ids") or []), None
            )
        ]
    if kind == "report_publication.created":
        return [PublicEvent("annual_report.published", payload, None, payload.get("country"))]
    return []


def message_id(subscription_id: str, source: str, event_id: int) -> str:
    """The ``webhook-id``: one per event and subscription, the same on every retry."""
    return f"msg_{subscription_id}_{source}_{event_id}"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def load_subscriptions(session: AsyncSession) -> list[WebhookSubscription]:
    return list((await session.execute(select(WebhookSubscription))).scalars())


async def enqueue(
    session: AsyncSession,
    source: str,
    event: dict[str, Any],
    subscriptions: list[WebhookSubscription],
) -> int:
    """Add one delivery per subscription that wants this event and may see it; returns how
    many. An event older than a subscription is not sent to it (a feed replayed after a
    rebuild does not flood new subscribers); one already queued is not queued twice."""
    if not subscriptions:
        return 0
    occurred = _aware(parse_datetime(event["occurred_at"]) or datetime.now(UTC))
    rows = []
    for public in await public_events(session, source, event):
        wanting = [
            sub
            for sub in subscriptions
            if public.type in sub.event_types and occurred >= _aware(sub.created_at)
        ]
        brands = {sub.brand_id for sub in wanting if sub.brand_id}
        consents = await live_consents(session, brands, public.factory_ids or [])
        for sub in wanting:
            grant = await may_receive(
                session, sub, public.factory_ids, public.country, consents=consents
            )
            if grant is None:
                continue
            rows.append(
                {
                    "id": message_id(sub.id, source, int(event["id"])),
                    "subscription_id": sub.id,
                    "source": source,
                    "event_id": int(event["id"]),
                    "event_type": public.type,
                    "occurred_at": occurred,
                    "factory_ids": public.factory_ids,
                    "country": public.country,
                    "data": public.data,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": datetime.now(UTC),
                    "created_at": datetime.now(UTC),
                }
            )
    if rows:
        table: Any = WebhookDelivery.__table__  # type: ignore[attr-defined]
        on_postgresql = session.get_bind().dialect.name == "postgresql"
        if on_postgresql:
            await session.execute(QUEUE_TURN)
        insert = postgresql.insert if on_postgresql else sqlite.insert
        await session.execute(insert(table).on_conflict_do_nothing(index_elements=["id"]), rows)
    return len(rows)


# Deliveries are sent per subscription in ``seq`` order, and the deliverer takes the lowest
# pending ``seq`` it can see. On PostgreSQL two transactions that queue deliveries at once (the
# assessment and training readers, the local outbox pump) would draw seqs in one order and
# commit in another, so a later seq could be sent before an earlier one became visible. Queuing
# therefore takes this lock until commit: seqs are drawn in commit order. (SQLite's writers are
# serialised already.)
QUEUE_TURN = text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.webhook_delivery'))")
