"""Webhook tables, in reporting's schema and registry (migration ``e1a0c0de0010``).

A delivery is one event for one subscription; its ``id`` is the ``webhook-id`` header, so
every retry of it, after a restart too, carries the same id. Deliveries are created in the
transaction that applies the source event and moves the feed cursor, so none is lost or made
twice, and they are sent per subscription in ``seq`` order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer
from sqlmodel import Field

from services.common.etag import Versioned
from services.common.outbox import utcnow
from services.reporting.models import ReportingTable


class WebhookSubscription(ReportingTable, Versioned, table=True):
    __tablename__ = "webhook_subscription"

    id: str = Field(primary_key=True, max_length=64)
    url: str = Field(max_length=2000)
    event_types: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    description: str | None = Field(default=None, max_length=500)
    owner_subject: str = Field(max_length=200)
    owner_role: str = Field(max_length=40)
    brand_id: str | None = Field(default=None, max_length=64, index=True)
    country: str | None = Field(default=None, max_length=2)
    secret: str = Field(max_length=200)
    previous_secret: str | None = Field(default=None, max_length=200)
    previous_secret_expires_at: datetime | None = None
    enabled: bool = True
    disabled_reason: str | None = Field(default=None, max_length=300)
    consecutive_failures: int = 0
    failing_since: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class WebhookDelivery(ReportingTable, table=True):
    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_due", "subscription_id", "status", "seq"),)

    seq: int | None = Field(
        default=None, primary_key=True, sa_type=BigInteger().with_variant(Integer, "sqlite")
    )
    id: str = Field(max_length=200, unique=True)
    subscription_id: str = Field(max_length=64)
    source: str = Field(max_length=40)
    event_id: int = Field(sa_type=BigInteger())
    event_type: str = Field(max_length=80)
    occurred_at: datetime
    factory_ids: list[str] | None = Field(default=None, sa_type=JSON, nullable=True)
    country: str | None = Field(default=None, max_length=2)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    status: str = Field(default="pending", max_length=20)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    lease_until: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    delivered_at: datetime | None = None


class WebhookAttempt(ReportingTable, table=True):
    """The delivery log: one row per attempt; the response is kept as a short excerpt only."""

    __tablename__ = "webhook_attempt"

    id: int | None = Field(
        default=None, primary_key=True, sa_type=BigInteger().with_variant(Integer, "sqlite")
    )
    delivery_id: str = Field(max_length=200, index=True)
    subscription_id: str = Field(max_length=64, index=True)
    attempted_at: datetime = Field(default_factory=utcnow)
    outcome: str = Field(max_length=20)
    response_status: int | None = None
    duration_ms: int | None = None
    error: str | None = Field(default=None, max_length=500)
    response_excerpt: str | None = Field(default=None, max_length=200)


class WebhookFeedCursor(ReportingTable, table=True):
    """How far reporting's own outbox (annual report publications) has been turned into
    deliveries; moved in the transaction that creates them."""

    __tablename__ = "webhook_feed_cursor"

    source: str = Field(primary_key=True, max_length=40)
    last_event_id: int = Field(default=0, sa_type=BigInteger())
    # The feed position with last_event_id (PostgreSQL: <txid>.<id>; None: a bare id).
    last_event_txid: int | None = Field(default=None, sa_type=BigInteger())
