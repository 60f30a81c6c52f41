"""Request and response shapes of ``/v1/webhooks``. The secret appears in one answer only:
the creation's (and a rotation's), as payment and survey APIs do; reads never show it."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from services.reporting.webhooks.events import EVENT_TYPES
from services.reporting.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)

WebhookEventType = StrEnum(  # type: ignore[misc]
    "WebhookEventType", {name.replace(".", "_").upper(): name for name in EVENT_TYPES}
)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    SKIPPED = "skipped"


class AttemptOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class WebhookCreate(BaseModel):
    """A receiver URL and the event types it wants."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2000, description="An https:// URL.")
    event_types: list[WebhookEventType] = Field(min_length=1, max_length=len(EVENT_TYPES))
    description: str | None = Field(default=None, max_length=500)


class WebhookUpdate(BaseModel):
    """Only the fields sent change. ``enabled: true`` re-enables a webhook disabled after
    sustained failure (its pending deliveries resume, oldest first)."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=8, max_length=2000)
    event_types: list[WebhookEventType] | None = Field(
        default=None, min_length=1, max_length=len(EVENT_TYPES)
    )
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = None


class SecretRotation(BaseModel):
    """How long the old secret keeps signing next to the new one (default: the setting,
    24 hours); 0 retires it at once."""

    model_config = ConfigDict(extra="forbid")

    grace_seconds: int | None = Field(default=None, ge=0, le=7 * 86400)


class WebhookRead(BaseModel):
    id: str
    url: str
    event_types: list[WebhookEventType]
    description: str | None
    brand_id: str | None
    enabled: bool
    disabled_reason: str | None
    consecutive_failures: int
    failing_since: datetime | None
    previous_secret_expires_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: WebhookSubscription) -> WebhookRead:
        expires = _utc(row.previous_secret_expires_at)
        if expires is not None and expires <= datetime.now(UTC):
            expires = None
        return cls(
            id=row.id,
            url=row.url,
            event_types=[WebhookEventType(t) for t in row.event_types],
            description=row.description,
            brand_id=row.brand_id,
            enabled=row.enabled,
            disabled_reason=row.disabled_reason,
            consecutive_failures=row.consecutive_failures,
            failing_since=_utc(row.failing_since),
            previous_secret_expires_at=expires,
            version=row.version,
            created_at=_utc(row.created_at) or row.created_at,
            updated_at=_utc(row.updated_at) or row.updated_at,
        )


class WebhookWithSecret(WebhookRead):
    """The only answer that shows the signing secret: store it now."""

    secret: str = Field(description="whsec_<base64>: the HMAC key, shown this once.")

    @classmethod
    def with_secret(cls, row: WebhookSubscription) -> WebhookWithSecret:
        return cls(**WebhookRead.of(row).model_dump(), secret=row.secret)


class EventTypeRead(BaseModel):
    type: WebhookEventType
    description: str


class EventTypeList(BaseModel):
    items: list[EventTypeRead]


class DeliveryRead(BaseModel):
    id: str = Field(description="The webhook-id header: the same on every attempt.")
    event_type: WebhookEventType
    occurred_at: datetime
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, row: WebhookDelivery) -> DeliveryRead:
        return cls(
            id=row.id,
            event_type=WebhookEventType(row.event_type),
            occurred_at=_utc(row.occurred_at) or row.occurred_at,
            status=DeliveryStatus(row.status),
            attempts=row.attempts,
            next_attempt_at=_utc(row.next_attempt_at) if row.status == "pending" else None,
            last_status_code=row.last_status_code,
            last_error=row.last_error,
            created_at=_utc(row.created_at) or row.created_at,
            delivered_at=_utc(row.delivered_at),
        )


class AttemptRead(BaseModel):
    id: int
    delivery_id: str = Field(description="The delivery's webhook-id.")
    attempted_at: datetime
    outcome: AttemptOutcome
    response_status: int | None
    duration_ms: int | None
    error: str | None
    response_excerpt: str | None = Field(description="At most 200 characters of the answer.")

    @classmethod
    def of(cls, row: WebhookAttempt) -> AttemptRead:
        return cls(
            id=row.id or 0,
            delivery_id=row.delivery_id,
            attempted_at=_utc(row.attempted_at) or row.attempted_at,
            outcome=AttemptOutcome(row.outcome),
            response_status=row.response_status,
            duration_ms=row.duration_ms,
            error=row.error,
            response_excerpt=row.response_excerpt,
        )
