"""Webhook subscriptions: who sees which, and every change in one commit with its audit event.

Admin sees every subscription, a service token the ones it created, a brand its brand's. A
subscription not visible to the caller is 404, as if it did not exist. Changes are recorded in
reporting's outbox (the audit log, ``GET /v1/audit/reporting/events``) without the secret.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.auth import Principal, Role
from services.common.etag import commit_update
from services.common.ids import new_id
from services.common.observability import current_request_id
from services.common.outbox import append_event
from services.common.pagination import PageParams, Sorting, paginate
from services.common.problems import Problem, not_found
from services.reporting.models import OutboxEvent
from services.reporting.settings import ReportingSettings
from services.reporting.webhooks import policy, signing
from services.reporting.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from services.reporting.webhooks.schemas import (
    DeliveryStatus,
    SecretRotation,
    WebhookCreate,
    WebhookRead,
    WebhookUpdate,
)

# Lists are in creation order: subscriptions by id, deliveries as queued, attempts as made.
WEBHOOK_ORDER = Sorting(WebhookSubscription.id)
DELIVERY_ORDER = Sorting(WebhookDelivery.seq, key_name="seq")
ATTEMPT_ORDER = Sorting(WebhookAttempt.id)


def _visible(principal: Principal) -> ColumnElement[bool]:
    if principal.role == Role.ADMIN:
        return true()
    if principal.role == Role.BRAND:
        return col(WebhookSubscription.brand_id) == principal.brand_id
    return col(WebhookSubscription.owner_subject) == principal.subject


async def _audit(session: AsyncSession, verb: str, row: WebhookSubscription) -> None:
    await append_event(
        session,
        OutboxEvent,
        event_type=f"webhook_subscription.{verb}",
        aggregate_type="webhook_subscription",
        aggregate_id=row.id,
        payload=WebhookRead.of(row).model_dump(mode="json"),
        request_id=current_request_id(),
    )


async def _check_url(url: str, settings: ReportingSettings) -> None:
    await asyncio.to_thread(policy.check_url, url, settings.allow_private_webhook_urls())


async def create_webhook(
    session: AsyncSession, data: WebhookCreate, settings: ReportingSettings, principal: Principal
) -> WebhookSubscription:
    """A brand's subscription is its brand's: the token must name the brand."""
    if principal.role == Role.BRAND and not principal.brand_id:
        raise Problem(403, "This brand token names no brand.", title="Forbidden")
    await _check_url(data.url, settings)
    row = WebhookSubscription(
        id=new_id("whk"),
        url=data.url,
        event_types=sorted({str(t) for t in data.event_types}),
        description=data.description,
        owner_subject=principal.subject,
        owner_role=principal.role,
        brand_id=principal.brand_id if principal.role == Role.BRAND else None,
        country=principal.country,
        secret=signing.new_secret(),
    )
    session.add(row)
    await session.flush()
    await _audit(session, "created", row)
    await session.commit()
    return row


async def get_webhook(
    session: AsyncSession, webhook_id: str, principal: Principal
) -> WebhookSubscription:
    stmt = select(WebhookSubscription).where(
        col(WebhookSubscription.id) == webhook_id, _visible(principal)
    )
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise not_found("webhook", webhook_id)
    return row


async def list_webhooks(
    session: AsyncSession, params: PageParams, principal: Principal
) -> tuple[Sequence[WebhookSubscription], str | None]:
    stmt = select(WebhookSubscription).where(_visible(principal))
    return await paginate(session, stmt, WEBHOOK_ORDER, params)


async def update_webhook(
    session: AsyncSession,
    row: WebhookSubscription,
    data: WebhookUpdate,
    settings: ReportingSettings,
) -> WebhookSubscription:
    """Re-enabling clears the failure record, so the next failure starts a new count."""
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    if changes.get("url") is not None:
        await _check_url(changes["url"], settings)
    if changes.get("event_types") is not None:
        changes["event_types"] = sorted({str(t) for t in changes["event_types"]})
    changes = {k: v for k, v in changes.items() if v is not None or k == "description"}
    if changes.get("enabled") is True and not row.enabled:
        changes |= {"consecutive_failures": 0, "failing_since": None, "disabled_reason": None}
    elif changes.get("enabled") is False and row.enabled:
        changes["disabled_reason"] = "disabled by its owner"
    await commit_update(session, row, changes, lambda: _audit(session, "updated", row))
    return row


async def rotate_secret(
    session: AsyncSession,
    row: WebhookSubscription,
    data: SecretRotation,
    settings: ReportingSettings,
) -> WebhookSubscription:
    """A new secret signs from now on; the old one keeps signing alongside (both signatures,
    space-separated) for the grace period, so receivers can switch without losing a message."""
    grace = (
        settings.webhook_secret_grace_seconds if data.grace_seconds is None else data.grace_seconds
    )
    changes = {
        "previous_secret": row.secret if grace else None,
        "previous_secret_expires_at": datetime.now(UTC) + timedelta(seconds=grace)
        if grace
        else None,
        "secret": signing.new_secret(),
    }
    await commit_update(session, row, changes, lambda: _audit(session, "secret_rotated", row))
    return row


async def delete_webhook(session: AsyncSession, row: WebhookSubscription) -> None:
    """Stops deliveries at once; the subscription's queue and log go with it."""
    await _audit(session, "deleted", row)
    await session.execute(
        delete(WebhookAttempt).where(col(WebhookAttempt.subscription_id) == row.id)
    )
    await session.execute(
        delete(WebhookDelivery).where(col(WebhookDelivery.subscription_id) == row.id)
    )
    await session.delete(row)
    await session.commit()


