"""Sends queued deliveries: at least once, in order per subscription, signed, logged.

Each round takes, for every enabled subscription, its oldest pending delivery (the head: a
failing head holds back only its own subscription) when it is due, claims it with a lease in
its own commit, then sends it. A process killed mid-request (kill -9) leaves the lease behind;
once it expires any replica sends the delivery again with the same ``webhook-id``, so the
receiver can drop the duplicate. Failures back off exponentially with jitter; an endpoint that
fails long and often enough is disabled (``enabled`` false, with the reason) until re-enabled.

Reporting's own outbox (annual report publications) is turned into deliveries here too, with
its cursor in the same transaction: it has no sync reader of its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.db import Database
from services.common.feed_order import FeedPosition
from services.common.outbox import read_changes
from services.reporting.models import OutboxEvent
from services.reporting.settings import ReportingSettings
from services.reporting.webhooks import policy, signing
from services.reporting.webhooks.access import may_receive, shape
from services.reporting.webhooks.events import enqueue, load_subscriptions
from services.reporting.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookFeedCursor,
    WebhookSubscription,
)

log = logging.getLogger("bw.reporting.webhooks")

EXCERPT_CHARS = 200
LOCAL_SOURCE = "reporting"


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def message_body(delivery: WebhookDelivery, data: dict[str, Any]) -> bytes:
    """The JSON the receiver gets: Standard Webhooks' ``type``, ``timestamp``, ``data``."""
    occurred = aware(delivery.occurred_at) or utcnow()
    body = {"type": delivery.event_type, "timestamp": occurred.isoformat(), "data": data}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def live_secrets(sub: WebhookSubscription, now: datetime) -> list[str]:
    """The current secret, plus the rotated-out one during its grace period."""
    expires = aware(sub.previous_secret_expires_at)
    if sub.previous_secret and expires and expires > now:
        return [sub.secret, sub.previous_secret]
    return [sub.secret]


