"""``/v1/webhooks``: subscriptions, their signing secret, their delivery log, redelivery.

Deliveries are signed per Standard Webhooks and sent at least once, in order per
subscription; README "Webhooks" shows how a receiver verifies them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from services.common.deps import ReadSessionDep, SessionDep
from services.common.etag import etag_for, if_match_exempt, require_if_match
from services.common.pagination import Page, PageParams
from services.reporting.scope import SettingsDep
from services.reporting.settings import ReportingSettings
from services.reporting.webhooks import service
from services.reporting.webhooks.access import Subscriber
from services.reporting.webhooks.events import EVENT_TYPES
from services.reporting.webhooks.schemas import (
    AttemptRead,
    DeliveryRead,
    DeliveryStatus,
    EventTypeList,
    EventTypeRead,
    SecretRotation,
    WebhookCreate,
    WebhookEventType,
    WebhookRead,
    WebhookUpdate,
    WebhookWithSecret,
)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


@router.get("/event-types", response_model=EventTypeList, summary="The event types to subscribe to")
async def event_types(caller: Subscriber) -> EventTypeList:
    """Every public event type with what it means. A brand receives events only about
    factories that share with it, and no event once that consent is revoked."""
    return EventTypeList(
        items=[
            EventTypeRead(type=WebhookEventType(t), description=d) for t, d in EVENT_TYPES.items()
        ]
    )


@router.post("", status_code=201, response_model=WebhookWithSecret, summary="Subscribe a URL")
async def create_webhook(
    body: WebhookCreate,
    response: Response,
    session: SessionDep,
    caller: Subscriber,
    settings: ReportingSettings = SettingsDep,
) -> WebhookWithSecret:
    """Creates a subscription and answers with its signing secret, the only time it is shown.
    The URL must be https and public (422 otherwise). Events that happen from now on are
    delivered; Idempotency-Key makes a retried creation safe."""
    row = await service.create_webhook(session, body, settings, caller)
    response.headers["location"] = f"/v1/webhooks/{row.id}"
    response.headers["etag"] = etag_for(row.id, row.version)
    return WebhookWithSecret.with_secret(row)


@router.get("", response_model=Page[WebhookRead], summary="The caller's subscriptions")
async def list_webhooks(
    session: ReadSessionDep,
    params: Annotated[PageParams, Depends(service.WEBHOOK_ORDER.page_params)],
    caller: Subscriber,
) -> Page[WebhookRead]:
    """Admin sees every subscription, a service token its own, a brand its brand's."""
    rows, next_cursor = await service.list_webhooks(session, params, caller)
    items = [WebhookRead.of(r) for r in rows]
    return Page(items=items, next_cursor=next_cursor, total=params.total)


@router.get("/{webhook_id}", response_model=WebhookRead, summary="A subscription")
async def get_webhook(
    webhook_id: str, response: Response, session: ReadSessionDep, caller: Subscriber
) -> WebhookRead:
    """Its state, including whether it was disabled after sustained failure and why."""
    row = await service.get_webhook(session, webhook_id, caller)
    response.headers["etag"] = etag_for(row.id, row.version)
    return WebhookRead.of(row)


@router.patch(
    "/{webhook_id}", response_model=WebhookRead, summary="Change or re-enable a subscription"
)
async def update_webhook(
    webhook_id: str,
    body: WebhookUpdate,
    request: Request,
    response: Response,
    session: SessionDep,
    caller: Subscriber,
    settings: ReportingSettings = SettingsDep,
) -> WebhookRead:
    """Changes the fields sent; ``enabled: true`` re-enables a disabled subscription and its
    pending deliveries resume in order. Needs If-Match (428 without, 412 when stale)."""
    row = await service.get_webhook(session, webhook_id, caller)
    require_if_match(request, etag_for(row.id, row.version))
    row = await service.update_webhook(session, row, body, settings)
    response.headers["etag"] = etag_for(row.id, row.version)
    return WebhookRead.of(row)