async def list_deliveries(
    session: AsyncSession,
    row: WebhookSubscription,
    params: PageParams,
    *,
    status: DeliveryStatus | None = None,
) -> tuple[Sequence[WebhookDelivery], str | None]:
    stmt = select(WebhookDelivery).where(col(WebhookDelivery.subscription_id) == row.id)
    if status is not None:
        stmt = stmt.where(col(WebhookDelivery.status) == status.value)
    return await paginate(session, stmt, DELIVERY_ORDER, params)


async def get_delivery(
    session: AsyncSession, row: WebhookSubscription, delivery_id: str
) -> WebhookDelivery:
    stmt = select(WebhookDelivery).where(
        col(WebhookDelivery.id) == delivery_id, col(WebhookDelivery.subscription_id) == row.id
    )
    delivery = (await session.execute(stmt)).scalar_one_or_none()
    if delivery is None:
        raise not_found("delivery", delivery_id)
    return delivery


async def list_attempts(
    session: AsyncSession,
    row: WebhookSubscription,
    params: PageParams,
    *,
    delivery_id: str | None = None,
) -> tuple[Sequence[WebhookAttempt], str | None]:
    stmt = select(WebhookAttempt).where(col(WebhookAttempt.subscription_id) == row.id)
    if delivery_id is not None:
        stmt = stmt.where(col(WebhookAttempt.delivery_id) == delivery_id)
    return await paginate(session, stmt, ATTEMPT_ORDER, params)


async def redeliver(session: AsyncSession, delivery: WebhookDelivery) -> WebhookDelivery:
    """Queue a delivery again, due now, with the same ``webhook-id``; it goes out in its place
    in the subscription's order (before newer pending ones). One in flight is left alone."""
    lease = delivery.lease_until
    if lease is not None and (lease if lease.tzinfo else lease.replace(tzinfo=UTC)) > datetime.now(
        UTC
    ):
        raise Problem(409, "This delivery is being sent right now.", title="Conflict")
    delivery.status = "pending"
    delivery.next_attempt_at = datetime.now(UTC)
    delivery.delivered_at = None
    await session.commit()
    return delivery