class Deliverer:
    def __init__(
        self,
        db: Database,
        settings: ReportingSettings,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(settings.webhook_timeout_seconds, connect=3.0),
            follow_redirects=False,
            headers={"user-agent": "BetterWork-Webhooks/1"},
        )

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncSession]:
        """A read-only session; on SQLite it does not queue behind writers."""
        async with self.db.sessionmaker() as session:
            if self.db.is_sqlite:
                await session.connection(execution_options={"sqlite_begin": "DEFERRED"})
            yield session

    async def pump_local_outbox(self, limit: int = 200) -> int:
        """Queue deliveries for reporting's own events after the stored cursor, atomically."""
        async with self.db.sessionmaker() as session:
            cursor = await session.get(WebhookFeedCursor, LOCAL_SOURCE, with_for_update=True)
            if cursor is None:
                cursor = WebhookFeedCursor(source=LOCAL_SOURCE, last_event_id=0)
                session.add(cursor)
            # The kernel's own feed read, so this follows whatever rule keeps the feed in
            # commit order (it never skips an event that commits late).
            after = FeedPosition(cursor.last_event_txid, cursor.last_event_id)
            page = await read_changes(session, OutboxEvent, after, limit)
            events = [event.model_dump() for event in page.items]
            if not events:
                await session.rollback()  # nothing new: no write, no lock held
                return 0
            subscriptions = await load_subscriptions(session)
            for event in events:
                await enqueue(session, LOCAL_SOURCE, event, subscriptions)
            cursor.last_event_txid, cursor.last_event_id = page.items[-1].txid, page.items[-1].id
            await session.commit()
        return len(events)

    async def due_heads(self, now: datetime) -> list[WebhookDelivery]:
        heads = (
            select(func.min(WebhookDelivery.seq))
            .where(col(WebhookDelivery.status) == "pending")
            .group_by(col(WebhookDelivery.subscription_id))
        )
        stmt = (
            select(WebhookDelivery)
            .join(
                WebhookSubscription,
                col(WebhookSubscription.id) == col(WebhookDelivery.subscription_id),
            )
            .where(
                col(WebhookSubscription.enabled),
                col(WebhookDelivery.seq).in_(heads),
                col(WebhookDelivery.next_attempt_at) <= now,
                col(WebhookDelivery.lease_until).is_(None)
                | (col(WebhookDelivery.lease_until) < now),
            )
            .order_by(col(WebhookDelivery.seq))
            .limit(self.settings.webhook_concurrency)
        )
        async with self._reading() as session:
            return list((await session.execute(stmt)).scalars())

    async def claim(self, deliveries: list[WebhookDelivery], now: datetime) -> list[int]:
        """Lease each delivery for one attempt, in one commit; the seqs this process got (a
        delivery another process claimed first is left to it)."""
        lease = now + timedelta(seconds=self.settings.webhook_lease_seconds)
        claimed = []
        async with self.db.sessionmaker() as session:
            for delivery in deliveries:
                result = await session.execute(
                    update(WebhookDelivery)
                    .where(
                        col(WebhookDelivery.seq) == delivery.seq,
                        col(WebhookDelivery.status) == "pending",
                        col(WebhookDelivery.lease_until).is_(None)
                        | (col(WebhookDelivery.lease_until) < now),
                    )
                    .values(lease_until=lease, attempts=WebhookDelivery.attempts + 1)
                )
                if result.rowcount:  # type: ignore[attr-defined]
                    claimed.append(delivery.seq or 0)
            await session.commit()
        return claimed

    async def run_once(self) -> int:
        """One round: queue local events, send every due head; returns how many were tried."""
        await self.pump_local_outbox()
        now = utcnow()
        heads = await self.due_heads(now)
        claimed = await self.claim(heads, now) if heads else []
        await asyncio.gather(*(self.attempt(seq) for seq in claimed))
        return len(claimed)

    async def run(self) -> None:
        while True:
            try:
                tried = await self.run_once()
            except Exception:
                log.exception("webhook round failed")
                tried = 0
            if not tried:
                await asyncio.sleep(self.settings.webhook_poll_seconds)

    async def attempt(self, seq: int) -> None:
        """Send one claimed delivery and record the outcome (never raises)."""
        async with self._reading() as session:
            delivery = await session.get(WebhookDelivery, seq)
            sub = (
                await session.get(WebhookSubscription, delivery.subscription_id)
                if delivery
                else None
            )
            grant = None
            if delivery is not None and sub is not None:
                grant = await may_receive(session, sub, delivery.factory_ids, delivery.country)
        if delivery is None or sub is None:
            return
        if grant is None:
            await self.record(delivery, sub, "skipped", error="outside the subscriber's access")
            return
        started = time.monotonic()
        status_code: int | None = None
        excerpt = error = None
        try:
            await asyncio.to_thread(
                policy.check_url, sub.url, self.settings.allow_private_webhook_urls()
            )
            body = message_body(delivery, shape(sub, delivery.data, grant))
            headers = signing.headers(
                live_secrets(sub, utcnow()), delivery.id, int(time.time()), body
            )
            async with self.client.stream(
                "POST", sub.url, content=body, headers=headers
            ) as response:
                status_code = response.status_code
                excerpt = await _excerpt(response)
        except Exception as exc:  # any failure to deliver is a failed attempt
            error = str(getattr(exc, "detail", None) or f"{type(exc).__name__}: {exc}")[:500]
        duration = int((time.monotonic() - started) * 1000)
        ok = status_code is not None and 200 <= status_code < 300
        if not ok and error is None:
            error = f"HTTP {status_code}"
        await self.record(
            delivery,
            sub,
            "succeeded" if ok else "failed",
            status_code=status_code,
            duration_ms=duration,
            error=None if ok else error,
            excerpt=excerpt,
        )

    async def record(
        self,
        delivery: WebhookDelivery,
        sub: WebhookSubscription,
        outcome: str,
        *,
        status_code: int | None = None,
        duration_ms: int | None = None,
        error: str | None = None,
        excerpt: str | None = None,
    ) -> None:
        """Log the attempt and move the delivery and its subscription on, in one commit."""
        now = utcnow()
        changes: dict[str, Any] = {
            "lease_until": None,
            "last_status_code": status_code,
            "last_error": error,
        }
        if outcome == "failed":
            attempts = delivery.attempts  # read after the claim, which counted this one
            delay = policy.retry_delay(
                attempts,
                self.settings.webhook_retry_base_seconds,
                self.settings.webhook_retry_max_seconds,
            )
            changes["next_attempt_at"] = now + timedelta(seconds=delay)
        else:
            changes["status"] = outcome
            changes["delivered_at"] = now if outcome == "succeeded" else None
        async with self.db.sessionmaker() as session:
            session.add(
                WebhookAttempt(
                    delivery_id=delivery.id,
                    subscription_id=sub.id,
                    attempted_at=now,
                    outcome=outcome,
                    response_status=status_code,
                    duration_ms=duration_ms,
                    error=error,
                    response_excerpt=excerpt,
                )
            )
            await session.execute(
                update(WebhookDelivery)
                .where(col(WebhookDelivery.seq) == delivery.seq)
                .values(**changes)
            )
            if outcome != "skipped":
                await self._note_health(session, sub.id, outcome == "succeeded", now)
            await session.commit()

    async def _note_health(
        self, session: AsyncSession, sub_id: str, ok: bool, now: datetime
    ) -> None:
        row = await session.get(WebhookSubscription, sub_id, with_for_update=True)
        if row is None:
            return
        table = update(WebhookSubscription).where(col(WebhookSubscription.id) == sub_id)
        if ok:
            if row.consecutive_failures:
                await session.execute(table.values(consecutive_failures=0, failing_since=None))
            return
        failures = row.consecutive_failures + 1
        since = aware(row.failing_since) or now
        values: dict[str, Any] = {"consecutive_failures": failures, "failing_since": since}
        if row.enabled and policy.should_disable(
            failures,
            (now - since).total_seconds(),
            self.settings.webhook_disable_after_failures,
            self.settings.webhook_disable_after_seconds,
        ):
            values |= {
                "enabled": False,
                "disabled_reason": f"{failures} failed attempts in a row since {since.isoformat()}",
                "version": row.version + 1,
                "updated_at": now,
            }
            log.warning("webhook disabled after sustained failure", extra={"subscription": sub_id})
        await session.execute(table.values(**values))

    async def close(self) -> None:
        await self.client.aclose()


async def _excerpt(response: httpx.Response) -> str:
    """At most a short excerpt of the answer: a receiver's body is not ours to keep."""
    taken = b""
    async for chunk in response.aiter_bytes():
        taken += chunk
        if len(taken) >= EXCERPT_CHARS * 4:
            break
    return taken.decode("utf-8", "replace")[:EXCERPT_CHARS]