@router.delete("/{webhook_id}", response_model=WebhookRead, summary="Unsubscribe")
async def delete_webhook(
    webhook_id: str, request: Request, response: Response, session: SessionDep, caller: Subscriber
) -> WebhookRead:
    """Stops every delivery at once and drops the subscription's queue and log; answers the
    subscription as it was. Needs If-Match (428 without, 412 when stale)."""
    row = await service.get_webhook(session, webhook_id, caller)
    require_if_match(request, etag_for(row.id, row.version))
    gone = WebhookRead.of(row)
    await service.delete_webhook(session, row)
    response.headers["etag"] = etag_for(gone.id, gone.version)
    return gone


@router.post("/{webhook_id}/rotate", response_model=WebhookWithSecret, summary="Rotate the secret")
async def rotate_webhook(
    webhook_id: str,
    body: SecretRotation,
    request: Request,
    response: Response,
    session: SessionDep,
    caller: Subscriber,
    settings: ReportingSettings = SettingsDep,
) -> WebhookWithSecret:
    """A new signing secret, shown this once; the old one keeps signing alongside for
    ``grace_seconds`` (two space-separated signatures), so no message fails verification while
    receivers switch. Needs If-Match."""
    row = await service.get_webhook(session, webhook_id, caller)
    require_if_match(request, etag_for(row.id, row.version))
    row = await service.rotate_secret(session, row, body, settings)
    response.headers["etag"] = etag_for(row.id, row.version)
    return WebhookWithSecret.with_secret(row)


@router.get(
    "/{webhook_id}/deliveries", response_model=Page[DeliveryRead], summary="The delivery log"
)
async def list_webhook_deliveries(
    webhook_id: str,
    session: ReadSessionDep,
    params: Annotated[PageParams, Depends(service.DELIVERY_ORDER.page_params)],
    caller: Subscriber,
    status: DeliveryStatus | None = Query(None, description="Only deliveries in this state."),
) -> Page[DeliveryRead]:
    """Every delivery in the subscription's order: its webhook-id, state, attempts, the last
    answer's status code and error. ``skipped``: the subscriber had lost access (a revoked
    consent) before it was sent."""
    row = await service.get_webhook(session, webhook_id, caller)
    rows, next_cursor = await service.list_deliveries(session, row, params, status=status)
    items = [DeliveryRead.of(r) for r in rows]
    return Page(items=items, next_cursor=next_cursor, total=params.total)


@router.get("/{webhook_id}/attempts", response_model=Page[AttemptRead], summary="Attempts made")
async def list_webhook_attempts(
    webhook_id: str,
    session: ReadSessionDep,
    params: Annotated[PageParams, Depends(service.ATTEMPT_ORDER.page_params)],
    caller: Subscriber,
    delivery_id: str | None = Query(None, max_length=200, description="One delivery's only."),
) -> Page[AttemptRead]:
    """Each attempt, oldest first: its delivery (webhook-id), when, the outcome, the response
    code, how long it took, the error, and at most 200 characters of the answer (nothing more
    of a receiver's answer is kept)."""
    row = await service.get_webhook(session, webhook_id, caller)
    rows, next_cursor = await service.list_attempts(session, row, params, delivery_id=delivery_id)
    entries = [AttemptRead.of(r) for r in rows]
    return Page(items=entries, next_cursor=next_cursor, total=params.total)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryRead,
    summary="Send a delivery again",
    openapi_extra=if_match_exempt(
        "Queues the same message again; the subscription does not change and a delivery has no "
        "version a concurrent client could overwrite."
    ),
)
async def redeliver_webhook_delivery(
    webhook_id: str, delivery_id: str, session: SessionDep, caller: Subscriber
) -> DeliveryRead:
    """Queues the delivery again, due now, with the same webhook-id (receivers dedupe on it);
    409 while it is being sent."""
    row = await service.get_webhook(session, webhook_id, caller)
    delivery = await service.get_delivery(session, row, delivery_id)
    return DeliveryRead.of(await service.redeliver(session, delivery))
